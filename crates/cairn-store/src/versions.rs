//! Per-table write versions: a number that changes whenever a commit
//! writes rows of a table, so that a copy of the table's rows kept outside
//! the store (the SQL layer's columnar scan cache) can tell whether it is
//! still what a snapshot would read.
//!
//! Each commit moves the version of every table it writes twice, under the
//! write lock: to an odd number before its batch becomes visible and to the
//! next even number after. A reader reads the version, takes its snapshot,
//! and reads the version again ([`crate::Store::snapshot_with_version`]).
//! If both reads agree on an even version, no commit to the table was in
//! flight or landed in between, so every snapshot that gets that version
//! holds the same rows of the table.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use cairn_types::TableId;

use crate::conflicts::Written;
use crate::key::KeyCodec;
use crate::rows::ROW_KIND;

/// A table's rows as of some set of commits. Only stable versions (no
/// commit in flight) exist as values, so holding one means it is safe to
/// compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableVersion(u64);

#[derive(Default)]
pub(crate) struct TableVersions {
    counters: Mutex<HashMap<TableId, u64>>,
}

impl TableVersions {
    fn lock(&self) -> MutexGuard<'_, HashMap<TableId, u64>> {
        self.counters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The version of `table`'s rows; `None` while a commit writes them.
    pub(crate) fn current(&self, table: TableId) -> Option<TableVersion> {
        let counter = self.lock().get(&table).copied().unwrap_or(0);
        (counter % 2 == 0).then_some(TableVersion(counter))
    }

    /// Marks the tables of `written` as being written until the returned
    /// guard drops. Hold it from before the batch commits until after.
    pub(crate) fn writing(&self, written: &[Written]) -> Writing<'_> {
        let tables = tables_of(written);
        self.advance(&tables);
        Writing { versions: self, tables }
    }

    fn advance(&self, tables: &[TableId]) {
        let mut counters = self.lock();
        for table in tables {
            *counters.entry(*table).or_insert(0) += 1;
        }
    }
}

/// Tables being written; see [`TableVersions::writing`].
pub(crate) struct Writing<'a> {
    versions: &'a TableVersions,
    tables: Vec<TableId>,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.versions.advance(&self.tables);
    }
}

/// The tables whose rows `written` touches, each once.
fn tables_of(written: &[Written]) -> Vec<TableId> {
    let mut tables: Vec<TableId> = Vec::new();
    for entry in written {
        let (Written::Key(key) | Written::Prefix(key)) = entry;
        let Some(mut id) = key.strip_prefix(&[ROW_KIND]) else { continue };
        let Ok(table) = TableId::decode_key(&mut id) else { continue };
        // Batches write a table's rows together: comparing with the last
        // one keeps this linear for a million-row COPY.
        if tables.last() != Some(&table) && !tables.contains(&table) {
            tables.push(table);
        }
    }
    tables
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::{row_key, table_prefix, Partition};

    #[test]
    fn a_version_is_hidden_while_a_write_is_in_flight_and_new_after() {
        let versions = TableVersions::default();
        let (written_table, other) = (TableId(1001), TableId(1002));
        let before = versions.current(written_table).expect("stable");
        let untouched = versions.current(other).expect("stable");
        let written = [
            Written::Key(row_key(written_table, Partition::Shared, b"a")),
            Written::Key(row_key(written_table, Partition::Shared, b"b")),
            Written::Prefix(table_prefix(written_table)),
        ];
        let writing = versions.writing(&written);
        assert_eq!(versions.current(written_table), None);
        assert_eq!(versions.current(other), Some(untouched));
        drop(writing);
        let after = versions.current(written_table).expect("stable again");
        assert_ne!(after, before);
        assert_eq!(versions.current(other), Some(untouched));
    }

    #[test]
    fn tables_of_lists_each_written_table_once() {
        let key = |table: u64, user: u64| Written::Key(row_key(TableId(table), Partition::User(cairn_types::UserId(user)), b"k"));
        let written = [key(1001, 1), key(1002, 1), key(1001, 2), Written::Prefix(table_prefix(TableId(1003)))];
        assert_eq!(tables_of(&written), vec![TableId(1001), TableId(1002), TableId(1003)]);
    }
}
