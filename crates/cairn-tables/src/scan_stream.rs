//! A scan's rows as a stream, read as they are asked for.
//!
//! Reading the store is blocking work, so a scan reads on a blocking-pool
//! thread and hands its batches over a channel that holds only a few: the
//! memory of a scan is what is in flight, not the table, and a reader that
//! stops asking (a cancel, a timeout, a LIMIT met above the scan) stops the
//! reading at its next batch, since the send then fails.
//!
//! A long scan may split the rest of its range over more threads; each part
//! has its own channel, and the first part ends by handing the consumer the
//! others' channels in key order ([`Item::Then`]).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use cairn_types::{CairnError, Result};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::Stream;
use tokio::sync::mpsc;

use crate::error::to_df;

/// Batches a part of a scan reads ahead of its consumer.
const BATCHES_IN_FLIGHT: usize = 4;

enum Item {
    Batch(RecordBatch),
    /// The parts that come after this one, in order.
    Then(Vec<mpsc::Receiver<Result<Item>>>),
}

/// Where a scan's reader puts its batches.
pub struct BatchSender(mpsc::Sender<Result<Item>>);

impl BatchSender {
    /// Hands over `batch`, waiting while the consumer is behind; false once
    /// the consumer is gone, and the reader should stop.
    pub fn send(&self, batch: RecordBatch) -> bool {
        self.0.blocking_send(Ok(Item::Batch(batch))).is_ok()
    }

    /// Whether the consumer is gone: checked now and then by a reader that
    /// reads many rows without filling a batch.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    /// Starts reading another part of the scan on its own thread; the
    /// consumer reads it after every part [`BatchSender::then`] listed
    /// before it.
    pub fn part(&self, read: impl FnOnce(&BatchSender) -> Result<()> + Send + 'static) -> Part {
        Part(start(read))
    }

    /// After this part's batches, the consumer reads `parts`, in order.
    pub fn then(&self, parts: Vec<Part>) -> bool {
        let receivers = parts.into_iter().map(|Part(receiver)| receiver).collect();
        self.0.blocking_send(Ok(Item::Then(receivers))).is_ok()
    }
}

/// A part of a scan being read on another thread.
pub struct Part(mpsc::Receiver<Result<Item>>);

/// Runs `read` on the blocking pool; its batches come out of the stream.
pub fn stream(schema: SchemaRef, read: impl FnOnce(&BatchSender) -> Result<()> + Send + 'static) -> SendableRecordBatchStream {
    let parts = Parts { current: Some(start(read)), next: VecDeque::new() };
    Box::pin(RecordBatchStreamAdapter::new(schema, parts))
}

fn start(read: impl FnOnce(&BatchSender) -> Result<()> + Send + 'static) -> mpsc::Receiver<Result<Item>> {
    let (sender, receiver) = mpsc::channel(BATCHES_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let sender = BatchSender(sender);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(&sender)))
            .unwrap_or_else(|_| Err(CairnError::Internal("a scan panicked".into())));
        if let Err(error) = outcome {
            // The consumer may be gone already; then no one needs it.
            let _ = sender.0.blocking_send(Err(error));
        }
    });
    receiver
}

/// The consumer's side: the part being read, then the ones after it.
struct Parts {
    current: Option<mpsc::Receiver<Result<Item>>>,
    next: VecDeque<mpsc::Receiver<Result<Item>>>,
}

impl Stream for Parts {
    type Item = datafusion::error::Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let Some(current) = self.current.as_mut() else { return Poll::Ready(None) };
            match current.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(Item::Batch(batch)))) => return Poll::Ready(Some(Ok(batch))),
                Poll::Ready(Some(Ok(Item::Then(parts)))) => {
                    // Before any parts listed earlier that are still waiting.
                    for part in parts.into_iter().rev() {
                        self.next.push_front(part);
                    }
                }
                Poll::Ready(Some(Err(error))) => {
                    self.current = None;
                    self.next.clear();
                    return Poll::Ready(Some(Err(to_df(error))));
                }
                Poll::Ready(None) => self.current = self.next.pop_front(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Array, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use futures::StreamExt;

    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]))
    }

    fn batch(values: std::ops::Range<i64>) -> RecordBatch {
        RecordBatch::try_new(schema(), vec![Arc::new(Int64Array::from_iter_values(values))]).expect("batch")
    }

    fn values(batches: &[RecordBatch]) -> Vec<i64> {
        batches
            .iter()
            .flat_map(|b| b.column(0).as_any().downcast_ref::<Int64Array>().expect("int64").values().to_vec())
            .collect()
    }

    #[tokio::test]
    async fn parts_come_out_in_order_after_the_first() {
        let stream = stream(schema(), |out| {
            let parts = vec![
                out.part(|out| {
                    out.send(batch(10..20));
                    Ok(())
                }),
                out.part(|out| {
                    out.send(batch(20..25));
                    out.send(batch(25..30));
                    Ok(())
                }),
            ];
            out.send(batch(0..10));
            out.then(parts);
            Ok(())
        });
        let batches: Vec<RecordBatch> = stream.map(|b| b.expect("batch")).collect().await;
        assert_eq!(values(&batches), (0..30).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_dropped_stream_stops_its_reader() {
        let (stopped, was_stopped) = std::sync::mpsc::channel();
        let mut stream = stream(schema(), move |out| {
            for i in 0.. {
                if !out.send(batch(i..i + 1)) {
                    stopped.send(i).expect("report");
                    return Ok(());
                }
            }
            Ok(())
        });
        stream.next().await.expect("a batch").expect("ok");
        drop(stream);
        let at = tokio::task::spawn_blocking(move || was_stopped.recv_timeout(std::time::Duration::from_secs(10)))
            .await
            .expect("join")
            .expect("the reader stopped");
        assert!(at <= 1 + BATCHES_IN_FLIGHT as i64 + 1, "read {at} batches ahead");
    }

    #[tokio::test]
    async fn a_reader_s_error_ends_the_stream() {
        let mut stream = stream(schema(), |out| {
            out.send(batch(0..1));
            Err(CairnError::Internal("disk on fire".into()))
        });
        assert!(stream.next().await.expect("batch").is_ok());
        let error = stream.next().await.expect("error").expect_err("fails");
        assert!(error.to_string().contains("disk on fire"), "{error}");
        assert!(stream.next().await.is_none());
    }
}
