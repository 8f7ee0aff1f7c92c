//! ALTER TABLE: definitions and rows change together, and stay together
//! across a crash.

use cairn_e2e::{error_code, sqlstate, text_rows, Server};

async fn setup(server: &Server) -> tokio_postgres::Client {
    let root = server.root().await;
    root.batch_execute(
        "CREATE NAMESPACE app;
         CREATE TABLE app.products (sku TEXT PRIMARY KEY, name TEXT, price NUMERIC(12,2));
         INSERT INTO app.products VALUES ('a', 'Apple', 1.5), ('b', NULL, 2), ('c', 'Cherry', 3);",
    )
    .await
    .expect("setup");
    root
}

/// What ALTER TABLE does to rows is in `tests/conformance/statements/alter_table.slt`;
/// here, that an acknowledged ALTER survives SIGKILL with its rows.
#[tokio::test]
async fn acknowledged_alters_survive_a_crash_with_their_rows() {
    let mut server = Server::start();
    let root = setup(&server).await;
    for sql in [
        "ALTER TABLE app.products ADD COLUMN stock INT DEFAULT 0",
        "ALTER TABLE app.products ADD COLUMN serial BIGINT DEFAULT snowflake_id()",
        "ALTER TABLE app.products DROP COLUMN name",
        "ALTER TABLE app.products RENAME COLUMN price TO unit_price",
        "ALTER TABLE app.products ALTER COLUMN stock SET NOT NULL",
        "ALTER TABLE app.products RENAME TO goods",
    ] {
        root.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let before = text_rows(&root, "SELECT * FROM app.goods ORDER BY sku").await;
    assert_eq!(before.len(), 3);
    drop(root);
    server.kill();
    server.restart();
    let root = server.root().await;
    assert_eq!(text_rows(&root, "SELECT * FROM app.goods ORDER BY sku").await, before);
    let columns = text_rows(&root, "SELECT column_name FROM system.columns WHERE table_name = 'goods' ORDER BY ordinal_position").await;
    assert_eq!(columns, [["sku"], ["unit_price"], ["stock"], ["serial"]]);
}
#[tokio::test]
async fn alter_is_for_administrators_outside_transactions() {
    let server = Server::start();
    let root = setup(&server).await;
    root.batch_execute("CREATE USER alice WITH PASSWORD 'alice-pw' ROLE user").await.expect("alice");
    let alice = server.connect("alice", "alice-pw").await.expect("alice");
    assert_eq!(error_code(&alice, "ALTER TABLE app.products ADD COLUMN x INT").await, "42501");
    // Inside a block (as migration tools run DDL) the ALTER applies at once,
    // and the block, having read nothing before it, sees the altered rows.
    root.batch_execute("BEGIN; ALTER TABLE app.products ADD COLUMN x INT DEFAULT 4; UPDATE app.products SET x = x + 1 WHERE sku = 'a'; COMMIT")
        .await
        .expect("migration in a block");
    assert_eq!(text_rows(&root, "SELECT sku, x FROM app.products ORDER BY sku").await, [["a", "5"], ["b", "4"], ["c", "4"]]);
    root.batch_execute("ALTER TABLE app.products DROP COLUMN x").await.expect("drop x");
    assert_eq!(error_code(&root, "ALTER TABLE app.products ALTER COLUMN name TYPE INT").await, "0A000");

    // A transaction that wrote rows shaped by the old definition cannot commit them.
    let other = server.root().await;
    other.batch_execute("BEGIN; INSERT INTO app.products VALUES ('z', 'Zed', 9)").await.expect("write");
    root.batch_execute("ALTER TABLE app.products DROP COLUMN name").await.expect("alter");
    let error = other.batch_execute("COMMIT").await.expect_err("stale rows");
    assert_eq!(sqlstate(&error), "40001");
    assert_eq!(text_rows(&root, "SELECT count(*) FROM app.products").await, [["3"]]);
}
