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

#[tokio::test]
async fn columns_are_added_dropped_and_renamed_with_the_rows_in_step() {
    let mut server = Server::start();
    let root = setup(&server).await;
    root.batch_execute("ALTER TABLE app.products ADD COLUMN stock INT DEFAULT 0").await.expect("add");
    root.batch_execute("ALTER TABLE app.products ADD COLUMN note TEXT, ADD COLUMN serial BIGINT DEFAULT snowflake_id()")
        .await
        .expect("add two");
    root.batch_execute("INSERT INTO app.products (sku, name) VALUES ('d', 'Date')").await.expect("insert");
    assert_eq!(
        text_rows(&root, "SELECT sku, stock, coalesce(note, '-') FROM app.products ORDER BY sku").await,
        [["a", "0", "-"], ["b", "0", "-"], ["c", "0", "-"], ["d", "0", "-"]]
    );
    assert_eq!(
        text_rows(&root, "SELECT count(DISTINCT serial), count(serial) FROM app.products").await,
        [["4", "4"]],
        "a per-row default gives each existing row its own value"
    );
    assert_eq!(error_code(&root, "ALTER TABLE app.products ADD COLUMN stock INT").await, "42701");
    root.batch_execute("ALTER TABLE app.products ADD COLUMN IF NOT EXISTS stock INT").await.expect("if not exists");
    assert_eq!(error_code(&root, "ALTER TABLE app.products ADD COLUMN must INT NOT NULL").await, "23502");

    root.batch_execute("ALTER TABLE app.products DROP COLUMN name").await.expect("drop column");
    assert_eq!(
        text_rows(&root, "SELECT * FROM app.products WHERE sku = 'a'").await[0][..3],
        ["a", "1.50", "0"],
        "values after the dropped column moved with it"
    );
    assert_eq!(error_code(&root, "SELECT name FROM app.products").await, "42703");
    assert_eq!(error_code(&root, "ALTER TABLE app.products DROP COLUMN sku").await, "0A000");
    assert_eq!(error_code(&root, "ALTER TABLE app.products DROP COLUMN nope").await, "42703");
    root.batch_execute("ALTER TABLE app.products DROP COLUMN IF EXISTS nope").await.expect("if exists");

    root.batch_execute("ALTER TABLE app.products RENAME COLUMN price TO unit_price").await.expect("rename column");
    assert_eq!(text_rows(&root, "SELECT unit_price FROM app.products WHERE sku = 'c'").await, [["3.00"]]);
    assert_eq!(error_code(&root, "ALTER TABLE app.products RENAME COLUMN stock TO unit_price").await, "42701");

    // Defaults and NOT NULL.
    root.batch_execute("ALTER TABLE app.products ALTER COLUMN stock SET DEFAULT 5").await.expect("set default");
    root.batch_execute("INSERT INTO app.products (sku) VALUES ('e')").await.expect("insert");
    root.batch_execute("ALTER TABLE app.products ALTER COLUMN stock DROP DEFAULT").await.expect("drop default");
    root.batch_execute("INSERT INTO app.products (sku) VALUES ('f')").await.expect("insert");
    assert_eq!(
        text_rows(&root, "SELECT sku, coalesce(stock, -1) FROM app.products WHERE sku IN ('e', 'f') ORDER BY sku").await,
        [["e", "5"], ["f", "-1"]]
    );
    assert_eq!(error_code(&root, "ALTER TABLE app.products ALTER COLUMN stock SET NOT NULL").await, "23502");
    root.batch_execute("UPDATE app.products SET stock = 0 WHERE stock IS NULL").await.expect("fill");
    root.batch_execute("ALTER TABLE app.products ALTER COLUMN stock SET NOT NULL").await.expect("set not null");
    assert_eq!(error_code(&root, "INSERT INTO app.products (sku) VALUES ('g')").await, "23502");
    root.batch_execute("ALTER TABLE app.products ALTER COLUMN stock DROP NOT NULL").await.expect("drop not null");
    assert_eq!(error_code(&root, "ALTER TABLE app.products ALTER COLUMN sku DROP NOT NULL").await, "42P16");

    // Renaming the table.
    root.batch_execute("CREATE TABLE app.other (k INT PRIMARY KEY)").await.expect("other");
    assert_eq!(error_code(&root, "ALTER TABLE app.products RENAME TO other").await, "42P07");
    root.batch_execute("ALTER TABLE app.products RENAME TO goods").await.expect("rename");
    assert_eq!(error_code(&root, "SELECT * FROM app.products").await, "42P01");
    assert_eq!(error_code(&root, "ALTER TABLE app.products ADD COLUMN x INT").await, "42P01");
    root.batch_execute("ALTER TABLE IF EXISTS app.products ADD COLUMN x INT").await.expect("if exists");

    // Everything above was acknowledged, so it survives SIGKILL.
    let before = text_rows(&root, "SELECT * FROM app.goods ORDER BY sku").await;
    drop(root);
    server.kill();
    server.restart();
    let root = server.root().await;
    assert_eq!(text_rows(&root, "SELECT * FROM app.goods ORDER BY sku").await, before);
    let columns = text_rows(&root, "SELECT column_name FROM system.columns WHERE table_name = 'goods' ORDER BY ordinal_position").await;
    assert_eq!(columns, [["sku"], ["unit_price"], ["stock"], ["note"], ["serial"]]);
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
