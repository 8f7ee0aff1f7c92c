//! pgwire handlers: a thin mapping from protocol messages onto a
//! [`Session`]. No SQL logic lives here.
//!
//! - startup: cleartext password, verified by the catalog (scrypt), then a
//!   session is opened and kept in the connection's extensions;
//! - simple query: statements run one after another, results stream batch
//!   by batch, the first error stops the rest (as in PostgreSQL);
//! - extended query: Parse plans once ([`Session::prepare`]), Bind/Execute
//!   run the plan with typed parameters;
//! - cancel: a CancelRequest (on its own connection) fires the session's
//!   statement token.
//!
//! A panic inside a statement becomes an XX000 error on that connection.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Debug;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use async_trait::async_trait;
use cairn_sql::settings::ReportedChange;
use cairn_sql::statement::Statement;
use cairn_sql::{CopyIn, Engine, Output, Prepared, Session, SessionParams, TxState};
use cairn_types::{CairnError, SessionId};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::ScalarValue;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::{FutureExt, Sink, SinkExt, StreamExt};
use pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata,
    ServerParameterProvider, StartupHandler,
};
use pgwire::api::cancel::CancelHandler;
use pgwire::api::portal::{Format, Portal, PortalExecutionState};
use pgwire::api::copy::send_copy_in_response;
use pgwire::api::query::{send_execution_response, ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{CopyResponse, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{
    ClientInfo, ClientPortalStore, PgWireConnectionState, PidSecretKeyGenerator,
    RandomPidSecretKeyGenerator, Type, DEFAULT_NAME, METADATA_DATABASE, METADATA_USER,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::copy::CopyInResponse;
use pgwire::api::store::Entry;
use pgwire::messages::data::{NoData, ParameterDescription, RowDescription};
use pgwire::api::stmt::StoredStatement;
use pgwire::messages::extendedquery::{Bind, BindComplete, Describe, Execute, Parse, ParseComplete, Sync as PgSync, TARGET_TYPE_BYTE_PORTAL, TARGET_TYPE_BYTE_STATEMENT};
use pgwire::messages::response::{EmptyQueryResponse, ReadyForQuery, TransactionStatus};
use pgwire::messages::simplequery::Query;
use pgwire::messages::startup::{Authentication, ParameterStatus, SecretKey};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::types::format::FormatOptions;

use crate::copy::{park_copy_in, send_copy_out};
use crate::deferred::Deferred;
use crate::encode::{encode_batch, fields, next_rows};
use crate::errors::{error_info, to_pg, SEVERITY_ERROR, SEVERITY_FATAL};
use crate::framing::InvalidText;
use crate::types::{decode_parameter, pg_type_of_field};

/// How passwords may travel.
#[derive(Debug, Clone, Copy)]
pub struct AuthPolicy {
    /// Accept a cleartext password from a non-loopback client on a
    /// connection without TLS. Off by default.
    pub allow_insecure_remote: bool,
}

/// What a connection keeps after startup.
pub(crate) struct Connection {
    pub session: Arc<Session>,
    /// A `COPY … FROM STDIN` receiving its data.
    copy_in: Mutex<Option<Box<CopyIn>>>,
    /// Names of the statements the client prepared (Parse), for
    /// `DEALLOCATE ALL`: pgwire's store cannot list them.
    prepared: Mutex<std::collections::BTreeSet<String>>,
    /// The format options and the settings generation they were built at
    /// (0: none yet).
    format: Mutex<(u64, Arc<FormatOptions>)>,
    _cancel: CancelRegistration,
}

impl Connection {
    pub fn copy_in(&self) -> std::sync::MutexGuard<'_, Option<Box<CopyIn>>> {
        self.copy_in.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How values are written as text, from the session's settings; built
    /// again only when they change (building it was 5% of a point select).
    pub(crate) fn format_options(&self) -> Arc<FormatOptions> {
        let generation = self.session.settings_generation();
        let mut format = self.format.lock().unwrap_or_else(PoisonError::into_inner);
        if format.0 != generation {
            *format = (generation, format_options(&self.session));
        }
        Arc::clone(&format.1)
    }
}

/// How a simple query goes on after one of its statements.
enum Flow {
    Next,
    /// A COPY FROM STDIN started: the client sends data next, and
    /// ReadyForQuery waits for its end.
    CopyIn,
}

/// A cancellable backend: its secret key (as bytes, whatever its protocol
/// form) and its session.
type CancelTarget = (Vec<u8>, Weak<Session>);

/// Sessions by backend pid, for CancelRequests.
#[derive(Default, Clone)]
struct CancelRegistry {
    sessions: Arc<Mutex<HashMap<i32, CancelTarget>>>,
}

struct CancelRegistration {
    registry: CancelRegistry,
    pid: i32,
}

impl Drop for CancelRegistration {
    fn drop(&mut self) {
        self.registry.sessions.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.pid);
    }
}

impl CancelRegistry {
    fn register(&self, pid: i32, secret: &SecretKey, session: &Arc<Session>) -> CancelRegistration {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(pid, (secret.to_bytes().to_vec(), Arc::downgrade(session)));
        CancelRegistration { registry: self.clone(), pid }
    }

    fn cancel(&self, pid: i32, secret: &SecretKey) {
        let target = {
            let sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
            sessions
                .get(&pid)
                .filter(|(key, _)| key.as_slice() == secret.to_bytes().as_ref())
                .and_then(|(_, session)| session.upgrade())
        };
        match target {
            Some(session) => session.cancel(),
            None => tracing::debug!(pid, "cancel request for an unknown backend or with a wrong key"),
        }
    }
}

/// What every connection's handler shares.
pub struct Frontend {
    engine: Arc<Engine>,
    policy: AuthPolicy,
    cancels: CancelRegistry,
    pids: Arc<RandomPidSecretKeyGenerator>,
}

impl Frontend {
    pub fn new(engine: Arc<Engine>, policy: AuthPolicy) -> Frontend {
        Frontend { engine, policy, cancels: CancelRegistry::default(), pids: Arc::default() }
    }

    /// The handler set for one connection. pgwire clones every handler's
    /// `Arc` for each message it reads; one `Arc` shared by all
    /// connections put those reference counts on one cache line bouncing
    /// between the cores (4% of a point select), so each connection gets
    /// its own, which also holds the connection's session once it has
    /// authenticated.
    pub fn for_connection(self: &Arc<Self>) -> Wire {
        let connection = ConnectionSlot::default();
        let invalid_text = InvalidText::default();
        Wire(Arc::new(Handler {
            frontend: Arc::clone(self),
            parser: Arc::new(Parser { connection: connection.clone(), invalid_text: invalid_text.clone() }),
            connection,
            invalid_text,
        }))
    }
}

/// The handlers of one connection.
pub struct Handler {
    frontend: Arc<Frontend>,
    parser: Arc<Parser>,
    connection: ConnectionSlot,
    /// Query texts the frame guard found not to be UTF-8.
    invalid_text: InvalidText,
}

/// A connection's session and state, set once it has authenticated. It
/// lives in the connection's handlers rather than in pgwire's session
/// extensions, whose lookup (a lock and a map of types) every message paid.
#[derive(Default, Clone)]
struct ConnectionSlot(Arc<OnceLock<Connection>>);

impl ConnectionSlot {
    fn get(&self) -> PgWireResult<&Connection> {
        self.0.get().ok_or(PgWireError::NotReadyForQuery)
    }
}

impl Handler {
    pub(crate) fn connection(&self) -> PgWireResult<&Connection> {
        self.connection.get()
    }

    /// Whether the client has logged in (the frame guard allows large
    /// messages only then).
    pub(crate) fn authenticated(&self) -> Arc<dyn Fn() -> bool + Send + Sync> {
        let slot = self.connection.clone();
        Arc::new(move || slot.0.get().is_some())
    }

    pub(crate) fn invalid_text(&self) -> InvalidText {
        self.invalid_text.clone()
    }
}

/// 22021 for a query text the client sent as invalid UTF-8.
fn not_utf8(invalid_text: &InvalidText, text: &str) -> Result<(), CairnError> {
    match invalid_text.take(text) {
        Some(message) => Err(CairnError::CharacterNotInRepertoire(message)),
        None => Ok(()),
    }
}

/// The handler our connection loop ([`crate::connection`]) hands
/// pgwire's message processing.
#[derive(Clone)]
pub struct Wire(pub Arc<Handler>);

pub(crate) fn transaction_status(state: TxState) -> TransactionStatus {
    match state {
        TxState::Idle => TransactionStatus::Idle,
        TxState::InBlock => TransactionStatus::Transaction,
        TxState::Failed => TransactionStatus::Error,
    }
}

fn format_options(session: &Session) -> Arc<FormatOptions> {
    let mut options = FormatOptions::default();
    if let Some(date_style) = session.setting("datestyle") {
        options.date_style = date_style;
    }
    if let Some(digits) = session.setting("extra_float_digits").and_then(|d| d.parse().ok()) {
        options.extra_float_digits = digits;
    }
    if let Some(time_zone) = session.setting("timezone") {
        options.time_zone = time_zone;
    }
    Arc::new(options)
}

/// Tells the client about parameters a statement changed (ParameterStatus).
async fn report_parameters<C>(client: &mut C, changes: Vec<ReportedChange>) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    for change in changes {
        let status = ParameterStatus::new(change.name.to_owned(), change.value);
        client.feed(PgWireBackendMessage::ParameterStatus(status)).await?;
    }
    Ok(())
}

fn command_tag(tag: &str, rows: Option<u64>) -> Tag {
    match rows {
        Some(rows) => Tag::new(tag).with_rows(usize::try_from(rows).unwrap_or(usize::MAX)),
        None => Tag::new(tag),
    }
}

pub(crate) use cairn_sql::error::panicked;

/// The server parameters sent after authentication.
struct StartupParameters(HashMap<String, String>);

impl ServerParameterProvider for StartupParameters {
    fn server_parameters<C: ClientInfo>(&self, _client: &C) -> Option<HashMap<String, String>> {
        Some(self.0.clone())
    }
}

fn startup_parameters(session: &Session) -> StartupParameters {
    let mut parameters = HashMap::new();
    for name in [
        "server_version",
        "server_encoding",
        "client_encoding",
        "DateStyle",
        "TimeZone",
        "IntervalStyle",
        "integer_datetimes",
        "standard_conforming_strings",
        "application_name",
        "is_superuser",
        "session_authorization",
    ] {
        if let Some(value) = session.setting(name) {
            parameters.insert(name.to_owned(), value);
        }
    }
    parameters.insert("in_hot_standby".into(), "off".into());
    parameters.insert("default_transaction_read_only".into(), "off".into());
    StartupParameters(parameters)
}

impl Handler {
    fn cleartext_allowed<C: ClientInfo>(&self, client: &C) -> bool {
        client.is_secure() || client.socket_addr().ip().is_loopback() || self.frontend.policy.allow_insecure_remote
    }

    async fn authenticate<C>(&self, client: &mut C, password: String) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let metadata = client.metadata();
        let username = metadata.get(METADATA_USER).cloned().unwrap_or_default();
        let database = metadata.get(METADATA_DATABASE).cloned().unwrap_or_else(|| username.clone());
        let startup: Vec<(String, String)> = metadata
            .iter()
            .filter(|(name, _)| !matches!(name.as_str(), "user" | "database" | "options" | "replication"))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let user = self.frontend.engine.authenticate(&username, &password).await.map_err(|e| to_pg(&e))?;
        let (pid, secret) = self.frontend.pids.generate(client);
        client.set_pid_and_secret_key(pid, secret.clone());
        let params = SessionParams {
            session_id: SessionId(u64::try_from(pid).unwrap_or_default()),
            client_addr: client.socket_addr().to_string(),
            database,
            startup,
        };
        let session = Arc::new(self.frontend.engine.open_session(&user, params).map_err(|e| {
            let mut info = error_info(&e);
            info.severity = SEVERITY_FATAL.into();
            PgWireError::UserError(Box::new(info))
        })?);
        let registration = self.frontend.cancels.register(pid, &secret, &session);
        let parameters = startup_parameters(&session);
        let connection = Connection {
            session,
            copy_in: Mutex::new(None),
            prepared: Mutex::default(),
            format: Mutex::default(),
            _cancel: registration,
        };
        if self.connection.0.set(connection).is_err() {
            return Err(PgWireError::ApiError("a connection authenticated twice".into()));
        }
        tracing::info!(user = %username, pid, peer = %client.socket_addr(), "session started");
        finish_authentication(client, &parameters).await
    }

    /// Runs one statement of a simple query and sends what it produced.
    /// The outer error is the connection's; the inner one the statement's.
    async fn run_simple<C>(
        &self,
        client: &mut C,
        session: &Session,
        statement: Statement,
    ) -> PgWireResult<Result<Flow, CairnError>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let output = match AssertUnwindSafe(session.execute(statement)).catch_unwind().await {
            Ok(Ok(output)) => output,
            Ok(Err(error)) => return Ok(Err(error)),
            Err(_) => return Ok(Err(panicked())),
        };
        match output {
            Output::Command { tag, rows, reported } => {
                report_parameters(client, reported).await?;
                client.feed(PgWireBackendMessage::CommandComplete(command_tag(tag, rows).into())).await?;
                Ok(Ok(Flow::Next))
            }
            Output::CopyOut { options, schema, stream } => {
                let rows = match send_copy_out(client, self.connection()?, &options, schema, stream).await? {
                    Ok(rows) => rows,
                    Err(error) => return Ok(Err(error)),
                };
                client.feed(PgWireBackendMessage::CommandComplete(Tag::new("COPY").with_rows(rows).into())).await?;
                Ok(Ok(Flow::Next))
            }
            Output::Deallocate { name, tag, reported } => {
                deallocate(client, self.connection()?, name)?;
                report_parameters(client, reported).await?;
                client.feed(PgWireBackendMessage::CommandComplete(Tag::new(tag).into())).await?;
                Ok(Ok(Flow::Next))
            }
            Output::CopyIn(copy) => {
                let (format, columns) = park_copy_in(self.connection()?, copy);
                let response = CopyInResponse::new(format, columns as i16, vec![i16::from(format); columns]);
                client.send(PgWireBackendMessage::CopyInResponse(response)).await?;
                Ok(Ok(Flow::CopyIn))
            }
            Output::Rows { tag, schema, stream } => {
                let fields = Arc::new(fields(&schema, &Format::UnifiedText, &self.connection()?.format_options()));
                let description = pgwire::messages::data::RowDescription::new(
                    fields.iter().map(Into::into).collect(),
                );
                client.feed(PgWireBackendMessage::RowDescription(description)).await?;
                let mut stream = stream;
                let rows = match send_rows(client, &mut stream, &fields).await? {
                    Ok(rows) => rows,
                    Err(error) => return Ok(Err(error)),
                };
                let tag = match tag {
                    "SELECT" | "INSERT 0" | "UPDATE" | "DELETE" => Tag::new(tag).with_rows(rows),
                    _ => Tag::new(tag),
                };
                client.feed(PgWireBackendMessage::CommandComplete(tag.into())).await?;
                Ok(Ok(Flow::Next))
            }
        }
    }
}

impl Handler {
    /// Runs a portal's statement (not an empty one).
    async fn run_portal(&self, portal: &Portal<Arc<WireStatement>>) -> PgWireResult<Output> {
        let session = &self.connection()?.session;
        let params = parameters(portal).map_err(|e| {
            session.statement_failed();
            to_pg(&e)
        })?;
        let prepared = &portal.statement.statement.prepared;
        match AssertUnwindSafe(session.execute_prepared(prepared, params)).catch_unwind().await {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(error)) => Err(to_pg(&error)),
            Err(_) => {
                session.statement_failed();
                Err(to_pg(&panicked()))
            }
        }
    }

    /// What pgwire's Execute is to answer for a portal's `output`.
    async fn respond<C>(&self, client: &mut C, portal: &Portal<Arc<WireStatement>>, output: Output) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Arc<WireStatement>>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let connection = self.connection()?;
        let session = &connection.session;
        match output {
            Output::Command { tag, rows, reported } => {
                report_parameters(client, reported).await?;
                Ok(Response::Execution(command_tag(tag, rows)))
            }
            Output::CopyOut { options, schema, stream } => {
                match send_copy_out(client, connection, &options, schema, stream).await? {
                    Ok(rows) => Ok(Response::Execution(Tag::new("COPY").with_rows(rows))),
                    Err(error) => {
                        session.statement_failed();
                        Err(to_pg(&error))
                    }
                }
            }
            Output::Deallocate { name, tag, reported } => {
                deallocate(client, connection, name)?;
                report_parameters(client, reported).await?;
                Ok(Response::Execution(Tag::new(tag)))
            }
            Output::CopyIn(copy) => {
                let (format, columns) = park_copy_in(connection, copy);
                let empty = futures::stream::empty();
                Ok(Response::CopyIn(CopyResponse::new(format, columns, empty)))
            }
            Output::Rows { tag, schema, stream } => {
                let fields = portal.statement.statement.row_fields(&schema, &portal.result_column_format, connection.format_options());
                let rows = row_stream(Arc::clone(session), stream, Arc::clone(&fields));
                let mut response = QueryResponse::new(fields, rows);
                response.set_command_tag(tag);
                Ok(Response::Query(response))
            }
        }
    }

    /// Execute of a portal not yet run, for all its rows (no row limit,
    /// the usual case): as pgwire's own, except that rows go straight to
    /// the client. pgwire's parks them in the portal and fetches them back
    /// through a tokio lock, a boxed stream and a vector of rows.
    async fn execute_whole<C>(&self, client: &mut C, portal: &Portal<Arc<WireStatement>>) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Arc<WireStatement>>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        client.set_state(PgWireConnectionState::QueryInProgress);
        let output = self.run_portal(portal).await?;
        let connection = self.connection()?;
        let session = &connection.session;
        match output {
            Output::Rows { tag, schema, mut stream } => {
                let fields = portal.statement.statement.row_fields(&schema, &portal.result_column_format, connection.format_options());
                let rows = match send_rows(client, &mut stream, &fields).await? {
                    Ok(rows) => rows,
                    Err(error) => {
                        session.statement_failed();
                        return Err(to_pg(&error));
                    }
                };
                client.feed(PgWireBackendMessage::CommandComplete(Tag::new(tag).with_rows(rows).into())).await?;
            }
            output => match self.respond(client, portal, output).await? {
                Response::Execution(tag) => send_execution_response(client, tag).await?,
                Response::CopyIn(copy) => {
                    client.set_state(PgWireConnectionState::CopyInProgress(true));
                    send_copy_in_response(client, copy).await?;
                    return Ok(());
                }
                _ => return Err(PgWireError::ApiError("a statement's output has no Execute response".into())),
            },
        }
        client.set_state(PgWireConnectionState::ReadyForQuery);
        Ok(())
    }
}

/// Sends a statement's rows as DataRows; the count, or the statement's
/// error (in the plan or in encoding).
async fn send_rows<C>(
    client: &mut C,
    stream: &mut SendableRecordBatchStream,
    fields: &Arc<Vec<FieldInfo>>,
) -> PgWireResult<Result<usize, CairnError>>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let mut rows = 0;
    loop {
        // Rows go out when the next batch is not ready at once; a result
        // that is ready (a key read: one batch) leaves in one write with
        // its CommandComplete and ReadyForQuery, as PostgreSQL's does.
        // (The sink also writes whenever its buffer fills.)
        let next = match next_rows(stream, fields).now_or_never() {
            Some(next) => next,
            None => {
                client.flush().await?;
                next_rows(stream, fields).await
            }
        };
        let Some(encoded) = next else { break };
        let encoded = match encoded {
            Ok(encoded) => encoded,
            Err(error) => return Ok(Err(error)),
        };
        rows += encoded.len();
        for row in encoded {
            client.feed(PgWireBackendMessage::DataRow(row)).await?;
        }
    }
    Ok(Ok(rows))
}

#[async_trait]
impl StartupHandler for Handler {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(startup) => {
                protocol_negotiation(client, &startup).await?;
                save_startup_parameters_to_metadata(client, &startup);
                if !self.cleartext_allowed(client) {
                    return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                        SEVERITY_FATAL.into(),
                        "28000".into(),
                        "password authentication is only accepted over TLS from non-loopback clients; configure [tls] or connect from 127.0.0.1".into(),
                    ))));
                }
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(Authentication::CleartextPassword))
                    .await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(message) => {
                let password = message.into_password()?.password;
                self.authenticate(client, password).await?;
            }
            _ => {}
        }
        Ok(())
    }
}

#[async_trait]
impl SimpleQueryHandler for Handler {
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        client.set_state(PgWireConnectionState::QueryInProgress);
        let connection = self.connection()?;
        let session = &connection.session;
        let parsed = not_utf8(&self.invalid_text, &query.query).and_then(|()| session.parse(&query.query));
        let failure = match parsed {
            Err(error) => Some(error),
            Ok(statements) if statements.is_empty() => {
                client.feed(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new())).await?;
                None
            }
            Ok(statements) if statements.iter().rev().skip(1).any(is_copy_in) => Some(CairnError::FeatureNotSupported(
                "COPY FROM STDIN must be the last statement of a query".into(),
            )),
            Ok(statements) => {
                let implicit = is_implicit_transaction(session, &statements);
                if implicit {
                    if let Err(error) = session.execute(Statement::Begin).await {
                        return Err(to_pg(&error));
                    }
                }
                let mut failure = None;
                for statement in statements {
                    match self.run_simple(client, session, statement).await? {
                        Ok(Flow::Next) => {}
                        Ok(Flow::CopyIn) => {
                            client.set_state(PgWireConnectionState::CopyInProgress(false));
                            return Ok(());
                        }
                        Err(error) => {
                            failure = Some(error);
                            break;
                        }
                    }
                }
                if implicit {
                    let end = match failure {
                        None => Statement::Commit,
                        Some(_) => Statement::Rollback,
                    };
                    match session.execute(end).await {
                        Ok(Output::Command { reported, .. }) => report_parameters(client, reported).await?,
                        Ok(_) => {}
                        Err(error) => failure = failure.or(Some(error)),
                    }
                }
                failure
            }
        };
        if let Some(error) = failure {
            if error.is_fatal() {
                // The connection loop sends it and closes the connection.
                return Err(to_pg(&error));
            }
            session.statement_failed();
            client.feed(PgWireBackendMessage::ErrorResponse(error_info(&error).into())).await?;
        }
        client.set_state(PgWireConnectionState::ReadyForQuery);
        session.ready_for_query();
        let status = transaction_status(session.tx_state());
        client.set_transaction_status(status);
        client.send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(status))).await?;
        Ok(())
    }

    /// Never called: `on_query` above runs simple queries statement by
    /// statement so that results stream and the first error stops the rest.
    async fn do_query<C>(&self, _client: &mut C, _query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        Err(PgWireError::ApiError("simple queries are executed by on_query".into()))
    }
}

/// `DEALLOCATE name` (`None`: all) of statements prepared with Parse.
fn deallocate<C>(client: &C, connection: &Connection, name: Option<String>) -> PgWireResult<()>
where
    C: ClientPortalStore,
    C::PortalStore: PortalStore,
{
    let mut prepared = connection.prepared.lock().unwrap_or_else(PoisonError::into_inner);
    let names: Vec<String> = match name {
        Some(name) => {
            prepared.remove(&name);
            vec![name]
        }
        None => std::mem::take(&mut *prepared).into_iter().collect(),
    };
    for name in names {
        client.portal_store().rm_statement(&name);
    }
    Ok(())
}

/// Several statements in one Query run as one transaction, as in
/// PostgreSQL: an error rolls back the ones before it. Not when a block is
/// already open, when the string controls transactions itself (BEGIN,
/// COMMIT, savepoints), or ends in COPY FROM STDIN (whose data comes
/// after this Query).
fn is_implicit_transaction(session: &Session, statements: &[Statement]) -> bool {
    statements.len() > 1
        && session.tx_state() == TxState::Idle
        && !statements.iter().any(|statement| {
            is_copy_in(statement)
                || matches!(
                    statement,
                    Statement::Begin
                        | Statement::Commit
                        | Statement::Rollback
                        | Statement::Savepoint(_)
                        | Statement::ReleaseSavepoint(_)
                        | Statement::RollbackTo(_)
                )
        })
}

fn is_copy_in(statement: &Statement) -> bool {
    matches!(statement, Statement::Copy(spec) if spec.from_client)
}

/// A prepared statement as the wire keeps it: the plan, and the row
/// columns its portals describe in text format, built on first use.
/// pgbench and most drivers Describe the portal before every Execute;
/// building the description each time was 7% of a point select.
pub struct WireStatement {
    prepared: Prepared,
    text_fields: OnceLock<Vec<FieldInfo>>,
    /// The columns of the last execution's rows.
    row_fields: Mutex<Option<RowFields>>,
}

/// The columns of a result, as built for a schema, the portal's formats
/// and the session's format options.
struct RowFields {
    schema: SchemaRef,
    format: Format,
    options: Arc<FormatOptions>,
    fields: Arc<Vec<FieldInfo>>,
}

impl WireStatement {
    fn new(prepared: Prepared) -> WireStatement {
        WireStatement { prepared, text_fields: OnceLock::new(), row_fields: Mutex::new(None) }
    }

    /// The columns of an execution's rows: the last execution's, if it had
    /// the same schema (the same `Arc`, which a key read gives every time),
    /// formats and options. Building them for every point select was 3% of it.
    fn row_fields(&self, schema: &SchemaRef, format: &Format, options: Arc<FormatOptions>) -> Arc<Vec<FieldInfo>> {
        let mut last = self.row_fields.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(last) = last.as_ref() {
            // Holding both `Arc`s keeps their addresses from being reused.
            if Arc::ptr_eq(&last.schema, schema) && Arc::ptr_eq(&last.options, &options) && same_format(&last.format, format) {
                return Arc::clone(&last.fields);
            }
        }
        let fields = Arc::new(fields(schema, format, &options));
        *last = Some(RowFields { schema: Arc::clone(schema), format: format.clone(), options, fields: Arc::clone(&fields) });
        fields
    }

    /// The columns its portals return in `format` (none for a command).
    fn fields(&self, format: &Format) -> Cow<'_, [FieldInfo]> {
        let build = || fields(&self.prepared.schema, format, &Arc::new(FormatOptions::default()));
        match format {
            Format::UnifiedText => Cow::Borrowed(self.text_fields.get_or_init(build).as_slice()),
            _ => Cow::Owned(build()),
        }
    }
}

fn same_format(a: &Format, b: &Format) -> bool {
    match (a, b) {
        (Format::UnifiedText, Format::UnifiedText) | (Format::UnifiedBinary, Format::UnifiedBinary) => true,
        (Format::Individual(a), Format::Individual(b)) => a == b,
        _ => false,
    }
}

/// What Describe answers for `fields`: RowDescription, or NoData for a
/// statement that returns no rows.
fn describe_rows(fields: &[FieldInfo]) -> PgWireBackendMessage {
    match fields.is_empty() {
        true => PgWireBackendMessage::NoData(NoData::new()),
        false => PgWireBackendMessage::RowDescription(RowDescription::new(fields.iter().map(Into::into).collect())),
    }
}

/// Parses (and plans) statements for the extended protocol.
pub struct Parser {
    connection: ConnectionSlot,
    invalid_text: InvalidText,
}

#[async_trait]
impl QueryParser for Parser {
    type Statement = Arc<WireStatement>;

    async fn parse_sql<C>(&self, _client: &C, sql: &str, _types: &[Option<Type>]) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let connection = self.connection.get()?;
        if let Err(error) = not_utf8(&self.invalid_text, sql) {
            connection.session.statement_failed();
            return Err(to_pg(&error));
        }
        match AssertUnwindSafe(connection.session.prepare(sql)).catch_unwind().await {
            Ok(Ok(prepared)) => Ok(Some(Arc::new(WireStatement::new(prepared)))),
            Ok(Err(error)) => {
                connection.session.statement_failed();
                Err(to_pg(&error))
            }
            Err(_) => Err(to_pg(&panicked())),
        }
    }

    fn get_parameter_types(&self, stmt: &Self::Statement) -> PgWireResult<Vec<Type>> {
        Ok(stmt
            .prepared
            .param_types
            .iter()
            .map(|t| t.as_deref().map_or(Type::TEXT, pg_type_of_field))
            .collect())
    }

    fn get_result_schema(&self, stmt: &Self::Statement, format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        Ok(stmt.fields(format.unwrap_or(&Format::UnifiedText)).into_owned())
    }
}

/// The parameters of a portal, typed as the client declared them or, where
/// it did not, as the plan inferred them.
fn parameters(portal: &Portal<Arc<WireStatement>>) -> Result<Vec<ScalarValue>, CairnError> {
    let prepared = &portal.statement.statement.prepared;
    (0..portal.parameter_len())
        .map(|index| {
            let inferred = prepared.param_types.get(index).cloned().flatten();
            let declared = portal.statement.parameter_types.get(index).cloned().flatten();
            let pg = declared
                .filter(|t| *t != Type::UNKNOWN)
                .or_else(|| inferred.as_deref().map(pg_type_of_field))
                .unwrap_or(Type::TEXT);
            let value = decode_parameter(portal, index, &pg)?;
            let target = inferred.map(|field| field.data_type().clone());
            match (target, value) {
                // Text for an array: PostgreSQL's array syntax, not a one-element list.
                (Some(target @ arrow::datatypes::DataType::List(_)), ScalarValue::Utf8(text)) => {
                    cairn_sql::postgres::array_literal(text.as_deref(), &target).map_err(cairn_sql::error::from_df)
                }
                (Some(target), value) if target != value.data_type() => value.cast_to(&target).map_err(|e| {
                    CairnError::InvalidTextRepresentation(format!(
                        "invalid value for parameter ${}: {e}",
                        index + 1
                    ))
                }),
                (_, value) => Ok(value),
            }
        })
        .collect()
}

/// Turns a batch stream into the row stream pgwire's portal reads; an error
/// marks the session's transaction failed.
fn row_stream(
    session: Arc<Session>,
    stream: SendableRecordBatchStream,
    fields: Arc<Vec<FieldInfo>>,
) -> impl futures::Stream<Item = PgWireResult<pgwire::messages::data::DataRow>> + Send {
    AssertUnwindSafe(stream).catch_unwind().flat_map(move |next| {
        let rows: Vec<PgWireResult<_>> = match next {
            Ok(Ok(batch)) => match encode_batch(&batch, &fields) {
                Ok(rows) => rows.into_iter().map(Ok).collect(),
                Err(error) => vec![Err(error)],
            },
            Ok(Err(error)) => vec![Err(to_pg(&cairn_sql::error::from_df(error)))],
            Err(_) => vec![Err(to_pg(&panicked()))],
        };
        if rows.iter().any(Result::is_err) {
            session.statement_failed();
        }
        futures::stream::iter(rows)
    })
}

#[async_trait]
impl ExtendedQueryHandler for Handler {
    type Statement = Arc<WireStatement>;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        Arc::clone(&self.parser)
    }

    async fn do_query<C>(&self, client: &mut C, portal: &Portal<Self::Statement>, _max_rows: usize) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if portal.statement.statement.prepared.is_empty() {
            return Ok(Response::EmptyQuery);
        }
        let output = self.run_portal(portal).await?;
        self.respond(client, portal, output).await
    }

    /// As pgwire's own, but BindComplete waits for Sync ([`Deferred`]).
    async fn on_bind<C>(&self, client: &mut C, message: Bind) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statement_name = message.statement_name.as_deref().unwrap_or(DEFAULT_NAME);
        match client.portal_store().get_statement(statement_name) {
            Some(Entry::Value(statement)) => {
                let portal = Portal::try_new(&message, statement)?;
                client.portal_store().put_portal(Arc::new(portal));
            }
            Some(Entry::Empty) if message.parameters.is_empty() => {
                let portal_name = message.portal_name.as_deref().unwrap_or(DEFAULT_NAME);
                client.portal_store().put_empty_portal(portal_name);
            }
            Some(Entry::Empty) => {
                let text = format!(
                    "bind message supplies {} parameters, but prepared statement \"{statement_name}\" requires 0",
                    message.parameters.len()
                );
                let info = ErrorInfo::new(SEVERITY_ERROR.to_owned(), "08P01".to_owned(), text);
                return Err(PgWireError::UserError(Box::new(info)));
            }
            None => return Err(PgWireError::StatementNotFound(statement_name.to_owned())),
        }
        client.feed(PgWireBackendMessage::BindComplete(BindComplete::new())).await?;
        Ok(())
    }

    /// As pgwire's own, but the replies wait for Sync ([`Deferred`]), and
    /// a portal run whole and for the first time goes through
    /// [`Handler::execute_whole`].
    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut client = Deferred::new(client);
        if message.max_rows == 0 && matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
            if let Some(Entry::Value(portal)) = client.portal_store().get_portal(name) {
                // Not yet run (and not being run: a portal's state is only
                // locked while an Execute or a cursor fetch runs it).
                if let Ok(mut state) = portal.state.try_lock() {
                    if matches!(*state, PortalExecutionState::Initial) && !portal.statement.statement.prepared.is_empty() {
                        self.execute_whole(&mut client, &portal).await?;
                        *state = PortalExecutionState::Finished;
                        return Ok(());
                    }
                }
            }
        }
        self._on_execute(&mut client, message).await
    }

    /// As pgwire's own, and the statement's name is remembered for
    /// `DEALLOCATE ALL`.
    async fn on_parse<C>(&self, client: &mut C, message: Parse) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.clone().unwrap_or_else(|| DEFAULT_NAME.to_owned());
        match StoredStatement::parse(client, &message, self.query_parser()).await? {
            Some(statement) => client.portal_store().put_statement(Arc::new(statement)),
            None => client.portal_store().put_empty_statement(&name),
        }
        if name != DEFAULT_NAME {
            self.connection()?.prepared.lock().unwrap_or_else(PoisonError::into_inner).insert(name);
        }
        client.feed(PgWireBackendMessage::ParseComplete(ParseComplete::new())).await?;
        Ok(())
    }

    /// As pgwire's own, except that a statement with parameters but no
    /// result columns (INSERT … VALUES ($1)) answers NoData: pgwire 0.42
    /// sends an empty RowDescription there, which pgJDBC takes for a result.
    /// A portal name that is no protocol portal may be a `DECLARE`d cursor.
    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        if message.target_type == TARGET_TYPE_BYTE_PORTAL {
            match client.portal_store().get_portal(name) {
                Some(Entry::Value(portal)) => {
                    let fields = portal.statement.statement.fields(&portal.result_column_format);
                    client.feed(describe_rows(&fields)).await?;
                    return Ok(());
                }
                Some(Entry::Empty) => {}
                None => {
                    let connection = self.connection()?;
                    if let Some(schema) = connection.session.cursor_schema(name) {
                        let fields = fields(&schema, &Format::UnifiedText, &connection.format_options());
                        let description = RowDescription::new(fields.iter().map(Into::into).collect());
                        client.feed(PgWireBackendMessage::RowDescription(description)).await?;
                        return Ok(());
                    }
                }
            }
        }
        let statement = match client.portal_store().get_statement(name) {
            Some(Entry::Value(statement)) if message.target_type == TARGET_TYPE_BYTE_STATEMENT => statement,
            _ => return self._on_describe(&mut Deferred::new(client), message).await,
        };
        let response = self.do_describe_statement(client, &statement).await?;
        let oids = response.parameters.iter().map(|t| t.oid()).collect();
        client.feed(PgWireBackendMessage::ParameterDescription(ParameterDescription::new(oids))).await?;
        client.feed(describe_rows(&response.fields)).await?;
        Ok(())
    }

    async fn on_sync<C>(&self, client: &mut C, _message: PgSync) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        client.portal_store().rm_portal(DEFAULT_NAME);
        let status = match self.connection() {
            Ok(connection) => {
                connection.session.ready_for_query();
                transaction_status(connection.session.tx_state())
            }
            Err(_) => client.transaction_status(),
        };
        client.set_transaction_status(status);
        client.send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(status))).await?;
        Ok(())
    }
}

#[async_trait]
impl CancelHandler for Handler {
    async fn on_cancel_request(&self, request: CancelRequest) {
        self.frontend.cancels.cancel(request.pid, &request.secret_key);
    }
}
