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
