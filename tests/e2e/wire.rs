use std::time::{Duration, SystemTime};

use cairn_e2e::{error_code, sqlstate, text_rows, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_postgres::types::Type;
use tokio_postgres::NoTls;

#[tokio::test]
async fn extended_protocol_with_typed_parameters_and_binary_results() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute("CREATE USER alice WITH PASSWORD 'a' ROLE user EMAIL 'alice@example.com'").await.expect("create");

    // tokio-postgres prepares, binds parameters in binary and reads binary results.
    let statement = root
        .prepare("SELECT user_id, username, email, created_at, deleted_at FROM system.users WHERE username = $1")
        .await
        .expect("prepare");
    assert_eq!(statement.params(), &[Type::TEXT]);
    let types: Vec<Type> = statement.columns().iter().map(|c| c.type_().clone()).collect();
    assert_eq!(types, [Type::INT8, Type::TEXT, Type::TEXT, Type::TIMESTAMPTZ, Type::TIMESTAMPTZ]);
    for _ in 0..3 {
        let row = root.query_one(&statement, &[&"alice"]).await.expect("execute");
        assert_eq!(row.get::<_, i64>(0), 2);
        assert_eq!(row.get::<_, &str>(1), "alice");
        assert_eq!(row.get::<_, Option<&str>>(2), Some("alice@example.com"));
        let created: SystemTime = row.get(3);
        assert!(created.elapsed().expect("in the past") < Duration::from_secs(600));
        assert_eq!(row.get::<_, Option<SystemTime>>(4), None);
    }
    let by_id = root.query("SELECT username FROM system.users WHERE user_id = $1", &[&1i64]).await.expect("int param");
    assert_eq!(by_id[0].get::<_, &str>(0), "root");
    let none = root.query("SELECT username FROM system.users WHERE username = $1", &[&"nobody"]).await.expect("no rows");
    assert!(none.is_empty());

    // Arithmetic on parameters, and the text parameter format via a typed prepare.
    let sum = root.query_one("SELECT $1::BIGINT + 1 AS n", &[&41i64]).await.expect("arith");
    assert_eq!(sum.get::<_, i64>("n"), 42);
    let typed = root.prepare_typed("SELECT $1 = 'x' AS same", &[Type::TEXT]).await.expect("typed");
    assert!(root.query_one(&typed, &[&"x"]).await.expect("run").get::<_, bool>(0));
}

/// RowDescription names the table and column a plain column reference
/// comes from (pgJDBC's `ResultSetMetaData.getTableName` reads it), and
/// nothing for a computed column, as PostgreSQL does; and an integer
/// constant is an int4, which node-postgres reads as a number.
#[tokio::test]
async fn result_columns_say_where_they_come_from_and_constants_are_int4() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute("CREATE NAMESPACE app").await.expect("namespace");
    root.batch_execute("CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT)").await.expect("table");
    let oid: u32 = root.query_one("SELECT oid FROM pg_class WHERE relname = 't'", &[]).await.expect("oid").get(0);
    let statement = root.prepare("SELECT v AS label, id, v || 'x', count(*) OVER (), 1 FROM app.t").await.expect("prepare");
    let sources: Vec<(Option<u32>, Option<i16>)> =
        statement.columns().iter().map(|c| (c.table_oid(), c.column_id())).collect();
    assert_eq!(sources, [(Some(oid), Some(2)), (Some(oid), Some(1)), (None, None), (None, None), (None, None)]);
    assert_eq!(statement.columns()[4].type_(), &Type::INT4);
}

#[tokio::test]
async fn extended_protocol_errors_and_multiple_statements() {
    let server = Server::start();
    let root = server.root().await;
    let error = root.prepare("SELECT * FROM nowhere").await.expect_err("unknown table");
    assert_eq!(sqlstate(&error), "42P01");
    let error = root.prepare("SELECT 1; SELECT 2").await.expect_err("two statements");
    assert_eq!(sqlstate(&error), "42601");
    // The connection is still usable after errors in Parse.
    assert_eq!(root.query_one("SELECT 1::INT AS one", &[]).await.expect("ok").get::<_, i32>(0), 1);
    // Commands go through the extended protocol too.
    root.execute("SET application_name = 'wire-test'", &[]).await.expect("set");
    let rows = root.query("SHOW application_name", &[]).await.expect("show");
    assert_eq!(rows[0].get::<_, &str>(0), "wire-test");
}

#[tokio::test]
async fn set_and_show_the_parameters_clients_send() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute(
        "SET client_encoding = 'UTF8';
         SET DateStyle = 'ISO, MDY';
         SET application_name = 'e2e';
         SET search_path = default;
         SET extra_float_digits = 3;
         SET TimeZone = 'UTC';
         SET statement_timeout = 0;",
    )
    .await
    .expect("SET");
    for (name, value) in [
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("application_name", "e2e"),
        ("search_path", "\"$user\", public"),
        ("extra_float_digits", "3"),
        ("TimeZone", "UTC"),
        ("statement_timeout", "0"),
        ("server_version", "16.6"),
    ] {
        assert_eq!(text_rows(&root, &format!("SHOW {name}")).await, [[value]], "{name}");
    }
    let sessions = text_rows(&root, "SELECT application_name FROM system.sessions").await;
    assert_eq!(sessions, [["e2e"]]);
    assert_eq!(error_code(&root, "SET no_such_parameter = 1").await, "42704");
    assert_eq!(error_code(&root, "SET client_encoding = 'LATIN1'").await, "22023");
    assert_eq!(error_code(&root, "SHOW no_such_parameter").await, "42704");
    root.batch_execute("RESET ALL").await.expect("reset");
    assert_eq!(text_rows(&root, "SHOW application_name").await, [[""]]);
    // The session's user, also after RESET ALL; neither can be SET.
    assert_eq!(text_rows(&root, "SHOW is_superuser").await, [["on"]]);
    assert_eq!(text_rows(&root, "SHOW session_authorization").await, [["root"]]);
    assert_eq!(error_code(&root, "SET is_superuser = off").await, "22023");
}

/// `set_config` is SET as a function: pg_dump sends it with literals,
/// poolers and RLS setups with parameters and is_local = true.
#[tokio::test]
async fn set_config_sets_for_the_session_or_the_transaction() {
    let server = Server::start();
    let root = server.root().await;
    let set = text_rows(&root, "SELECT pg_catalog.set_config('search_path', 'app', false)").await;
    assert_eq!(set, [["app"]]);
    assert_eq!(text_rows(&root, "SHOW search_path").await, [["app"]]);
    let rows = root
        .query("SELECT set_config($1, $2, $3) AS tenant, set_config('application_name', 'jobs', false)", &[&"myapp.tenant", &"acme", &false])
        .await
        .expect("set_config with parameters");
    assert_eq!(rows[0].columns()[0].name(), "tenant");
    assert_eq!((rows[0].get::<_, String>(0), rows[0].get::<_, String>(1)), ("acme".to_owned(), "jobs".to_owned()));
    assert_eq!(text_rows(&root, "SELECT current_setting('myapp.tenant')").await, [["acme"]]);
    root.batch_execute("BEGIN").await.expect("begin");
    root.query("SELECT set_config('myapp.tenant', $1, true)", &[&"scoped"]).await.expect("local");
    assert_eq!(text_rows(&root, "SELECT current_setting('myapp.tenant')").await, [["scoped"]]);
    root.batch_execute("ROLLBACK").await.expect("rollback");
    assert_eq!(text_rows(&root, "SELECT current_setting('myapp.tenant')").await, [["acme"]]);
    assert_eq!(error_code(&root, "SELECT set_config('no_such_parameter', 'x', false)").await, "42704");
    assert_eq!(error_code(&root, "SELECT set_config('server_version', '1', false)").await, "22023");
}

#[tokio::test]
async fn statement_errors_carry_their_sqlstates_and_the_connection_survives() {
    let server = Server::start();
    let root = server.root().await;
    for (sql, code) in [
        ("SELEC 1", "42601"),
        ("SELECT * FROM system.nope", "42P01"),
        ("SELECT nope FROM system.users", "42703"),
        ("SELECT 1/0", "22012"),
        ("SELECT 'abc'::INT", "22P02"),
        ("SELECT no_such_function(1)", "42883"),
        ("COPY (SELECT 1) TO '/tmp/cairn-must-not-write.csv'", "42501"),
        ("CREATE EXTERNAL TABLE e STORED AS CSV LOCATION '/etc/passwd'", "42501"),
        ("TRUNCATE system.users", "0A000"),
    ] {
        assert_eq!(error_code(&root, sql).await, code, "{sql}");
    }
    assert!(!std::path::Path::new("/tmp/cairn-must-not-write.csv").exists());
    // The first error stops the rest of a multi-statement query.
    root.batch_execute("SET application_name = 'before'").await.expect("set");
    assert_eq!(error_code(&root, "SELECT 1/0; SET application_name = 'after'").await, "22012");
    assert_eq!(text_rows(&root, "SHOW application_name").await, [["before"]]);
}

#[tokio::test]
async fn transaction_blocks() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute("BEGIN; SELECT 1; COMMIT").await.expect("empty transaction");
    // An error fails the block until ROLLBACK.
    root.batch_execute("BEGIN").await.expect("begin");
    assert_eq!(error_code(&root, "SELECT 1/0").await, "22012");
    assert_eq!(error_code(&root, "SELECT 1").await, "25P02");
    root.batch_execute("ROLLBACK").await.expect("rollback");
    root.batch_execute("SELECT 1").await.expect("usable again");
    // User management applies at once, even inside a block.
    root.batch_execute("BEGIN; CREATE USER x WITH PASSWORD 'x'; ROLLBACK").await.expect("in a block");
    assert_eq!(text_rows(&root, "SELECT username FROM system.users WHERE username = 'x'").await, [["x"]]);
    // SET inside a rolled-back block is undone.
    root.batch_execute("BEGIN; SET application_name = 'inside'; ROLLBACK").await.expect("block");
    assert_eq!(text_rows(&root, "SHOW application_name").await, [[""]]);
    // tokio-postgres's own transaction API.
    let mut root = root;
    let transaction = root.transaction().await.expect("begin");
    transaction.query("SELECT username FROM system.users", &[]).await.expect("read");
    transaction.commit().await.expect("commit");
}

const SLOW_QUERY: &str = "SELECT count(*) FROM generate_series(1, 5000000000)";

#[tokio::test]
async fn statement_timeout_and_cancel_requests_stop_a_running_query() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute("SET statement_timeout = '200ms'").await.expect("set");
    assert_eq!(error_code(&root, SLOW_QUERY).await, "57014");
    root.batch_execute("SET statement_timeout = 0").await.expect("reset");

    let cancel = root.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel_query(NoTls).await
    });
    assert_eq!(error_code(&root, SLOW_QUERY).await, "57014");
    canceller.await.expect("join").expect("cancel request sent");
    assert_eq!(text_rows(&root, "SELECT 1").await, [["1"]]);
}

#[tokio::test]
async fn malformed_messages_do_not_take_the_server_down() {
    let server = Server::start();
    for garbage in [
        &b"\x00\x00\x00\x08\x04\xd2\x16\x2fjunk"[..],
        &b"\xff\xff\xff\xff\xff\xff\xff\xff"[..],
        &b"\x00\x00\x00\x09\x00\x03\x00\x00\x00"[..],
        &b"GET / HTTP/1.1\r\n\r\n"[..],
    ] {
        let mut socket = tokio::net::TcpStream::connect(server.addr).await.expect("connect");
        let _ = socket.write_all(garbage).await;
        let mut buffer = [0u8; 256];
        let _ = tokio::time::timeout(Duration::from_secs(2), socket.read(&mut buffer)).await;
    }
    // A startup message followed by a malformed frame.
    let mut socket = tokio::net::TcpStream::connect(server.addr).await.expect("connect");
    let mut startup = Vec::new();
    let body = b"\x00\x03\x00\x00user\x00root\x00\x00";
    startup.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    startup.extend_from_slice(body);
    socket.write_all(&startup).await.expect("startup");
    socket.write_all(b"p\x00\x00\x00\x02").await.ok();
    let mut buffer = [0u8; 256];
    let _ = tokio::time::timeout(Duration::from_secs(2), socket.read(&mut buffer)).await;

    let root = server.root().await;
    assert_eq!(text_rows(&root, "SELECT 1").await, [["1"]]);
}

#[tokio::test]
async fn ssl_is_refused_cleanly_when_tls_is_not_configured() {
    let server = Server::start();
    // sslmode=prefer: the server answers 'N' and the client carries on in plain text.
    let mut config = server.config("root", cairn_e2e::ROOT_PASSWORD);
    config.ssl_mode(tokio_postgres::config::SslMode::Prefer);
    let connector = crate::tls::connector();
    let (client, connection) = config.connect(connector).await.expect("falls back to plain text");
    tokio::spawn(connection);
    assert_eq!(text_rows(&client, "SELECT 1").await, [["1"]]);
    // sslmode=require: the client gives up.
    config.ssl_mode(tokio_postgres::config::SslMode::Require);
    assert!(config.connect(crate::tls::connector()).await.is_err());
}

/// Connections share one thread per core (`cairn-pgwire`'s `threads`):
/// a long query must not hold the other connections on its thread, and
/// a cancel must reach it where it runs (the compute runtime). With one
/// more connection than there are threads, at least one shares its
/// thread.
#[tokio::test]
async fn a_long_query_does_not_hold_the_connections_on_its_thread() {
    let server = Server::start();
    let long = server.root().await;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut others = Vec::new();
    for _ in 0..=threads {
        others.push(server.root().await);
    }
    let mut running = std::pin::pin!(long.query_one("SELECT count(*) FROM generate_series(1, 1000000000000)", &[]));
    let quick = async {
        for _ in 0..3 {
            for client in &others {
                let row = client.query_one("SELECT count(*) FROM generate_series(1, 1000)", &[]).await.expect("quick");
                assert_eq!(row.get::<_, i64>(0), 1000);
            }
        }
    };
    tokio::select! {
        biased;
        outcome = &mut running => panic!("the long query ended first: {outcome:?}"),
        () = quick => {}
    }
    long.cancel_token().cancel_query(NoTls).await.expect("cancel");
    let error = running.await.expect_err("cancelled");
    assert_eq!(sqlstate(&error), "57014");
}
