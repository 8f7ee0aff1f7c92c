//! The differential suite: SQL behaviour pinned in scripts whose
//! expectations are PostgreSQL's answers. Every `tests/conformance/**/*.slt`
//! runs, in sqllogictest form, twice, each time against a fresh server of
//! its own: over the simple query protocol as psql speaks it (results in
//! text), and over the extended protocol as drivers speak it (each
//! statement parsed, bound and executed, results in binary, written as
//! PostgreSQL's text by `binary`). A record of several statements runs
//! over the simple protocol both times, as the extended one takes one.
//!
//! - `query` records compare rows as text (`NULL` for NULL, `(empty)` for
//!   the empty string); `statement error <regex>` matches the error, which
//!   reads `42703: message` (so a SQLSTATE and message are pinned
//!   together; a DETAIL follows the message as ` DETAIL: …`), and
//!   `statement error (42703)` the SQLSTATE alone.
//! - `\columns <query>` answers a row per result column: its name (as
//!   the run's protocol announces it) and its type (as Describe reports
//!   it), so that the names of unnamed expressions are pinned too.
//! - `EXPLAIN …` answers its physical plan a line to a row, with the
//!   partition counts (which follow the machine's cores) written `N`;
//!   being CairnDB's own plans, EXPLAIN records say `onlyif cairndb`.
//! - `connection <name>` runs the next record on a connection of its own
//!   (opened as root on first use); `\connect <user> <password>` as a
//!   statement makes the current connection log in again as that user.
//! - `CAIRN_SQL_ORACLE='host=… port=… user=postgres'` runs the scripts
//!   against that PostgreSQL instead, each in a database of its own, to
//!   check that their expectations are PostgreSQL's (`.ci/pg-oracle.sh`
//!   starts a PostgreSQL and does so; CI runs it). The engine is then
//!   `postgresql`: scripts of CairnDB's own statements (user and shared
//!   tables, users, `\connect`) live under `tests/conformance/cairndb/` and are
//!   not run there, and records where CairnDB deliberately differs say
//!   `skipif postgresql`, beside an `onlyif postgresql` record with
//!   PostgreSQL's answer (each difference is in `docs/compatibility.md`).
//! - Records where CairnDB does not give PostgreSQL's answer yet are
//!   marked `skipif cairndb` (or `cairndb-simple`, `cairndb-extended` for
//!   one protocol) under a `# mismatch` comment, by
//!   `tests/conformance/mismatches.py`; each is a bug to fix.
//! - `CAIRN_SQL_UPDATE=1` rewrites the expected output in place from what
//!   the server answers, so that a change reviews as a diff (errors are
//!   then written as `SQLSTATE: message`). With `CAIRN_SQL_ORACLE` that is
//!   the record mode: write the queries, record PostgreSQL's answers
//!   (`.ci/pg-oracle.sh --record`), then make CairnDB give them.
//!
//! Written on the `sqllogictest` crate (the format DataFusion, RisingWave
//! and others test with); only the driver below is ours.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures::StreamExt;
use cairn_e2e::Server;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Runner};
use tokio_postgres::{Client, SimpleQueryMessage};

mod binary;

/// How a run's statements reach the server.
#[derive(Clone, Copy, Debug)]
enum Protocol {
    /// One Query message, results in text.
    Simple,
    /// Parse, Bind, Execute, results in binary.
    Extended,
}

/// One connection of a script.
struct Connection {
    server: tokio_postgres::Config,
    client: Client,
    engine: &'static str,
    protocol: Protocol,
    /// The session's `TimeZone`, in which binary timestamptz values are
    /// written; read again after each `SET` or `RESET`.
    time_zone: chrono_tz::Tz,
}

/// A statement's answer: its rows (`None` when it returns none) and the
/// count of its command tag.
struct Answer {
    rows: Option<Vec<Vec<Option<String>>>>,
    count: u64,
}

impl Connection {
    async fn simple(&self, sql: &str) -> Result<Answer, Failure> {
        let mut answer = Answer { rows: None, count: 0 };
        for message in self.client.simple_query(sql).await? {
            match message {
                SimpleQueryMessage::RowDescription(_) => answer.rows = Some(answer.rows.take().unwrap_or_default()),
                SimpleQueryMessage::Row(row) => answer
                    .rows
                    .get_or_insert_with(Vec::new)
                    .push((0..row.len()).map(|i| row.get(i).map(str::to_owned)).collect()),
                SimpleQueryMessage::CommandComplete(count) => answer.count = count,
                _ => {}
            }
        }
        Ok(answer)
    }

    async fn extended(&self, sql: &str) -> Result<Answer, Failure> {
        let statement = self.client.prepare(sql).await?;
        if statement.columns().is_empty() {
            let count = self.client.execute(&statement, &[]).await?;
            return Ok(Answer { rows: None, count });
        }
        let mut rows = Vec::new();
        for row in self.client.query(&statement, &[]).await? {
            let values = (0..row.len())
                .map(|i| {
                    let raw: binary::Raw = row.try_get(i)?;
                    raw.bytes
                        .map(|bytes| binary::text(&raw.ty, &bytes, self.time_zone))
                        .transpose()
                        .map_err(|e| Failure { sqlstate: None, message: format!("column {i}: {e}") })
                })
                .collect::<Result<_, Failure>>()?;
            rows.push(values);
        }
        Ok(Answer { count: rows.len() as u64, rows: Some(rows) })
    }
}

impl Connection {
    /// `\columns <query>`: a row per result column, its name as the run's
    /// protocol announced it (RowDescription of the query, or of the
    /// prepared statement) and its type as Describe reports it.
    async fn columns(&self, query: &str) -> Result<DBOutput<DefaultColumnType>, Failure> {
        let statement = self.client.prepare(query).await?;
        let names: Vec<String> = match self.protocol {
            Protocol::Simple => self
                .client
                .simple_query(query)
                .await?
                .into_iter()
                .find_map(|message| match message {
                    SimpleQueryMessage::RowDescription(columns) => {
                        Some(columns.iter().map(|column| column.name().to_owned()).collect())
                    }
                    _ => None,
                })
                .unwrap_or_default(),
            Protocol::Extended => statement.columns().iter().map(|column| column.name().to_owned()).collect(),
        };
        let rows = names
            .into_iter()
            .zip(statement.columns())
            .map(|(name, column)| vec![name, column.type_().name().to_owned()])
            .collect();
        Ok(DBOutput::Rows { types: vec![DefaultColumnType::Any; 2], rows })
    }
}

/// A statement's failure: the server's SQLSTATE and message, or the
/// client library's error.
#[derive(Debug)]
struct Failure {
    sqlstate: Option<String>,
    message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.sqlstate {
            Some(code) => write!(f, "{code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Failure {}

impl From<tokio_postgres::Error> for Failure {
    fn from(error: tokio_postgres::Error) -> Failure {
        match error.as_db_error() {
            // The DETAIL is part of what is pinned (23505's names the key).
            Some(db) => Failure {
                sqlstate: Some(db.code().code().to_owned()),
                message: match db.detail() {
                    Some(detail) => format!("{} DETAIL: {detail}", db.message()),
                    None => db.message().to_owned(),
                },
            },
            None => Failure { sqlstate: None, message: error.to_string() },
        }
    }
}

async fn connect(config: &tokio_postgres::Config) -> Result<Client, Failure> {
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

#[async_trait]
impl AsyncDB for Connection {
    type Error = Failure;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, Failure> {
        if let Some(login) = sql.trim().strip_prefix("\\connect ") {
            let mut words = login.split_whitespace();
            let (Some(user), Some(password)) = (words.next(), words.next()) else {
                return Err(Failure { sqlstate: None, message: "\\connect takes a user and a password".into() });
            };
            let mut config = self.server.clone();
            config.user(user).password(password);
            self.client = connect(&config).await?;
            self.time_zone = session_time_zone(&self.client).await?;
            return Ok(DBOutput::StatementComplete(0));
        }
        if let Some(query) = sql.trim().strip_prefix("\\columns ") {
            return self.columns(query).await;
        }
        let answer = match self.protocol {
            Protocol::Extended if is_one_statement(sql) => self.extended(sql).await?,
            _ => self.simple(sql).await?,
        };
        if starts_with_word(sql, "set") || starts_with_word(sql, "reset") {
            self.time_zone = session_time_zone(&self.client).await?;
        }
        let Some(rows) = answer.rows else {
            return Ok(DBOutput::StatementComplete(answer.count));
        };
        if is_explain(sql) {
            return Ok(DBOutput::Rows { types: vec![DefaultColumnType::Any], rows: physical_plan(&rows) });
        }
        let columns = rows.first().map_or(1, Vec::len);
        let rows = rows
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|value| match value.as_deref() {
                        None => "NULL".to_owned(),
                        Some("") => "(empty)".to_owned(),
                        Some(_) => value.expect("some"),
                    })
                    .collect()
            })
            .collect();
        Ok(DBOutput::Rows { types: vec![DefaultColumnType::Any; columns], rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        self.engine
    }

    async fn sleep(duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }

    fn error_sql_state(error: &Failure) -> Option<String> {
        error.sqlstate.clone()
    }
}

fn is_explain(sql: &str) -> bool {
    starts_with_word(sql, "explain")
}

fn starts_with_word(sql: &str, word: &str) -> bool {
    sql.trim_start().get(..word.len()).is_some_and(|start| start.eq_ignore_ascii_case(word))
}

async fn session_time_zone(client: &Client) -> Result<chrono_tz::Tz, Failure> {
    let row = client.query_one("SHOW TimeZone", &[]).await?;
    let name: String = row.get(0);
    name.parse().map_err(|_| Failure { sqlstate: None, message: format!("unknown time zone {name}") })
}

/// Whether `sql` is one statement, which the extended protocol takes
/// (a `;` outside quotes with more after it makes several).
fn is_one_statement(sql: &str) -> bool {
    let mut quote = None;
    for c in sql.trim().trim_end_matches(';').chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(open), _) if c == open => quote = None,
            (None, ';') => return false,
            _ => {}
        }
    }
    true
}

/// The lines of the physical plan of an EXPLAIN's rows, a line to a row,
/// partition counts written `N`.
fn physical_plan(rows: &[Vec<Option<String>>]) -> Vec<Vec<String>> {
    let counts = regex::Regex::new(r"(partitions=|RoundRobinBatch\(|\], )\d+").expect("regex");
    rows.iter()
        .filter_map(|row| match row.as_slice() {
            [Some(kind), Some(plan)] if kind == "physical_plan" => Some(plan.as_str()),
            _ => None,
        })
        .flat_map(str::lines)
        .filter(|line| !line.trim().is_empty())
        .map(|line| vec![counts.replace_all(line.trim_end(), "${1}N").into_owned()])
        .collect()
}

/// Every `.slt` file under `dir`, in a stable order.
fn scripts(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read tests/conformance") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "slt") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Any column types: the simple protocol sends text without them.
fn any_columns(_: &Vec<DefaultColumnType>, _: &Vec<DefaultColumnType>) -> bool {
    true
}

/// Where a script runs: a fresh CairnDB, or a fresh database on the
/// PostgreSQL named by `CAIRN_SQL_ORACLE`.
enum Target {
    /// Runs until the script ends.
    CairnDb { _server: Server },
    Postgres { admin: Client, database: String },
}

impl Target {
    async fn new(oracle: Option<&str>, script: usize) -> (Target, tokio_postgres::Config, &'static str) {
        let Some(oracle) = oracle else {
            let server = Server::start();
            let config = server.config("root", cairn_e2e::ROOT_PASSWORD);
            return (Target::CairnDb { _server: server }, config, "cairndb");
        };
        let mut config: tokio_postgres::Config = oracle.parse().expect("CAIRN_SQL_ORACLE is a connection string");
        let admin = connect(&config).await.expect("the oracle answers");
        let database = format!("cairn_script_{script}");
        for sql in [
            format!("DROP DATABASE IF EXISTS {database}"),
            format!("CREATE DATABASE {database}"),
            // CairnDB's transactions are serializable (docs/compatibility.md).
            format!("ALTER DATABASE {database} SET default_transaction_isolation = 'serializable'"),
            // PostgreSQL makes a writer wait for another's row lock, which
            // in a script run one record at a time would wait for ever:
            // fail the record instead (CairnDB never waits, see
            // docs/compatibility.md).
            format!("ALTER DATABASE {database} SET lock_timeout = '3s'"),
            // CairnDB's sessions start in UTC; the binary decoder writes
            // timestamptz in UTC.
            format!("ALTER DATABASE {database} SET timezone = 'UTC'"),
        ] {
            admin.batch_execute(&sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        config.dbname(&database);
        (Target::Postgres { admin, database }, config, "postgresql")
    }

    async fn finish(self) {
        if let Target::Postgres { admin, database } = self {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).await;
        }
    }
}

#[tokio::test]
async fn scripts_answer_as_postgresql_does() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance");
    let update = std::env::var_os("CAIRN_SQL_UPDATE").is_some();
    let oracle = std::env::var("CAIRN_SQL_ORACLE").ok();
    let mut all = scripts(&dir);
    assert!(!all.is_empty(), "no scripts under {}", dir.display());
    if oracle.is_some() {
        // CairnDB's own statements, which PostgreSQL does not have.
        let own = dir.join("cairndb");
        all.retain(|script| !script.starts_with(&own));
    }
    // Recording rewrites each file once, from the simple protocol; a
    // check runs each file over both.
    let protocols: &[Protocol] = if update { &[Protocol::Simple] } else { &[Protocol::Simple, Protocol::Extended] };
    let runs = all.iter().flat_map(|script| protocols.iter().map(move |protocol| (script, *protocol)));
    let failures: Vec<String> = futures::stream::iter(runs.enumerate())
        .map(|(number, (script, protocol))| run_script(script, protocol, number, update, oracle.as_deref()))
        .buffer_unordered(4)
        .filter_map(|failure| async move { failure })
        .collect()
        .await;
    assert!(failures.is_empty(), "{} script run(s) failed:\n\n{}", failures.len(), failures.join("\n\n"));
}

/// Runs (or, with `update`, rewrites) one script over one protocol on a
/// fresh target; its failure, if any.
async fn run_script(script: &Path, protocol: Protocol, number: usize, update: bool, oracle: Option<&str>) -> Option<String> {
    let (target, config, engine) = Target::new(oracle, number).await;
    let mut runner = Runner::new(move || {
        let config = config.clone();
        async move {
            let client = connect(&config).await?;
            let time_zone = session_time_zone(&client).await?;
            Ok(Connection { client, server: config, engine, protocol, time_zone })
        }
    });
    runner.with_column_validator(any_columns);
    // `skipif cairndb-extended` skips a record on CairnDB in one protocol
    // (see tests/conformance/mismatches.py).
    if engine == "cairndb" {
        runner.add_label(match protocol {
            Protocol::Simple => "cairndb-simple",
            Protocol::Extended => "cairndb-extended",
        });
    }
    let outcome = match update {
        true => runner
            .update_test_file(script, " ", sqllogictest::default_validator, sqllogictest::default_normalizer, any_columns)
            .await
            .map_err(|e| e.to_string()),
        false => run_every_record(&mut runner, script).await,
    };
    drop(runner);
    target.finish().await;
    outcome.err().map(|error| format!("{} ({protocol:?} protocol):\n{error}", script.display()))
}

/// Runs every record of `script`, going on past a failure so that one run
/// reports every mismatch of a file.
async fn run_every_record<M>(runner: &mut Runner<Connection, M>, script: &Path) -> Result<(), String>
where
    M: sqllogictest::MakeConnection<Conn = Connection>,
{
    let records = sqllogictest::parse_file(script).map_err(|e| e.to_string())?;
    let mut failures = Vec::new();
    for record in records {
        if let Err(error) = runner.run_async(record).await {
            failures.push(error.display(false).to_string());
        }
    }
    match failures.is_empty() {
        true => Ok(()),
        false => Err(failures.join("\n")),
    }
}
