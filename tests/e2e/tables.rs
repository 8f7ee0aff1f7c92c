use cairn_e2e::{error_code, text_rows, Server};

async fn setup(server: &Server) -> tokio_postgres::Client {
    let root = server.root().await;
    root.batch_execute(
        "CREATE NAMESPACE app;
         CREATE USER alice WITH PASSWORD 'alice-pw' ROLE user;
         CREATE USER bob WITH PASSWORD 'bob-pw' ROLE user;
         CREATE USER svc WITH PASSWORD 'svc-pw' ROLE service;
         CREATE USER TABLE app.messages (
           id BIGINT PRIMARY KEY DEFAULT snowflake_id(),
           conversation_id BIGINT NOT NULL,
           body TEXT NOT NULL,
           author TEXT DEFAULT current_user,
           sent_at TIMESTAMPTZ NOT NULL DEFAULT now()
         );
         CREATE SHARED TABLE app.products (sku TEXT PRIMARY KEY, name VARCHAR(10), price NUMERIC(12,2))
           WITH (ACCESS_LEVEL = 'PUBLIC');
         CREATE TABLE app.plain (k INT PRIMARY KEY, v TEXT);",
    )
    .await
    .expect("setup");
    root
}

#[tokio::test]
async fn user_tables_isolate_every_user() {
    let server = Server::start();
    let root = setup(&server).await;
    let alice = server.connect("alice", "alice-pw").await.expect("alice");
    let bob = server.connect("bob", "bob-pw").await.expect("bob");
    alice
        .batch_execute("INSERT INTO app.messages (conversation_id, body) VALUES (1, 'hi'), (1, 'there')")
        .await
        .expect("alice inserts");
    bob.batch_execute("INSERT INTO app.messages (conversation_id, body) VALUES (1, 'bob here')").await.expect("bob inserts");

    let rows = text_rows(&alice, "SELECT body, author FROM app.messages WHERE conversation_id = 1 ORDER BY id DESC LIMIT 20").await;
    assert_eq!(rows, [["there", "alice"], ["hi", "alice"]]);
    assert_eq!(text_rows(&bob, "SELECT body FROM app.messages").await, [["bob here"]]);
    assert_eq!(text_rows(&alice, "SELECT count(*) FROM app.messages").await, [["2"]]);
    // Joins and subqueries see only the caller's partition too.
    let joined = text_rows(&bob, "SELECT count(*) FROM app.messages a JOIN app.messages b ON a.conversation_id = b.conversation_id").await;
    assert_eq!(joined, [["1"]]);
    let prepared = bob.query("SELECT body FROM app.messages WHERE conversation_id = $1", &[&1i64]).await.expect("prepared");
    assert_eq!(prepared.len(), 1);
    // The same key in two partitions is no conflict: ids are per user.
    root.batch_execute("INSERT INTO app.messages (id, conversation_id, body) VALUES (1, 9, 'root')").await.expect("root");
    alice.batch_execute("INSERT INTO app.messages (id, conversation_id, body) VALUES (1, 9, 'alice')").await.expect("alice");
    // A dba is scoped to its own partition as well.
    assert_eq!(text_rows(&root, "SELECT body FROM app.messages").await, [["root"]]);
    // Defaults: snowflake ids grow, sent_at is set.
    let ids = text_rows(&alice, "SELECT id, sent_at IS NOT NULL FROM app.messages WHERE conversation_id = 1 ORDER BY id").await;
    assert!(ids[0][0].parse::<i64>().expect("id") < ids[1][0].parse::<i64>().expect("id"));
    assert_eq!(ids[0][1], "t");
}

/// What a unique violation carries besides its SQLSTATE, and writes
/// through the extended protocol (the rest of INSERT's checks are in
/// `tests/conformance/statements/writes.slt`).
#[tokio::test]
async fn a_duplicate_key_names_its_constraint_and_key() {
    let server = Server::start();
    let root = setup(&server).await;
    root.batch_execute("INSERT INTO app.products VALUES ('a', 'A', 1)").await.expect("first");
    let error = root.batch_execute("INSERT INTO app.products VALUES ('a', 'x', 1)").await.expect_err("dup");
    let db = error.as_db_error().expect("db error");
    assert_eq!(db.code().code(), "23505");
    assert_eq!(db.message(), "duplicate key value violates unique constraint \"products_pkey\"");
    assert_eq!(db.detail(), Some("Key (sku)=(a) already exists."));
    let inserted = root.execute("INSERT INTO app.plain VALUES ($1, $2)", &[&42i32, &"p"]).await.expect("prepared insert");
    assert_eq!(inserted, 1);
}

#[tokio::test]
async fn tables_without_a_key_drop_and_restart() {
    let mut server = Server::start();
    {
        let root = setup(&server).await;
        root.batch_execute(
            "CREATE TABLE app.log (line TEXT);
             INSERT INTO app.log VALUES ('x'), ('x'), ('y');
             INSERT INTO app.plain VALUES (1, 'one'), (2, 'two');",
        )
        .await
        .expect("setup");
        assert_eq!(text_rows(&root, "SELECT * FROM app.log ORDER BY line").await, [["x"], ["x"], ["y"]]);
        let columns = text_rows(&root, "SELECT column_name FROM system.columns WHERE namespace = 'app' AND table_name = 'log'").await;
        assert_eq!(columns, [["line"]], "the hidden row key is not a column");
    }
    server.stop();
    server.restart();
    let root = server.root().await;
    assert_eq!(text_rows(&root, "SELECT v FROM app.plain ORDER BY k").await, [["one"], ["two"]]);
    assert_eq!(text_rows(&root, "SELECT count(*) FROM app.log").await, [["3"]]);
    // DROP TABLE removes the rows: a new table of the same name is empty.
    root.batch_execute("DROP TABLE app.plain; CREATE TABLE app.plain (k INT PRIMARY KEY, v TEXT)").await.expect("recreate");
    assert_eq!(text_rows(&root, "SELECT count(*) FROM app.plain").await, [["0"]]);
    assert_eq!(error_code(&root, "DROP TABLE app.gone").await, "42P01");
    root.batch_execute("DROP TABLE IF EXISTS app.gone").await.expect("if exists");
    // A namespace with tables needs CASCADE.
    assert_eq!(error_code(&root, "DROP NAMESPACE app").await, "2BP01");
    root.batch_execute("DROP NAMESPACE app CASCADE").await.expect("cascade");
    assert!(text_rows(&root, "SELECT * FROM system.tables").await.is_empty());
}

#[tokio::test]
async fn stream_rows_expire_after_their_ttl() {
    let server = Server::start_with(&["--eviction-interval-seconds", "1"]);
    let root = setup(&server).await;
    root.batch_execute(
        "CREATE STREAM TABLE app.events (id BIGINT PRIMARY KEY DEFAULT snowflake_id(), kind TEXT) WITH (TTL_SECONDS = 2);
         INSERT INTO app.events (kind) VALUES ('a'), ('b');",
    )
    .await
    .expect("stream");
    let meta = text_rows(&root, "SELECT kind, ttl_seconds FROM system.tables WHERE namespace = 'app' AND name = 'events'").await;
    assert_eq!(meta, [["stream", "2"]]);
    assert_eq!(text_rows(&root, "SELECT count(*) FROM app.events").await, [["2"]]);
    assert_eq!(error_code(&root, "UPDATE app.events SET kind = 'c'").await, "0A000");
    assert_eq!(error_code(&root, "CREATE STREAM TABLE app.no_ttl (a INT)").await, "22023");
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    assert_eq!(text_rows(&root, "SELECT count(*) FROM app.events").await, [["0"]], "expired rows are never returned");
    root.batch_execute("INSERT INTO app.events (kind) VALUES ('later')").await.expect("insert after expiry");
    assert_eq!(text_rows(&root, "SELECT kind FROM app.events").await, [["later"]]);
}

#[tokio::test]
async fn returning_gives_back_the_written_rows() {
    let server = Server::start();
    let root = setup(&server).await;
    let alice = server.connect("alice", "alice-pw").await.expect("alice");
    let rows = alice
        .query(
            "INSERT INTO app.messages (conversation_id, body) VALUES (1, 'hi'), (1, 'there') RETURNING id, sent_at, body AS text",
            &[],
        )
        .await
        .expect("insert returning");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].columns()[2].name(), "text");
    let first_id: i64 = rows[0].get("id");
    assert!(first_id > 0);
    let _: std::time::SystemTime = rows[0].get("sent_at");
    // The simple protocol too, with the INSERT tag.
    let messages = alice
        .simple_query("INSERT INTO app.messages (conversation_id, body) VALUES (2, 'x') RETURNING *")
        .await
        .expect("simple returning");
    assert!(messages.iter().any(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(r) if r.get("body") == Some("x"))));
    assert!(messages.iter().any(|m| matches!(m, tokio_postgres::SimpleQueryMessage::CommandComplete(1))));
    let updated = alice
        .query("UPDATE app.messages SET body = 'edited' WHERE id = $1 RETURNING id, body", &[&first_id])
        .await
        .expect("update returning");
    assert_eq!((updated[0].get::<_, i64>(0), updated[0].get::<_, &str>(1)), (first_id, "edited"));
    let deleted = alice
        .query("DELETE FROM app.messages WHERE conversation_id = 1 RETURNING body", &[])
        .await
        .expect("delete returning");
    let mut bodies: Vec<&str> = deleted.iter().map(|r| r.get(0)).collect();
    bodies.sort();
    assert_eq!(bodies, ["edited", "there"]);
    // Any expression over the written row, named as PostgreSQL names it.
    let computed = root
        .query("INSERT INTO app.plain VALUES (1, 'x') RETURNING k + 1, upper(v), k * 10 AS tens, plain.v", &[])
        .await
        .expect("returning expressions");
    let names: Vec<&str> = computed[0].columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["?column?", "upper", "tens", "v"]);
    // (DataFusion types integer literals as bigint, so `k + 1` is bigint.)
    assert_eq!(computed[0].get::<_, i64>(0), 2);
    assert_eq!(computed[0].get::<_, &str>(1), "X");
    assert_eq!(computed[0].get::<_, i64>(2), 10);
    assert_eq!(error_code(&root, "INSERT INTO app.plain VALUES (2, 'x') RETURNING nope").await, "42703");
    // RETURNING inside a transaction, then rolled back.
    root.batch_execute("BEGIN").await.expect("begin");
    let inserted = root.query("INSERT INTO app.plain VALUES (5, 'five') RETURNING v", &[]).await.expect("in tx");
    assert_eq!(inserted[0].get::<_, &str>(0), "five");
    root.batch_execute("ROLLBACK").await.expect("rollback");
    assert_eq!(text_rows(&root, "SELECT count(*) FROM app.plain WHERE k = 5").await, [["0"]]);
}
