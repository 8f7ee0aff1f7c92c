//! Partition write versions: a number that changes whenever a commit
//! writes rows of a partition, so that a copy of a partition's rows kept
//! outside the store (the SQL layer's columnar scan cache) can tell
//! whether it is still what a snapshot would read.
//!
//! Each commit moves the version of every partition it writes twice,
//! under the write lock: to an odd number before its batch becomes
//! visible and to the next even number after. A reader reads the version,
//! takes its snapshot, and reads the version again
//! ([`crate::Store::snapshot_with_version`]). If both reads agree on an
//! even version, no commit to the partition was in flight or landed in
//! between, so every snapshot that gets that version holds the same rows
//! of the partition.
//!
//! A shared table's partition is the whole table: it has a counter per
//! table. User partitions are counted in [`STRIPES`] stripes, a user's
//! partition of a table hashing to one of them, so that a write to one
//! user's rows leaves every other user's copy valid (bar the users who
//! share its stripe, whose copies are read again once, spuriously) and
//! the counters never grow with the number of users. A key says which
//! table it belongs to but not whether that table has user partitions, so
//! a commit moves the counter of every table it writes and the stripe its
//! key's first bytes after the table id would name for a user table; for
//! a shared table that stripe is a harmless extra change. A write of every
//! partition of a table at once (DROP, ALTER rewriting rows) moves a third
//! counter, the table's own, which is part of each of its user partitions'
//! versions: so it reaches them all without moving the stripes, which
//! other tables' user partitions share.
//!
//! Commits are also counted as they finish, and each counter remembers the
//! count of the last commit that moved it: a snapshot taken after `n`
//! commits finished still holds a partition's current rows if no counter
//! of the partition moved after the `n`th ([`TableVersions::current_at`]),
//! which is how one statement reads the columnar copy and the store and
//! sees one point in time.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use cairn_types::{TableId, UserId};

use crate::conflicts::Written;
use crate::key::KeyCodec;
use crate::rows::{Partition, ROW_KIND};

/// How many counters user partitions share. More stripes make a spurious
/// change rarer; each is 8 bytes.
const STRIPES: usize = 4096;

/// A partition's rows as of some set of commits. Only stable versions (no
/// commit in flight) exist as values, so holding one means it is safe to
/// compare (with another version of the same partition). For a user
/// partition: the table's writes of all partitions, and its stripe's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableVersion(u64, u64);

pub(crate) struct TableVersions {
    counters: Mutex<Counters>,
}

struct Counters {
    /// Per table, every write: a shared table's version.
    tables: HashMap<TableId, Counter>,
    /// Per table, writes of all its partitions at once.
    whole_tables: HashMap<TableId, Counter>,
    stripes: Box<[Counter; STRIPES]>,
    /// Commits finished.
    commits: u64,
}

/// A version counter, and the commit count when it last moved.
#[derive(Debug, Clone, Copy, Default)]
struct Counter {
    value: u64,
    changed_at: u64,
}

impl Default for TableVersions {
    fn default() -> Self {
        let counters = Counters {
            tables: HashMap::new(),
            whole_tables: HashMap::new(),
            stripes: Box::new([Counter::default(); STRIPES]),
            commits: 0,
        };
        TableVersions { counters: Mutex::new(counters) }
    }
}

impl TableVersions {
    fn lock(&self) -> MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The version of `partition` of `table`; `None` while a commit writes it.
    pub(crate) fn current(&self, table: TableId, partition: Partition) -> Option<TableVersion> {
        Self::stable(&self.lock(), table, partition).map(|(version, _)| version)
    }

    /// As [`TableVersions::current`], for a snapshot taken after
    /// `commits` commits had finished: `None` also if a commit to the
    /// partition finished after those, since the snapshot may not hold it.
    pub(crate) fn current_at(&self, commits: u64, table: TableId, partition: Partition) -> Option<TableVersion> {
        let (version, changed_at) = Self::stable(&self.lock(), table, partition)?;
        (changed_at <= commits).then_some(version)
    }

    /// Commits finished so far.
    pub(crate) fn commits(&self) -> u64 {
        self.lock().commits
    }

    fn stable(counters: &Counters, table: TableId, partition: Partition) -> Option<(TableVersion, u64)> {
        let (whole, part) = match partition {
            Partition::Shared => (Counter::default(), counters.tables.get(&table).copied().unwrap_or_default()),
            Partition::User(user) => (
                counters.whole_tables.get(&table).copied().unwrap_or_default(),
                counters.stripes[stripe(table, user)],
            ),
        };
        let stable = whole.value % 2 == 0 && part.value % 2 == 0;
        stable.then_some((TableVersion(whole.value, part.value), whole.changed_at.max(part.changed_at)))
    }

    /// Marks the partitions of `written` as being written until the
    /// returned guard drops. Hold it from before the batch commits until after.
    pub(crate) fn writing(&self, written: &[Written]) -> Writing<'_> {
        let touched = Touched::of(written);
        self.advance(&touched, false);
        Writing { versions: self, touched }
    }

    /// Moves the counters `touched` names; `finished`: the commit is
    /// visible, and counted.
    fn advance(&self, touched: &Touched, finished: bool) {
        let mut counters = self.lock();
        if finished {
            counters.commits += 1;
        }
        let commits = counters.commits;
        let bump = |counter: &mut Counter| {
            counter.value += 1;
            counter.changed_at = commits;
        };
        for table in &touched.tables {
            bump(counters.tables.entry(*table).or_default());
        }
        for table in &touched.whole_tables {
            bump(counters.whole_tables.entry(*table).or_default());
        }
        for stripe in touched.stripes() {
            bump(&mut counters.stripes[stripe]);
        }
    }
}

/// The stripe of a user's partition of a table. A multiplicative hash:
/// table and user ids are small consecutive numbers, which it spreads.
fn stripe(table: TableId, user: UserId) -> usize {
    let mixed = table.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ user.0.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    (mixed.wrapping_mul(0x1656_67B1_9E37_79F9) >> (64 - STRIPES.trailing_zeros())) as usize
}

/// Partitions being written; see [`TableVersions::writing`].
pub(crate) struct Writing<'a> {
    versions: &'a TableVersions,
    touched: Touched,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.versions.advance(&self.touched, true);
    }
}

/// The counters a commit moves, each once: a counter moved twice by one
/// commit would look stable while the commit is in flight.
#[derive(Debug, Default, PartialEq)]
struct Touched {
    tables: Vec<TableId>,
    /// Tables whose partitions were all written.
    whole_tables: Vec<TableId>,
    /// One bit per stripe.
    stripes: Vec<u64>,
}

impl Touched {
    fn of(written: &[Written]) -> Touched {
        let mut touched = Touched::default();
        for entry in written {
            let (Written::Key(key) | Written::Prefix(key)) = entry;
            let Some(mut rest) = key.strip_prefix(&[ROW_KIND]) else { continue };
            let Ok(table) = TableId::decode_key(&mut rest) else { continue };
            // Batches write a table's rows together: comparing with the
            // last one keeps this linear for a million-row COPY.
            if touched.tables.last() != Some(&table) && !touched.tables.contains(&table) {
                touched.tables.push(table);
            }
            match (entry, UserId::decode_key(&mut rest)) {
                // A row of a user's partition, or the whole partition
                // (shorter keys are rows of shared tables, whose keys
                // hold no user).
                (_, Ok(user)) => touched.add_stripe(stripe(table, user)),
                // Every partition of the table.
                (Written::Prefix(_), Err(_)) => {
                    if !touched.whole_tables.contains(&table) {
                        touched.whole_tables.push(table);
                    }
                }
                (Written::Key(_), Err(_)) => {}
            }
        }
        touched
    }

    fn add_stripe(&mut self, stripe: usize) {
        if self.stripes.is_empty() {
            self.stripes = vec![0; STRIPES / 64];
        }
        self.stripes[stripe / 64] |= 1 << (stripe % 64);
    }

    fn stripes(&self) -> impl Iterator<Item = usize> + '_ {
        self.stripes.iter().enumerate().flat_map(|(word, &bits)| {
            let mut bits = bits;
            std::iter::from_fn(move || {
                let bit = (bits != 0).then(|| bits.trailing_zeros() as usize)?;
                bits &= bits - 1;
                Some(word * 64 + bit)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::{partition_prefix, row_key, table_prefix};

    #[test]
    fn a_version_holds_for_a_snapshot_only_if_nothing_changed_since() {
        let versions = TableVersions::default();
        let (table, other) = (TableId(1001), TableId(1002));
        let written = [Written::Key(row_key(table, Partition::Shared, b"a"))];
        drop(versions.writing(&written));
        let taken_after = versions.commits();
        let version = versions.current(table, Partition::Shared);
        assert_eq!(versions.current_at(taken_after, table, Partition::Shared), version);
        // A commit in flight, then one finished after the snapshot: the
        // snapshot may not hold them, so no version is its.
        let writing = versions.writing(&written);
        assert_eq!(versions.current_at(taken_after, table, Partition::Shared), None);
        drop(writing);
        assert_eq!(versions.current_at(taken_after, table, Partition::Shared), None);
        assert!(versions.current_at(versions.commits(), table, Partition::Shared).is_some());
        // Another table's commits do not matter.
        assert!(versions.current_at(0, other, Partition::Shared).is_some());
    }

    #[test]
    fn a_version_is_hidden_while_a_write_is_in_flight_and_new_after() {
        let versions = TableVersions::default();
        let (written_table, other) = (TableId(1001), TableId(1002));
        let before = versions.current(written_table, Partition::Shared).expect("stable");
        let untouched = versions.current(other, Partition::Shared).expect("stable");
        let written = [
            Written::Key(row_key(written_table, Partition::Shared, b"a")),
            Written::Key(row_key(written_table, Partition::Shared, b"b")),
            Written::Prefix(table_prefix(written_table)),
        ];
        let writing = versions.writing(&written);
        assert_eq!(versions.current(written_table, Partition::Shared), None);
        assert_eq!(versions.current(other, Partition::Shared), Some(untouched));
        drop(writing);
        let after = versions.current(written_table, Partition::Shared).expect("stable again");
        assert_ne!(after, before);
        assert_eq!(versions.current(other, Partition::Shared), Some(untouched));
    }

    /// Two users whose partitions of `table` fall in different stripes.
    fn two_users(table: TableId) -> (Partition, Partition) {
        let first = UserId(1);
        let second = (2..).map(UserId).find(|&user| stripe(table, user) != stripe(table, first)).expect("another stripe");
        (Partition::User(first), Partition::User(second))
    }

    #[test]
    fn a_write_to_one_users_rows_leaves_other_users_versions() {
        let versions = TableVersions::default();
        let table = TableId(1001);
        let (alice, bob) = two_users(table);
        let version = |partition| versions.current(table, partition).expect("stable");
        let (alice_before, bob_before) = (version(alice), version(bob));

        let writing = versions.writing(&[Written::Key(row_key(table, alice, b"row")), Written::Key(row_key(table, alice, b"another"))]);
        assert_eq!(versions.current(table, alice), None, "in flight, though written twice");
        assert_eq!(versions.current(table, bob), Some(bob_before));
        drop(writing);
        assert_ne!(version(alice), alice_before);
        assert_eq!(version(bob), bob_before);

        // A load writes a partition by its prefix.
        let alice_now = version(alice);
        drop(versions.writing(&[Written::Prefix(partition_prefix(table, alice))]));
        assert_ne!(version(alice), alice_now);
        assert_eq!(version(bob), bob_before);

        // Every user's rows at once (DROP, TRUNCATE, ALTER), and not
        // another table's users, though they share the stripes.
        let other = TableId(1002);
        let (carol, _) = two_users(other);
        let carol_before = versions.current(other, carol).expect("stable");
        let (alice_now, bob_now) = (version(alice), version(bob));
        let writing = versions.writing(&[Written::Prefix(table_prefix(table))]);
        assert_eq!((versions.current(table, alice), versions.current(table, bob)), (None, None));
        assert_eq!(versions.current(other, carol), Some(carol_before));
        drop(writing);
        assert!(version(alice) != alice_now && version(bob) != bob_now);
        assert_eq!(versions.current(other, carol), Some(carol_before));
    }

    #[test]
    fn touched_lists_each_table_and_stripe_once() {
        let key = |table: u64, user: u64| Written::Key(row_key(TableId(table), Partition::User(UserId(user)), b"k"));
        let touched = Touched::of(&[key(1001, 1), key(1002, 1), key(1001, 2), key(1001, 1), Written::Key(row_key(TableId(1003), Partition::Shared, b"k"))]);
        assert_eq!(touched.tables, vec![TableId(1001), TableId(1002), TableId(1003)]);
        let mut expected = vec![stripe(TableId(1001), UserId(1)), stripe(TableId(1002), UserId(1)), stripe(TableId(1001), UserId(2))];
        expected.sort_unstable();
        expected.dedup();
        assert_eq!(touched.stripes().collect::<Vec<_>>(), expected, "a shared key shorter than a user id names no stripe");
        let whole = Touched::of(&[Written::Prefix(table_prefix(TableId(1))), Written::Prefix(table_prefix(TableId(1)))]);
        assert_eq!((whole.stripes().count(), whole.whole_tables), (0, vec![TableId(1)]));
    }

    #[test]
    fn stripes_spread_consecutive_users() {
        let used: std::collections::HashSet<usize> = (1..=1000).map(|user| stripe(TableId(1024), UserId(user))).collect();
        assert!(used.len() > 850, "1,000 users in {} of {STRIPES} stripes", used.len());
    }
}
