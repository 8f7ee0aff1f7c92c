use cairn_e2e::{error_code, sqlstate, text_rows, Server};

async fn setup(server: &Server) -> tokio_postgres::Client {
    let root = server.root().await;
    root.batch_execute(
        "CREATE TABLE accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL);
         INSERT INTO accounts VALUES (1, 100), (2, 100);",
    )
    .await
    .expect("setup");
    root
}

/// Several statements in one simple Query are one transaction, as in
/// PostgreSQL: an error rolls back those before it, success commits them
/// all, and an open block is left to the client.
#[tokio::test]
async fn a_string_of_statements_is_one_transaction() {
    let server = Server::start();
    let root = setup(&server).await;
    let error = root
        .batch_execute("UPDATE accounts SET balance = 0 WHERE id = 1; SET application_name = 'gone'; SELECT 1 / 0")
        .await
        .expect_err("division by zero");
    assert_eq!(sqlstate(&error), "22012");
    let balance = text_rows(&root, "SELECT balance FROM accounts WHERE id = 1").await;
    assert_eq!(balance, [["100"]], "the UPDATE before the error was rolled back");
    assert_ne!(text_rows(&root, "SHOW application_name").await, [["gone"]], "and so was the SET");
    root.batch_execute("UPDATE accounts SET balance = 1 WHERE id = 1; UPDATE accounts SET balance = 2 WHERE id = 2")
        .await
        .expect("both");
    assert_eq!(text_rows(&root, "SELECT balance FROM accounts ORDER BY id").await, [["1"], ["2"]]);
    // A string that opens its own block is the client's to end.
    root.batch_execute("BEGIN; UPDATE accounts SET balance = 3 WHERE id = 1").await.expect("open");
    root.batch_execute("ROLLBACK").await.expect("rollback");
    assert_eq!(text_rows(&root, "SELECT balance FROM accounts WHERE id = 1").await, [["1"]]);
}

#[tokio::test]
async fn a_transaction_sees_its_own_writes_and_publishes_them_at_commit() {
    let server = Server::start();
    let a = setup(&server).await;
    let b = server.root().await;
    a.batch_execute(
        "BEGIN;
         UPDATE accounts SET balance = balance - 30 WHERE id = 1;
         UPDATE accounts SET balance = balance + 30 WHERE id = 2;
         INSERT INTO accounts VALUES (3, 0);
         DELETE FROM accounts WHERE id = 3;
         INSERT INTO accounts VALUES (4, 5);",
    )
    .await
    .expect("transaction");
    assert_eq!(
        text_rows(&a, "SELECT id, balance FROM accounts ORDER BY id").await,
        [["1", "70"], ["2", "130"], ["4", "5"]]
    );
    assert_eq!(text_rows(&a, "SELECT balance FROM accounts WHERE id = 2").await, [["130"]], "point gets see own writes");
    assert_eq!(
        text_rows(&b, "SELECT id, balance FROM accounts ORDER BY id").await,
        [["1", "100"], ["2", "100"]],
        "nobody else sees uncommitted writes"
    );
    assert_eq!(error_code(&a, "INSERT INTO accounts VALUES (4, 1)").await, "23505", "own inserts count for uniqueness");
    // That error failed the block: COMMIT now rolls back.
    let messages = a.simple_query("COMMIT").await.expect("commit");
    assert!(matches!(messages.last(), Some(tokio_postgres::SimpleQueryMessage::CommandComplete(_))));
    assert_eq!(text_rows(&b, "SELECT sum(balance) FROM accounts").await, [["200"]]);

    a.batch_execute("BEGIN; UPDATE accounts SET balance = 0 WHERE id = 1; INSERT INTO accounts VALUES (9, 9); COMMIT")
        .await
        .expect("commit");
    assert_eq!(text_rows(&b, "SELECT id, balance FROM accounts ORDER BY id").await, [["1", "0"], ["2", "100"], ["9", "9"]]);
}

#[tokio::test]
async fn rollback_discards_and_snapshots_are_stable() {
    let server = Server::start();
    let a = setup(&server).await;
    let b = server.root().await;
    a.batch_execute("BEGIN; INSERT INTO accounts VALUES (5, 5); ROLLBACK").await.expect("rollback");
    assert_eq!(text_rows(&a, "SELECT count(*) FROM accounts").await, [["2"]]);

    // A transaction reads the snapshot of its BEGIN.
    a.batch_execute("BEGIN").await.expect("begin");
    b.batch_execute("INSERT INTO accounts VALUES (6, 6)").await.expect("concurrent insert");
    assert_eq!(text_rows(&a, "SELECT count(*) FROM accounts").await, [["2"]]);
    a.batch_execute("COMMIT").await.expect("read-only commit");
    assert_eq!(text_rows(&a, "SELECT count(*) FROM accounts").await, [["3"]]);

    // tokio-postgres's transaction API rolls back when dropped.
    let mut client = server.root().await;
    {
        let transaction = client.transaction().await.expect("begin");
        transaction.execute("INSERT INTO accounts VALUES ($1, $2)", &[&7i32, &7i64]).await.expect("insert");
        assert_eq!(transaction.query("SELECT id FROM accounts WHERE id = 7", &[]).await.expect("read").len(), 1);
    }
    assert_eq!(text_rows(&client, "SELECT count(*) FROM accounts WHERE id = 7").await, [["0"]]);
    let transaction = client.transaction().await.expect("begin");
    transaction.execute("INSERT INTO accounts VALUES ($1, $2)", &[&7i32, &7i64]).await.expect("insert");
    transaction.commit().await.expect("commit");
    assert_eq!(text_rows(&b, "SELECT balance FROM accounts WHERE id = 7").await, [["7"]]);
}

#[tokio::test]
async fn concurrent_writers_of_one_row_conflict_with_40001() {
    let server = Server::start();
    let a = setup(&server).await;
    let b = server.root().await;
    a.batch_execute("BEGIN; UPDATE accounts SET balance = balance + 1 WHERE id = 1").await.expect("a");
    b.batch_execute("BEGIN; UPDATE accounts SET balance = balance + 10 WHERE id = 1").await.expect("b");
    a.batch_execute("COMMIT").await.expect("first committer wins");
    let error = b.batch_execute("COMMIT").await.expect_err("second committer loses");
    assert_eq!(sqlstate(&error), "40001");
    assert_eq!(text_rows(&b, "SELECT balance FROM accounts WHERE id = 1").await, [["101"]]);
    // After the failed COMMIT the session is out of the block and can retry.
    b.batch_execute("BEGIN; UPDATE accounts SET balance = balance + 10 WHERE id = 1; COMMIT").await.expect("retry");
    assert_eq!(text_rows(&a, "SELECT balance FROM accounts WHERE id = 1").await, [["111"]]);
    // Two transactions inserting one key: the second commit conflicts too.
    a.batch_execute("BEGIN; INSERT INTO accounts VALUES (8, 1)").await.expect("a insert");
    b.batch_execute("BEGIN; INSERT INTO accounts VALUES (8, 2)").await.expect("b insert");
    a.batch_execute("COMMIT").await.expect("a commits");
    assert_eq!(sqlstate(&b.batch_execute("COMMIT").await.expect_err("b conflicts")), "40001");
    assert_eq!(text_rows(&b, "SELECT balance FROM accounts WHERE id = 8").await, [["1"]]);
}

#[tokio::test]
async fn savepoints_undo_part_of_a_transaction_and_recover_a_failed_one() {
    let server = Server::start();
    let a = setup(&server).await;
    a.batch_execute(
        "BEGIN;
         UPDATE accounts SET balance = 1 WHERE id = 1;
         SAVEPOINT s1;
         UPDATE accounts SET balance = 2 WHERE id = 1;
         SAVEPOINT s2;
         INSERT INTO accounts VALUES (9, 9);
         ROLLBACK TO SAVEPOINT s1;",
    )
    .await
    .expect("savepoints");
    assert_eq!(text_rows(&a, "SELECT id, balance FROM accounts ORDER BY id").await, [["1", "1"], ["2", "100"]]);
    // s2 went with the rollback to s1; s1 itself stays.
    assert_eq!(error_code(&a, "RELEASE SAVEPOINT s2").await, "3B001");
    a.batch_execute("ROLLBACK TO s1").await.expect("recover");
    // A failed statement aborts the block until ROLLBACK TO SAVEPOINT.
    assert_eq!(error_code(&a, "INSERT INTO accounts VALUES (1, 0)").await, "23505");
    assert_eq!(error_code(&a, "SELECT 1").await, "25P02");
    a.batch_execute("ROLLBACK TO SAVEPOINT s1; INSERT INTO accounts VALUES (3, 3); RELEASE s1; COMMIT")
        .await
        .expect("recovered and committed");
    assert_eq!(
        text_rows(&a, "SELECT id, balance FROM accounts ORDER BY id").await,
        [["1", "1"], ["2", "100"], ["3", "3"]]
    );
    assert_eq!(error_code(&a, "SAVEPOINT outside").await, "25P01");
    assert_eq!(error_code(&a, "ROLLBACK TO SAVEPOINT outside").await, "25P01");
    // Isolation: every transaction is serializable, whatever is asked for.
    a.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED; SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").await.expect("set");
    assert_eq!(text_rows(&a, "SHOW transaction_isolation").await, [["serializable"]]);
    a.batch_execute("COMMIT; SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE").await.expect("commit");
    assert_eq!(text_rows(&a, "SHOW default_transaction_isolation").await, [["serializable"]]);
}

#[tokio::test]
async fn write_skew_is_caught_so_transactions_are_serializable() {
    let server = Server::start();
    let a = setup(&server).await;
    let b = server.root().await;
    // Each moves money only if the total stays >= 150; run serially, the
    // second would see 130 and refuse. Both read both rows, then write a
    // different one: snapshot isolation would let both commit.
    a.batch_execute("BEGIN").await.expect("begin a");
    b.batch_execute("BEGIN").await.expect("begin b");
    assert_eq!(text_rows(&a, "SELECT sum(balance) FROM accounts").await, [["200"]]);
    assert_eq!(text_rows(&b, "SELECT sum(balance) FROM accounts").await, [["200"]]);
    a.batch_execute("UPDATE accounts SET balance = balance - 70 WHERE id = 1").await.expect("a writes");
    b.batch_execute("UPDATE accounts SET balance = balance - 70 WHERE id = 2").await.expect("b writes");
    a.batch_execute("COMMIT").await.expect("first committer wins");
    let error = b.batch_execute("COMMIT").await.expect_err("b read what a changed");
    assert_eq!(sqlstate(&error), "40001");
    assert_eq!(text_rows(&a, "SELECT sum(balance) FROM accounts").await, [["130"]]);
}

#[tokio::test]
async fn concurrent_autocommit_updates_lose_nothing() {
    let server = Server::start();
    let _a = setup(&server).await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let client = server.root().await;
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                client.batch_execute("UPDATE accounts SET balance = balance + 1 WHERE id = 1").await.expect("increment");
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    assert_eq!(text_rows(&_a, "SELECT balance FROM accounts WHERE id = 1").await, [["200"]]);
}

#[tokio::test]
async fn cursors_fetch_in_steps_and_end_with_the_block() {
    let server = cairn_e2e::Server::start();
    let root = server.root().await;
    let error = root.batch_execute("DECLARE c CURSOR FOR SELECT 1").await.expect_err("outside a block");
    assert_eq!(error.code().map(|c| c.code()), Some("25P01"));
    root.batch_execute("BEGIN; DECLARE c CURSOR FOR SELECT generate_series(1, 5) AS n").await.expect("declare");
    let fetched = |messages: Vec<tokio_postgres::SimpleQueryMessage>| -> Vec<String> {
        messages
            .into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                _ => None,
            })
            .collect()
    };
    assert_eq!(fetched(root.simple_query("FETCH FORWARD 2 FROM c").await.expect("fetch")), ["1", "2"]);
    assert_eq!(fetched(root.simple_query("FETCH ALL FROM c").await.expect("fetch")), ["3", "4", "5"]);
    assert!(fetched(root.simple_query("FETCH 1 FROM c").await.expect("fetch")).is_empty());
    let listed = cairn_e2e::text_rows(&root, "SELECT name FROM pg_catalog.pg_cursors").await;
    assert_eq!(listed, [["c"]]);
    root.batch_execute("CLOSE c").await.expect("close");
    let error = root.batch_execute("FETCH 1 FROM c").await.expect_err("closed");
    assert_eq!(error.code().map(|c| c.code()), Some("34000"));
    root.batch_execute("ROLLBACK; BEGIN; DECLARE d CURSOR FOR SELECT 1; COMMIT").await.expect("block");
    let error = root.batch_execute("FETCH 1 FROM d").await.expect_err("gone with its block");
    assert_eq!(error.code().map(|c| c.code()), Some("34000"));
}

/// psycopg 3 server-side cursors: DECLARE with `$n` parameters and FETCH
/// through the extended protocol, which must describe the cursor's columns.
#[tokio::test]
async fn cursors_take_parameters_and_fetch_in_the_extended_protocol() {
    let server = cairn_e2e::Server::start();
    let root = server.root().await;
    root.batch_execute("BEGIN").await.expect("begin");
    root.execute("DECLARE c CURSOR FOR SELECT n, n * 10 AS tens FROM generate_series(1, 9) AS g(n) WHERE n <= $1", &[&4i64])
        .await
        .expect("declare with a parameter");
    let rows = root.query("FETCH 3 FROM c", &[]).await.expect("fetch");
    let got: Vec<(i64, i64)> = rows.iter().map(|r| (r.get("n"), r.get("tens"))).collect();
    assert_eq!(got, [(1, 10), (2, 20), (3, 30)]);
    let rows = root.query("FETCH ALL FROM c", &[]).await.expect("fetch the rest");
    assert_eq!(rows.len(), 1);
    let error = root.query("FETCH 1 FROM missing", &[]).await.expect_err("no such cursor");
    assert_eq!(error.code().map(|c| c.code()), Some("34000"));
}

/// A statement outside a transaction block reads one point in time: a
/// writer moves value between two rows (their sum stays 1000) while
/// readers add the two up with self-joins and two scalar subqueries, over
/// both protocols.
#[tokio::test]
async fn every_read_of_a_statement_sees_one_snapshot() {
    let server = Server::start();
    let setup = server.root().await;
    setup
        .batch_execute(
            "CREATE SHARED TABLE acct (id INT PRIMARY KEY, v BIGINT);
             INSERT INTO acct VALUES (1, 1000), (2, 0)",
        )
        .await
        .expect("setup");
    let writer = server.root().await;
    let writes = tokio::spawn(async move {
        for round in 0..300i64 {
            let amount = if round % 2 == 0 { 7 } else { -7 };
            let moved = writer
                .batch_execute(&format!(
                    "BEGIN; UPDATE acct SET v = v - {amount} WHERE id = 1; UPDATE acct SET v = v + {amount} WHERE id = 2; COMMIT"
                ))
                .await;
            if moved.is_err() {
                writer.batch_execute("ROLLBACK").await.expect("rollback");
            }
        }
    });
    let queries = [
        "SELECT a.v + b.v FROM acct a, acct b WHERE a.id = 1 AND b.id = 2",
        "SELECT (SELECT v FROM acct WHERE id = 1) + (SELECT v FROM acct WHERE id = 2)",
        "SELECT a.v + b.v FROM acct a JOIN acct b ON b.id = a.id + 1 WHERE a.id = 1",
        // Full scans, which may read the columnar copy, and a point read.
        "SELECT (SELECT sum(v) FROM acct WHERE v >= 0 AND id <> 1)::bigint + (SELECT v FROM acct WHERE id = 1)",
    ];
    let reader = server.root().await;
    let prepared = {
        let mut prepared = Vec::new();
        for sql in queries {
            prepared.push(reader.prepare(sql).await.expect("prepare"));
        }
        prepared
    };
    let mut reads = 0;
    while !writes.is_finished() {
        for (sql, statement) in queries.iter().zip(&prepared) {
            assert_eq!(text_rows(&reader, sql).await, vec![vec!["1000".to_owned()]], "{sql}");
            let row = reader.query_one(statement, &[]).await.expect("prepared read");
            assert_eq!(row.get::<_, i64>(0), 1000, "{sql} (prepared)");
            reads += 2;
        }
    }
    writes.await.expect("writer");
    assert!(reads > 0);
}
