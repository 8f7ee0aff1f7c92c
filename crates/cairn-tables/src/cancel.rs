//! Cancellation and `statement_timeout` for a running statement. Both end
//! the statement with 57014 at the next await point: during planning, and
//! between batches while results stream to the client. A statement that
//! writes can be stopped until its write begins, and not after
//! ([`WriteGate`]).

use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use cairn_types::CairnError;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::Result as DfResult;
use datafusion::physical_plan::{RecordBatchStream, SendableRecordBatchStream};
use futures::{Future, Stream};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::error::to_df;

pub fn canceled_by_user() -> CairnError {
    CairnError::QueryCanceled("canceling statement due to user request".into())
}

pub fn canceled_by_timeout() -> CairnError {
    CairnError::QueryCanceled("canceling statement due to statement timeout".into())
}

/// Whether a writing statement may still be stopped. Its guard and the
/// sink that writes its rows share it, so that exactly one of them wins:
/// a cancel or timeout before the write begins stops the statement, and
/// the sink then writes nothing; once the write has begun, the statement
/// finishes and answers with what it wrote. (The write runs where the
/// guard cannot reach it, on the compute runtime and the blocking pool,
/// so a statement answered 57014 for rows it went on to write.
/// PostgreSQL, too, holds off interrupts while it commits.)
#[derive(Clone, Default)]
pub struct WriteGate(Arc<AtomicU8>);

const RUNNING: u8 = 0;
const WRITING: u8 = 1;
const STOPPED: u8 = 2;

impl WriteGate {
    /// Passes the point of no return; fails with 57014 if the statement
    /// was stopped first.
    pub fn begin_write(&self) -> cairn_types::Result<()> {
        match self.0.compare_exchange(RUNNING, WRITING, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) | Err(WRITING) => Ok(()),
            Err(_) => Err(canceled_by_user()),
        }
    }

    /// Stops the statement, unless its write has begun. Also called when
    /// the statement ends, so that a write that had not begun never does.
    pub fn stop(&self) -> bool {
        match self.0.compare_exchange(RUNNING, STOPPED, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) | Err(STOPPED) => true,
            Err(_) => false,
        }
    }
}

/// What can stop a statement: a cancel request and a deadline.
pub struct StatementGuard {
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl StatementGuard {
    pub fn new(token: CancellationToken, timeout: Option<Duration>) -> Self {
        StatementGuard {
            cancelled: Box::pin(token.cancelled_owned()),
            deadline: timeout.map(|t| Box::pin(tokio::time::sleep_until(Instant::now() + t))),
        }
    }

    /// `Ready(error)` once the statement must stop.
    fn poll_stop(&mut self, cx: &mut Context<'_>) -> Poll<CairnError> {
        if self.cancelled.as_mut().poll(cx).is_ready() {
            return Poll::Ready(canceled_by_user());
        }
        if let Some(deadline) = self.deadline.as_mut() {
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(canceled_by_timeout());
            }
        }
        Poll::Pending
    }

    /// Runs `future` unless the statement is stopped first.
    pub async fn run<T>(
        &mut self,
        future: impl Future<Output = cairn_types::Result<T>>,
    ) -> cairn_types::Result<T> {
        let mut future = std::pin::pin!(future);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(error) = self.poll_stop(cx) {
                return Poll::Ready(Err(error));
            }
            future.as_mut().poll(cx)
        })
        .await
    }

    /// As [`StatementGuard::run`], for a statement that writes through
    /// `gate`: a stop after its write has begun is not honoured.
    pub async fn run_write<T>(
        &mut self,
        gate: &WriteGate,
        future: impl Future<Output = cairn_types::Result<T>>,
    ) -> cairn_types::Result<T> {
        let mut future = std::pin::pin!(future);
        let mut writing = false;
        std::future::poll_fn(|cx| {
            if !writing {
                if let Poll::Ready(error) = self.poll_stop(cx) {
                    if gate.stop() {
                        return Poll::Ready(Err(error));
                    }
                    writing = true;
                }
            }
            future.as_mut().poll(cx)
        })
        .await
    }
}

/// A result stream that stops with 57014 when its statement is cancelled
/// or times out.
pub struct GuardedStream {
    inner: SendableRecordBatchStream,
    guard: StatementGuard,
    finished: bool,
}

impl GuardedStream {
    pub fn new(inner: SendableRecordBatchStream, guard: StatementGuard) -> Self {
        GuardedStream { inner, guard, finished: false }
    }
}

impl Stream for GuardedStream {
    type Item = DfResult<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        if let Poll::Ready(error) = self.guard.poll_stop(cx) {
            self.finished = true;
            return Poll::Ready(Some(Err(to_df(error))));
        }
        let next = self.inner.as_mut().poll_next(cx);
        if matches!(next, Poll::Ready(None)) {
            self.finished = true;
        }
        next
    }
}

impl RecordBatchStream for GuardedStream {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gate_lets_exactly_one_of_stop_and_write_win() {
        let gate = WriteGate::default();
        gate.begin_write().expect("first to the gate");
        assert!(!gate.stop(), "a stop after the write began is not honoured");
        gate.begin_write().expect("still writing");

        let gate = WriteGate::default();
        assert!(gate.stop());
        assert_eq!(gate.begin_write().expect_err("stopped first").code().as_str(), "57014");
        assert!(gate.stop(), "stopping twice is still stopped");
    }

    #[tokio::test]
    async fn a_cancel_stops_a_statement_before_its_write_and_not_after() {
        let cancelled = || {
            let token = CancellationToken::new();
            token.cancel();
            StatementGuard::new(token, None)
        };
        let gate = WriteGate::default();
        let outcome = cancelled().run_write(&gate, std::future::pending::<cairn_types::Result<()>>()).await;
        assert_eq!(outcome.expect_err("stopped").code().as_str(), "57014");
        assert!(gate.begin_write().is_err(), "the sink may not write after the answer");

        // Cancelled once the write has begun: the statement finishes.
        let token = CancellationToken::new();
        let gate = WriteGate::default();
        let written = StatementGuard::new(token.clone(), None)
            .run_write(&gate, async {
                gate.begin_write()?;
                token.cancel();
                tokio::task::yield_now().await;
                Ok(7)
            })
            .await;
        assert_eq!(written.expect("the write had begun"), 7);
    }
}
