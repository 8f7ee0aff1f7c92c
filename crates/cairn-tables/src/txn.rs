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

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cairn_store::{EncodedRow, Pin, ReadSet, Snapshot, Store, StoredRow, Writer};
use itertools::{Either, EitherOrBoth, Itertools};
use cairn_types::{CairnError, Result, Timestamp};

type WriteSet = BTreeMap<Vec<u8>, Option<StoredRow>>;

pub struct Transaction {
    /// Keeps the record of later commits, for validation at COMMIT.
    pin: Pin,
    /// Shared with the scans that stream from it after the block's lock is let go.
    snapshot: Arc<Snapshot>,
    reads: ReadSet,
    /// Full row key -> the row it now holds, or `None` for deleted.
    writes: WriteSet,
    /// Open savepoints, oldest first, with the write set as it was at each.
    savepoints: Vec<(String, WriteSet)>,
}

impl Transaction {
    pub fn begin(store: &Store) -> Transaction {
        let (pin, snapshot) = store.pinned_snapshot();
        Transaction { pin, snapshot: Arc::new(snapshot), reads: ReadSet::default(), writes: BTreeMap::new(), savepoints: Vec::new() }
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

    /// Records the full row keys in `[start, end)` as read, and returns
    /// this transaction's own writes among them, in key order: what a scan
    /// of that range merges into the snapshot's rows ([`with_writes`]).
    pub fn read_range(&mut self, start: &[u8], end: &[u8]) -> Vec<(Vec<u8>, Option<StoredRow>)> {
        self.reads.range(start, Some(end));
        self.writes.range(start.to_vec()..end.to_vec()).map(|(key, row)| (key.clone(), row.clone())).collect()
    }

    pub fn snapshot(&self) -> &Arc<Snapshot> {
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

/// A row of a range as a transaction block sees it: as its snapshot holds
/// it, or as the block wrote it.
pub enum BlockRow<'w> {
    Stored(EncodedRow),
    Written { key: &'w [u8], row: &'w StoredRow },
}

/// The rows of a range as a transaction block sees them, lazily: `stored`
/// (the snapshot's rows, in key order or, with `reverse`, in reverse) with
/// the block's `writes` in that range ([`Transaction::read_range`])
/// merged in; a written row replaces the stored one under its key, a
/// deletion hides it.
pub fn with_writes<'w>(
    stored: impl Iterator<Item = Result<EncodedRow>> + 'w,
    writes: &'w [(Vec<u8>, Option<StoredRow>)],
    reverse: bool,
) -> impl Iterator<Item = Result<BlockRow<'w>>> + 'w {
    let writes = match reverse {
        true => Either::Left(writes.iter().rev()),
        false => Either::Right(writes.iter()),
    };
    let in_scan_order = move |stored: &Result<EncodedRow>, (key, _): &&(Vec<u8>, Option<StoredRow>)| match stored {
        // An error comes out at once; the scan stops there.
        Err(_) => Ordering::Less,
        Ok(row) if reverse => key.as_slice().cmp(row.key()),
        Ok(row) => row.key().cmp(key),
    };
    stored.merge_join_by(writes, in_scan_order).filter_map(|merged| match merged {
        EitherOrBoth::Left(stored) => Some(stored.map(BlockRow::Stored)),
        EitherOrBoth::Right((key, written)) | EitherOrBoth::Both(_, (key, written)) => {
            written.as_ref().map(|row| Ok(BlockRow::Written { key, row }))
        }
    })
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use cairn_store::{encode_primary_key, row_key, KeyRange, Partition, Store};
    use cairn_types::{TableId, Value};
    use proptest::prelude::*;

    use super::*;

    fn row(value: i64) -> StoredRow {
        StoredRow { expires_at: None, values: vec![Value::Int64(value)] }
    }

    fn value_of(row: &BlockRow<'_>) -> i64 {
        let stored;
        let values = match row {
            BlockRow::Stored(encoded) => {
                stored = encoded.to_row().expect("decodes");
                &stored.values
            }
            BlockRow::Written { row, .. } => &row.values,
        };
        match values.as_slice() {
            [Value::Int64(v)] => *v,
            other => panic!("not a test row: {other:?}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The merged rows are what applying the writes to the stored rows
        /// leaves, in key order, or its reverse.
        #[test]
        fn with_writes_is_the_stored_rows_with_the_writes_applied(
            stored in proptest::collection::btree_set(0i64..40, 0..20),
            writes in proptest::collection::btree_map(0i64..40, proptest::option::of(100i64..200), 0..20),
            reverse: bool,
        ) {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = Store::open(dir.path(), &Default::default()).expect("store");
            let (table, partition) = (TableId(7), Partition::Shared);
            let key = |k: i64| row_key(table, partition, &encode_primary_key(&[&Value::Int64(k)]).expect("key"));
            store
                .write(|w| stored.iter().try_for_each(|&k| w.set_row_at(&key(k), Some(&row(k)))))
                .expect("stored");

            let mut model: BTreeMap<Vec<u8>, i64> = stored.iter().map(|&k| (key(k), k)).collect();
            for (&k, written) in &writes {
                match written {
                    Some(v) => model.insert(key(k), *v),
                    None => model.remove(&key(k)),
                };
            }
            let mut want: Vec<i64> = model.into_values().collect();
            if reverse {
                want.reverse();
            }

            let writes: Vec<(Vec<u8>, Option<StoredRow>)> = writes.iter().map(|(&k, v)| (key(k), v.map(row))).collect();
            let snapshot = store.snapshot();
            let rows = snapshot.scan_encoded_rows(table, partition, &KeyRange::all(), reverse);
            let got: Vec<i64> = with_writes(rows, &writes, reverse).map(|row| value_of(&row.expect("reads"))).collect();
            prop_assert_eq!(got, want);
        }
    }
}
