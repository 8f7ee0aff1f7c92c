//! Running COPY statements: `TO STDOUT` is a query whose rows the wire
//! layer writes as lines; `FROM STDIN` reads the client's data into one
//! batch and inserts it as one statement (atomic, through the same
//! provider as INSERT, so access rules, defaults, keys and transactions
//! apply unchanged).
//!
//! The data is parsed on a blocking-pool thread as it arrives, not on the
//! connection's thread: that thread serves other connections too, and a
//! large COPY must not stall them.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use cairn_types::{CairnError, DataType, Result};
use datafusion::catalog::TableProvider;
use datafusion::catalog::default_table_source::provider_as_source;
use datafusion::common::{Column, ScalarValue, TableReference};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::arrow::array::RecordBatch;
use datafusion::logical_expr::{cast, lit, Expr, LogicalPlanBuilder};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{quote_identifier, Output, Session};
use cairn_tables::cancel::GuardedStream;
use cairn_tables::tables::InsertOptions;
use crate::copy::binary::{BinaryReader, FieldDecoder};
use crate::copy::reader::RecordReader;
use crate::copy::{CopyFormat, CopySource, CopySpec};
use cairn_tables::error::from_df;
use cairn_tables::tables::DataTable;
use cairn_tables::values::{arrow_type, column_field};

/// A `COPY … FROM STDIN` waiting for (or receiving) its data.
pub struct CopyIn {
    parser: Parser,
    binary: bool,
    table: Arc<dyn TableProvider>,
    reference: TableReference,
    /// The columns the data has, in its order, with their types.
    columns: Vec<(String, DataType)>,
}

/// The client's data as it arrives, read as its format says.
enum CopyInput {
    Lines(Box<RecordReader>),
    Binary(BinaryReader),
}

impl CopyInput {
    fn feed(&mut self, data: &[u8]) {
        match self {
            CopyInput::Lines(reader) => reader.feed(data),
            CopyInput::Binary(reader) => reader.feed(data),
        }
    }

    /// The rows, typed as `columns`, or the first error.
    fn finish(self, columns: &[(String, DataType)], decode: &FieldDecoder) -> Result<RecordBatch> {
        match self {
            CopyInput::Lines(reader) => {
                let types: Vec<DataType> = columns.iter().map(|(_, t)| t.clone()).collect();
                reader.finish(&types)
            }
            CopyInput::Binary(reader) => {
                let fields = columns.iter().map(|(name, t)| column_field(name, t)).collect::<Result<Vec<_>>>()?;
                reader.finish(&fields, decode)
            }
        }
    }
}

/// Small CopyData messages are gathered up to this before they go to the
/// parser: clients that send a message per row would otherwise wake its
/// thread once per row.
const PARSER_CHUNK_BYTES: usize = 64 * 1024;

/// Chunks on their way to the parser. Bounded, so that a client sending
/// faster than its data is parsed waits (its connection is not read)
/// instead of piling up memory.
const PARSER_QUEUE_CHUNKS: usize = 4;

/// Feeds a [`CopyInput`] that lives on a blocking-pool thread.
struct Parser {
    gathered: BytesMut,
    chunks: mpsc::Sender<Bytes>,
    worker: JoinHandle<CopyInput>,
}

impl Parser {
    fn start(mut input: CopyInput) -> Parser {
        let (chunks, mut received) = mpsc::channel::<Bytes>(PARSER_QUEUE_CHUNKS);
        let worker = tokio::task::spawn_blocking(move || {
            while let Some(chunk) = received.blocking_recv() {
                input.feed(&chunk);
            }
            input
        });
        Parser { gathered: BytesMut::new(), chunks, worker }
    }

    async fn feed(&mut self, data: Bytes) {
        if self.gathered.is_empty() && data.len() >= PARSER_CHUNK_BYTES {
            self.send(data).await;
            return;
        }
        self.gathered.extend_from_slice(&data);
        if self.gathered.len() >= PARSER_CHUNK_BYTES {
            let chunk = self.gathered.split().freeze();
            self.send(chunk).await;
        }
    }

    async fn send(&mut self, chunk: Bytes) {
        // A send fails only if the worker is gone (it panicked); `finish`
        // reports that.
        let _ = self.chunks.send(chunk).await;
    }

    /// Everything received, parsed.
    async fn finish(mut self) -> Result<CopyInput> {
        let rest = self.gathered.split().freeze();
        if !rest.is_empty() {
            self.send(rest).await;
        }
        drop(self.chunks);
        self.worker.await.map_err(|e| CairnError::Internal(format!("parsing COPY data failed: {e}")))
    }
}

impl CopyIn {
    /// How many columns each row has.
    pub fn width(&self) -> usize {
        self.columns.len()
    }

    /// FORMAT binary (the CopyInResponse says so).
    pub fn is_binary(&self) -> bool {
        self.binary
    }

    /// Takes the next CopyData message; errors wait for the end. Waits
    /// while the parser is behind.
    pub async fn feed(&mut self, data: Bytes) {
        self.parser.feed(data).await;
    }
}

fn table_reference(namespace: &Option<String>, name: &str) -> TableReference {
    match namespace {
        Some(namespace) => TableReference::partial(namespace.as_str(), name),
        None => TableReference::bare(name),
    }
}

/// A table's name as messages show it.
fn qualified(namespace: &Option<String>, name: &str) -> String {
    match namespace {
        Some(namespace) => format!("{}.{}", quote_identifier(namespace), quote_identifier(name)),
        None => quote_identifier(name),
    }
}

impl Session {
    pub(super) async fn copy(&self, spec: CopySpec) -> Result<Output> {
        if !spec.from_client {
            return self.copy_out(spec).await;
        }
        let CopySource::Table { namespace, name, columns } = spec.source else {
            return Err(CairnError::Syntax("COPY FROM needs a table".into()));
        };
        let reference = table_reference(&namespace, &name);
        let table = self.ctx.table_provider(reference.clone()).await.map_err(from_df)?;
        let Some(data_table) = table.downcast_ref::<DataTable>() else {
            return Err(CairnError::FeatureNotSupported(format!("cannot copy to system table \"{name}\"")));
        };
        // Refused now, before the client sends any data.
        data_table.check_write()?;
        let def = data_table.def();
        let names = match columns.is_empty() {
            true => def.columns.iter().map(|c| c.name.clone()).collect(),
            false => columns,
        };
        let mut typed = Vec::with_capacity(names.len());
        for column in names {
            let Some(found) = def.columns.iter().find(|c| c.name == column) else {
                return Err(CairnError::UndefinedColumn(format!(
                    "column \"{column}\" of relation \"{name}\" does not exist"
                )));
            };
            if typed.iter().any(|(seen, _)| *seen == column) {
                return Err(CairnError::Syntax(format!("column \"{column}\" specified more than once")));
            }
            typed.push((column, found.data_type.clone()));
        }
        let binary = spec.options.format == CopyFormat::Binary;
        let input = match spec.options.format {
            CopyFormat::Binary => CopyInput::Binary(BinaryReader::new(qualified(&namespace, &name))),
            CopyFormat::Text | CopyFormat::Csv => CopyInput::Lines(Box::new(RecordReader::new(
                spec.options,
                qualified(&namespace, &name),
                typed.iter().map(|(name, _)| name.clone()).collect(),
            ))),
        };
        Ok(Output::CopyIn(Box::new(CopyIn { parser: Parser::start(input), binary, table, reference, columns: typed })))
    }

    async fn copy_out(&self, spec: CopySpec) -> Result<Output> {
        let mut guard = self.start_statement();
        let df = match spec.source {
            CopySource::Query(query) => {
                let statement = DfStatement::Statement(Box::new(ast::Statement::Query(query)));
                guard.run(super::plan_sql(&self.ctx, statement)).await?
            }
            CopySource::Table { namespace, name, columns } => {
                let df = guard.run(async { self.ctx.table(table_reference(&namespace, &name)).await.map_err(from_df) }).await?;
                if let Some(column) = columns.iter().find(|c| df.schema().index_of_column_by_name(None, c).is_none()) {
                    return Err(CairnError::UndefinedColumn(format!(
                        "column \"{column}\" of relation \"{name}\" does not exist"
                    )));
                }
                match columns.is_empty() {
                    true => df,
                    false => {
                        let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
                        df.select_columns(&columns).map_err(from_df)?
                    }
                }
            }
        };
        let stream = guard.run(crate::compute::execute_stream(&self.engine.compute, df)).await?;
        let schema = stream.schema();
        Ok(Output::CopyOut { options: spec.options, schema, stream: Box::pin(GuardedStream::new(stream, guard)) })
    }

    /// Ends a `COPY FROM STDIN` (CopyDone): parses what is left, then
    /// inserts every row in one statement, or none. Binary data's values
    /// are read by `decode` (the wire layer's binary codecs).
    pub async fn finish_copy(&self, copy: Box<CopyIn>, decode: &'static FieldDecoder) -> Result<Output> {
        let result = self.write_copy(copy, decode).await;
        if result.is_err() {
            self.statement_failed();
        }
        result
    }

    /// The client gave up on a `COPY FROM STDIN` (CopyFail): nothing is written.
    pub fn abort_copy(&self, copy: Box<CopyIn>, message: &str) -> CairnError {
        drop(copy);
        self.statement_failed();
        CairnError::QueryCanceled(format!("COPY from stdin failed: {message}"))
    }

    async fn write_copy(&self, copy: Box<CopyIn>, decode: &'static FieldDecoder) -> Result<Output> {
        let CopyIn { parser, table, reference, columns, .. } = *copy;
        let input = parser.finish().await?;
        // Typing the columns is the expensive half: off this thread too.
        let (batch, columns) = tokio::task::spawn_blocking(move || (input.finish(&columns, decode), columns))
            .await
            .map_err(|e| CairnError::Internal(format!("parsing COPY data failed: {e}")))?;
        let batch = batch?;
        let Some(data_table) = table.downcast_ref::<DataTable>() else {
            return Err(CairnError::Internal("COPY target is not a table".into()));
        };
        // Every table column, from the data or from its default.
        let mut row = Vec::with_capacity(data_table.def().columns.len());
        for column in &data_table.def().columns {
            let value = match columns.iter().any(|(name, _)| *name == column.name) {
                true => Expr::Column(Column::from_name(column.name.as_str())),
                false => table.get_column_default(&column.name).cloned().unwrap_or(lit(ScalarValue::Null)),
            };
            row.push(cast(value, arrow_type(&column.data_type)?).alias(column.name.as_str()));
        }
        let gate = super::begin_insert(&self.insert, InsertOptions::default());
        let mut guard = self.start_statement();
        let written = guard
            .run_write(&gate, async {
                let input = self.ctx.read_batch(batch).map_err(from_df)?.select(row).map_err(from_df)?;
                let plan = LogicalPlanBuilder::insert_into(
                    input.into_unoptimized_plan(),
                    reference,
                    provider_as_source(Arc::clone(&table)),
                    InsertOp::Append,
                )
                .and_then(LogicalPlanBuilder::build)
                .map_err(from_df)?;
                let df = self.ctx.execute_logical_plan(plan).await.map_err(from_df)?;
                let batches = crate::compute::collect(&self.engine.compute, df).await?;
                Ok(super::inserted_count(&batches))
            })
            .await;
        super::end_insert(&self.insert, gate);
        let written = written?;
        Ok(Output::Command { tag: "COPY", rows: Some(written), reported: Vec::new() })
    }
}
