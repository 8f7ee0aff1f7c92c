//! Transactions over table data: `BEGIN … COMMIT`.
//!
//! A transaction reads one snapshot, taken at BEGIN, and keeps its writes
//! in a write set instead of the store, so it sees its own changes and no
//! one else sees them. COMMIT applies the write set in one atomic batch,
//! after checking that no row it writes was changed by someone else since
//! its snapshot (first committer wins); otherwise it fails with 40001 and
//! the client retries. This is snapshot isolation: write-write conflicts
//! are caught, read-write anomalies (write skew) are not.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cairn_store::{Snapshot, Store, StoredRow};
use cairn_types::{CairnError, Result, Timestamp};

pub(crate) struct Transaction {
    snapshot: Snapshot,
    /// Full row key -> the row it now holds, or `None` for deleted.
    writes: BTreeMap<Vec<u8>, Option<StoredRow>>,
}

impl Transaction {
    /// The row under `key` as this transaction sees it.
    pub fn get(&self, key: &[u8]) -> Result<Option<StoredRow>> {
        match self.writes.get(key) {
            Some(written) => Ok(written.clone()),
            None => self.snapshot.get_row_at(key),
        }
    }

    /// Whether a live (unexpired) row is under `key`, as this transaction sees it.
    pub fn live(&self, key: &[u8], now: Timestamp) -> Result<bool> {
        Ok(self.get(key)?.is_some_and(|row| !row.is_expired(now)))
    }

    /// The rows whose key starts with `prefix`, in key order, own writes included.
    pub fn scan(&self, prefix: &[u8], snapshot_rows: Vec<(Vec<u8>, StoredRow)>) -> Vec<StoredRow> {
        let mut merged: BTreeMap<Vec<u8>, StoredRow> = snapshot_rows.into_iter().collect();
        for (key, written) in self.writes.range(prefix.to_vec()..).take_while(|(key, _)| key.starts_with(prefix)) {
            match written {
                Some(row) => merged.insert(key.clone(), row.clone()),
                None => merged.remove(key),
            };
        }
        merged.into_values().collect()
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Records a statement's writes; all of them or, on error, none.
    pub fn apply(&mut self, writes: Vec<(Vec<u8>, Option<StoredRow>)>) {
        self.writes.extend(writes);
    }
}

/// The session's open transaction, if any; shared with its table providers.
#[derive(Clone, Default)]
pub(crate) struct TxCell(Arc<Mutex<Option<Transaction>>>);

impl TxCell {
    pub fn lock(&self) -> MutexGuard<'_, Option<Transaction>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn begin(&self, snapshot: Snapshot) {
        *self.lock() = Some(Transaction { snapshot, writes: BTreeMap::new() });
    }

    pub fn take(&self) -> Option<Transaction> {
        self.lock().take()
    }
}

/// Applies a transaction's writes, or fails with 40001 if another commit
/// changed one of its rows after its snapshot.
pub(crate) fn commit(store: &Store, transaction: Transaction) -> Result<()> {
    if transaction.writes.is_empty() {
        return Ok(());
    }
    store.write(|w| {
        for (key, row) in &transaction.writes {
            if w.get_row_at(key)? != transaction.snapshot.get_row_at(key)? {
                return Err(CairnError::SerializationFailure);
            }
            w.set_row_at(key, row.as_ref())?;
        }
        Ok(())
    })
}
