//! A session: one client connection's state (who it is, its settings, its
//! transaction state, its DataFusion context) and the execution of its
//! statements.
//!
//! ```text
//! query text ─ parse_statements ─┬─ CairnDB statement ─ catalog (blocking thread)
//!                                ├─ SET/SHOW/RESET    ─ Settings
//!                                ├─ BEGIN/COMMIT/...  ─ TxState
//!                                └─ Query(text)       ─ DataFusion ─ GuardedStream
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cairn_catalog::{Actor, IdentityCheck, NewTable, NewUser, SessionGuard, DEFAULT_NAMESPACE};
use cairn_types::{CairnError, Result, Role, SessionId};
use datafusion::arrow::array::{AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::UInt64Type;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::catalog::default_table_source::source_as_provider;
use datafusion::common::ParamValues;
use datafusion::common::ScalarValue;
use datafusion::config::Dialect;
use datafusion::dataframe::DataFrame;
use datafusion::execution::context::{SessionConfig, SessionContext};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::FunctionRegistry;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::logical_expr::{DmlStatement, Expr, LogicalPlan, WriteOp};
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::sql::parser::Statement as DfStatement;
use tokio_util::sync::CancellationToken;

use crate::alter::{AlterTable, Fill, TableChange};
use cursors::{Cursors, Fetch, OpenCursor};
use cairn_tables::cancel::{GuardedStream, StatementGuard, WriteGate};
use crate::copy::CopyOptions;
use cairn_tables::direct::{parameter_number, KeyRead, Params, MAX_PARAMETERS};
use crate::ddl::parse_create_table;
use cairn_tables::error::from_df;
use cairn_tables::functions::session_functions;
use crate::namespaces::{NamespaceCatalog, SchemaContext};
use crate::returning::{conflict_action, Extras, Returning};
use cairn_pg::settings::{ReportedChange, Settings};
use cairn_tables::snowflake::snowflake_udf;
use crate::shapes::{self, KnownShape, Planned, Shape, ShapeKey, ShapePlan, Shaped, TokenShape};
use crate::statement::{parse_statement, parse_statements, split_statements, Argument, Query, SetConfigCall, Statement};
use datafusion::sql::sqlparser::tokenizer::TokenWithSpan;
use cairn_tables::system::{system_schema, SYSTEM_SCHEMA};
use cairn_tables::tables::{DataTable, InsertOptions, InsertSlot};
use cairn_tables::txn::{commit, StatementSnapshot, TxCell};
use crate::Engine;

mod copy;
mod cursors;
#[cfg(test)]
mod tests;

pub use copy::CopyIn;

/// How often an UPDATE or DELETE outside a transaction block runs again
/// after losing a write conflict before the client gets 40001.
const IMPLICIT_ATTEMPTS: usize = 20;

/// The one DataFusion catalog every session sees.
pub const CATALOG_NAME: &str = "cairn";

/// Where a session is with respect to transaction blocks; the letters are
/// what ReadyForQuery reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxState {
    /// `I`: not in a transaction block.
    Idle,
    /// `T`: inside BEGIN … COMMIT.
    InBlock,
    /// `E`: inside a block in which a statement failed; only COMMIT or
    /// ROLLBACK (both roll back) are accepted.
    Failed,
}

/// What a statement produced.
pub enum Output {
    /// Rows to stream; the tag is `SELECT n` (or `SHOW`).
    Rows {
        tag: &'static str,
        schema: SchemaRef,
        stream: SendableRecordBatchStream,
    },
    /// A command tag (with a row count for INSERT), plus parameter changes
    /// the client must be told about.
    Command {
        tag: &'static str,
        rows: Option<u64>,
        reported: Vec<ReportedChange>,
    },
    /// `COPY … TO STDOUT`: rows to send as lines of `options`' format.
    CopyOut {
        options: CopyOptions,
        schema: SchemaRef,
        stream: SendableRecordBatchStream,
    },
    /// `COPY … FROM STDIN`: the client sends the data next; feed it to
    /// this, then hand it to [`Session::finish_copy`].
    CopyIn(Box<CopyIn>),
    /// `DEALLOCATE name | ALL` (`None`): the wire layer, which keeps
    /// prepared statements, drops them and answers `DEALLOCATE`.
    Deallocate { name: Option<String>, tag: &'static str, reported: Vec<ReportedChange> },
}

impl Output {
    fn command(tag: &'static str) -> Output {
        Output::Command {
            tag,
            rows: None,
            reported: Vec::new(),
        }
    }

    fn reported(tag: &'static str, reported: Vec<ReportedChange>) -> Output {
        Output::Command {
            tag,
            rows: None,
            reported,
        }
    }
}

/// A statement parsed (and, for queries, logically planned) once, to be
/// executed many times with different parameters.
#[derive(Debug, Clone)]
pub struct Prepared {
    kind: PreparedKind,
    /// `$1`, `$2`, …: the type DataFusion inferred, if it could (a field,
    /// whose metadata may name the PostgreSQL type: uuid, json).
    pub param_types: Vec<Option<FieldRef>>,
    /// The columns it returns (empty for commands).
    pub schema: SchemaRef,
}

#[derive(Debug, Clone)]
enum PreparedKind {
    Empty,
    Plan(Box<Planned>),
    Statement(Statement),
}

impl Prepared {
    pub fn is_empty(&self) -> bool {
        matches!(self.kind, PreparedKind::Empty)
    }
}

struct State {
    settings: Settings,
    tx: TxState,
    /// Settings as they were at BEGIN, restored on ROLLBACK.
    settings_at_begin: Option<Settings>,
}

pub struct Session {
    engine: Arc<Engine>,
    actor: Actor,
    id: SessionId,
    database: String,
    ctx: SessionContext,
    /// The open transaction's snapshot and writes (between BEGIN and its end).
    transaction: TxCell,
    /// Outside a transaction block, the running statement's snapshot.
    statement: StatementSnapshot,
    /// ON CONFLICT and RETURNING for the INSERT that is running.
    insert: InsertSlot,
    state: Mutex<State>,
    /// The running statement's token; cancel requests fire it.
    current: Mutex<CancellationToken>,
    /// The [`Catalog::users_version`](cairn_catalog::Catalog::users_version)
    /// at which `actor` was last found current.
    identity_checked_at: AtomicU64,
    /// The catalog's schema version when the settings were last applied
    /// to `ctx` (which namespaces of `search_path` exist).
    settings_applied_at: AtomicU64,
    /// Open cursors (`DECLARE`), by name.
    cursors: Cursors,
    /// The simple protocol's plans, by statement shape ([`crate::shapes`]).
    shapes: Mutex<quick_cache::unsync::Cache<ShapeKey, Arc<ShapePlan>>>,
    /// Shapes recognised from a statement's tokens, by their hash
    /// ([`TokenShape::hash_of`]): a statement seen before is not parsed.
    known_shapes: Mutex<quick_cache::unsync::Cache<u64, Arc<KnownShape>>>,
    _registration: SessionGuard,
}

/// How many shapes a session keeps plans for: ORMs send a few dozen
/// statement shapes; a plan is kilobytes.
const SHAPES_PER_SESSION: usize = 128;

/// How far an ordered scan may read ahead of the merge above it.
const SORT_READ_AHEAD_BYTES: usize = 8 << 20;

/// A DataFusion context whose tables are seen as `actor` sees them.
fn build_context(
    engine: &Engine,
    actor: &Actor,
    transaction: &TxCell,
    statement: &StatementSnapshot,
    returned: &InsertSlot,
) -> Result<SessionContext> {
    let mut config = SessionConfig::new()
        .with_default_catalog_and_schema(CATALOG_NAME, DEFAULT_NAMESPACE)
        .with_create_default_catalog_and_schema(false)
        // CairnDB's own information_schema (PostgreSQL's columns and type
        // names) replaces DataFusion's.
        .with_information_schema(false);
    config.options_mut().sql_parser.dialect = Dialect::PostgreSQL;
    // A constant with a point or an exponent is numeric, as in PostgreSQL
    // (`1.5`, `1e3`), not a float.
    config.options_mut().sql_parser.parse_float_as_decimal = true;
    // Where an ordered scan replaces a sort, DataFusion reads ahead of
    // the merge above it into a buffer, by default up to 1 GiB per
    // partition: a full `ORDER BY key` would then hold the table. A few
    // batches keep the merge fed and the scan's memory bounded.
    config.options_mut().execution.sort_pushdown_buffer_capacity = SORT_READ_AHEAD_BYTES;
    config.options_mut().sql_parser.recursion_limit =
        datafusion::config::ConfigNonZeroUsize::try_new(crate::nesting::PARSER_RECURSION_LIMIT).map_err(from_df)?;
    let (per_row_first, per_row_last) = crate::correlated::RunPerRow::rules();
    let mut optimizer_rules = datafusion::optimizer::Optimizer::new().rules;
    optimizer_rules.insert(0, Arc::clone(&per_row_first) as _);
    optimizer_rules.push(per_row_last);
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        // Before DataFusion's own, which plan field access on any column.
        .with_expr_planners(
            std::iter::once(Arc::new(cairn_pg::postgres::NonCompositeFieldAccess) as _)
                .chain(datafusion::execution::SessionStateDefaults::default_expr_planners())
                .collect(),
        )
        .with_type_planner(Arc::new(cairn_pg::postgres::PgTypes))
        .with_analyzer_rules(cairn_pg::postgres::analyzer_rules())
        .with_optimizer_rules(optimizer_rules)
        .with_physical_optimizer_rules(
            datafusion::physical_optimizer::optimizer::PhysicalOptimizer::new()
                .rules
                .into_iter()
                .chain([Arc::new(cairn_pg::postgres::CheckedIntegerArithmetic) as _])
                .collect(),
        )
        .build();
    let mut ctx = SessionContext::new_with_state(state);
    let catalog = engine.catalog();
    per_row_first.attach(ctx.state_weak_ref());
    ctx.register_expr_planner(Arc::new(cairn_pg::postgres::PgOperators))
        .map_err(from_df)?;
    let view = cairn_tables::txn::ReadView { transaction: transaction.clone(), statement: statement.clone() };
    let system = system_schema(catalog, actor, &view).map_err(from_df)?;
    let snowflake = Arc::new(snowflake_udf());
    ctx.register_udf((*snowflake).clone());
    ctx.register_udf(cairn_tables::functions::gen_random_uuid_udf());
    for function in cairn_pg::postgres::json::functions() {
        ctx.register_udf(function);
    }
    ctx.register_udf(cairn_tables::functions::expand_array_udf());
    ctx.register_udaf(cairn_pg::postgres::single_value());
    ctx.register_udtf("generate_series", Arc::new(cairn_pg::series::GenerateSeries));
    ctx.register_udtf("pg_get_keywords", Arc::new(cairn_pg::keywords::PgGetKeywords));
    let context = SchemaContext {
        catalog: Arc::clone(catalog),
        scan_cache: Arc::clone(&engine.scan_cache),
        actor: actor.clone(),
        snowflake,
        transaction: transaction.clone(),
        statement: statement.clone(),
        returned: Arc::clone(returned),
    };
    let pg_catalog = cairn_pg::pg_catalog::pg_catalog_schema(catalog, actor).map_err(from_df)?;
    let information_schema = cairn_pg::pg_catalog::information_schema(catalog, actor).map_err(from_df)?;
    ctx.register_catalog(
        CATALOG_NAME,
        Arc::new(NamespaceCatalog::new(context, system, pg_catalog, information_schema)),
    );
    Ok(ctx)
}

/// Applies the settings DataFusion reads and the session functions.
fn configure_context(
    ctx: &SessionContext,
    catalog: &Arc<cairn_catalog::Catalog>,
    settings: &Settings,
    user: &str,
    database: &str,
) {
    let search_path = effective_search_path(catalog, settings, user);
    let schema = search_path.first().map(String::as_str);
    {
        let state_ref = ctx.state_ref();
        let mut df_state = state_ref.write();
        let options = df_state.config_mut().options_mut();
        // With no namespace of the path existing, unqualified names
        // resolve in the default one, which is missing too: "does not exist".
        options.catalog.default_schema = schema.unwrap_or(DEFAULT_NAMESPACE).to_owned();
        options.execution.time_zone = Some(settings.get("TimeZone").unwrap_or("UTC").to_owned());
        df_state.config_mut().set_extension(Arc::new(crate::planning::SearchPath(search_path.clone())));
        // Functions that read the settings when made (`now()` takes its
        // time zone, so that it is a timestamptz) are made again, as
        // DataFusion's own SET does.
        let config = Arc::clone(df_state.config_options());
        let updated: Vec<_> = df_state
            .scalar_functions()
            .values()
            .filter_map(|function| function.inner().with_updated_config(&config))
            .collect();
        for function in updated {
            let _ = df_state.register_udf(Arc::new(function));
        }
    }
    for function in session_functions(user, database, schema) {
        ctx.register_udf((*function).clone());
    }
    let values = settings.all().into_iter().map(|(name, value, _)| (name, value)).collect();
    ctx.register_udf(cairn_tables::functions::current_setting_udf(values));
    for function in cairn_pg::pg_catalog::catalog_functions(catalog, &search_path) {
        ctx.register_udf(function);
    }
}

/// The namespaces of `search_path` that exist, in order, with `$user`
/// read as the user's name, as PostgreSQL resolves it: names that do not
/// exist are skipped (`"$user", public` is the default, and most users
/// have no namespace of their own).
fn effective_search_path(catalog: &cairn_catalog::Catalog, settings: &Settings, user: &str) -> Vec<String> {
    let snapshot = catalog.snapshot();
    settings
        .search_path()
        .into_iter()
        .map(|name| if name == "$user" { user.to_owned() } else { name })
        .filter(|name| {
            [SYSTEM_SCHEMA, cairn_pg::pg_catalog::PG_CATALOG, cairn_pg::pg_catalog::INFORMATION_SCHEMA]
                .contains(&name.as_str())
                || matches!(catalog.namespace(&snapshot, name), Ok(Some(_)))
        })
        .collect()
}

/// What `SELECT set_config(…), …` returns: a text column per call.
fn set_config_schema(calls: &[SetConfigCall]) -> SchemaRef {
    Arc::new(Schema::new(calls.iter().map(|call| Field::new(call.column.as_str(), DataType::Utf8, true)).collect::<Vec<_>>()))
}

/// The types a plan's `$n` parameters were inferred to have, by position
/// (`None` where nothing in the query says). A `LIMIT $n` or `OFFSET $n`
/// is a bigint, as in PostgreSQL (DataFusion leaves it untyped).
fn parameter_types(plan: &LogicalPlan) -> Result<Vec<Option<FieldRef>>> {
    let mut types = plan.get_parameter_fields().map_err(from_df)?;
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::Limit(limit) = node {
            for expr in [&limit.skip, &limit.fetch].into_iter().flatten() {
                if let Expr::Placeholder(placeholder) = expr.as_ref() {
                    let typed = types.entry(placeholder.id.clone()).or_insert(None);
                    typed.get_or_insert_with(|| Arc::new(Field::new(&placeholder.id, DataType::Int64, true)));
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .map_err(from_df)?;
    let mut param_types = vec![None; types.len()];
    for (name, data_type) in types {
        let index = parameter_number(&name)
            .ok_or_else(|| CairnError::Syntax(format!("invalid parameter name {name}")))?;
        // The vector is sized by the highest number: a client must not
        // make it huge with `$99999999999`.
        if index > MAX_PARAMETERS {
            return Err(CairnError::ProtocolViolation(format!(
                "parameter {name} is out of range: a statement has at most {MAX_PARAMETERS} parameters"
            )));
        }
        if index > param_types.len() {
            param_types.resize(index, None);
        }
        param_types[index - 1] = data_type;
    }
    Ok(param_types)
}

/// Plans `sql` (PostgreSQL syntax normalised and only allowed plans, see
/// [`crate::planning::plan`]) and makes it a DataFrame.
async fn plan_sql(ctx: &SessionContext, statement: DfStatement) -> Result<DataFrame> {
    let plan = plan_query(ctx, statement).await?;
    ctx.execute_logical_plan(plan).await.map_err(from_df)
}

/// The columns a statement's Describe shows: its RETURNING list's, none
/// for INSERT, UPDATE and DELETE without one (DataFusion's plan has a
/// count column, which Describe must not show), else its plan's.
fn described_schema(ctx: &SessionContext, plan: &LogicalPlan, extras: &Extras) -> Result<SchemaRef> {
    Ok(match (&extras.returning, plan) {
        (Some(returning), plan) => returning.schema(ctx, &target_def(plan)?)?,
        (None, LogicalPlan::Dml(_)) => Arc::new(Schema::empty()),
        (None, plan) => Arc::clone(plan.schema().inner()),
    })
}

/// Plans `statement`; see [`crate::planning::plan`].
async fn plan_query(ctx: &SessionContext, statement: DfStatement) -> Result<LogicalPlan> {
    crate::planning::plan(&ctx.state(), statement).await.map_err(from_df)
}

/// An identifier as it must be written to keep its exact spelling.
fn quote_identifier(name: &str) -> String {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn no_cursor(name: &str) -> CairnError {
    CairnError::InvalidCursorName(format!("cursor \"{name}\" does not exist"))
}

fn show_schema(column: &str) -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(column, DataType::Utf8, false)]))
}

impl Session {
    pub(crate) fn new(
        engine: Arc<Engine>,
        actor: Actor,
        id: SessionId,
        database: String,
        settings: Settings,
        registration: SessionGuard,
    ) -> Result<Session> {
        let (transaction, statement) = (TxCell::default(), StatementSnapshot::default());
        let insert = InsertSlot::default();
        let ctx = build_context(&engine, &actor, &transaction, &statement, &insert)?;
        let identity_checked_at = AtomicU64::new(engine.catalog().users_version());
        let session = Session {
            identity_checked_at,
            settings_applied_at: AtomicU64::new(0),
            transaction,
            statement,
            insert,
            engine,
            actor,
            id,
            database,
            ctx,
            state: Mutex::new(State {
                settings,
                tx: TxState::Idle,
                settings_at_begin: None,
            }),
            current: Mutex::new(CancellationToken::new()),
            cursors: Cursors::default(),
            shapes: Mutex::new(quick_cache::unsync::Cache::new(SHAPES_PER_SESSION)),
            known_shapes: Mutex::new(quick_cache::unsync::Cache::new(SHAPES_PER_SESSION)),
            _registration: registration,
        };
        session.apply_settings();
        session.publish_cursors();
        Ok(session)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn id(&self) -> SessionId {
        self.id
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub fn tx_state(&self) -> TxState {
        self.state().tx
    }

    /// A setting's current value, for the wire layer (DateStyle, …).
    pub fn setting(&self, name: &str) -> Option<String> {
        self.state().settings.get(name).ok().map(str::to_owned)
    }

    /// The settings' [`Settings::generation`](cairn_pg::settings::Settings::generation).
    pub fn settings_generation(&self) -> u64 {
        self.state().settings.generation()
    }

    /// Marks the transaction block failed after an error the wire layer
    /// saw (for example while streaming rows).
    pub fn statement_failed(&self) {
        let mut state = self.state();
        if state.tx == TxState::InBlock {
            state.tx = TxState::Failed;
        }
    }

    /// The client is told the session is ready for the next query: the
    /// statement snapshot goes, so that an idle session pins no old row
    /// versions in the store (a scan still streaming holds its own).
    pub fn ready_for_query(&self) {
        self.statement.clear();
    }

    /// Cancels the running statement, if any (a CancelRequest).
    pub fn cancel(&self) {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .cancel();
    }

    /// A guard for a new statement: a fresh cancel token and the session's
    /// statement_timeout.
    fn start_statement(&self) -> StatementGuard {
        let token = CancellationToken::new();
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = token.clone();
        let timeout = self.state().settings.statement_timeout();
        StatementGuard::new(token, timeout)
    }

    /// `DECLARE … CURSOR FOR query`: starts the query; `FETCH` reads it.
    async fn declare_cursor(&self, name: String, query: DfStatement, hold: bool, params: Vec<ScalarValue>) -> Result<Output> {
        if !hold && self.tx_state() == TxState::Idle {
            return Err(CairnError::NoActiveSqlTransaction(
                "DECLARE CURSOR can only be used in transaction blocks".into(),
            ));
        }
        if self.cursors.lock().contains_key(&name) {
            return Err(CairnError::DuplicateCursor(format!("cursor \"{name}\" already exists")));
        }
        let mut guard = self.start_statement();
        let mut df = guard.run(plan_sql(&self.ctx, query)).await?;
        if !params.is_empty() {
            df = df.with_param_values(ParamValues::from(params)).map_err(from_df)?;
        }
        if matches!(df.logical_plan(), LogicalPlan::Dml(_)) {
            return Err(CairnError::Syntax("a cursor's query must be a SELECT".into()));
        }
        let stream = guard.run(crate::compute::execute_stream(&self.engine.compute, df)).await?;
        let cursor = OpenCursor { stream, pending: None, hold };
        self.cursors.lock().insert(name, cursor);
        self.publish_cursors();
        Ok(Output::command("DECLARE CURSOR"))
    }

    /// `pg_catalog.pg_cursors`: this session's open cursors (psycopg checks
    /// there before closing a named cursor). Rebuilt when they change.
    fn publish_cursors(&self) {
        let mut cursors: Vec<(String, bool)> = self
            .cursors
            .lock()
            .iter()
            .map(|(name, cursor)| (name.clone(), cursor.hold))
            .collect();
        cursors.sort();
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("is_holdable", DataType::Boolean, false),
            Field::new("is_binary", DataType::Boolean, false),
            Field::new("is_scrollable", DataType::Boolean, false),
        ]));
        let columns: Vec<datafusion::arrow::array::ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(cursors.iter().map(|c| c.0.as_str()))),
            Arc::new(datafusion::arrow::array::BooleanArray::from_iter(cursors.iter().map(|c| Some(c.1)))),
            Arc::new(datafusion::arrow::array::BooleanArray::from(vec![false; cursors.len()])),
            Arc::new(datafusion::arrow::array::BooleanArray::from(vec![false; cursors.len()])),
        ];
        let table = RecordBatch::try_new(Arc::clone(&schema), columns)
            .and_then(|batch| datafusion::datasource::MemTable::try_new(schema, vec![vec![batch]]).map_err(Into::into));
        let pg_catalog = self.ctx.catalog(CATALOG_NAME).and_then(|c| c.schema(cairn_pg::pg_catalog::PG_CATALOG));
        match (table, pg_catalog) {
            (Ok(table), Some(pg_catalog)) => {
                let replaced = pg_catalog
                    .deregister_table(cairn_pg::pg_catalog::CURSORS_TABLE)
                    .and_then(|_| pg_catalog.register_table(cairn_pg::pg_catalog::CURSORS_TABLE.into(), Arc::new(table)));
                if let Err(error) = replaced {
                    tracing::warn!(%error, "pg_cursors not updated");
                }
            }
            (Err(error), _) => tracing::warn!(%error, "pg_cursors not updated"),
            (_, None) => tracing::warn!("pg_catalog missing"),
        }
    }

    /// The columns an open cursor returns: libpq's `PQdescribePortal` names
    /// a SQL cursor as a portal (psycopg 3 server-side cursors do).
    pub fn cursor_schema(&self, name: &str) -> Option<SchemaRef> {
        self.cursors.lock().get(name).map(|c| c.stream.schema())
    }

    /// `FETCH n FROM name`: the cursor's next `n` rows (all with `None`),
    /// read as they are sent, under the statement's cancel and timeout.
    async fn fetch(&self, name: &str, count: Option<u64>) -> Result<Output> {
        let wanted = count.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
        let fetch = Fetch::start(&self.cursors, name, wanted).ok_or_else(|| no_cursor(name))?;
        let schema = datafusion::physical_plan::RecordBatchStream::schema(&fetch);
        let stream = GuardedStream::new(Box::pin(fetch), self.start_statement());
        Ok(Output::Rows { tag: "FETCH", schema, stream: Box::pin(stream) })
    }

    /// `RESET ALL`: every setting back to its default; returns the changes
    /// the client must be told about.
    fn reset_all_settings(&self) -> Vec<ReportedChange> {
        let reported = {
            let mut state = self.state();
            let fresh = Settings::for_user(&self.actor.username, self.actor.role == Role::System);
            let mut reported = Vec::new();
            for (name, value, _) in state.settings.all() {
                let default = fresh.get(&name).ok().map(str::to_owned);
                if default.as_deref() != Some(value.as_str()) {
                    if let Ok(Some(change)) = state.settings.set(&name, None) {
                        reported.push(change);
                    }
                }
            }
            reported
        };
        self.apply_settings();
        reported
    }

    /// Pushes the settings DataFusion reads (schema, time zone) and the
    /// session functions that depend on them into the context.
    fn apply_settings(&self) {
        // Read first: a change while this runs makes it run again.
        self.settings_applied_at.store(self.engine.catalog().schema_version(), Ordering::Release);
        let settings = self.state().settings.clone();
        let application_name = settings.get("application_name").unwrap_or("").to_owned();
        self.engine.catalog().sessions().update(self.id, |info| {
            info.application_name = Some(application_name).filter(|name| !name.is_empty());
        });
        configure_context(
            &self.ctx,
            self.engine.catalog(),
            &settings,
            &self.actor.username,
            &self.database,
        );
    }

    /// Ends the session if its user was dropped or given another role
    /// since it logged in. Run before every statement; costs one atomic
    /// load unless some user changed. A changed role ends the session too,
    /// rather than rebuilding it: its context, prepared plans and open
    /// cursors were all made for the old role, and a reconnect rebuilds
    /// them all correctly.
    fn check_identity(&self) -> Result<()> {
        let catalog = self.engine.catalog();
        let version = catalog.users_version();
        if self.identity_checked_at.load(Ordering::Acquire) == version {
            return Ok(());
        }
        let name = &self.actor.username;
        match catalog.user_is_current(&self.actor)? {
            IdentityCheck::Current => {
                self.identity_checked_at.store(version, Ordering::Release);
                Ok(())
            }
            IdentityCheck::Dropped => Err(CairnError::SessionTerminated(format!(
                "terminating connection because user \"{name}\" was dropped"
            ))),
            IdentityCheck::RoleChanged(role) => Err(CairnError::SessionTerminated(format!(
                "terminating connection because the role of user \"{name}\" changed to {role}; reconnect to continue"
            ))),
        }
    }

    /// Before a statement runs: the session's user is checked, and its
    /// reads will take a snapshot of their own.
    fn begin_statement(&self) -> Result<()> {
        self.check_identity()?;
        // A namespace of the search path created or dropped since the
        // settings were applied changes which one is current.
        if self.settings_applied_at.load(Ordering::Acquire) != self.engine.catalog().schema_version() {
            self.apply_settings();
        }
        self.statement.clear();
        Ok(())
    }

    /// Parses a query string into statements (simple protocol). A
    /// statement whose tokens have a shape seen before is not parsed
    /// again: it runs by that shape's plan ([`crate::shapes`]).
    pub fn parse(&self, sql: &str) -> Result<Vec<Statement>> {
        split_statements(sql)?.into_iter().map(|tokens| self.parse_known(tokens, sql.len())).collect()
    }

    fn parse_known(&self, tokens: Vec<TokenWithSpan>, text_bytes: usize) -> Result<Statement> {
        let hash = TokenShape::hash_of(&tokens);
        let known = self.known_shapes.lock().unwrap_or_else(PoisonError::into_inner).get(&hash).cloned();
        if let Some(known) = known {
            if let Some(literals) = known.shape.literals_of(&tokens) {
                return Ok(Statement::Shaped(Box::new(Shaped { known, literals, tokens, text_bytes })));
            }
        }
        let statement = parse_statement(&tokens, text_bytes)?;
        let Statement::Query(query) = &statement else { return Ok(statement) };
        let Some(shape) = Shape::of(&query.statement, &query.extras) else { return Ok(statement) };
        // Learned, it runs as a shaped statement now too: its shape is
        // not worked out a second time.
        let literals = shape.literals.clone();
        let Some(learned) = TokenShape::learn(&tokens, shape) else { return Ok(statement) };
        let known = Arc::new(KnownShape { shape: learned, plan: Mutex::new(None) });
        self.known_shapes.lock().unwrap_or_else(PoisonError::into_inner).insert(hash, Arc::clone(&known));
        Ok(Statement::Shaped(Box::new(Shaped { known, literals, tokens, text_bytes })))
    }

    /// Runs one statement, keeping the transaction state in step.
    pub async fn execute(&self, statement: Statement) -> Result<Output> {
        self.begin_statement()?;
        self.execute_bound(statement, Vec::new()).await
    }

    /// As `execute`, with the values of the statement's `$n` parameters
    /// (only a `DECLARE`d cursor's query has any).
    async fn execute_bound(&self, statement: Statement, params: Vec<ScalarValue>) -> Result<Output> {
        let tx = self.tx_state();
        if tx == TxState::Failed
            && !matches!(
                statement,
                Statement::Commit | Statement::Rollback | Statement::RollbackTo(_)
            )
        {
            return Err(CairnError::InFailedSqlTransaction);
        }
        let catalog_change = statement.changes_catalog();
        let result = self.run(statement, params).await;
        if result.is_err() {
            self.statement_failed();
        } else if catalog_change {
            // Catalog statements take effect at once, even in a block. A
            // block that has touched no rows yet moves its snapshot past
            // them, so that `BEGIN; ALTER TABLE …; UPDATE …` sees the
            // altered rows.
            if let Some(transaction) = self.transaction.lock().as_mut() {
                transaction.refresh_if_untouched(self.engine.catalog().store());
            }
        }
        result
    }

    /// A query or DML statement of the simple protocol: run by its
    /// shape's plan where it has one ([`crate::shapes`]), else planned as
    /// written.
    async fn run_query(&self, query: Query) -> Result<Output> {
        if let Some(shape) = Shape::of(&query.statement, &query.extras) {
            let plan = self.shape_plan(&shape.key).await;
            if let Some((planned, types)) = &plan.planned {
                if let Some(params) = shapes::bind(&shape.literals, types) {
                    return self.run_plan(planned, params).await;
                }
            }
        }
        let Query { statement, extras } = query;
        let mut guard = self.start_statement();
        let plan = guard.run(plan_query(&self.ctx, statement)).await?;
        let key_read = KeyRead::compile(&plan);
        if let Some(output) = self.run_direct(&plan, key_read.as_ref(), Params(&[]), &extras).await? {
            return Ok(output);
        }
        let df = guard.run(async { self.ctx.execute_logical_plan(plan).await.map_err(from_df) }).await?;
        self.run_dataframe(&self.ctx, df, guard, &extras).await
    }

    /// A statement recognised by its tokens: run by its shape's plan, or
    /// parsed and run as written when its literals do not bind.
    async fn run_shaped(&self, shaped: Shaped) -> Result<Output> {
        let made_under = self.made_under();
        let kept = shaped.known.plan.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let plan = match kept.filter(|plan| plan.made_under == made_under) {
            Some(plan) => plan,
            None => {
                let plan = self.shape_plan(&shaped.known.shape.key).await;
                *shaped.known.plan.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&plan));
                plan
            }
        };
        if let Some((planned, types)) = &plan.planned {
            if let Some(params) = shapes::bind(&shaped.literals, types) {
                return self.run_plan(planned, params).await;
            }
        }
        let statement = parse_statement(&shaped.tokens, shaped.text_bytes)?;
        Box::pin(self.run(statement, Vec::new())).await
    }

    /// The catalog's schema version and the settings' generation: a plan
    /// made under others is made again.
    fn made_under(&self) -> (u64, u64) {
        (self.engine.catalog().schema_version(), self.settings_generation())
    }

    /// The plan of the shape `key`, made on first use and again once the
    /// schema or the settings moved.
    async fn shape_plan(&self, key: &ShapeKey) -> Arc<ShapePlan> {
        // Read before planning: a change while it plans makes it stale.
        let made_under = self.made_under();
        let shapes = || self.shapes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(plan) = shapes().get(key).filter(|plan| plan.made_under == made_under) {
            return Arc::clone(plan);
        }
        let planned = self
            .plan_statement(key.statement(), key.extras().clone())
            .await
            .ok()
            .filter(|(_, types)| shapes::bindable(types));
        let plan = Arc::new(ShapePlan { made_under, planned });
        shapes().insert(key.clone(), Arc::clone(&plan));
        plan
    }

    /// Plans a query or DML statement to run many times: the plan, and the
    /// types inferred for its parameters.
    async fn plan_statement(&self, statement: DfStatement, extras: Extras) -> Result<(Planned, Vec<Option<FieldRef>>)> {
        let plan = plan_query(&self.ctx, statement).await?;
        let plan = type_placeholders_from_casts(plan).map_err(from_df)?;
        let param_types = parameter_types(&plan)?;
        let key_read = KeyRead::compile(&plan);
        Ok((Planned { plan, extras, key_read }, param_types))
    }

    async fn run(&self, statement: Statement, params: Vec<ScalarValue>) -> Result<Output> {
        match statement {
            Statement::Query(query) => self.run_query(*query).await,
            Statement::Shaped(shaped) => self.run_shaped(*shaped).await,
            Statement::ExecuteAs { user, statement } => self.execute_as(&user, *statement).await,
            Statement::Copy(spec) => self.copy(spec).await,
            Statement::NothingToDo { tag } => Ok(Output::command(tag)),
            Statement::Deallocate { name } => Ok(Output::Deallocate { name, tag: "DEALLOCATE", reported: Vec::new() }),
            Statement::DeclareCursor { name, query, hold } => self.declare_cursor(name, *query, hold, params).await,
            Statement::Fetch { name, count } => self.fetch(&name, count).await,
            Statement::CloseCursor(name) => {
                let mut cursors = self.cursors.lock();
                match name {
                    None => cursors.clear(),
                    Some(name) => {
                        cursors.remove(&name).ok_or_else(|| no_cursor(&name))?;
                    }
                }
                let tag = if cursors.is_empty() { "CLOSE CURSOR ALL" } else { "CLOSE CURSOR" };
                drop(cursors);
                self.publish_cursors();
                Ok(Output::command(tag))
            }
            Statement::DiscardAll => {
                if self.state().tx != TxState::Idle {
                    return Err(CairnError::ActiveSqlTransaction(
                        "DISCARD ALL cannot run inside a transaction block".into(),
                    ));
                }
                let reported = self.reset_all_settings();
                self.cursors.lock().clear();
                self.publish_cursors();
                Ok(Output::Deallocate { name: None, tag: "DISCARD ALL", reported })
            }
            Statement::CreateTable { kind, definition } => {
                let spec = parse_create_table(kind, &definition)?;
                let namespace = match spec.namespace {
                    Some(namespace) => namespace,
                    None => self.current_namespace()?,
                };
                let new = NewTable {
                    namespace,
                    name: spec.name,
                    kind: spec.kind,
                    access_level: spec.access_level,
                    ttl_seconds: spec.ttl_seconds,
                    columns: spec.columns,
                    primary_key: spec.primary_key,
                };
                let (actor, if_not_exists) = (self.actor.clone(), spec.if_not_exists);
                self.engine
                    .blocking(move |catalog| catalog.create_table(&actor, new, if_not_exists))
                    .await?;
                Ok(Output::command("CREATE TABLE"))
            }
            Statement::AlterTable(alter) => {
                self.alter_table(alter).await?;
                Ok(Output::command("ALTER TABLE"))
            }
            Statement::DropTable { names, if_exists } => {
                let search_path = self.search_path();
                let actor = self.actor.clone();
                self.engine
                    .blocking(move |catalog| {
                        for (namespace, name) in &names {
                            let namespace = match namespace {
                                Some(namespace) => Some(namespace.clone()),
                                None => search_path
                                    .iter()
                                    .find(|ns| {
                                        matches!(
                                            catalog.table(&catalog.snapshot(), ns, name),
                                            Ok(Some(_))
                                        )
                                    })
                                    .cloned(),
                            };
                            match namespace {
                                Some(namespace) => {
                                    catalog.drop_table(&actor, &namespace, name, if_exists)?;
                                }
                                None if if_exists => {}
                                None => {
                                    return Err(CairnError::UndefinedTable(format!(
                                        "table \"{name}\" does not exist"
                                    )))
                                }
                            }
                        }
                        Ok(())
                    })
                    .await?;
                Ok(Output::command("DROP TABLE"))
            }
            Statement::CreateUser {
                name,
                password,
                role,
                email,
            } => {
                let request = NewUser {
                    username: name,
                    password,
                    role,
                    email,
                };
                let actor = self.actor.clone();
                self.engine
                    .blocking(move |catalog| catalog.create_user(&actor, request))
                    .await?;
                Ok(Output::command("CREATE ROLE"))
            }
            Statement::AlterUser { name, change } => {
                let actor = self.actor.clone();
                self.engine
                    .blocking(move |catalog| catalog.alter_user(&actor, &name, change))
                    .await?;
                Ok(Output::command("ALTER ROLE"))
            }
            Statement::DropUser { names, if_exists } => {
                let actor = self.actor.clone();
                self.engine
                    .blocking(move |catalog| {
                        for name in &names {
                            if !catalog.drop_user(&actor, name, if_exists)? {
                                tracing::info!("user \"{name}\" does not exist, skipping");
                            }
                        }
                        Ok(())
                    })
                    .await?;
                Ok(Output::command("DROP ROLE"))
            }
            Statement::CreateNamespace {
                name,
                if_not_exists,
            } => {
                let actor = self.actor.clone();
                self.engine
                    .blocking(move |catalog| catalog.create_namespace(&actor, &name, if_not_exists))
                    .await?;
                Ok(Output::command("CREATE SCHEMA"))
            }
            Statement::DropNamespace {
                name,
                if_exists,
                cascade,
            } => {
                let actor = self.actor.clone();
                self.engine
                    .blocking(move |catalog| {
                        catalog.drop_namespace(&actor, &name, if_exists, cascade)
                    })
                    .await?;
                Ok(Output::command("DROP SCHEMA"))
            }
            Statement::Use { name } => {
                let catalog = self.engine.catalog();
                if name != SYSTEM_SCHEMA && catalog.namespace(&catalog.snapshot(), &name)?.is_none()
                {
                    return Err(CairnError::InvalidSchemaName(format!(
                        "namespace \"{name}\" does not exist"
                    )));
                }
                self.set("search_path", Some(quote_identifier(&name)), false)
            }
            Statement::Set { name, value, local } => self.set(&name, value, local),
            Statement::SetConfig(calls) => self.set_config(&calls, &params),
            Statement::Reset { name: Some(name) } => {
                let output = self.set(&name, None, false)?;
                Ok(match output {
                    Output::Command { reported, .. } => Output::reported("RESET", reported),
                    other => other,
                })
            }
            Statement::Reset { name: None } => {
                let reported = self.reset_all_settings();
                Ok(Output::reported("RESET", reported))
            }
            Statement::Show { name: Some(name) } => {
                let value = self.state().settings.get(&name)?.to_owned();
                let column = Settings::canonical_name(&name);
                let batch = RecordBatch::try_new(
                    show_schema(&column),
                    vec![Arc::new(StringArray::from(vec![value]))],
                )
                .map_err(|e| CairnError::Internal(e.to_string()))?;
                rows_output("SHOW", batch)
            }
            Statement::Show { name: None } => {
                let all = self.state().settings.all();
                let schema = Arc::new(Schema::new(vec![
                    Field::new("name", DataType::Utf8, false),
                    Field::new("setting", DataType::Utf8, false),
                    Field::new("description", DataType::Utf8, false),
                ]));
                let column = |f: fn(&(String, String, String)) -> &String| {
                    Arc::new(StringArray::from_iter_values(all.iter().map(f))) as _
                };
                let batch = RecordBatch::try_new(
                    schema,
                    vec![column(|r| &r.0), column(|r| &r.1), column(|r| &r.2)],
                )
                .map_err(|e| CairnError::Internal(e.to_string()))?;
                rows_output("SHOW", batch)
            }
            Statement::Begin => {
                let mut state = self.state();
                if state.tx == TxState::Idle {
                    state.settings_at_begin = Some(state.settings.clone());
                    state.tx = TxState::InBlock;
                    self.transaction.begin(self.engine.catalog().store());
                }
                Ok(Output::command("BEGIN"))
            }
            Statement::Commit => {
                let failed = self.tx_state() == TxState::Failed;
                let outcome = match self.transaction.take() {
                    Some(transaction) if !failed => commit(self.engine.catalog().store().clone(), transaction).await,
                    _ => Ok(()),
                };
                // A failed COMMIT ends the transaction too: it rolled back.
                let reported = self.end_transaction(failed || outcome.is_err());
                outcome?;
                Ok(Output::reported(
                    if failed { "ROLLBACK" } else { "COMMIT" },
                    reported,
                ))
            }
            Statement::Rollback => {
                let reported = self.end_transaction(true);
                Ok(Output::reported("ROLLBACK", reported))
            }
            Statement::Savepoint(name) => {
                self.in_transaction("SAVEPOINT", |transaction| {
                    transaction.savepoint(name);
                    Ok(())
                })?;
                Ok(Output::command("SAVEPOINT"))
            }
            Statement::ReleaseSavepoint(name) => {
                self.in_transaction("RELEASE SAVEPOINT", |transaction| {
                    transaction.release(&name)
                })?;
                Ok(Output::command("RELEASE"))
            }
            Statement::RollbackTo(name) => {
                self.in_transaction("ROLLBACK TO SAVEPOINT", |transaction| {
                    transaction.rollback_to(&name)
                })?;
                // Rolling back to a savepoint is how a failed block recovers.
                self.state().tx = TxState::InBlock;
                Ok(Output::command("ROLLBACK"))
            }
        }
    }

    /// Runs `f` on the open transaction; savepoint statements outside a
    /// block fail with 25P01, as in PostgreSQL.
    fn in_transaction(
        &self,
        what: &str,
        f: impl FnOnce(&mut cairn_tables::txn::Transaction) -> Result<()>,
    ) -> Result<()> {
        match self.transaction.lock().as_mut() {
            Some(transaction) => f(transaction),
            None => Err(CairnError::NoActiveSqlTransaction(format!(
                "{what} can only be used in transaction blocks"
            ))),
        }
    }

    /// Leaves the transaction block; on rollback, settings changed inside
    /// it are restored (and the restored reported ones returned).
    fn end_transaction(&self, rollback: bool) -> Vec<ReportedChange> {
        self.transaction.take();
        let closed = {
            let mut cursors = self.cursors.lock();
            let open = cursors.len();
            cursors.retain(|_, cursor| cursor.hold);
            cursors.len() != open
        };
        // Most transactions open no cursor: pg_cursors is rebuilt only if one closed.
        if closed {
            self.publish_cursors();
        }
        let reported = {
            let mut state = self.state();
            state.tx = TxState::Idle;
            let before = state.settings_at_begin.take();
            match before {
                Some(before) if rollback => {
                    let mut reported = Vec::new();
                    for (name, value, _) in before.all() {
                        if state.settings.get(&name).ok() != Some(value.as_str()) {
                            if let Ok(Some(change)) = state.settings.set(&name, Some(value)) {
                                reported.push(change);
                            }
                        }
                    }
                    state.settings = before;
                    reported
                }
                _ => Vec::new(),
            }
        };
        self.apply_settings();
        reported
    }

    fn set(&self, name: &str, value: Option<String>, local: bool) -> Result<Output> {
        let change = {
            let mut state = self.state();
            if local && state.tx == TxState::Idle {
                // As PostgreSQL: SET LOCAL outside a block has no effect.
                return Ok(Output::command("SET"));
            }
            state.settings.set(name, value)?
        };
        self.apply_settings();
        Ok(Output::reported("SET", change.into_iter().collect()))
    }

    /// `SELECT set_config(name, value, is_local), …`: each call as `SET
    /// [LOCAL]`, in order; one row of the values set, as PostgreSQL returns.
    /// (A change to a reported parameter is not sent as ParameterStatus
    /// here, as it is for SET.)
    fn set_config(&self, calls: &[SetConfigCall], params: &[ScalarValue]) -> Result<Output> {
        let resolve = |argument: &Argument| -> Result<Option<String>> {
            match argument {
                Argument::Literal(text) => Ok(Some(text.clone())),
                Argument::Parameter(n) => match params.get(n - 1) {
                    Some(value) if value.is_null() => Ok(None),
                    Some(value) => Ok(Some(value.to_string())),
                    None => Err(CairnError::Syntax(format!("there is no parameter ${n}"))),
                },
            }
        };
        let mut values = Vec::with_capacity(calls.len());
        for call in calls {
            let name = resolve(&call.name)?.ok_or_else(|| {
                CairnError::InvalidParameterValue("set_config: the parameter name must not be NULL".into())
            })?;
            let local = match resolve(&call.local)?.map(|b| b.to_ascii_lowercase()).as_deref() {
                None | Some("false" | "f" | "off" | "no" | "0") => false,
                Some("true" | "t" | "on" | "yes" | "1") => true,
                Some(other) => {
                    return Err(CairnError::InvalidTextRepresentation(format!(
                        "invalid input syntax for type boolean: \"{other}\""
                    )))
                }
            };
            // A NULL value resets the parameter, as in PostgreSQL.
            let value = resolve(&call.value)?;
            self.set(&name, value.clone(), local)?;
            let now = self.state().settings.get(&name).map(str::to_owned);
            values.push(now.ok().or(value).unwrap_or_default());
        }
        let columns = values.into_iter().map(|v| Arc::new(StringArray::from(vec![v])) as datafusion::arrow::array::ArrayRef).collect();
        let batch = RecordBatch::try_new(set_config_schema(calls), columns)
            .map_err(|e| CairnError::Internal(e.to_string()))?;
        rows_output("SELECT", batch)
    }

    /// Parses and plans `sql` once (extended protocol Parse).
    pub async fn prepare(&self, sql: &str) -> Result<Prepared> {
        self.check_identity()?;
        let mut statements = parse_statements(sql)?;
        let statement = match statements.len() {
            0 => {
                return Ok(Prepared {
                    kind: PreparedKind::Empty,
                    param_types: vec![],
                    schema: Arc::new(Schema::empty()),
                })
            }
            1 => statements.remove(0),
            _ => {
                return Err(CairnError::Syntax(
                    "cannot insert multiple commands into a prepared statement".into(),
                ))
            }
        };
        match statement {
            Statement::Query(query) => {
                let Query { statement, extras } = *query;
                let (planned, param_types) = self.plan_statement(statement, extras).await?;
                let schema = described_schema(&self.ctx, &planned.plan, &planned.extras)?;
                Ok(Prepared { kind: PreparedKind::Plan(Box::new(planned)), param_types, schema })
            }
            Statement::ExecuteAs { ref user, statement: ref inner } => {
                let schema = match inner.as_ref() {
                    Statement::Query(query) => {
                        let ctx = self.context_as(user)?;
                        let plan = plan_query(&ctx, query.statement.clone()).await?;
                        described_schema(&ctx, &plan, &query.extras)?
                    }
                    _ => Arc::new(Schema::empty()),
                };
                Ok(Prepared { kind: PreparedKind::Statement(statement), param_types: vec![], schema })
            }
            Statement::Show { name } => {
                let schema = match &name {
                    Some(name) => show_schema(&Settings::canonical_name(name)),
                    None => Arc::new(Schema::new(vec![
                        Field::new("name", DataType::Utf8, false),
                        Field::new("setting", DataType::Utf8, false),
                        Field::new("description", DataType::Utf8, false),
                    ])),
                };
                Ok(Prepared {
                    kind: PreparedKind::Statement(Statement::Show { name }),
                    param_types: vec![],
                    schema,
                })
            }
            Statement::DeclareCursor { ref query, .. } => {
                let plan = plan_query(&self.ctx, query.as_ref().clone()).await?;
                let plan = type_placeholders_from_casts(plan).map_err(from_df)?;
                Ok(Prepared {
                    param_types: parameter_types(&plan)?,
                    kind: PreparedKind::Statement(statement),
                    schema: Arc::new(Schema::empty()),
                })
            }
            Statement::SetConfig(ref calls) => {
                let mut param_types: Vec<Option<FieldRef>> = Vec::new();
                for call in calls {
                    let typed = [(&call.name, DataType::Utf8), (&call.value, DataType::Utf8), (&call.local, DataType::Boolean)];
                    for (argument, data_type) in typed {
                        if let Argument::Parameter(n) = argument {
                            if *n > param_types.len() {
                                param_types.resize(*n, None);
                            }
                            param_types[n - 1] = Some(Arc::new(Field::new(format!("${n}"), data_type, true)));
                        }
                    }
                }
                Ok(Prepared { param_types, schema: set_config_schema(calls), kind: PreparedKind::Statement(statement) })
            }
            Statement::Fetch { ref name, .. } => Ok(Prepared {
                schema: self.cursor_schema(name).ok_or_else(|| no_cursor(name))?,
                kind: PreparedKind::Statement(statement),
                param_types: vec![],
            }),
            other => Ok(Prepared {
                kind: PreparedKind::Statement(other),
                param_types: vec![],
                schema: Arc::new(Schema::empty()),
            }),
        }
    }

    /// Executes a prepared statement with its parameters bound.
    pub async fn execute_prepared(
        &self,
        prepared: &Prepared,
        params: Vec<ScalarValue>,
    ) -> Result<Output> {
        self.begin_statement()?;
        match &prepared.kind {
            PreparedKind::Empty => Ok(Output::command("")),
            // Boxed: the general paths' futures are large, and moving this
            // one by value on every execution copied them (2% of a point
            // select, in `memmove`).
            PreparedKind::Statement(statement) => Box::pin(self.execute_bound(statement.clone(), params)).await,
            PreparedKind::Plan(planned) => {
                if self.tx_state() == TxState::Failed {
                    return Err(CairnError::InFailedSqlTransaction);
                }
                let result = self.run_plan(planned, params).await;
                if result.is_err() {
                    self.statement_failed();
                }
                result
            }
        }
    }

    /// Runs `plan` on the direct path ([`cairn_tables::direct`]) if it is a key
    /// read or an INSERT … VALUES (without RETURNING or ON CONFLICT).
    async fn run_direct(
        &self,
        plan: &LogicalPlan,
        key_read: Option<&KeyRead>,
        params: Params<'_>,
        extras: &Extras,
    ) -> Result<Option<Output>> {
        if let Some(batch) = key_read.map(|read| read.read(params)).transpose()?.flatten() {
            return rows_output("SELECT", batch).map(Some);
        }
        if extras.returning.is_some() || extras.on_conflict.is_some() {
            return Ok(None);
        }
        let written = cairn_tables::direct::insert_values(plan, params, &self.ctx).await?;
        Ok(written.map(|rows| Output::Command { tag: "INSERT 0", rows: Some(rows), reported: Vec::new() }))
    }

    async fn run_plan(&self, planned: &Planned, params: Vec<ScalarValue>) -> Result<Output> {
        let Planned { plan, extras, key_read } = planned;
        // The direct path's one await is its commit's sync, which a cancel
        // must not cut short; arming cancel and timeout for it cost a
        // one-row insert 4% of its CPU.
        if let Some(output) = self.run_direct(plan, key_read.as_ref(), Params(&params), extras).await? {
            return Ok(output);
        }
        Box::pin(self.run_planned(plan, params, extras)).await
    }

    /// A plan that is not for the direct path, through DataFusion.
    async fn run_planned(&self, plan: &LogicalPlan, params: Vec<ScalarValue>, extras: &Extras) -> Result<Output> {
        let mut guard = self.start_statement();
        // Binding rewrites every expression and schema of the plan: a plan
        // without parameters (a shape with no literals) skips it.
        let plan = match params.is_empty() {
            true => plan.clone(),
            false => plan.clone().with_param_values(ParamValues::from(params)).map_err(from_df)?,
        };
        let df = guard.run(async { self.ctx.execute_logical_plan(plan).await.map_err(from_df) }).await?;
        self.run_dataframe(&self.ctx, df, guard, extras).await
    }

    /// `EXECUTE AS USER 'name' (statement)`: one query or DML statement run
    /// with `name`'s view of every table (its partition of user tables, its
    /// access to shared ones), by a service or an administrator.
    async fn execute_as(&self, username: &str, statement: Statement) -> Result<Output> {
        let ctx = self.context_as(username)?;
        let Query { statement, extras } = match statement {
            Statement::Query(query) => *query,
            _ => {
                return Err(CairnError::FeatureNotSupported(
                    "EXECUTE AS USER runs one SELECT, INSERT, UPDATE or DELETE".into(),
                ))
            }
        };
        let mut guard = self.start_statement();
        let df = guard.run(plan_sql(&ctx, statement)).await?;
        self.run_dataframe(&ctx, df, guard, &extras).await
    }

    /// A planning context with `username`'s view of every table, for
    /// `EXECUTE AS USER`, once the session's user may act as them.
    fn context_as(&self, username: &str) -> Result<SessionContext> {
        let catalog = self.engine.catalog();
        let target = catalog
            .live_user(&catalog.snapshot(), username)?
            .ok_or_else(|| {
                cairn_catalog::access::unknown_user(&self.actor, username, cairn_catalog::access::UserOp::ExecuteAs)
            })?;
        cairn_catalog::access::check_execute_as(&self.actor, &target)?;
        let target = Actor::of(&target);
        let ctx = build_context(&self.engine, &target, &self.transaction, &self.statement, &self.insert)?;
        let settings = self.state().settings.clone();
        configure_context(&ctx, catalog, &settings, &target.username, &self.database);
        Ok(ctx)
    }

    /// Runs a planned statement: an INSERT to completion (one atomic
    /// write, answered with its row count), a query as a guarded stream.
    async fn run_dataframe(
        &self,
        ctx: &SessionContext,
        df: DataFrame,
        mut guard: StatementGuard,
        extras: &Extras,
    ) -> Result<Output> {
        if let LogicalPlan::Dml(dml) = df.logical_plan() {
            if matches!(dml.op, WriteOp::Update | WriteOp::Delete) {
                return self
                    .update_or_delete(ctx, dml.clone(), guard, extras.returning.as_ref())
                    .await;
            }
            let def = match extras.returning.is_some() || extras.on_conflict.is_some() {
                true => Some(target_def(df.logical_plan())?),
                false => None,
            };
            let on_conflict = match (&extras.on_conflict, &def) {
                (Some(on_conflict), Some(def)) => Some(conflict_action(ctx, on_conflict, def)?),
                _ => None,
            };
            let returned = extras.returning.as_ref().map(|_| Vec::new());
            let gate = begin_insert(&self.insert, InsertOptions { on_conflict, returned, ..Default::default() });
            let outcome = guard.run_write(&gate, crate::compute::collect(&self.engine.compute, df)).await;
            let options = end_insert(&self.insert, gate);
            let batches = outcome?;
            if let (Some(returning), Some(def)) = (&extras.returning, &def) {
                return rows_output(
                    "INSERT 0",
                    returning
                        .batch(ctx, def, &options.returned.unwrap_or_default())
                        .await?,
                );
            }
            return Ok(Output::Command {
                tag: "INSERT 0",
                rows: Some(inserted_count(&batches)),
                reported: Vec::new(),
            });
        }
        let stream = guard.run(crate::compute::execute_stream(&self.engine.compute, df)).await?;
        let schema = stream.schema();
        Ok(Output::Rows {
            tag: "SELECT",
            schema,
            stream: Box::pin(GuardedStream::new(stream, guard)),
        })
    }

    /// UPDATE and DELETE run the statement's own input plan (the table scan
    /// with the full WHERE, subqueries and joins included) to find the
    /// rows, then write them by key. DataFusion's provider hooks would
    /// receive a WHERE with a subquery as no filter at all and apply the
    /// statement to every row; this way the filter cannot be lost.
    ///
    /// Outside a transaction block the statement runs as its own
    /// transaction, so that rows it read and rewrites cannot have changed
    /// in between (no lost updates); on a conflict it simply runs again.
    async fn update_or_delete(
        &self,
        ctx: &SessionContext,
        dml: DmlStatement,
        mut guard: StatementGuard,
        returning: Option<&Returning>,
    ) -> Result<Output> {
        let provider = source_as_provider(&dml.target).map_err(from_df)?;
        let Some(table) = provider.downcast_ref::<DataTable>() else {
            return Err(CairnError::FeatureNotSupported(format!(
                "{} on {} is not supported",
                dml.op, dml.table_name
            )));
        };
        let is_update = dml.op == WriteOp::Update;
        let input = match is_update {
            true => with_old_values(table.def(), &dml.input)?,
            false => Arc::unwrap_or_clone(dml.input),
        };
        let implicit = self.tx_state() == TxState::Idle;
        let mut attempts = 0;
        let mut turn = None;
        let rows = loop {
            attempts += 1;
            if attempts > 1 && turn.is_none() {
                turn = Some(self.engine.retry_turn.lock().await);
            }
            if implicit {
                self.transaction.begin(self.engine.catalog().store());
            }
            let outcome = async {
                let batches = match cairn_tables::direct::dml_rows(&input, ctx)? {
                    Some(batches) => batches,
                    None => {
                        let input = input.clone();
                        guard
                            .run(async {
                                let df = ctx.execute_logical_plan(input).await.map_err(from_df)?;
                                crate::compute::collect(&self.engine.compute, df).await
                            })
                            .await?
                    }
                };
                match is_update {
                    true => table.update_rows(batches).await,
                    false => table.delete_rows(batches).await,
                }
            }
            .await;
            let outcome = match implicit {
                true => match (outcome, self.transaction.take()) {
                    (Ok(rows), Some(transaction)) => {
                        commit(self.engine.catalog().store().clone(), transaction).await.map(|()| rows)
                    }
                    (outcome, _) => outcome,
                },
                false => outcome,
            };
            match outcome {
                Err(CairnError::SerializationFailure)
                    if implicit && attempts < IMPLICIT_ATTEMPTS =>
                {
                    // A short, growing, jittered pause keeps retrying writers from colliding again.
                    let jitter = u64::from(
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap_or_default()
                            .subsec_nanos()
                            % 1000,
                    );
                    tokio::time::sleep(std::time::Duration::from_micros(jitter * attempts as u64))
                        .await;
                    continue;
                }
                other => break other?,
            }
        };
        drop(turn);
        let tag = if is_update { "UPDATE" } else { "DELETE" };
        match returning {
            Some(returning) => rows_output(tag, returning.batch(ctx, table.def(), &rows).await?),
            None => Ok(Output::Command {
                tag,
                rows: Some(rows.len() as u64),
                reported: Vec::new(),
            }),
        }
    }

    async fn alter_table(&self, alter: AlterTable) -> Result<()> {
        let catalog = Arc::clone(self.engine.catalog());
        let namespace = match &alter.namespace {
            Some(namespace) => namespace.clone(),
            None => {
                let snapshot = catalog.snapshot();
                let search_path = self.search_path();
                let found = search_path
                    .iter()
                    .find(|ns| matches!(catalog.table(&snapshot, ns, &alter.name), Ok(Some(_))));
                match found {
                    Some(namespace) => namespace.clone(),
                    None if alter.if_exists => return Ok(()),
                    None => {
                        return Err(CairnError::UndefinedTable(format!(
                            "relation \"{}\" does not exist",
                            alter.name
                        )))
                    }
                }
            }
        };
        // What rows that exist get in each added column, evaluated here
        // (DataFusion) before the catalog write.
        let mut fills = Vec::with_capacity(alter.changes.len());
        for change in &alter.changes {
            fills.push(match change {
                TableChange::AddColumn { column, .. } => match &column.default {
                    Some(sql) => self.fill_for(column, sql).await?,
                    None => Fill::Null,
                },
                _ => Fill::Null,
            });
        }
        let actor = self.actor.clone();
        self.engine
            .blocking(move |catalog| {
                catalog.alter_table(
                    &actor,
                    &namespace,
                    &alter.name,
                    alter.if_exists,
                    |def, w| crate::alter::apply(def, w, &alter.changes, &fills),
                )
            })
            .await?;
        Ok(())
    }

    /// The value(s) a column added with `default` gives the rows that exist.
    async fn fill_for(&self, column: &cairn_types::ColumnDef, default: &str) -> Result<Fill> {
        if let Some(make) = cairn_tables::defaults::per_row(default)? {
            return Ok(Fill::PerRow(Box::new(move || Ok(make()))));
        }
        let snowflake = Arc::new(snowflake_udf());
        let expr = cairn_tables::defaults::to_expr(default, &self.actor.username, &snowflake)?;
        let target = cairn_tables::values::arrow_type(&column.data_type)?;
        if expr.is_volatile() {
            // Evaluated for each row, on a row of no columns.
            let cast = datafusion::logical_expr::cast(expr, target);
            let physical = self.ctx.create_physical_expr(cast, &datafusion::common::DFSchema::empty()).map_err(from_df)?;
            let data_type = column.data_type.clone();
            return Ok(Fill::PerRow(Box::new(move || {
                let options = datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(1));
                let one_row = RecordBatch::try_new_with_options(Arc::new(Schema::empty()), Vec::new(), &options)
                    .map_err(|e| CairnError::Internal(e.to_string()))?;
                let value = physical.evaluate(&one_row).and_then(|value| value.into_array(1)).map_err(from_df)?;
                cairn_tables::values::read_value(&value, &data_type, 0)
            })));
        }
        let batches = self
            .ctx
            .read_empty()
            .and_then(|df| {
                df.select(vec![
                    datafusion::logical_expr::cast(expr, target).alias("fill")
                ])
            })
            .map_err(from_df)?
            .collect()
            .await
            .map_err(from_df)?;
        let batch = batches
            .first()
            .ok_or_else(|| CairnError::Internal("default evaluated to no row".into()))?;
        Ok(Fill::Same(cairn_tables::values::read_value(
            batch.column(0),
            &column.data_type,
            0,
        )?))
    }

    /// The namespaces of the session's `search_path` that exist.
    fn search_path(&self) -> Vec<String> {
        let settings = self.state().settings.clone();
        effective_search_path(self.engine.catalog(), &settings, &self.actor.username)
    }

    /// The namespace new tables go to: the first of `search_path` that
    /// exists.
    fn current_namespace(&self) -> Result<String> {
        self.search_path().into_iter().next().ok_or_else(|| {
            CairnError::InvalidSchemaName("no schema has been selected to create in".into())
        })
    }
}

/// The row count an insert plan reports (one UInt64 per partition).
fn inserted_count(batches: &[RecordBatch]) -> u64 {
    batches
        .iter()
        .filter_map(|batch| {
            batch
                .column(0)
                .as_primitive_opt::<UInt64Type>()
                .map(|c| c.iter().flatten().sum::<u64>())
        })
        .sum()
}

/// The definition of the CairnDB table a DML plan writes to.
fn target_def(plan: &LogicalPlan) -> Result<cairn_types::TableDef> {
    let LogicalPlan::Dml(dml) = plan else {
        return Err(CairnError::Syntax(
            "RETURNING needs INSERT, UPDATE or DELETE".into(),
        ));
    };
    let provider = source_as_provider(&dml.target).map_err(from_df)?;
    match provider.downcast_ref::<DataTable>() {
        Some(table) => Ok(table.def().clone()),
        None => Err(CairnError::FeatureNotSupported(format!(
            "{} on {} is not supported",
            dml.op, dml.table_name
        ))),
    }
}

/// Rows computed here (SHOW, a direct read, RETURNING), as one batch.
fn rows_output(tag: &'static str, batch: RecordBatch) -> Result<Output> {
    let schema = batch.schema();
    let stream = MemoryStream::try_new(vec![batch], Arc::clone(&schema), None)
        .map_err(|e| CairnError::Internal(e.to_string()))?;
    Ok(Output::Rows {
        tag,
        schema,
        stream: Box::pin(stream),
    })
}

/// An UPDATE's input projects every column's new value; this adds every
/// column's old value after them, so the rows can be found by their old
/// key (which the update may change) or, without a key, by their values.
fn with_old_values(def: &cairn_types::TableDef, input: &LogicalPlan) -> Result<LogicalPlan> {
    use datafusion::logical_expr::{Expr, Projection};
    let LogicalPlan::Projection(projection) = input else {
        return Err(CairnError::Internal("UPDATE without a projection".into()));
    };
    let source = projection.input.schema();
    let mut expr = projection.expr.clone();
    for (i, column) in def.columns.iter().enumerate() {
        let (qualifier, field) = source
            .qualified_field_with_unqualified_name(&column.name)
            .map_err(|_| {
                CairnError::FeatureNotSupported(format!(
                    "UPDATE where column \"{}\" is ambiguous is not supported",
                    column.name
                ))
            })?;
        let old = datafusion::common::Column::new(qualifier.cloned(), field.name());
        expr.push(Expr::Column(old).alias(format!("__cairn_old_{i}")));
    }
    Projection::try_new(expr, Arc::clone(&projection.input))
        .map(LogicalPlan::Projection)
        .map_err(from_df)
}

/// Gives `$n::type` placeholders the type of their cast, as PostgreSQL
/// infers it (drivers describe the statement and then send that type).
/// DataFusion leaves such placeholders untyped.
fn type_placeholders_from_casts(plan: LogicalPlan) -> datafusion::error::Result<LogicalPlan> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    use datafusion::logical_expr::expr::{Cast, Placeholder};
    use datafusion::logical_expr::Expr;

    let typed = plan.transform_up_with_subqueries(|node| {
        node.map_expressions(|expr| {
            expr.transform_up(|expr| match expr {
                Expr::Cast(Cast { expr: inner, field }) => match *inner {
                    Expr::Placeholder(Placeholder { id, field: None }) => {
                        let typed = Placeholder::new_with_field(id, Some(Arc::clone(&field)));
                        Ok(Transformed::yes(Expr::Cast(Cast {
                            expr: Box::new(Expr::Placeholder(typed)),
                            field,
                        })))
                    }
                    other => Ok(Transformed::no(Expr::Cast(Cast {
                        expr: Box::new(other),
                        field,
                    }))),
                },
                other => Ok(Transformed::no(other)),
            })
        })
    })?;
    Ok(typed.data)
}

/// Starts an INSERT or COPY with `options` in the session's slot, where
/// its sink reads them, and a new [`WriteGate`] for its guard.
pub(crate) fn begin_insert(slot: &InsertSlot, options: InsertOptions) -> WriteGate {
    let gate = WriteGate::default();
    *slot.lock().unwrap_or_else(PoisonError::into_inner) = InsertOptions { gate: gate.clone(), ..options };
    gate
}

/// Ends an INSERT or COPY that ran with `gate`: returns what its sink left
/// in the session's slot (RETURNING rows), and leaves the closed gate
/// there. A compute task the statement left behind (stopped, its answer
/// given) may yet reach the sink; it must find this gate, not a fresh one.
pub(crate) fn end_insert(slot: &InsertSlot, gate: WriteGate) -> InsertOptions {
    gate.stop();
    let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
    std::mem::replace(&mut *slot, InsertOptions { gate, ..Default::default() })
}
