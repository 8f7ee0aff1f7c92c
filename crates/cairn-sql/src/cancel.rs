//! Cancellation and `statement_timeout` for a running statement. Both end
//! the statement with 57014 at the next await point: during planning, and
//! between batches while results stream to the client.

use std::pin::Pin;
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

pub(crate) fn canceled_by_user() -> CairnError {
    CairnError::QueryCanceled("canceling statement due to user request".into())
}

pub(crate) fn canceled_by_timeout() -> CairnError {
    CairnError::QueryCanceled("canceling statement due to statement timeout".into())
}

/// What can stop a statement: a cancel request and a deadline.
pub(crate) struct StatementGuard {
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
}

/// A result stream that stops with 57014 when its statement is cancelled
/// or times out.
pub(crate) struct GuardedStream {
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
