//! Transactions over table data: `BEGIN … COMMIT`.
//!
//! A transaction reads one snapshot, taken at BEGIN, and keeps its writes
//! in a write set instead of the store, so it sees its own changes and no
//! one else sees them. It also records what it read: each row it looked up
//! and each key range it scanned. COMMIT applies the write set in one
//! atomic batch, after checking that no commit it did not see wrote any of
//! those rows or any row it writes; otherwise it fails with 40001 and the
//! client retries. Validating reads, not only writes, is what makes this
//! serializable rather than snapshot isolation: write skew is caught too.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cairn_store::{Pin, ReadSet, Snapshot, Store, StoredRow, Writer};
use cairn_types::{CairnError, Result, Timestamp};

type WriteSet = BTreeMap<Vec<u8>, Option<StoredRow>>;

pub struct Transaction {
    /// Keeps the record of later commits, for validation at COMMIT.
    pin: Pin,
    snapshot: Snapshot,
    reads: ReadSet,
    /// Full row key -> the row it now holds, or `None` for deleted.
    writes: WriteSet,
    /// Open savepoints, oldest first, with the write set as it was at each.
    savepoints: Vec<(String, WriteSet)>,
}

impl Transaction {
    pub fn begin(store: &Store) -> Transaction {
        let (pin, snapshot) = store.pinned_snapshot();
        Transaction { pin, snapshot, reads: ReadSet::default(), writes: BTreeMap::new(), savepoints: Vec::new() }
    }

    /// Starts over from a fresh snapshot if nothing was read or written
    /// yet (after a catalog change inside the block).
    pub fn refresh_if_untouched(&mut self, store: &Store) {
        if self.reads.is_empty() && self.writes.is_empty() {
            let savepoints = std::mem::take(&mut self.savepoints);
            *self = Transaction { savepoints, ..Transaction::begin(store) };
        }
    }

    /// The row under `key` as this transaction sees it.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<StoredRow>> {
        self.reads.key(key);
        match self.writes.get(key) {
            Some(written) => Ok(written.clone()),
            None => self.snapshot.get_row_at(key),
        }
    }

    /// Whether a live (unexpired) row is under `key`, as this transaction sees it.
    pub fn live(&mut self, key: &[u8], now: Timestamp) -> Result<bool> {
        Ok(self.get(key)?.is_some_and(|row| !row.is_expired(now)))
    }

    /// The rows with full keys in `[start, end)`, in key order, own writes
    /// included; `snapshot_rows` are that range's rows in the snapshot.
    pub fn scan_range(&mut self, start: &[u8], end: &[u8], snapshot_rows: Vec<(Vec<u8>, StoredRow)>) -> Vec<(Vec<u8>, StoredRow)> {
        self.reads.range(start, Some(end));
        let mut merged: BTreeMap<Vec<u8>, StoredRow> = snapshot_rows.into_iter().collect();
        for (key, written) in self.writes.range(start.to_vec()..end.to_vec()) {
            match written {
                Some(row) => merged.insert(key.clone(), row.clone()),
                None => merged.remove(key),
            };
        }
        merged.into_iter().collect()
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Records a statement's writes; all of them or, on error, none.
    pub fn apply(&mut self, writes: Vec<(Vec<u8>, Option<StoredRow>)>) {
        self.writes.extend(writes);
    }

    /// `SAVEPOINT name`: a name may be reused; the newest one wins.
    pub fn savepoint(&mut self, name: String) {
        self.savepoints.push((name, self.writes.clone()));
    }

    fn savepoint_position(&self, name: &str) -> Result<usize> {
        self.savepoints
            .iter()
            .rposition(|(n, _)| n == name)
            .ok_or_else(|| CairnError::InvalidSavepoint(format!("savepoint \"{name}\" does not exist")))
    }

    /// `RELEASE SAVEPOINT name`: forgets it and every later one, keeping the writes.
    pub fn release(&mut self, name: &str) -> Result<()> {
        let position = self.savepoint_position(name)?;
        self.savepoints.truncate(position);
        Ok(())
    }

    /// `ROLLBACK TO SAVEPOINT name`: undoes the writes made since, and
    /// forgets later savepoints; the savepoint itself stays. What was read
    /// stays recorded: those reads still shaped what the client did.
    pub fn rollback_to(&mut self, name: &str) -> Result<()> {
        let position = self.savepoint_position(name)?;
        self.savepoints.truncate(position + 1);
        self.writes = self.savepoints[position].1.clone();
        Ok(())
    }
}

/// The session's open transaction, if any; shared with its table providers.
#[derive(Clone, Default)]
pub struct TxCell(Arc<Mutex<Option<Transaction>>>);

impl TxCell {
    pub fn lock(&self) -> MutexGuard<'_, Option<Transaction>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn begin(&self, store: &Store) {
        *self.lock() = Some(Transaction::begin(store));
    }

    pub fn take(&self) -> Option<Transaction> {
        self.lock().take()
    }
}

/// The snapshot the reads of a statement outside a transaction block
/// share, so that a join, a self-join or two subqueries see one point in
/// time: taken at the statement's first read, dropped when the next
/// statement starts. (Inside a block every read uses the block's.)
#[derive(Clone, Default)]
pub struct StatementSnapshot(Arc<Mutex<Option<Arc<Snapshot>>>>);

impl StatementSnapshot {
    fn lock(&self) -> MutexGuard<'_, Option<Arc<Snapshot>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The running statement's snapshot, taken now if this is its first read.
    pub fn get(&self, store: &Store) -> Arc<Snapshot> {
        Arc::clone(self.lock().get_or_insert_with(|| Arc::new(store.snapshot())))
    }

    /// A new statement starts: its first read takes a new snapshot.
    pub fn clear(&self) {
        self.lock().take();
    }
}

/// What a statement's reads see, for readers outside the write path
/// (system tables): the block's snapshot inside a transaction block, else
/// the statement's.
#[derive(Clone)]
pub struct ReadView {
    pub transaction: TxCell,
    pub statement: StatementSnapshot,
}

impl ReadView {
    pub fn read<T>(&self, store: &Store, read: impl FnOnce(&Snapshot) -> T) -> T {
        let transaction = self.transaction.lock();
        match transaction.as_ref() {
            Some(transaction) => read(transaction.snapshot()),
            None => read(&self.statement.get(store)),
        }
    }
}

/// Autocommit writes of at most this many rows are written on the
/// session's thread: the hand-off to a blocking thread and back costs more
/// than the write. More (INSERT … SELECT, a large transaction) would hold
/// the runtime's thread too long, and go to a blocking thread.
pub const WRITE_INLINE_AT_MOST: usize = 64;

/// Applies a transaction's writes, or fails with 40001 if a commit it did
/// not see wrote a row it read or writes.
pub async fn commit(store: Store, transaction: Transaction) -> Result<()> {
    if transaction.writes.is_empty() {
        // A read-only transaction read one consistent snapshot: nothing to check.
        return Ok(());
    }
    let Transaction { pin, mut reads, writes, .. } = transaction;
    for key in writes.keys() {
        reads.key(key);
    }
    let writes_len = writes.len();
    let write = move |w: &mut Writer| {
        for (key, row) in &writes {
            w.set_row_at(key, row.as_ref())?;
        }
        Ok(())
    };
    if writes_len <= WRITE_INLINE_AT_MOST {
        return store.write_validated_async(&pin, &reads, write).await;
    }
    tokio::task::spawn_blocking(move || store.write_validated(&pin, &reads, write))
        .await
        .map_err(|e| CairnError::Internal(format!("commit task failed: {e}")))?
}
