//! Group commit.
//!
//! A writer appends its batch to the journal without syncing and takes a
//! ticket, then waits until a sync covers its ticket. The first waiter to
//! find no sync in flight becomes the leader: it syncs everything appended
//! so far with one fdatasync, and every writer whose ticket that covers is
//! acknowledged together. Writers that arrive during a sync append at once
//! (the sync does not hold the journal's lock, see [`crate::journal`]) and
//! the next leader covers them all, as PostgreSQL's WAL flush does.
//!
//! The leader syncs on its own thread, so a lone writer is acknowledged
//! without a hand-off to another thread: on a small machine the context
//! switches cost more than the statement. Waiting is a future, so a
//! session on an async runtime waits without holding a thread; blocking
//! callers wait through [`GroupCommit::wait_durable`].

use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

use cairn_types::{CairnError, Result};

#[derive(Default)]
struct SyncState {
    /// Tickets handed out: batches appended to the journal.
    written: u64,
    /// Every ticket up to this one is on disk.
    synced: u64,
    leader_active: bool,
    /// Writers waiting for the sync in flight to finish.
    waiting: Vec<Waker>,
    /// Syncs performed, for tests and metrics.
    syncs: u64,
    /// Set when a sync failed: the journal's state on disk is unknown, so
    /// fjall poisons the database and so do we.
    failure: Option<String>,
}

#[derive(Default)]
pub(crate) struct GroupCommit {
    state: Mutex<SyncState>,
}

impl GroupCommit {
    fn lock(&self) -> MutexGuard<'_, SyncState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that a batch was appended and returns its ticket. Call it
    /// while still holding the lock that orders writers, so tickets follow
    /// journal order.
    pub(crate) fn record_write(&self) -> u64 {
        let mut state = self.lock();
        state.written += 1;
        state.written
    }

    /// Resolves once `ticket` is durable. When no sync is in flight, the
    /// poll that finds it so runs `sync` itself, blocking its thread for
    /// one fdatasync.
    pub(crate) fn durable<'a>(&'a self, ticket: u64, sync: impl Fn() -> Result<()> + 'a) -> impl Future<Output = Result<()>> + 'a {
        std::future::poll_fn(move |cx| {
            let mut state = self.lock();
            if let Some(failure) = &state.failure {
                return Poll::Ready(Err(CairnError::Storage(format!("journal sync failed earlier: {failure}"))));
            }
            if state.synced >= ticket {
                return Poll::Ready(Ok(()));
            }
            if state.leader_active {
                state.waiting.push(cx.waker().clone());
                return Poll::Pending;
            }
            state.leader_active = true;
            let target = state.written;
            drop(state);
            let outcome = sync();
            let mut state = self.lock();
            state.leader_active = false;
            state.syncs += 1;
            match &outcome {
                Ok(()) => state.synced = state.synced.max(target),
                Err(error) => state.failure = Some(error.to_string()),
            }
            // All of them: those this sync covered are done, and the first
            // of the rest to run leads the next sync.
            let waiting = std::mem::take(&mut state.waiting);
            drop(state);
            waiting.into_iter().for_each(Waker::wake);
            // `target` covers `ticket`: it was handed out before this poll.
            Poll::Ready(outcome)
        })
    }

    /// [`GroupCommit::durable`] for callers off the async runtime: blocks.
    pub(crate) fn wait_durable(&self, ticket: u64, sync: impl Fn() -> Result<()>) -> Result<()> {
        futures::executor::block_on(self.durable(ticket, sync))
    }

    pub(crate) fn sync_count(&self) -> u64 {
        self.lock().syncs
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    #[test]
    fn one_sync_covers_every_ticket_written_before_it() {
        let commit = GroupCommit::default();
        let first = commit.record_write();
        let second = commit.record_write();
        let syncs = AtomicUsize::new(0);
        let sync = || {
            syncs.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        commit.wait_durable(second, sync).expect("durable");
        commit.wait_durable(first, sync).expect("durable");
        assert_eq!(syncs.load(Ordering::SeqCst), 1);
        let third = commit.record_write();
        commit.wait_durable(third, sync).expect("durable");
        assert_eq!(syncs.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn writers_waiting_on_a_sync_are_woken_and_the_next_leads() {
        let commit = Arc::new(GroupCommit::default());
        let (entered, leader_in_sync) = std::sync::mpsc::channel();
        let (release, may_finish) = std::sync::mpsc::channel::<()>();
        let first = commit.record_write();
        let leader = {
            let commit = Arc::clone(&commit);
            std::thread::spawn(move || {
                commit.wait_durable(first, || {
                    entered.send(()).expect("send");
                    may_finish.recv().expect("released");
                    Ok(())
                })
            })
        };
        leader_in_sync.recv().expect("leader syncing");
        // Appended during the sync: not covered by it, so it waits for the
        // leader and then leads a second sync.
        let second = commit.record_write();
        let follower = {
            let commit = Arc::clone(&commit);
            std::thread::spawn(move || commit.wait_durable(second, || Ok(())))
        };
        while commit.lock().waiting.is_empty() {
            std::thread::yield_now();
        }
        release.send(()).expect("release");
        leader.join().expect("leader").expect("durable");
        follower.join().expect("follower").expect("durable");
        assert_eq!(commit.sync_count(), 2);
    }

    #[test]
    fn a_failed_sync_fails_every_later_wait() {
        let commit = GroupCommit::default();
        let ticket = commit.record_write();
        let failed = commit.wait_durable(ticket, || Err(CairnError::Storage("disk gone".into())));
        assert!(failed.is_err());
        let later = commit.record_write();
        let error = commit.wait_durable(later, || Ok(())).expect_err("poisoned");
        assert!(error.to_string().contains("disk gone"), "{error}");
    }
}
