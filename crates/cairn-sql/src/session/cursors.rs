//! SQL cursors (`DECLARE … CURSOR`, `FETCH`, `CLOSE`): a query started
//! once and read in steps.
//!
//! A FETCH's rows are read from the cursor's query as the client is sent
//! them, so `FETCH ALL` from a cursor over a large table holds batches in
//! flight, not the table; the cursor goes back to the session's cursors
//! when its rows end (or the client stops reading them).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::Result as DfResult;
use datafusion::physical_plan::{RecordBatchStream, SendableRecordBatchStream};
use futures::{Stream, StreamExt};

/// A cursor's query, running, and the rows of a batch not yet fetched.
pub(super) struct OpenCursor {
    pub stream: SendableRecordBatchStream,
    pub pending: Option<RecordBatch>,
    /// `WITH HOLD`: it outlives the transaction block.
    pub hold: bool,
}

/// A session's open cursors, by name; shared with the rows of a FETCH
/// being sent, which hold their cursor meanwhile.
#[derive(Clone, Default)]
pub(super) struct Cursors(Arc<Mutex<HashMap<String, OpenCursor>>>);

impl Cursors {
    pub fn lock(&self) -> MutexGuard<'_, HashMap<String, OpenCursor>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The rows of one `FETCH`: up to `wanted` rows read from the cursor as
/// they are polled.
pub(super) struct Fetch {
    name: String,
    /// `None` once it went back to `home` (or was dropped after an error).
    cursor: Option<OpenCursor>,
    home: Cursors,
    wanted: usize,
    schema: SchemaRef,
}

impl Fetch {
    /// Takes cursor `name` out of `home` for the fetch; `None` if there is none.
    pub fn start(home: &Cursors, name: &str, wanted: usize) -> Option<Fetch> {
        let cursor = home.lock().remove(name)?;
        let schema = cursor.stream.schema();
        Some(Fetch { name: name.to_owned(), cursor: Some(cursor), home: home.clone(), wanted, schema })
    }

    /// The cursor goes back, for the next FETCH.
    fn give_back(&mut self) {
        if let Some(cursor) = self.cursor.take() {
            self.home.lock().insert(std::mem::take(&mut self.name), cursor);
        }
    }
}

impl Stream for Fetch {
    type Item = DfResult<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let wanted = self.wanted;
        let Some(cursor) = self.cursor.as_mut() else { return Poll::Ready(None) };
        if wanted == 0 {
            self.give_back();
            return Poll::Ready(None);
        }
        let batch = match cursor.pending.take() {
            Some(batch) => batch,
            None => match cursor.stream.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(batch))) => batch,
                Poll::Ready(None) => {
                    self.give_back();
                    return Poll::Ready(None);
                }
                // The query failed: the cursor is gone (its block is failed too).
                Poll::Ready(Some(Err(error))) => {
                    self.cursor = None;
                    return Poll::Ready(Some(Err(error)));
                }
            },
        };
        if batch.num_rows() > wanted {
            cursor.pending = Some(batch.slice(wanted, batch.num_rows() - wanted));
            self.wanted = 0;
            return Poll::Ready(Some(Ok(batch.slice(0, wanted))));
        }
        self.wanted -= batch.num_rows();
        Poll::Ready(Some(Ok(batch)))
    }
}

impl RecordBatchStream for Fetch {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

impl Drop for Fetch {
    /// A client that stops reading leaves the cursor where it stopped.
    fn drop(&mut self) {
        self.give_back();
    }
}
