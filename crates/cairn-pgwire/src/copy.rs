//! COPY on the wire.
//!
//! - out: result batches are encoded exactly as text DataRows (so every
//!   type prints as it does in a query result), then each row's fields
//!   are laid out as a line of the COPY format;
//! - in: CopyData chunks go to the session's [`CopyIn`] as they arrive;
//!   CopyDone writes them all in one statement, CopyFail writes nothing.

use std::fmt::Debug;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_trait::async_trait;
use cairn_sql::copy::{write_header, write_row, CopyOptions};
use cairn_sql::{CopyIn, Output, Session};
use cairn_types::CairnError;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::{FutureExt, Sink, SinkExt};
use pgwire::api::copy::CopyHandler;
use pgwire::api::portal::Format;
use pgwire::api::results::Tag;
use pgwire::api::ClientInfo;
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail, CopyOutResponse};
use pgwire::messages::data::DataRow;
use pgwire::messages::PgWireBackendMessage;

use crate::encode::{fields, next_rows};
use crate::errors::to_pg;
use crate::handler::{connection, format_options, panicked, transaction_status, Handler};

/// The fields of an encoded row: `None` for NULL.
fn row_fields(row: &DataRow) -> impl Iterator<Item = Option<&[u8]>> {
    let mut data: &[u8] = &row.data;
    (0..row.field_count).map(move |_| {
        let (length, rest) = data.split_at_checked(4)?;
        let length = i32::from_be_bytes(length.try_into().ok()?);
        if length < 0 {
            data = rest;
            return None;
        }
        let (field, rest) = rest.split_at_checked(length as usize)?;
        data = rest;
        Some(field)
    })
}

/// Sends a `COPY … TO STDOUT`'s CopyOutResponse and rows (one CopyData
/// per line, flushed per batch) and CopyDone. Returns the row count, or
/// the statement's error (the client then gets an ErrorResponse instead
/// of the CommandComplete).
pub(crate) async fn send_copy_out<C>(
    client: &mut C,
    session: &Session,
    options: &CopyOptions,
    schema: SchemaRef,
    stream: SendableRecordBatchStream,
) -> PgWireResult<Result<usize, CairnError>>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let columns = schema.fields().len();
    let response = CopyOutResponse::new(0, columns as i16, vec![0; columns]);
    client.send(PgWireBackendMessage::CopyOutResponse(response)).await?;
    if options.header {
        let mut line = Vec::new();
        write_header(options, schema.fields().iter().map(|f| f.name().as_str()), &mut line);
        client.feed(PgWireBackendMessage::CopyData(CopyData::new(line.into()))).await?;
    }
    let fields = Arc::new(fields(&schema, &Format::UnifiedText, &format_options(session)));
    let mut rows = 0;
    let mut stream = stream;
    while let Some(encoded) = next_rows(&mut stream, &fields).await {
        let encoded = match encoded {
            Ok(encoded) => encoded,
            Err(error) => return Ok(Err(error)),
        };
        for row in &encoded {
            let mut line = Vec::with_capacity(row.data.len());
            write_row(options, row_fields(row), &mut line);
            client.feed(PgWireBackendMessage::CopyData(CopyData::new(line.into()))).await?;
        }
        rows += encoded.len();
        client.flush().await?;
    }
    client.feed(PgWireBackendMessage::CopyDone(CopyDone::new())).await?;
    Ok(Ok(rows))
}

/// Parks a `COPY … FROM STDIN` on the connection until its data has
/// arrived; returns how many columns each line has. The caller sends the
/// CopyInResponse and sets the connection state.
pub(crate) fn park_copy_in<C: ClientInfo>(client: &C, copy: Box<CopyIn>) -> PgWireResult<usize> {
    let columns = copy.width();
    *connection(client)?.copy_in() = Some(copy);
    Ok(columns)
}

fn no_copy_in_progress() -> PgWireError {
    to_pg(&CairnError::Internal("COPY data arrived but no COPY FROM STDIN is running".into()))
}

#[async_trait]
impl CopyHandler for Handler {
    async fn on_copy_data<C>(&self, client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let connection = connection(client)?;
        let mut copy = connection.copy_in();
        copy.as_mut().ok_or_else(no_copy_in_progress)?.feed(&copy_data.data);
        Ok(())
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let connection = connection(client)?;
        let copy = connection.copy_in().take().ok_or_else(no_copy_in_progress)?;
        let session = &connection.session;
        let outcome = match AssertUnwindSafe(session.finish_copy(copy)).catch_unwind().await {
            Ok(outcome) => outcome,
            Err(_) => {
                session.statement_failed();
                Err(panicked())
            }
        };
        client.set_transaction_status(transaction_status(session.tx_state()));
        match outcome.map_err(|e| to_pg(&e))? {
            Output::Command { tag, rows, .. } => {
                let tag = Tag::new(tag).with_rows(usize::try_from(rows.unwrap_or(0)).unwrap_or(usize::MAX));
                client.send(PgWireBackendMessage::CommandComplete(tag.into())).await?;
                Ok(())
            }
            _ => Err(to_pg(&CairnError::Internal("COPY FROM produced rows".into()))),
        }
    }

    async fn on_copy_fail<C>(&self, client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let connection = match connection(client) {
            Ok(connection) => connection,
            Err(error) => return error,
        };
        let Some(copy) = connection.copy_in().take() else {
            return no_copy_in_progress();
        };
        let error = connection.session.abort_copy(copy, &fail.message);
        client.set_transaction_status(transaction_status(connection.session.tx_state()));
        to_pg(&error)
    }
}
