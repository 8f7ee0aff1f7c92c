//! What no client may do to the server or to other tenants: touch server
//! files through SQL, abort the process with a deep statement, or learn
//! which user names exist.

use cairn_e2e::{error_code, text_rows, Server};

async fn plain_user(server: &Server) -> tokio_postgres::Client {
    let root = server.root().await;
    root.batch_execute("CREATE USER mallory WITH PASSWORD 'm-pw' ROLE user; CREATE USER victim WITH PASSWORD 'v-pw' ROLE user")
        .await
        .expect("users");
    server.connect("mallory", "m-pw").await.expect("mallory connects")
}

#[tokio::test]
async fn no_statement_reads_or_writes_a_server_file() {
    let server = Server::start();
    let root = server.root().await;
    let mallory = plain_user(&server).await;
    let dir = tempfile::tempdir().expect("dir");
    let target = dir.path().join("sub").join("pwned.csv");
    let target = target.display();
    let statements = [
        format!("EXPLAIN ANALYZE COPY (SELECT 'x') TO '{target}' STORED AS CSV"),
        format!("EXPLAIN COPY (SELECT 'x') TO '{target}' STORED AS CSV"),
        format!("EXPLAIN ANALYZE VERBOSE COPY (SELECT 1) TO '{target}'"),
        format!("CREATE EXTERNAL TABLE leak STORED AS CSV LOCATION '/etc/passwd'"),
        format!("EXPLAIN CREATE EXTERNAL TABLE leak STORED AS CSV LOCATION '/etc/passwd'"),
        format!("COPY (SELECT 'x') TO '{target}'"),
    ];
    for client in [&root, &mallory] {
        for sql in &statements {
            assert_eq!(error_code(client, sql).await, "42501", "{sql}");
        }
        // The extended protocol plans through the same check.
        let prepared = client.prepare(&statements[0]).await.err().expect("refused");
        assert_eq!(cairn_e2e::sqlstate(&prepared), "42501");
    }
    assert!(!dir.path().join("sub").exists(), "a directory or file was created");
    let rows = text_rows(&mallory, "SELECT 1").await;
    assert_eq!(rows, vec![vec!["1".to_owned()]]);
}

/// `terms` joined by `separator` after `head`.
fn chain(head: &str, term: impl Fn(usize) -> String, separator: &str, terms: usize) -> String {
    let body: Vec<String> = (0..terms).map(term).collect();
    format!("{head}{}", body.join(separator))
}

#[tokio::test]
async fn deep_statements_answer_or_fail_and_the_server_stays_up() {
    let server = Server::start();
    let client = server.root().await;
    let other = server.root().await;
    let n = 100_000;
    // As in PostgreSQL: AND / OR chains and IN lists of 100,000 run.
    let or_chain = chain("SELECT count(*) FROM generate_series(1, 10) v WHERE ", |i| format!("v = {i}"), " OR ", n);
    assert_eq!(text_rows(&client, &or_chain).await, vec![vec!["10".to_owned()]]);
    let and_chain = chain("SELECT ", |_| "true".to_owned(), " AND ", n);
    assert_eq!(text_rows(&client, &and_chain).await, vec![vec!["t".to_owned()]]);
    let in_list = format!(
        "SELECT count(*) FROM generate_series(1, 10) v WHERE v IN ({})",
        (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
    );
    assert_eq!(text_rows(&client, &in_list).await, vec![vec!["10".to_owned()]]);
    // 2,000 terms of + run; 100,000 are refused with 54001, as in PostgreSQL.
    assert_eq!(text_rows(&client, &chain("SELECT ", |_| "1".to_owned(), " + ", 2_000)).await, vec![vec!["2000".to_owned()]]);
    assert_eq!(error_code(&client, &chain("SELECT ", |_| "1".to_owned(), " + ", n)).await, "54001");
    // Nesting through the parser's recursion: refused, never a crash.
    let parentheses = format!("SELECT {}1{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(error_code(&client, &parentheses).await, "54001");
    let cases = format!("SELECT {}1{}", "CASE WHEN true THEN ".repeat(n), " END".repeat(n));
    let code = error_code(&client, &cases).await;
    assert!(code == "54001" || code == "42601", "{code}");
    let subqueries = format!("SELECT {}1{}", "(SELECT ".repeat(200), ")".repeat(200));
    assert_eq!(error_code(&client, &subqueries).await, "54001");
    let scalar = format!("SELECT {}1{}", "(SELECT ".repeat(10), ")".repeat(10));
    assert_eq!(text_rows(&client, &scalar).await, vec![vec!["1".to_owned()]]);
    let unary = format!("SELECT {}1", "- ".repeat(n));
    let code = error_code(&client, &unary).await;
    assert!(code == "54001" || code == "42601", "{code}");
    let casts = format!("SELECT 1{}", "::int".repeat(n));
    assert_eq!(error_code(&client, &casts).await, "54001");
    // The extended protocol parses the same way.
    let prepared = client.prepare(&chain("SELECT ", |_| "1".to_owned(), " + ", n)).await.err().expect("refused");
    assert_eq!(cairn_e2e::sqlstate(&prepared), "54001");
    // Every connection is still served.
    assert_eq!(text_rows(&other, "SELECT 1").await, vec![vec!["1".to_owned()]]);
    assert_eq!(text_rows(&client, "SELECT 2").await, vec![vec!["2".to_owned()]]);
}

#[tokio::test]
async fn user_names_cannot_be_probed() {
    let server = Server::start();
    let mallory = plain_user(&server).await;
    for (existing, unknown) in [
        ("EXECUTE AS USER 'victim' (SELECT 1)", "EXECUTE AS USER 'nobody' (SELECT 1)"),
        ("EXECUTE AS USER 'root' (SELECT 1)", "EXECUTE AS USER 'nobody' (SELECT 1)"),
        ("ALTER USER victim SET ROLE user", "ALTER USER nobody SET ROLE user"),
        ("ALTER USER victim SET PASSWORD 'x-password'", "ALTER USER nobody SET PASSWORD 'x-password'"),
        ("DROP USER victim", "DROP USER nobody"),
        ("DROP USER IF EXISTS victim", "DROP USER IF EXISTS nobody"),
    ] {
        let answer = |sql: &'static str| {
            let mallory = &mallory;
            async move {
                let error = mallory.batch_execute(sql).await.err().expect("refused");
                let db = error.as_db_error().expect("a server error");
                (db.code().code().to_owned(), db.message().replace("victim", "?").replace("root", "?").replace("nobody", "?"))
            }
        };
        let (existing_answer, unknown_answer) = (answer(existing).await, answer(unknown).await);
        assert_eq!(existing_answer.0, "42501", "{existing}");
        assert_eq!(existing_answer, unknown_answer, "{existing} / {unknown}");
    }
    // An administrator, who may list every user, is told it does not exist.
    let root = server.root().await;
    assert_eq!(error_code(&root, "ALTER USER nobody SET ROLE user").await, "42704");
    assert_eq!(error_code(&root, "EXECUTE AS USER 'nobody' (SELECT 1)").await, "42704");
    root.batch_execute("DROP USER IF EXISTS nobody").await.expect("IF EXISTS");
}

/// The SQLSTATE and severity of a server error.
fn code_and_severity(error: &tokio_postgres::Error) -> (String, String) {
    let db = error.as_db_error().expect("a server error");
    (db.code().code().to_owned(), db.severity().to_owned())
}

#[tokio::test]
async fn a_dropped_or_demoted_user_loses_its_open_sessions() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute(
        "CREATE USER d WITH PASSWORD 'd-pw' ROLE dba; CREATE USER e WITH PASSWORD 'e-pw' ROLE user; \
         CREATE USER bystander WITH PASSWORD 'b-pw' ROLE user",
    )
    .await
    .expect("users");
    let simple = server.connect("d", "d-pw").await.expect("d connects");
    let extended = server.connect("d", "d-pw").await.expect("d connects again");
    let count_users = extended.prepare("SELECT count(*) FROM system.users").await.expect("prepare as dba");
    extended.query(&count_users, &[]).await.expect("runs as dba");
    let dropped = server.connect("e", "e-pw").await.expect("e connects");
    let bystander = server.connect("bystander", "b-pw").await.expect("bystander connects");

    // Another user's password or e-mail changing ends no session.
    root.batch_execute("ALTER USER e SET EMAIL 'e@example.com'; ALTER USER bystander SET PASSWORD 'b-pw-2'").await.expect("alter");
    dropped.batch_execute("SELECT 1").await.expect("e goes on");
    bystander.batch_execute("SELECT 1").await.expect("bystander goes on");

    root.batch_execute("ALTER USER d SET ROLE user").await.expect("demote d");
    // At its next statement, on either protocol, the session ends: FATAL
    // 57P01, and the connection is closed.
    let error = simple.batch_execute("CREATE USER sneaky WITH PASSWORD 'x-pw' ROLE dba").await.err().expect("ended");
    assert_eq!(code_and_severity(&error), ("57P01".to_owned(), "FATAL".to_owned()));
    let error = extended.query(&count_users, &[]).await.err().expect("ended");
    assert_eq!(code_and_severity(&error), ("57P01".to_owned(), "FATAL".to_owned()));
    for client in [&simple, &extended] {
        assert!(client.batch_execute("SELECT 1").await.is_err(), "the connection is closed");
    }
    assert!(text_rows(&root, "SELECT username FROM system.users WHERE username = 'sneaky'").await.is_empty());
    // Logging in again gives the new role.
    let demoted = server.connect("d", "d-pw").await.expect("d reconnects");
    assert_eq!(error_code(&demoted, "CREATE USER sneaky WITH PASSWORD 'x-pw' ROLE dba").await, "42501");

    root.batch_execute("DROP USER e").await.expect("drop e");
    let error = dropped.batch_execute("SELECT 1").await.err().expect("ended");
    assert_eq!(code_and_severity(&error), ("57P01".to_owned(), "FATAL".to_owned()));
    assert!(server.connect("e", "e-pw").await.is_err(), "a dropped user cannot log in");
    bystander.batch_execute("SELECT 1").await.expect("bystander goes on");
}

/// A query that runs for minutes on one table of 20,000 rows: a cross
/// join of 400 million pairs, sorted.
const ENDLESS: &str = "SELECT a.k, b.k FROM t a, t b ORDER BY a.v * b.v + a.k DESC OFFSET 100 LIMIT 5";

/// CPU seconds the server uses over `seconds` of wall time.
async fn cpu_over(server: &Server, seconds: u64) -> f64 {
    let before = server.cpu_seconds();
    tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
    server.cpu_seconds() - before
}

#[tokio::test]
async fn a_cancelled_or_timed_out_statement_stops_working() {
    let server = Server::start();
    let client = server.root().await;
    client
        .batch_execute("CREATE SHARED TABLE t (k BIGINT PRIMARY KEY, v BIGINT); INSERT INTO t SELECT value, value % 977 FROM generate_series(1, 20000)")
        .await
        .expect("table");
    client.batch_execute("SET statement_timeout = '1s'").await.expect("set");
    assert_eq!(error_code(&client, ENDLESS).await, "57014");
    // The plan ran on two cores; stopped, it uses (almost) nothing.
    let used = cpu_over(&server, 3).await;
    assert!(used < 1.0, "the server used {used} CPU seconds after the timeout");

    client.batch_execute("SET statement_timeout = 0").await.expect("reset");
    let cancel = client.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        cancel.cancel_query(tokio_postgres::NoTls).await.expect("cancel request");
    });
    assert_eq!(error_code(&client, ENDLESS).await, "57014");
    canceller.await.expect("canceller");
    let used = cpu_over(&server, 3).await;
    assert!(used < 1.0, "the server used {used} CPU seconds after the cancel");
    assert_eq!(text_rows(&client, "SELECT count(*) FROM t").await, vec![vec!["20000".to_owned()]]);
}

#[tokio::test]
async fn a_statement_past_its_memory_fails_with_53200_and_sorts_spill() {
    let server = Server::start_with(&["--statement-memory-mb", "16"]);
    let client = server.root().await;
    // An aggregate that must hold every value: refused, not grown without bound.
    let error = client.query("SELECT cardinality(array_agg(value)) FROM generate_series(1, 3000000)", &[]).await.err().expect("refused");
    assert_eq!(cairn_e2e::sqlstate(&error), "53200");
    // Sorts and groupings larger than the limit spill to disk and finish.
    let sorted = text_rows(&client, "SELECT count(*) FROM (SELECT value FROM generate_series(1, 3000000) ORDER BY value DESC) s").await;
    assert_eq!(sorted, vec![vec!["3000000".to_owned()]]);
    let grouped = text_rows(&client, "SELECT count(*) FROM (SELECT DISTINCT value FROM generate_series(1, 3000000)) s").await;
    assert_eq!(grouped, vec![vec!["3000000".to_owned()]]);
    assert_eq!(text_rows(&client, "SELECT 1").await, vec![vec!["1".to_owned()]]);
}

#[tokio::test]
async fn out_of_file_descriptors_the_server_backs_off_and_recovers() {
    let server = Server::start();
    let client = server.root().await;
    let limit = server.open_file_limit();
    server.limit_open_files(64);
    // Idle connections past the limit: accept() fails with EMFILE.
    let idle: Vec<std::net::TcpStream> =
        (0..150).filter_map(|_| std::net::TcpStream::connect(server.addr).ok()).collect();
    assert!(idle.len() > 64, "the kernel queues connections the server cannot accept");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let (lines, cpu) = (server.log_lines(), cpu_over(&server, 3).await);
    assert!(cpu < 1.0, "accept() spun: {cpu} CPU seconds in 3 s");
    assert!(server.log_lines() - lines < 10, "the log was flooded: {} lines in 3 s", server.log_lines() - lines);
    // A session already open goes on.
    assert_eq!(text_rows(&client, "SELECT 1").await, vec![vec!["1".to_owned()]]);
    drop(idle);
    server.limit_open_files(limit);
    // Once descriptors are free again, new clients get in (the idle ones
    // the server accepted in between end at the startup timeout or when
    // their peer closes).
    // The server notices the idle peers' close as it reads from them, so
    // a newcomer may find their slots still taken for a moment (53300).
    let mut newcomer = server.connect("root", cairn_e2e::ROOT_PASSWORD).await;
    for _ in 0..50 {
        if newcomer.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        newcomer = server.connect("root", cairn_e2e::ROOT_PASSWORD).await;
    }
    let newcomer = newcomer.expect("a newcomer gets in once descriptors are free");
    assert_eq!(text_rows(&newcomer, "SELECT 1").await, vec![vec!["1".to_owned()]]);
}
