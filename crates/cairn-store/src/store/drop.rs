//! Removing a dropped table's rows.
//!
//! DROP TABLE used to write a tombstone for every row in the batch that
//! removed the definition: a million-row table cost a million entries in
//! the journal and in the memtable, which the next flush wrote out again
//! (and a bulk load flushes the memtable before it registers its files).
//! Now the drop removes the definition and records a [`DroppedTable`] in
//! one atomic write. No statement can reach the rows after that, since
//! table ids are never reused, and [`Store::remove_dropped_rows`] then
//! removes them: table files that hold only the table's rows are dropped
//! whole, and the rows left (in the memtable, or in files shared with
//! other tables) get tombstones, a bounded batch at a time. The record
//! goes with the last batch, and a store that opens with records left
//! finishes them.

use cairn_types::{CairnError, DroppedTable, Result, TableId, Timestamp};
use fjall::AbstractTree;

use super::{storage_error, Store, Writer};
use crate::rows::{successor, table_prefix};

/// Tombstones written per batch while removing what is left of a table.
const REMOVE_BATCH_ROWS: usize = 64 * 1024;

impl Writer<'_> {
    /// Drops the rows of `table` along with its definition, which the
    /// caller deletes in the same write; call [`Store::remove_dropped_rows`]
    /// once the write returns. Open transactions that read or wrote the
    /// table fail at COMMIT.
    pub fn drop_table_rows(&mut self, table: TableId) -> Result<()> {
        self.touch_table(table);
        self.put(&DroppedTable { id: table, dropped_at: Timestamp::now() })
    }

    /// Writes tombstones for up to `at_most` rows under `prefix`; returns
    /// how many.
    fn remove_rows_under(&mut self, prefix: &[u8], at_most: usize) -> Result<usize> {
        let mut removed = 0;
        for guard in self.inner.rows.prefix(prefix).take(at_most) {
            let key = guard.key().map_err(storage_error)?;
            self.batch.remove(&self.inner.rows, key);
            removed += 1;
        }
        Ok(removed)
    }
}

impl Store {
    /// Removes the rows of every dropped table whose rows are still stored.
    pub fn remove_dropped_rows(&self) -> Result<()> {
        let dropped = self.snapshot().scan::<DroppedTable>().collect::<Result<Vec<_>>>()?;
        for table in dropped {
            self.remove_rows_of(table.id)?;
        }
        Ok(())
    }

    fn remove_rows_of(&self, table: TableId) -> Result<()> {
        let prefix = table_prefix(table);
        let end = successor(&prefix).ok_or_else(|| CairnError::Internal("a table prefix has a successor".into()))?;
        // fjall 3 keeps `drop_range` on the LSM tree it wraps (`tree`, public
        // but hidden from its docs): it removes the table files whose keys
        // all fall in the range, without reading or writing a row.
        self.inner.rows.tree.drop_range(prefix.clone()..end).map_err(|e| storage_error(e.into()))?;
        let mut tombstones = 0;
        // No `touch_table` here: the drop's own write touched the table, and
        // no statement can read it since. Touching it again would move every
        // user partition's version once per batch, for nothing.
        loop {
            let removed = self.write(|w| {
                let removed = w.remove_rows_under(&prefix, REMOVE_BATCH_ROWS)?;
                if removed < REMOVE_BATCH_ROWS {
                    w.delete::<DroppedTable>(&table)?;
                }
                Ok(removed)
            })?;
            tombstones += removed;
            if removed < REMOVE_BATCH_ROWS {
                tracing::debug!(table = table.0, tombstones, "dropped table's rows removed");
                return Ok(());
            }
        }
    }
}
