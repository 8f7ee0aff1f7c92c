//! A columnar copy of partitions that are read more often than written.
//!
//! A scan decodes every stored row it reads, one key-value pair at a
//! time, and most of its time goes to walking the LSM tree and decoding
//! values. When a partition has not changed since the last read, that
//! work gives the same Arrow arrays again. So the arrays of a whole
//! partition are kept here, under the partition's [`TableVersion`], and a
//! later read that finds the same version takes its rows from them instead
//! of reading the store. Any commit to the partition changes its version,
//! so a stale copy is never read: it is dropped at the next lookup, or
//! when space runs short.
//!
//! Only what repays the memory is kept: a partition is copied at the
//! second read that finds it unchanged (so a partition written between
//! every two reads never pays for copies nobody reads), and within a byte
//! budget, least recently used copies going first. A read with LIMIT
//! (a feed's latest rows) copies only a partition of at most
//! [`LIMITED_COPY_ROWS`] rows: reading a large partition whole to answer
//! a short read would cost more than the copy saves.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use cairn_store::{Partition, TableVersion};
use cairn_types::{ColumnDef, TableId};
use datafusion::arrow::array::RecordBatch;

/// The most rows of a partition a read with LIMIT copies.
pub const LIMITED_COPY_ROWS: usize = 4096;

/// The most partitions remembered as read once: the marks are only hints,
/// and past this many they are forgotten together rather than grow with
/// the number of users.
const MAX_SEEN: usize = 64 * 1024;

type CacheKey = (TableId, Partition);

/// How much of its partition a read returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// Every row.
    Whole,
    /// Up to a LIMIT.
    Limited,
}

/// What a read should do, as [`ScanCache::lookup`] tells it.
#[derive(Debug)]
pub enum Lookup {
    /// Take the rows from these batches (every column of the table, every
    /// row of the partition, in key order).
    Hit(Vec<RecordBatch>),
    /// Read every column of the whole partition, but not more than
    /// `at_most` rows, and [`ScanCache::insert`] the result, or
    /// [`ScanCache::scanned`] it if there were more.
    Fill { at_most: Option<usize> },
    /// Read the store as usual, then [`ScanCache::scanned`].
    Miss,
}

enum Entry {
    /// Read at this version, holding at least this many rows.
    Seen { version: TableVersion, rows: usize },
    Cached(Cached),
}

struct Cached {
    version: TableVersion,
    /// The definition the batches were read with: a schema change that
    /// rewrites no row (a renamed column) does not change the version.
    columns: Vec<ColumnDef>,
    batches: Vec<RecordBatch>,
    bytes: usize,
    last_used: u64,
}

#[derive(Default)]
struct State {
    entries: HashMap<CacheKey, Entry>,
    /// Bytes held by cached batches.
    used: usize,
    /// How many entries are [`Entry::Seen`].
    seen: usize,
    /// Ticks on every lookup and insert, for least-recently-used eviction.
    clock: u64,
}

impl State {
    fn remove(&mut self, key: &CacheKey) {
        match self.entries.remove(key) {
            Some(Entry::Cached(cached)) => self.used -= cached.bytes,
            Some(Entry::Seen { .. }) => self.seen -= 1,
            None => {}
        }
    }

    fn mark_seen(&mut self, key: CacheKey, version: TableVersion, rows: usize) {
        let rows = match self.entries.get(&key) {
            Some(Entry::Seen { version: seen, rows: known }) if *seen == version => rows.max(*known),
            _ => rows,
        };
        self.remove(&key);
        if self.seen >= MAX_SEEN {
            self.entries.retain(|_, entry| matches!(entry, Entry::Cached(_)));
            self.seen = 0;
        }
        self.entries.insert(key, Entry::Seen { version, rows });
        self.seen += 1;
    }

    /// Evicts the least recently used copies until `bytes` more fit, and
    /// then some: sorting the copies is paid once per eighth of the budget
    /// rather than at every insert.
    fn make_room(&mut self, bytes: usize, budget: usize) {
        if self.used + bytes <= budget {
            return;
        }
        let mut by_age: Vec<(u64, CacheKey)> = self
            .entries
            .iter()
            .filter_map(|(key, entry)| match entry {
                Entry::Cached(cached) => Some((cached.last_used, *key)),
                Entry::Seen { .. } => None,
            })
            .collect();
        by_age.sort_unstable_by_key(|(last_used, _)| *last_used);
        let target = budget - budget / 8;
        for (_, key) in by_age {
            if self.used + bytes <= target {
                break;
            }
            self.remove(&key);
        }
    }
}

pub struct ScanCache {
    budget_bytes: usize,
    state: Mutex<State>,
}

impl ScanCache {
    /// A cache holding at most `budget_bytes` of arrays; 0 turns it off.
    pub fn new(budget_bytes: usize) -> Self {
        ScanCache { budget_bytes, state: Mutex::default() }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What a read of `extent` of `partition` of `table` at `version`,
    /// under the definition `columns`, should do.
    pub fn lookup(
        &self,
        table: TableId,
        partition: Partition,
        version: TableVersion,
        columns: &[ColumnDef],
        extent: Extent,
    ) -> Lookup {
        if self.budget_bytes == 0 {
            return Lookup::Miss;
        }
        let key = (table, partition);
        let mut state = self.lock();
        state.clock += 1;
        let now = state.clock;
        match (state.entries.get_mut(&key), extent) {
            (Some(Entry::Cached(cached)), _) if cached.version == version && cached.columns == columns => {
                cached.last_used = now;
                Lookup::Hit(cached.batches.clone())
            }
            (Some(Entry::Seen { version: seen, .. }), Extent::Whole) if *seen == version => Lookup::Fill { at_most: None },
            (Some(Entry::Seen { version: seen, rows }), Extent::Limited) if *seen == version => match *rows <= LIMITED_COPY_ROWS {
                true => Lookup::Fill { at_most: Some(LIMITED_COPY_ROWS) },
                false => Lookup::Miss,
            },
            (Some(_), _) => {
                state.remove(&key);
                Lookup::Miss
            }
            (None, _) => Lookup::Miss,
        }
    }

    /// Records a read at `version` that found at least `rows` rows in the
    /// partition (all of them, or more than a fill may copy), which makes
    /// the next read at that version a [`Lookup::Fill`] if it may copy them.
    pub fn scanned(&self, table: TableId, partition: Partition, version: TableVersion, rows: usize) {
        if self.budget_bytes == 0 {
            return;
        }
        self.lock().mark_seen((table, partition), version, rows);
    }

    /// Keeps `batches`, every column of the partition at `version`, if
    /// they fit the budget, evicting the least recently used copies to
    /// make room.
    pub fn insert(
        &self,
        table: TableId,
        partition: Partition,
        version: TableVersion,
        columns: &[ColumnDef],
        batches: &[RecordBatch],
    ) {
        let key = (table, partition);
        let bytes: usize = batches.iter().map(RecordBatch::get_array_memory_size).sum();
        let mut state = self.lock();
        state.remove(&key);
        if bytes > self.budget_bytes {
            return;
        }
        state.make_room(bytes, self.budget_bytes);
        state.clock += 1;
        let cached = Cached {
            version,
            columns: columns.to_vec(),
            batches: batches.to_vec(),
            bytes,
            last_used: state.clock,
        };
        state.used += bytes;
        state.entries.insert(key, Entry::Cached(cached));
    }

    #[cfg(test)]
    fn used_bytes(&self) -> usize {
        self.lock().used
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cairn_store::Store;
    use cairn_types::{ColumnDef, DataType};
    use datafusion::arrow::array::Int64Array;

    use super::*;

    fn batch(rows: i64) -> RecordBatch {
        RecordBatch::try_from_iter([("v", Arc::new(Int64Array::from_iter_values(0..rows)) as _)]).expect("batch")
    }

    fn column(name: &str) -> ColumnDef {
        ColumnDef { name: name.into(), data_type: DataType::BigInt, nullable: false, default: None }
    }

    /// Versions as the store hands them out: one before and one after a
    /// commit to the table.
    fn two_versions() -> (TableVersion, TableVersion) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), &Default::default()).expect("store");
        let table = TableId(1000);
        let version = || store.snapshot_with_version(table, Partition::Shared).1.expect("stable");
        let before = version();
        store
            .write(|w| w.set_row_at(&cairn_store::row_key(table, Partition::Shared, b"k"), Some(&cairn_store::StoredRow { expires_at: None, values: Vec::new() })))
            .expect("write");
        (before, version())
    }

    #[test]
    fn a_partition_is_cached_at_its_second_unchanged_read_and_dropped_when_it_changes() {
        let cache = ScanCache::new(1 << 30);
        let (v1, v2) = two_versions();
        let (table, shared, columns) = (TableId(1000), Partition::Shared, [column("v")]);
        assert!(matches!(cache.lookup(table, shared, v1, &columns, Extent::Whole), Lookup::Miss));
        cache.scanned(table, shared, v1, 10);
        assert!(matches!(cache.lookup(table, shared, v1, &columns, Extent::Whole), Lookup::Fill { at_most: None }));
        cache.insert(table, shared, v1, &columns, &[batch(10)]);
        let Lookup::Hit(batches) = cache.lookup(table, shared, v1, &columns, Extent::Limited) else { panic!("expected a hit") };
        assert_eq!(batches, [batch(10)], "a copy serves reads with LIMIT too");
        // Another partition of the same table is its own entry.
        let user = Partition::User(cairn_types::UserId(7));
        assert!(matches!(cache.lookup(table, user, v1, &columns, Extent::Whole), Lookup::Miss));
        // A changed definition or a new version is a miss, and frees the copy.
        assert!(matches!(cache.lookup(table, shared, v1, &[column("renamed")], Extent::Whole), Lookup::Miss));
        assert_eq!(cache.used_bytes(), 0);
        cache.insert(table, shared, v1, &columns, &[batch(10)]);
        assert!(matches!(cache.lookup(table, shared, v2, &columns, Extent::Whole), Lookup::Miss));
        assert_eq!(cache.used_bytes(), 0);
        // A mark of an older version does not count either.
        cache.scanned(table, shared, v1, 10);
        assert!(matches!(cache.lookup(table, shared, v2, &columns, Extent::Whole), Lookup::Miss));
    }

    #[test]
    fn a_read_with_limit_copies_only_a_small_partition() {
        let cache = ScanCache::new(1 << 30);
        let (version, _) = two_versions();
        let (table, columns) = (TableId(1000), [column("v")]);
        let limited = || cache.lookup(table, Partition::Shared, version, &columns, Extent::Limited);
        assert!(matches!(limited(), Lookup::Miss));
        // Twenty rows read: the partition holds at least that many.
        cache.scanned(table, Partition::Shared, version, 20);
        assert!(matches!(limited(), Lookup::Fill { at_most: Some(LIMITED_COPY_ROWS) }));
        // The fill found more than it may copy; a shorter read later does
        // not make that forgotten.
        cache.scanned(table, Partition::Shared, version, LIMITED_COPY_ROWS + 1);
        cache.scanned(table, Partition::Shared, version, 20);
        assert!(matches!(limited(), Lookup::Miss));
        // A read of every row still copies it.
        assert!(matches!(cache.lookup(table, Partition::Shared, version, &columns, Extent::Whole), Lookup::Fill { at_most: None }));
    }

    #[test]
    fn the_budget_evicts_the_least_recently_used_copies() {
        let one = batch(1000).get_array_memory_size();
        let cache = ScanCache::new(4 * one);
        let (version, _) = two_versions();
        let columns = [column("v")];
        let tables = [1, 2, 3, 4, 5].map(TableId);
        let hit = |table| matches!(cache.lookup(table, Partition::Shared, version, &columns, Extent::Whole), Lookup::Hit(_));
        for table in &tables[..4] {
            cache.insert(*table, Partition::Shared, version, &columns, &[batch(1000)]);
        }
        // The first is used after the others, so the second and third go
        // to make room for the fifth and an eighth of the budget more.
        assert!(hit(tables[0]));
        cache.insert(tables[4], Partition::Shared, version, &columns, &[batch(1000)]);
        assert_eq!([0, 1, 2, 3, 4].map(|i| hit(tables[i])), [true, false, false, true, true]);
        assert_eq!(cache.used_bytes(), 3 * one);
        // A copy bigger than the whole budget is not kept.
        cache.insert(tables[0], Partition::Shared, version, &columns, &[batch(5000)]);
        assert!(!hit(tables[0]));
    }

    #[test]
    fn marks_of_partitions_read_once_stay_bounded() {
        let cache = ScanCache::new(1 << 30);
        let (version, _) = two_versions();
        let columns = [column("v")];
        cache.insert(TableId(1), Partition::Shared, version, &columns, &[batch(10)]);
        for user in 0..=MAX_SEEN as u64 {
            cache.scanned(TableId(2), Partition::User(cairn_types::UserId(user)), version, 1);
        }
        let state = cache.lock();
        assert!(state.seen <= MAX_SEEN && state.entries.len() <= MAX_SEEN + 1);
        drop(state);
        assert!(matches!(cache.lookup(TableId(1), Partition::Shared, version, &columns, Extent::Whole), Lookup::Hit(_)), "copies are kept");
    }

    #[test]
    fn a_zero_budget_caches_nothing() {
        let cache = ScanCache::new(0);
        let (version, _) = two_versions();
        cache.scanned(TableId(1), Partition::Shared, version, 10);
        assert!(matches!(cache.lookup(TableId(1), Partition::Shared, version, &[column("v")], Extent::Whole), Lookup::Miss));
    }
}
