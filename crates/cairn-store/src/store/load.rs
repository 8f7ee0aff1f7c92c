//! Bulk loads into an empty partition, written as new sorted table files.
//!
//! A batch of a million rows costs more to commit than to build: every row
//! is appended to the journal, inserted into the memtable's skiplist, and
//! later written again when the memtable is flushed. That was more than
//! half of a 1M-row COPY, on one thread. When the partition holds no row,
//! none of it is needed: fjall's ingestion writes sorted rows straight into
//! table files, syncs them, and registers them in one step under a sequence
//! number newer than every write before, so the load is atomic, durable
//! when it returns, and invisible to snapshots taken before it.
//!
//! It is only right for an empty partition: an ingested row hides whatever
//! was under its key, where a batch insert would have failed with 23505.

use std::cell::RefCell;
use std::sync::PoisonError;

use cairn_types::{CairnError, Result, TableDef, TableId};
use fjall::{UserKey, UserValue};

use super::{storage_error, Store};
use crate::conflicts::Written;
use crate::rows::{partition_prefix, Partition, StoredRow};
use crate::value::encode_value_into;

/// What [`Store::load`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// Every row is written.
    Loaded,
    /// Nothing is written: the partition holds a row. Insert through a
    /// batch instead, which checks each key.
    PartitionNotEmpty,
    /// Nothing is written: two rows have the same key.
    KeyRepeats,
    /// Nothing is written: the table's definition is no longer the one the
    /// rows were built for.
    DefinitionChanged,
}

/// A row ready for [`Store::load`]: its full row key and its encoded value
/// in the buffers the store keeps, so that the load moves them instead of
/// copying a million rows on the one thread that writes them. Build rows
/// on as many threads as there are.
pub struct LoadRow {
    key: UserKey,
    value: UserValue,
}

thread_local! {
    /// Where a row is encoded before it is copied into its own buffer.
    static ENCODED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl LoadRow {
    pub fn new(key: &[u8], row: &StoredRow) -> Result<LoadRow> {
        let value = ENCODED.with_borrow_mut(|scratch| {
            let encoded = encode_value_into(row, std::mem::take(scratch))?;
            let value = UserValue::from(encoded.as_slice());
            *scratch = encoded;
            Ok::<_, CairnError>(value)
        })?;
        Ok(LoadRow { key: UserKey::from(key), value })
    }
}

impl Store {
    /// Whether `table`'s `partition` holds no row now (the latest state,
    /// no snapshot): whether a [`Store::load`] into it is worth preparing.
    pub fn partition_is_empty(&self, table: TableId, partition: Partition) -> Result<bool> {
        match self.inner.rows.prefix(partition_prefix(table, partition)).next() {
            Some(first) => first.key().map(|_| false).map_err(storage_error),
            None => Ok(true),
        }
    }

    /// Writes `rows` into `def`'s `partition`, all or none, if the
    /// partition holds no row, no key repeats, and `def` is still the
    /// table's definition. Durable when it returns, whatever the store's
    /// [`crate::Durability`]. Other writers wait while it runs.
    pub fn load(&self, def: &TableDef, partition: Partition, mut rows: Vec<LoadRow>) -> Result<Load> {
        let prefix = partition_prefix(def.id, partition);
        if !rows.iter().all(|row| row.key.starts_with(&prefix)) {
            return Err(CairnError::Internal("a load's rows must be in its partition".into()));
        }
        // Loads usually arrive in key order; then this is one pass. (fjall
        // panics on keys out of order.)
        if !rows.windows(2).all(|pair| pair[0].key < pair[1].key) {
            rows.sort_unstable_by(|a, b| a.key.cmp(&b.key));
            if rows.windows(2).any(|pair| pair[0].key == pair[1].key) {
                return Ok(Load::KeyRepeats);
            }
        }
        let inner = &self.inner;
        // Held to the end: no commit may add a row to the partition between
        // the check that it is empty and the rows becoming visible.
        let _guard = inner.write_lock.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.latest::<TableDef>(&def.id)?.as_ref() != Some(def) {
            return Ok(Load::DefinitionChanged);
        }
        if !self.partition_is_empty(def.id, partition)? {
            return Ok(Load::PartitionNotEmpty);
        }
        if rows.is_empty() {
            return Ok(Load::Loaded);
        }
        let written = vec![Written::Prefix(prefix)];
        let _writing = inner.versions.writing(&written);
        // If a write fails, the files written so far are not registered;
        // fjall deletes them when it next opens.
        let mut ingestion = inner.rows.start_ingestion().map_err(storage_error)?;
        for LoadRow { key, value } in rows {
            ingestion.write(key, value).map_err(storage_error)?;
        }
        ingestion.finish().map_err(storage_error)?;
        inner.log.append(written);
        Ok(Load::Loaded)
    }
}
