//! What recent commits wrote, so that a transaction can be validated when
//! it commits: if anything it read (a row, or a range it scanned) was
//! written by a commit it did not see, it must not commit (40001). This is
//! optimistic concurrency control with backward validation, and it makes
//! transactions serializable: a transaction commits only if its reads are
//! still what the store holds at its commit point.
//!
//! Every store write appends the row keys it touched under the write lock.
//! Entries are kept while a pinned snapshot might still need them.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::rows::successor;

/// The position of a commit in the log: commits up to it are visible to a
/// snapshot taken at it.
pub type CommitSeq = u64;

/// Row keys a commit wrote: single rows, or every row under a prefix
/// (dropping a table, evicting expired rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Written {
    Key(Vec<u8>),
    Prefix(Vec<u8>),
}

/// The rows a transaction read: exact keys and scanned key ranges.
#[derive(Debug, Default, Clone)]
pub struct ReadSet {
    keys: HashSet<Vec<u8>>,
    /// `[start, end)`; `None`: no end.
    ranges: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl ReadSet {
    pub fn key(&mut self, key: &[u8]) {
        if !self.keys.contains(key) {
            self.keys.insert(key.to_vec());
        }
    }

    /// Every key starting with `prefix` was read.
    pub fn prefix(&mut self, prefix: &[u8]) {
        self.range(prefix, successor(prefix).as_deref());
    }

    /// Every key in `[start, end)` was read.
    pub fn range(&mut self, start: &[u8], end: Option<&[u8]>) {
        let covered = self.ranges.iter().any(|(s, e)| {
            s.as_slice() <= start && (e.is_none() || end.is_some_and(|end| e.as_deref().is_some_and(|e| end <= e)))
        });
        if !covered {
            self.ranges.push((start.to_vec(), end.map(<[u8]>::to_vec)));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.ranges.is_empty()
    }

    fn in_ranges(&self, key: &[u8]) -> bool {
        self.ranges.iter().any(|(start, end)| key >= start.as_slice() && end.as_deref().is_none_or(|end| key < end))
    }

    fn touched_by(&self, written: &Written) -> bool {
        match written {
            Written::Key(key) => self.keys.contains(key) || self.in_ranges(key),
            Written::Prefix(prefix) => {
                let prefix_end = successor(prefix);
                self.keys.iter().any(|k| k.starts_with(prefix))
                    || self.ranges.iter().any(|(start, end)| {
                        prefix_end.as_deref().is_none_or(|pe| start.as_slice() < pe)
                            && end.as_deref().is_none_or(|end| prefix.as_slice() < end)
                    })
            }
        }
    }
}

#[derive(Default)]
struct State {
    last: CommitSeq,
    entries: VecDeque<(CommitSeq, Arc<Vec<Written>>)>,
    /// Sequences of live pinned snapshots, with how many pin each.
    pinned: BTreeMap<CommitSeq, usize>,
}

impl State {
    fn prune(&mut self) {
        let keep_after = self.pinned.keys().next().copied().unwrap_or(self.last);
        while self.entries.front().is_some_and(|(seq, _)| *seq <= keep_after) {
            self.entries.pop_front();
        }
    }
}

#[derive(Default, Clone)]
pub(crate) struct CommitLog {
    state: Arc<Mutex<State>>,
}

/// Keeps the log entries after `seq` until dropped.
pub struct Pin {
    log: CommitLog,
    seq: CommitSeq,
}

impl Pin {
    pub fn seq(&self) -> CommitSeq {
        self.seq
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        let mut state = self.log.lock();
        if let Some(count) = state.pinned.get_mut(&self.seq) {
            *count -= 1;
            if *count == 0 {
                state.pinned.remove(&self.seq);
            }
        }
        state.prune();
    }
}

impl CommitLog {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pins the current position; take the store snapshot after this, so
    /// that everything up to the pin is visible in it.
    pub fn pin(&self) -> Pin {
        let mut state = self.lock();
        let seq = state.last;
        *state.pinned.entry(seq).or_default() += 1;
        Pin { log: self.clone(), seq }
    }

    /// Records a commit. Call it under the write lock, after the batch is
    /// applied.
    pub fn append(&self, written: Vec<Written>) {
        let mut state = self.lock();
        state.last += 1;
        let seq = state.last;
        if !state.pinned.is_empty() {
            state.entries.push_back((seq, Arc::new(written)));
        }
    }

    /// Whether a commit after `since` wrote something in `reads`.
    pub fn conflicts(&self, since: CommitSeq, reads: &ReadSet) -> bool {
        let state = self.lock();
        state
            .entries
            .iter()
            .filter(|(seq, _)| *seq > since)
            .any(|(_, written)| written.iter().any(|w| reads.touched_by(w)))
    }

    #[cfg(test)]
    fn retained(&self) -> usize {
        self.lock().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(bytes: &[u8]) -> Written {
        Written::Key(bytes.to_vec())
    }

    #[test]
    fn a_commit_after_the_pin_that_wrote_a_read_row_conflicts() {
        let log = CommitLog::default();
        log.append(vec![key(b"t1a")]);
        let pin = log.pin();
        let mut reads = ReadSet::default();
        reads.key(b"t1a");
        reads.prefix(b"t2");
        assert!(!log.conflicts(pin.seq(), &reads), "commits before the pin were seen");
        log.append(vec![key(b"t1b")]);
        assert!(!log.conflicts(pin.seq(), &reads), "an unread row");
        log.append(vec![key(b"t2zz")]);
        assert!(log.conflicts(pin.seq(), &reads), "a row inside a scanned range");

        let mut reads = ReadSet::default();
        reads.key(b"t3k");
        assert!(!log.conflicts(pin.seq(), &reads));
        log.append(vec![Written::Prefix(b"t3".to_vec())]);
        assert!(log.conflicts(pin.seq(), &reads), "a dropped table covers its rows");
    }

    #[test]
    fn entries_live_only_while_pinned() {
        let log = CommitLog::default();
        log.append(vec![key(b"a")]);
        assert_eq!(log.retained(), 0, "nobody can need it");
        let pin = log.pin();
        log.append(vec![key(b"b")]);
        log.append(vec![key(b"c")]);
        assert_eq!(log.retained(), 2);
        let later = log.pin();
        drop(pin);
        assert_eq!(log.retained(), 0, "the remaining pin saw both");
        log.append(vec![key(b"d")]);
        assert_eq!(log.retained(), 1);
        drop(later);
        assert_eq!(log.retained(), 0);
    }

    #[test]
    fn ranges_conflict_with_what_falls_inside_them() {
        let log = CommitLog::default();
        let pin = log.pin();
        let mut reads = ReadSet::default();
        reads.range(b"k3", Some(b"k6"));
        log.append(vec![key(b"k6")]);
        assert!(!log.conflicts(pin.seq(), &reads), "the end is exclusive");
        log.append(vec![key(b"k3")]);
        assert!(log.conflicts(pin.seq(), &reads), "the start is inclusive");
        let mut reads = ReadSet::default();
        reads.range(b"k7", None);
        assert!(!log.conflicts(pin.seq(), &reads));
        log.append(vec![Written::Prefix(b"k".to_vec())]);
        assert!(log.conflicts(pin.seq(), &reads), "a dropped table overlaps any range in it");
    }
}
