//! Group commit.
//!
//! fjall fsyncs while holding its journal lock, so one fsync per commit
//! would serialise every writer behind the disk. Instead a writer appends its
//! batch to the journal without syncing, takes a ticket, and waits until a
//! sync covers its ticket. The first waiter to find no sync in flight becomes
//! the leader: it syncs everything written so far with one `fdatasync`, and
//! every writer whose ticket that covers is acknowledged together.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use cairn_types::{CairnError, Result};

#[derive(Default)]
struct SyncState {
    /// Tickets handed out: batches appended to the journal.
    written: u64,
    /// Every ticket up to this one is on disk.
    synced: u64,
    leader_active: bool,
    /// Syncs performed, for tests and metrics.
    syncs: u64,
    /// Set when a sync failed: the journal's state on disk is unknown, so
    /// fjall poisons the database and so do we.
    failure: Option<String>,
}

#[derive(Default)]
pub(crate) struct GroupCommit {
    state: Mutex<SyncState>,
    synced: Condvar,
}

impl GroupCommit {
    fn lock(&self) -> MutexGuard<'_, SyncState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that a batch was appended. Call it while still holding the
    /// lock that orders writers, so tickets follow journal order.
    pub(crate) fn record_write(&self) -> u64 {
        let mut state = self.lock();
        state.written += 1;
        state.written
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
