//! COPY on the wire.
//!
//! - out: result batches are encoded exactly as DataRows (text, or binary
//!   for FORMAT binary, so every type reads as it does in a query result),
//!   then each row's fields are laid out as a line (or tuple) of the COPY
//!   format;
//! - in: CopyData chunks go to the session's [`CopyIn`] as they arrive;
//!   CopyDone writes them all in one statement, CopyFail writes nothing.
//!   Binary fields are read by the same decoders as binary parameters.

use std::fmt::Debug;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_trait::async_trait;
use cairn_sql::copy::{write_header, write_row, write_trailer, CopyFormat, CopyOptions};
use cairn_sql::{CopyIn, Output};
use cairn_types::CairnError;
use datafusion::arrow::datatypes::{Field, SchemaRef};
use datafusion::common::ScalarValue;
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
use crate::types::{decode_value, pg_type_of_field, WireValue};
use crate::handler::{panicked, transaction_status, Connection, Handler};

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
    connection: &Connection,
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
    let binary = options.format == CopyFormat::Binary;
    let response = CopyOutResponse::new(i8::from(binary), columns as i16, vec![i16::from(binary); columns]);
    client.send(PgWireBackendMessage::CopyOutResponse(response)).await?;
    // The header goes out with the first row, as PostgreSQL sends it:
    // tokio-postgres's binary reader expects both in one CopyData.
    let mut header = Vec::new();
    write_header(options, schema.fields().iter().map(|f| f.name().as_str()), &mut header);
    let format = if binary { Format::UnifiedBinary } else { Format::UnifiedText };
    let fields = Arc::new(fields(&schema, &format, &connection.format_options()));
    let mut rows = 0;
    let mut stream = stream;
    while let Some(encoded) = next_rows(&mut stream, &fields).await {
        let encoded = match encoded {
            Ok(encoded) => encoded,
            Err(error) => return Ok(Err(error)),
        };
        for row in &encoded {
            let mut line = std::mem::take(&mut header);
            line.reserve(row.data.len() + 8);
            write_row(options, row_fields(row), &mut line);
            client.feed(PgWireBackendMessage::CopyData(CopyData::new(line.into()))).await?;
        }
        rows += encoded.len();
        client.flush().await?;
    }
    let mut trailer = header;
    write_trailer(options, &mut trailer);
    if !trailer.is_empty() {
        client.feed(PgWireBackendMessage::CopyData(CopyData::new(trailer.into()))).await?;
    }
    client.feed(PgWireBackendMessage::CopyDone(CopyDone::new())).await?;
    Ok(Ok(rows))
}

/// Parks a `COPY … FROM STDIN` on the connection until its data has
/// arrived; returns the CopyInResponse's format (0 text, 1 binary) and how
/// many columns each row has. The caller sends the CopyInResponse and sets
/// the connection state.
pub(crate) fn park_copy_in(connection: &Connection, copy: Box<CopyIn>) -> (i8, usize) {
    let shape = (i8::from(copy.is_binary()), copy.width());
    *connection.copy_in() = Some(copy);
    shape
}

/// A binary COPY field, read as a binary parameter of the column's type is.
fn decode_binary_field(bytes: Option<&[u8]>, field: &Field) -> Result<ScalarValue, CairnError> {
    decode_value(WireValue { bytes, binary: true }, &pg_type_of_field(field))
        .map_err(|e| CairnError::InvalidBinaryRepresentation(format!("incorrect binary data format: {e}")))
}

fn no_copy_in_progress() -> PgWireError {
    to_pg(&CairnError::Internal("COPY data arrived but no COPY FROM STDIN is running".into()))
}

#[async_trait]
impl CopyHandler for Handler {
    async fn on_copy_data<C>(&self, _client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let connection = self.connection()?;
        // Out of its slot while the parser takes the data: the slot's lock
        // is not held across the wait.
        let mut copy = connection.copy_in().take().ok_or_else(no_copy_in_progress)?;
        copy.feed(copy_data.data).await;
        *connection.copy_in() = Some(copy);
        Ok(())
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let connection = self.connection()?;
        let copy = connection.copy_in().take().ok_or_else(no_copy_in_progress)?;
        let session = &connection.session;
        let outcome = match AssertUnwindSafe(session.finish_copy(copy, &decode_binary_field)).catch_unwind().await {
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
        let connection = match self.connection() {
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
