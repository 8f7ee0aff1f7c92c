//! The store: one fjall database, a few keyspaces, typed reads through
//! snapshots and atomic, group-committed writes.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use cairn_types::{CairnError, Result, TableId, Timestamp};
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode, Readable};

use crate::commit::GroupCommit;
use crate::conflicts::{CommitLog, Pin, ReadSet, Written};
use crate::entity::{Entity, EntityKind, IndexDef};
use crate::inserted::InsertedKeys;
use crate::journal::JournalSync;
use crate::key::KeyCodec;
use crate::rows::{cut_points, partition_prefix, row_key, table_prefix, EncodedRow, KeyRange, Partition, RowValues, StoredRow};
use crate::value::{decode_value, encode_value};
use crate::versions::{TableVersion, TableVersions};

mod drop;
mod load;
pub use load::{Load, LoadRow};

/// When a write is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// After an fdatasync that covers it (shared with concurrent writers):
    /// survives kill -9 and power loss.
    #[default]
    Durable,
    /// After the OS has the bytes: survives kill -9, not power loss.
    Buffered,
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub durability: Durability,
    /// fjall's block cache, in bytes.
    pub cache_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { durability: Durability::Durable, cache_bytes: 64 * 1024 * 1024 }
    }
}

/// A counter that hands out ids and survives restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Sequence {
    User = 1,
    Namespace = 2,
    Table = 3,
    Storage = 4,
    Job = 5,
    LiveQuery = 6,
}

impl Sequence {
    fn key(self) -> Vec<u8> {
        vec![EntityKind::Sequence as u8, self as u8]
    }
}

fn storage_error(error: fjall::Error) -> CairnError {
    CairnError::Storage(error.to_string())
}

fn entity_key<E: Entity>(key: &E::Key) -> Vec<u8> {
    let mut out = vec![E::KIND as u8];
    key.encode_key(&mut out);
    out
}

fn index_prefix<E: Entity>(index_id: u8, encoded_index_key: &[u8]) -> Vec<u8> {
    let mut out = vec![E::KIND as u8, index_id];
    out.extend_from_slice(encoded_index_key);
    out
}

struct Inner {
    db: Database,
    meta: Keyspace,
    index: Keyspace,
    rows: Keyspace,
    /// Orders writers: each write's read-check-append runs alone, which is
    /// what makes unique checks and id allocation safe. Reads never take it.
    write_lock: Mutex<()>,
    commit: GroupCommit,
    /// Used by the group commit's leader only.
    journal: Mutex<JournalSync>,
    /// Row keys of recent commits, for validating transactions.
    log: CommitLog,
    /// Changed by every commit that writes a table's rows.
    versions: TableVersions,
    durability: Durability,
}

impl Inner {
    /// The latest committed version of an entity, without a snapshot: for
    /// read-check-write under the write lock.
    fn latest<E: Entity>(&self, key: &E::Key) -> Result<Option<E>> {
        match self.meta.get(entity_key::<E>(key)).map_err(storage_error)? {
            Some(bytes) => decode_value(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// One fdatasync of the journal, for the group commit's leader.
    fn sync_journal(&self) -> Result<()> {
        let mut journal = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        match journal.sync() {
            Ok(true) => {
                if journal.wants_rotation() {
                    // A flush of the rows' memtable (the one that fills the
                    // journal) makes fjall start a new journal.
                    // `rotate_memtable` only seals it and queues the flush.
                    if let Err(error) = self.rows.rotate_memtable() {
                        tracing::warn!(%error, "could not start a flush to keep the journal within its preallocation");
                    }
                }
                Ok(())
            }
            Ok(false) => self.db.persist(PersistMode::SyncData).map_err(storage_error),
            Err(error) => Err(CairnError::Storage(format!("journal sync failed: {error}"))),
        }
    }
}

/// The storage engine handle. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl Store {
    /// Opens (or creates) the store under `dir`.
    pub fn open(dir: &Path, options: &StoreOptions) -> Result<Store> {
        let lsm = dir.join("lsm");
        let db = Database::builder(&lsm)
            .cache_size(options.cache_bytes)
            .open()
            .map_err(storage_error)?;
        let meta = db.keyspace("meta", KeyspaceCreateOptions::default).map_err(storage_error)?;
        let index = db.keyspace("index", KeyspaceCreateOptions::default).map_err(storage_error)?;
        let rows = db.keyspace("rows", KeyspaceCreateOptions::default).map_err(storage_error)?;
        let store = Store {
            inner: Arc::new(Inner {
                db,
                meta,
                index,
                rows,
                write_lock: Mutex::new(()),
                commit: GroupCommit::default(),
                journal: Mutex::new(JournalSync::new(&lsm)),
                log: CommitLog::default(),
                versions: TableVersions::default(),
                durability: options.durability,
            }),
        };
        store.remove_dropped_rows()?;
        Ok(store)
    }

    /// A consistent view of everything committed so far.
    pub fn snapshot(&self) -> Snapshot {
        // Counted first: every commit counted is then in the snapshot.
        let commits = self.inner.versions.commits();
        Snapshot {
            commits,
            inner: self.inner.db.snapshot(),
            meta: self.inner.meta.clone(),
            index: self.inner.index.clone(),
            rows: self.inner.rows.clone(),
        }
    }

    /// A snapshot, and the version of the rows of `partition` of `table`
    /// it holds; `None` if a commit to them was in flight (see
    /// [`crate::versions`]). Two snapshots with the same version hold the
    /// same rows of that partition.
    pub fn snapshot_with_version(&self, table: TableId, partition: Partition) -> (Snapshot, Option<TableVersion>) {
        let versions = &self.inner.versions;
        let before = versions.current(table, partition);
        let snapshot = self.snapshot();
        let after = versions.current(table, partition);
        (snapshot, before.filter(|_| before == after))
    }

    /// The version of the rows of `partition` of `table` that `snapshot`
    /// holds, if they are also the latest committed ones (no commit to them
    /// since the snapshot, none in flight): then a copy of the rows at this
    /// version is what the snapshot would read.
    pub fn partition_version_in(&self, snapshot: &Snapshot, table: TableId, partition: Partition) -> Option<TableVersion> {
        self.inner.versions.current_at(snapshot.commits, table, partition)
    }

    /// The version of the latest committed rows of `partition` of
    /// `table`, without a snapshot; `None` while a commit writes them. A
    /// copy of the rows made at this version is what a read now would see.
    pub fn partition_version(&self, table: TableId, partition: Partition) -> Option<TableVersion> {
        self.inner.versions.current(table, partition)
    }

    /// A snapshot for a transaction, with a pin that keeps the record of
    /// later commits until the transaction ends (see [`Store::write_validated`]).
    pub fn pinned_snapshot(&self) -> (Pin, Snapshot) {
        // Pinned first: every commit up to the pin is then in the snapshot.
        let pin = self.inner.log.pin();
        (pin, self.snapshot())
    }

    /// Runs `f` to build one atomic batch, commits it, and returns once it
    /// is as durable as the store's [`Durability`] promises. If `f` fails,
    /// nothing is written. Blocks; see [`Store::write_async`].
    pub fn write<T>(&self, f: impl FnOnce(&mut Writer) -> Result<T>) -> Result<T> {
        let (output, ticket) = self.append(None, f)?;
        self.wait_durable(ticket)?;
        Ok(output)
    }

    /// As [`Store::write`], for a session on the async runtime: `f` runs
    /// and the batch is appended at once, on the caller's thread (keep the
    /// batch small); the wait for durability does not hold the thread,
    /// except to lead a sync when none is in flight.
    pub async fn write_async<T>(&self, f: impl FnOnce(&mut Writer) -> Result<T>) -> Result<T> {
        let (output, ticket) = self.append(None, f)?;
        self.durable(ticket).await?;
        Ok(output)
    }

    /// As [`Store::write`], for a transaction that read `reads` through the
    /// snapshot pinned by `pin`: fails with 40001, writing nothing, if a
    /// commit it did not see wrote any of those rows.
    pub fn write_validated<T>(&self, pin: &Pin, reads: &ReadSet, f: impl FnOnce(&mut Writer) -> Result<T>) -> Result<T> {
        let (output, ticket) = self.append(Some((pin, reads)), f)?;
        self.wait_durable(ticket)?;
        Ok(output)
    }

    /// [`Store::write_validated`] as [`Store::write_async`] does it.
    pub async fn write_validated_async<T>(
        &self,
        pin: &Pin,
        reads: &ReadSet,
        f: impl FnOnce(&mut Writer) -> Result<T>,
    ) -> Result<T> {
        let (output, ticket) = self.append(Some((pin, reads)), f)?;
        self.durable(ticket).await?;
        Ok(output)
    }

    fn wait_durable(&self, ticket: Option<u64>) -> Result<()> {
        match ticket {
            Some(ticket) => self.inner.commit.wait_durable(ticket, || self.inner.sync_journal()),
            None => Ok(()),
        }
    }

    async fn durable(&self, ticket: Option<u64>) -> Result<()> {
        match ticket {
            Some(ticket) => self.inner.commit.durable(ticket, || self.inner.sync_journal()).await,
            None => Ok(()),
        }
    }

    /// Builds and appends the batch; returns the group-commit ticket to
    /// wait for, if the store is durable and anything was written.
    fn append<T>(&self, check: Option<(&Pin, &ReadSet)>, f: impl FnOnce(&mut Writer) -> Result<T>) -> Result<(T, Option<u64>)> {
        let inner = &self.inner;
        let _guard = inner.write_lock.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((pin, reads)) = check {
            if inner.log.conflicts(pin.seq(), reads) {
                return Err(CairnError::SerializationFailure);
            }
        }
        let mut writer = Writer {
            inner,
            batch: inner.db.batch(),
            sequences: HashMap::new(),
            unique_claims: HashSet::default(),
            inserted_rows: InsertedKeys::default(),
            no_committed_rows_under: None,
            written: Vec::new(),
        };
        let output = f(&mut writer)?;
        let Writer { batch, written, .. } = writer;
        if batch.is_empty() {
            return Ok((output, None));
        }
        let _writing = inner.versions.writing(&written);
        // Either way the bytes reach the OS before the commit returns: the
        // group commit syncs them through a handle of its own, which cannot
        // see fjall's buffer.
        batch.durability(Some(PersistMode::Buffer)).commit().map_err(storage_error)?;
        inner.log.append(written);
        let ticket = match inner.durability {
            Durability::Durable => Some(inner.commit.record_write()),
            Durability::Buffered => None,
        };
        Ok((output, ticket))
    }

    /// Forces everything written so far to disk (used at shutdown).
    pub fn sync_all(&self) -> Result<()> {
        self.inner.db.persist(PersistMode::SyncAll).map_err(storage_error)
    }

    /// The journal the last sync went to, and the newest in the directory.
    #[cfg(test)]
    pub(crate) fn journal_ids(&self) -> (Option<u64>, Option<u64>) {
        self.inner.journal.lock().unwrap_or_else(PoisonError::into_inner).ids()
    }

    /// The row stored under a full primary key, as the latest commit left
    /// it, encoded. One key is read atomically, so a read of one row needs
    /// no [`Snapshot`]; opening one goes through fjall's snapshot tracker,
    /// shared by every thread, and cost a point select 5% of its CPU. A
    /// read of several rows that must agree takes a snapshot.
    pub fn get_latest_encoded_row(&self, table: TableId, partition: Partition, primary_key: &[u8]) -> Result<Option<EncodedRow>> {
        encoded_row(table, partition, primary_key, |key| self.inner.rows.get(key))
    }

    /// How many journal syncs group commit has performed.
    pub fn sync_count(&self) -> u64 {
        self.inner.commit.sync_count()
    }
}

/// A point-in-time view. Every statement reads through one snapshot; keep
/// it short-lived, since it pins old versions.
pub struct Snapshot {
    /// Commits finished before it was taken (see [`crate::versions`]).
    commits: u64,
    inner: fjall::Snapshot,
    meta: Keyspace,
    index: Keyspace,
    rows: Keyspace,
}

impl Snapshot {
    pub fn get<E: Entity>(&self, key: &E::Key) -> Result<Option<E>> {
        match self.inner.get(&self.meta, entity_key::<E>(key)).map_err(storage_error)? {
            Some(bytes) => decode_value(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Every entity of type `E`, in key order. Lazy: stop early and the
    /// rest is never read.
    pub fn scan<E: Entity>(&self) -> impl Iterator<Item = Result<E>> + '_ {
        self.inner
            .prefix(&self.meta, [E::KIND as u8])
            .map(|guard| decode_value(&guard.value().map_err(storage_error)?))
    }

    /// The entities whose index key equals `key`, in entity-key order.
    pub fn lookup<'a, E, K>(
        &'a self,
        index: &IndexDef<E, K>,
        key: &K,
    ) -> impl Iterator<Item = Result<E>> + 'a
    where
        E: Entity,
        K: KeyCodec,
    {
        let prefix = index_prefix::<E>(index.id, &key.to_key_bytes());
        let prefix_len = prefix.len();
        self.inner.prefix(&self.index, prefix).filter_map(move |guard| {
            let resolve = || -> Result<Option<E>> {
                let index_key = guard.key().map_err(storage_error)?;
                let encoded = index_key
                    .get(prefix_len..)
                    .ok_or_else(|| CairnError::Storage("short index key".into()))?;
                let entity_key = E::Key::from_key_bytes(encoded)?;
                // An entry whose entity is missing would be a bug in the
                // write path; skip it rather than fail every reader.
                self.get::<E>(&entity_key)
            };
            resolve().transpose()
        })
    }
}

impl Snapshot {
    /// The rows of `table` in `partition`, in primary-key order, expired
    /// ones included (the caller decides). Lazy.
    pub fn scan_rows(&self, table: TableId, partition: Partition) -> impl Iterator<Item = Result<StoredRow>> + '_ {
        self.scan_row_range(table, partition, &KeyRange::all(), false).map(|row| row.map(|(_, row)| row))
    }

    /// The rows whose primary key is in `range`, in key order or (with
    /// `reverse`) in reverse key order, expired ones included. Lazy.
    pub fn scan_row_range(
        &self,
        table: TableId,
        partition: Partition,
        range: &KeyRange,
        reverse: bool,
    ) -> impl Iterator<Item = Result<(Vec<u8>, StoredRow)>> + '_ {
        self.scan_encoded_rows(table, partition, range, reverse)
            .map(|row| row.and_then(|row| Ok((row.key().to_vec(), row.to_row()?))))
    }

    /// As [`Snapshot::scan_row_range`], leaving each row encoded for the
    /// caller to decode in place.
    pub fn scan_encoded_rows(
        &self,
        table: TableId,
        partition: Partition,
        range: &KeyRange,
        reverse: bool,
    ) -> Box<dyn Iterator<Item = Result<EncodedRow>> + '_> {
        let (start, end) = range.row_keys(table, partition);
        let primary_key_at = partition_prefix(table, partition).len();
        let iter = self.inner.range(&self.rows, start..end);
        let encoded = move |guard: fjall::Guard| -> Result<EncodedRow> {
            let (key, value) = guard.into_inner().map_err(storage_error)?;
            Ok(EncodedRow { key, primary_key_at, value })
        };
        match reverse {
            true => Box::new(iter.rev().map(encoded)),
            false => Box::new(iter.map(encoded)),
        }
    }

    /// The row stored under a full primary key.
    pub fn get_row(&self, table: TableId, partition: Partition, primary_key: &[u8]) -> Result<Option<StoredRow>> {
        self.get_row_at(&row_key(table, partition, primary_key))
    }

    /// The row stored under a full row key (see [`crate::row_key`]).
    pub fn get_row_at(&self, key: &[u8]) -> Result<Option<StoredRow>> {
        match self.inner.get(&self.rows, key).map_err(storage_error)? {
            Some(bytes) => decode_value(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// As [`Snapshot::get_row`], leaving the row encoded for the caller to
    /// decode in place.
    pub fn get_encoded_row(&self, table: TableId, partition: Partition, primary_key: &[u8]) -> Result<Option<EncodedRow>> {
        encoded_row(table, partition, primary_key, |key| self.inner.get(&self.rows, key))
    }

    /// `range` cut into at most `parts` consecutive ranges, in key order,
    /// whose union is `range`, for reading in parallel. The cuts fall
    /// between the first and the last row the range holds (see
    /// [`cut_points`] for how even they are).
    pub fn split_row_range(&self, table: TableId, partition: Partition, range: &KeyRange, parts: usize) -> Result<Vec<KeyRange>> {
        let (start, end) = range.row_keys(table, partition);
        let mut rows = self.inner.range(&self.rows, start..end);
        let (Some(first), Some(last)) = (rows.next(), rows.next_back()) else {
            return Ok(vec![range.clone()]);
        };
        let primary_key_at = partition_prefix(table, partition).len();
        let (first, last) = (first.key().map_err(storage_error)?, last.key().map_err(storage_error)?);
        let cuts = cut_points(first.get(primary_key_at..).unwrap_or_default(), last.get(primary_key_at..).unwrap_or_default(), parts);
        let mut ranges = Vec::with_capacity(cuts.len() + 1);
        let mut from = range.start.clone();
        for cut in cuts {
            ranges.push(KeyRange { start: std::mem::replace(&mut from, cut.clone()), end: Some(cut) });
        }
        ranges.push(KeyRange { start: from, end: range.end.clone() });
        Ok(ranges)
    }
}

/// The row under a full primary key, read by `get` from its row key.
fn encoded_row(
    table: TableId,
    partition: Partition,
    primary_key: &[u8],
    get: impl FnOnce(&[u8]) -> fjall::Result<Option<fjall::UserValue>>,
) -> Result<Option<EncodedRow>> {
    let key = row_key(table, partition, primary_key);
    let primary_key_at = key.len() - primary_key.len();
    let value = get(&key).map_err(storage_error)?;
    Ok(value.map(|value| EncodedRow { key: key.into(), primary_key_at, value }))
}

/// One atomic batch under construction; see [`Store::write`]. Each entity
/// should be put or deleted at most once per batch.
pub struct Writer<'s> {
    inner: &'s Inner,
    batch: fjall::OwnedWriteBatch,
    sequences: HashMap<Sequence, u64>,
    /// Unique index entries this batch adds, so two puts in one batch
    /// cannot claim the same value.
    unique_claims: HashSet<Vec<u8>, foldhash::fast::RandomState>,
    /// Row keys this batch inserted with [`Writer::insert_row_at`].
    inserted_rows: InsertedKeys,
    /// A partition's key prefix that held no committed row when this batch
    /// looked ([`Writer::expect_inserts_into`]).
    no_committed_rows_under: Option<Vec<u8>>,
    /// Row keys this batch writes, for the commit log.
    written: Vec<Written>,
}

impl Writer<'_> {
    /// Reads the latest committed version. Safe for read-check-write: no
    /// other writer runs while this batch is being built.
    pub fn get<E: Entity>(&self, key: &E::Key) -> Result<Option<E>> {
        self.inner.latest(key)
    }

    /// Allocates the next id of `sequence` (ids start at `first`).
    pub fn next_id(&mut self, sequence: Sequence, first: u64) -> Result<u64> {
        let current = match self.sequences.get(&sequence) {
            Some(value) => Some(*value),
            None => match self.inner.meta.get(sequence.key()).map_err(storage_error)? {
                Some(bytes) => Some(decode_value::<u64>(&bytes)?),
                None => None,
            },
        };
        let next = current.map_or(first, |value| value + 1).max(first);
        self.sequences.insert(sequence, next);
        self.batch.insert(&self.inner.meta, sequence.key(), encode_value(&next)?);
        Ok(next)
    }

    /// Inserts or replaces `entity` and keeps its indexes in step. A unique
    /// index that already holds the value for another entity fails the
    /// write with 23505.
    pub fn put<E: Entity>(&mut self, entity: &E) -> Result<()> {
        let key = entity.key();
        let encoded_key = key.to_key_bytes();
        let old = self.get::<E>(&key)?;
        for index in E::indexes() {
            let old_index_key = old.as_ref().and_then(|old| index.encoded_key_of(old));
            let new_index_key = index.encoded_key_of(entity);
            if old_index_key == new_index_key {
                continue;
            }
            if let Some(old_index_key) = old_index_key {
                let mut entry = index_prefix::<E>(index.id(), &old_index_key);
                entry.extend_from_slice(&encoded_key);
                self.batch.remove(&self.inner.index, entry);
            }
            if let Some(new_index_key) = new_index_key {
                let prefix = index_prefix::<E>(index.id(), &new_index_key);
                if index.is_unique() {
                    let taken = self.unique_claims.contains(&prefix)
                        || self.inner.index.prefix(&prefix).next().is_some();
                    if taken {
                        return Err(CairnError::UniqueViolation {
                            constraint: index.name().to_owned(),
                            detail: index.describe(entity),
                        });
                    }
                    self.unique_claims.insert(prefix.clone());
                }
                let mut entry = prefix;
                entry.extend_from_slice(&encoded_key);
                self.batch.insert(&self.inner.index, entry, []);
            }
        }
        self.batch.insert(&self.inner.meta, entity_key::<E>(&key), encode_value(entity)?);
        Ok(())
    }

    /// Inserts a row under its full row key; a live row under that key
    /// (or one this batch already inserted) fails the write with 23505.
    pub fn insert_row_at(&mut self, key: &[u8], row: &StoredRow, constraint: &str) -> Result<()> {
        let taken = self.inserted_rows.contains(key) || self.committed_row_is_live(key)?;
        if taken {
            return Err(CairnError::UniqueViolation {
                constraint: constraint.to_owned(),
                detail: "Key already exists.".into(),
            });
        }
        self.set_row_at(key, Some(row))?;
        self.inserted_rows.insert(key);
        Ok(())
    }

    fn committed_row_is_live(&self, key: &[u8]) -> Result<bool> {
        if self.no_committed_rows_under.as_deref().is_some_and(|prefix| key.starts_with(prefix)) {
            return Ok(false);
        }
        match self.inner.rows.get(key).map_err(storage_error)? {
            // Only the row's expiry is read, not its values.
            Some(bytes) => Ok(!RowValues::new(&bytes)?.is_expired(Timestamp::now())),
            None => Ok(false),
        }
    }

    /// Says that many [`Writer::insert_row_at`] into `table`'s `partition`
    /// follow. If the partition holds no committed row now, they skip the
    /// read that looks for a live row under their key: one seek instead of
    /// a read per row, for a load into a new or emptied table. No commit
    /// can add a row before this batch's, which holds the write lock.
    pub fn expect_inserts_into(&mut self, table: TableId, partition: Partition) {
        let prefix = partition_prefix(table, partition);
        if self.inner.rows.prefix(&prefix).next().is_none() {
            self.no_committed_rows_under = Some(prefix);
        }
    }

    /// The latest committed row under a full row key.
    pub fn get_row_at(&self, key: &[u8]) -> Result<Option<StoredRow>> {
        match self.inner.rows.get(key).map_err(storage_error)? {
            Some(bytes) => decode_value(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Writes (`Some`) or removes (`None`) the row under a full row key.
    pub fn set_row_at(&mut self, key: &[u8], row: Option<&StoredRow>) -> Result<()> {
        self.written.push(Written::Key(key.to_vec()));
        match row {
            Some(row) => self.batch.insert(&self.inner.rows, key.to_vec(), encode_value(row)?),
            None => self.batch.remove(&self.inner.rows, key.to_vec()),
        }
        Ok(())
    }

    /// Removes the rows of `table` that expired by `now`. Returns how many.
    pub fn delete_expired_rows(&mut self, table: TableId, now: Timestamp) -> Result<usize> {
        let mut removed = 0;
        for guard in self.inner.rows.prefix(table_prefix(table)) {
            let (key, value) = guard.into_inner().map_err(storage_error)?;
            if decode_value::<StoredRow>(&value)?.is_expired(now) {
                self.written.push(Written::Key(key.to_vec()));
                self.batch.remove(&self.inner.rows, key);
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Rewrites the rows of `table`, in every partition: `f` changes a row
    /// in place and says whether it did. Returns how many changed. For
    /// schema changes, in the same batch as the new definition.
    pub fn rewrite_rows(&mut self, table: TableId, mut f: impl FnMut(&mut StoredRow) -> Result<bool>) -> Result<usize> {
        self.touch_table(table);
        let mut changed = 0;
        for guard in self.inner.rows.prefix(table_prefix(table)) {
            let (key, value) = guard.into_inner().map_err(storage_error)?;
            let mut row = decode_value::<StoredRow>(&value)?;
            if f(&mut row)? {
                self.batch.insert(&self.inner.rows, key, encode_value(&row)?);
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// Marks every row of `table` as written, so that open transactions
    /// that read or wrote any of them fail at COMMIT (the table's
    /// definition changed under them).
    pub fn touch_table(&mut self, table: TableId) {
        self.written.push(Written::Prefix(table_prefix(table)));
    }

    /// Removes the entity and its index entries. Returns whether it existed.
    pub fn delete<E: Entity>(&mut self, key: &E::Key) -> Result<bool> {
        let Some(old) = self.get::<E>(key)? else {
            return Ok(false);
        };
        let encoded_key = key.to_key_bytes();
        for index in E::indexes() {
            if let Some(old_index_key) = index.encoded_key_of(&old) {
                let mut entry = index_prefix::<E>(index.id(), &old_index_key);
                entry.extend_from_slice(&encoded_key);
                self.batch.remove(&self.inner.index, entry);
            }
        }
        self.batch.remove(&self.inner.meta, entity_key::<E>(key));
        Ok(true)
    }
}
