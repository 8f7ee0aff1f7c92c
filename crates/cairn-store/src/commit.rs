//! Group commit.
//!
//! fjall fsyncs while holding its journal lock, so one fsync per commit
//! would serialise every writer behind the disk. Instead a writer appends its
//! batch to the journal without syncing, takes a ticket, and waits until a
//! sync covers its ticket. The first waiter to find no sync in flight becomes
//! the leader: it syncs everything written so far with one `fdatasync`, and
//! every writer whose ticket that covers is acknowledged together.
//!
//! fjall's sync holds its journal lock, so writers that arrive during a
//! sync queue up and append just after it. Had the first of them led the
//! next sync at once, it would cover that writer alone. So a leader first
//! waits, briefly, for writers already on their way to the journal
//! ([`GroupCommit::begin_append`]), and one sync covers them all.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use cairn_types::{CairnError, Result};

#[derive(Default)]
struct SyncState {
    /// Tickets handed out: batches appended to the journal.
    written: u64,
    /// Every ticket up to this one is on disk.
    synced: u64,
    leader_active: bool,
    /// Writers between [`GroupCommit::begin_append`] and their ticket.
    appending: usize,
    /// Syncs performed, for tests and metrics.
    syncs: u64,
    /// Set when a sync failed: the journal's state on disk is unknown, so
    /// fjall poisons the database and so do we.
    failure: Option<String>,
}

/// How long a leader waits for writers still appending before it syncs.
const GATHER_AT_MOST: Duration = Duration::from_micros(500);

#[derive(Default)]
pub(crate) struct GroupCommit {
    state: Mutex<SyncState>,
    synced: Condvar,
}

impl GroupCommit {
    fn lock(&self) -> MutexGuard<'_, SyncState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Announces a writer on its way to the journal, before it takes the
    /// lock that orders writers: a leader about to sync waits for it.
    pub(crate) fn begin_append(&self) -> Appending<'_> {
        self.lock().appending += 1;
        Appending { commit: self, done: false }
    }

    fn end_append(&self, state: &mut SyncState) {
        state.appending -= 1;
        if state.appending == 0 {
            self.synced.notify_all();
        }
    }

    /// Blocks until `ticket` is durable, syncing as the leader if no one is.
    pub(crate) fn wait_durable(&self, ticket: u64, sync: impl Fn() -> Result<()>) -> Result<()> {
        let mut state = self.lock();
        loop {
            if let Some(failure) = &state.failure {
                return Err(CairnError::Storage(format!("journal sync failed earlier: {failure}")));
            }
            if state.synced >= ticket {
                return Ok(());
            }
            if state.leader_active {
                state = self.synced.wait(state).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            state.leader_active = true;
            // Bounded: a large batch (a COPY) may take long to append.
            let deadline = Instant::now() + GATHER_AT_MOST;
            while state.appending > 0 {
                let Some(left) = deadline.checked_duration_since(Instant::now()) else { break };
                state = self.synced.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0;
            }
            let target = state.written;
            drop(state);
            let outcome = sync();
            state = self.lock();
            state.leader_active = false;
            state.syncs += 1;
            match outcome {
                Ok(()) => state.synced = state.synced.max(target),
                Err(error) => state.failure = Some(error.to_string()),
            }
            self.synced.notify_all();
        }
    }

    pub(crate) fn sync_count(&self) -> u64 {
        self.lock().syncs
    }
}

/// A writer announced by [`GroupCommit::begin_append`]; dropped unrecorded
/// (an error, nothing to write), it is no longer waited for.
pub(crate) struct Appending<'a> {
    commit: &'a GroupCommit,
    done: bool,
}

impl Appending<'_> {
    /// Records that the batch was appended and returns its ticket. Call it
    /// while still holding the lock that orders writers, so tickets follow
    /// journal order.
    pub(crate) fn record_write(mut self) -> u64 {
        self.done = true;
        let mut state = self.commit.lock();
        state.written += 1;
        self.commit.end_append(&mut state);
        state.written
    }
}

impl Drop for Appending<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.commit.end_append(&mut self.commit.lock());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leader_waits_for_announced_writers_but_not_forever() {
        let commit = GroupCommit::default();
        let ticket = commit.begin_append().record_write();
        // Announced, never recorded (its append is slow): the leader syncs
        // after a bounded wait instead of hanging.
        let slow = commit.begin_append();
        commit.wait_durable(ticket, || Ok(())).expect("durable");
        assert_eq!(commit.sync_count(), 1);
        // Dropped unrecorded (nothing to write), it is waited for no more.
        drop(slow);
        assert_eq!(commit.lock().appending, 0);
        assert_eq!(commit.lock().written, 1);
    }
}
