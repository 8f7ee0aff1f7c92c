//! A columnar copy of large tables that are read more often than written.
//!
//! A full scan decodes every stored row, one key-value pair at a time,
//! and most of its time goes to walking the LSM tree and decoding values.
//! When a table has not changed since the last scan, that work gives the
//! same Arrow arrays again. So the arrays of a full scan are kept here,
//! under the table's [`TableVersion`], and a later scan that finds the
//! same version projects them instead of reading the store. Any commit to
//! the table changes its version, so a stale copy is never read: it is
//! dropped at the next lookup, or when space runs short.
//!
//! Only what repays the memory is kept: a partition is cached at the
//! second full scan that finds it unchanged (so a table written between
//! every scan never pays for copies nobody reads), only when it has at
//! least [`CACHE_AFTER_ROWS`] rows (short scans are cheap anyway), and
//! within a byte budget, least recently used copies going first.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use cairn_store::{Partition, TableVersion};
use cairn_types::{ColumnDef, TableId};
use datafusion::arrow::array::RecordBatch;

/// Rows a partition must have before its scans are cached.
pub(crate) const CACHE_AFTER_ROWS: usize = 32 * 1024;

type CacheKey = (TableId, Partition);

/// What a scan should do, as [`ScanCache::lookup`] tells it.
pub(crate) enum Lookup {
    /// Read these batches (every column of the table, in table order).
    Hit(Vec<RecordBatch>),
    /// Read the store for every column and [`ScanCache::insert`] the result.
    Fill,
    /// Read the store as usual, then [`ScanCache::scanned`].
    Miss,
}

enum Entry {
    /// Scanned at this version with at least [`CACHE_AFTER_ROWS`] rows.
    Seen(TableVersion),
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
    /// Ticks on every lookup and insert, for least-recently-used eviction.
    clock: u64,
}

impl State {
    fn remove(&mut self, key: &CacheKey) {
        if let Some(Entry::Cached(cached)) = self.entries.remove(key) {
            self.used -= cached.bytes;
        }
    }
}

pub(crate) struct ScanCache {
    budget_bytes: usize,
    state: Mutex<State>,
}

impl ScanCache {
    /// A cache holding at most `budget_bytes` of arrays; 0 turns it off.
    pub(crate) fn new(budget_bytes: usize) -> Self {
        ScanCache { budget_bytes, state: Mutex::default() }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What a full scan of `partition` of `table` at `version`, under the
    /// definition `columns`, should do.
    pub(crate) fn lookup(&self, table: TableId, partition: Partition, version: TableVersion, columns: &[ColumnDef]) -> Lookup {
        if self.budget_bytes == 0 {
            return Lookup::Miss;
        }
        let key = (table, partition);
        let mut state = self.lock();
        state.clock += 1;
        let now = state.clock;
        match state.entries.get_mut(&key) {
            Some(Entry::Cached(cached)) if cached.version == version && cached.columns == columns => {
                cached.last_used = now;
                Lookup::Hit(cached.batches.clone())
            }
            Some(Entry::Seen(seen)) if *seen == version => Lookup::Fill,
            Some(_) => {
                state.remove(&key);
                Lookup::Miss
            }
            None => Lookup::Miss,
        }
    }

    /// Records a full scan of `rows` rows at `version`, which makes the
    /// next one at that version a [`Lookup::Fill`] if the partition is big
    /// enough to cache.
    pub(crate) fn scanned(&self, table: TableId, partition: Partition, version: TableVersion, rows: usize) {
        if self.budget_bytes == 0 || rows < CACHE_AFTER_ROWS {
            return;
        }
        let mut state = self.lock();
        state.remove(&(table, partition));
        state.entries.insert((table, partition), Entry::Seen(version));
    }

    /// Keeps `batches`, every column of the partition at `version`, if
    /// they fit the budget, evicting the least recently used copies to
    /// make room.
    pub(crate) fn insert(
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
        while state.used + bytes > self.budget_bytes {
            let oldest = state
                .entries
                .iter()
                .filter_map(|(key, entry)| match entry {
                    Entry::Cached(cached) => Some((cached.last_used, *key)),
                    Entry::Seen(_) => None,
                })
                .min_by_key(|(last_used, _)| *last_used);
            let Some((_, oldest)) = oldest else { break };
            state.remove(&oldest);
        }
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
        let version = || store.snapshot_with_version(table).1.expect("stable");
        let before = version();
        store
            .write(|w| w.set_row_at(&cairn_store::row_key(table, Partition::Shared, b"k"), Some(&cairn_store::StoredRow { expires_at: None, values: Vec::new() })))
            .expect("write");
        (before, version())
    }

    #[test]
    fn a_partition_is_cached_at_its_second_unchanged_scan_and_dropped_when_it_changes() {
        let cache = ScanCache::new(1 << 30);
        let (v1, v2) = two_versions();
        let (table, shared, columns) = (TableId(1000), Partition::Shared, [column("v")]);
        assert!(matches!(cache.lookup(table, shared, v1, &columns), Lookup::Miss));
        cache.scanned(table, shared, v1, CACHE_AFTER_ROWS);
        assert!(matches!(cache.lookup(table, shared, v1, &columns), Lookup::Fill));
        cache.insert(table, shared, v1, &columns, &[batch(10)]);
        let Lookup::Hit(batches) = cache.lookup(table, shared, v1, &columns) else { panic!("expected a hit") };
        assert_eq!(batches, [batch(10)]);
        // Another partition of the same table is its own entry.
        assert!(matches!(cache.lookup(table, Partition::User(cairn_types::UserId(7)), v1, &columns), Lookup::Miss));
        // A changed definition or a new version is a miss, and frees the copy.
        assert!(matches!(cache.lookup(table, shared, v1, &[column("renamed")]), Lookup::Miss));
        assert_eq!(cache.used_bytes(), 0);
        cache.insert(table, shared, v1, &columns, &[batch(10)]);
        assert!(matches!(cache.lookup(table, shared, v2, &columns), Lookup::Miss));
        assert_eq!(cache.used_bytes(), 0);
    }

    #[test]
    fn small_partitions_are_never_cached() {
        let cache = ScanCache::new(1 << 30);
        let (version, _) = two_versions();
        let (table, columns) = (TableId(1000), [column("v")]);
        cache.scanned(table, Partition::Shared, version, CACHE_AFTER_ROWS - 1);
        assert!(matches!(cache.lookup(table, Partition::Shared, version, &columns), Lookup::Miss));
    }

    #[test]
    fn the_budget_evicts_the_least_recently_used_copy() {
        let one = batch(1000).get_array_memory_size();
        let cache = ScanCache::new(2 * one);
        let (version, _) = two_versions();
        let columns = [column("v")];
        let (a, b, c) = (TableId(1), TableId(2), TableId(3));
        cache.insert(a, Partition::Shared, version, &columns, &[batch(1000)]);
        cache.insert(b, Partition::Shared, version, &columns, &[batch(1000)]);
        // `a` is used after `b`, so `b` goes to make room for `c`.
        assert!(matches!(cache.lookup(a, Partition::Shared, version, &columns), Lookup::Hit(_)));
        cache.insert(c, Partition::Shared, version, &columns, &[batch(1000)]);
        assert!(matches!(cache.lookup(a, Partition::Shared, version, &columns), Lookup::Hit(_)));
        assert!(matches!(cache.lookup(b, Partition::Shared, version, &columns), Lookup::Miss));
        assert!(matches!(cache.lookup(c, Partition::Shared, version, &columns), Lookup::Hit(_)));
        assert_eq!(cache.used_bytes(), 2 * one);
        // A copy bigger than the whole budget is not kept.
        cache.insert(a, Partition::Shared, version, &columns, &[batch(3000)]);
        assert!(matches!(cache.lookup(a, Partition::Shared, version, &columns), Lookup::Miss));
    }

    #[test]
    fn a_zero_budget_caches_nothing() {
        let cache = ScanCache::new(0);
        let (version, _) = two_versions();
        cache.scanned(TableId(1), Partition::Shared, version, CACHE_AFTER_ROWS);
        assert!(matches!(cache.lookup(TableId(1), Partition::Shared, version, &[column("v")]), Lookup::Miss));
    }
}
