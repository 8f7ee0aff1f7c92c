//! Large inserts into empty partitions, which the store writes as bulk
//! loads (new sorted files, not a batch): what a client sees must be what
//! it sees of any insert, whichever way the rows were written. (That these
//! statements do load is shown by the server's debug log, `bulk load`.)

use std::time::Duration;

use bytes::Bytes;
use cairn_e2e::{sqlstate, text_rows, Server};
use futures::SinkExt;
use tokio_postgres::Client;

/// Rows of a load: with [`PAD`], more data than the smallest load (16 MiB).
const ROWS: i64 = 70_000;

/// A column's worth of text that makes each row about 330 bytes.
const PAD: &str = "a padding of a hundred and some bytes, so that seventy thousand rows make a load rather than a batch; \
                   a padding of a hundred and some bytes, so that seventy thousand rows make a load rather than a batch; \
                   a padding of a hundred and some bytes, so that seventy thousand rows make a load rather than a batch;";

async fn copy_in(client: &Client, sql: &str, data: &str) -> Result<u64, tokio_postgres::Error> {
    let sink = client.copy_in::<_, Bytes>(sql).await?;
    futures::pin_mut!(sink);
    for chunk in data.as_bytes().chunks(64 * 1024) {
        sink.send(Bytes::copy_from_slice(chunk)).await?;
    }
    sink.finish().await
}

fn lines(ids: impl Iterator<Item = i64>) -> String {
    ids.map(|id| format!("{id}\tv{id}\t{PAD}\n")).collect()
}

#[tokio::test]
async fn a_large_copy_into_an_empty_table_is_whole_visible_and_keyed() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute(
        "CREATE SHARED TABLE big (id BIGINT PRIMARY KEY, v TEXT NOT NULL, pad TEXT);
         CREATE SHARED TABLE other (id BIGINT PRIMARY KEY, v TEXT, pad TEXT)",
    )
    .await
    .expect("tables");
    let summary = "SELECT count(*), sum(id), min(v), max(id) FROM big";

    // A key twice, or a NULL in a NOT NULL column: 23505 or 23502 as row
    // by row, naming the row, and nothing written.
    let twice = lines((1..=ROWS).chain([4242]));
    let error = copy_in(&root, "COPY big FROM STDIN", &twice).await.expect_err("a key twice");
    assert_eq!(sqlstate(&error), "23505");
    let detail = error.as_db_error().and_then(|e| e.detail()).unwrap_or_default().to_owned();
    assert_eq!(detail, "Key (id)=(4242) already exists.");
    let null_late = format!("{}{ROWS}\t\\N\t{PAD}\n", lines(1..ROWS));
    let error = copy_in(&root, "COPY big FROM STDIN", &null_late).await.expect_err("a NULL");
    assert_eq!(sqlstate(&error), "23502");
    assert_eq!(text_rows(&root, "SELECT count(*) FROM big").await, [["0"]]);

    // Out of order: loaded all the same.
    assert_eq!(copy_in(&root, "COPY big FROM STDIN", &lines((1..=ROWS).rev())).await.expect("load"), ROWS as u64);
    let total = (ROWS * (ROWS + 1) / 2).to_string();
    assert_eq!(text_rows(&root, summary).await, [["70000", total.as_str(), "v1", "70000"]]);
    assert_eq!(text_rows(&root, "SELECT v FROM big WHERE id = 31337").await, [["v31337"]]);
    assert_eq!(text_rows(&root, "SELECT id FROM big ORDER BY id DESC LIMIT 2").await, [["70000"], ["69999"]]);
    // The loaded keys are taken; new ones are not.
    let error = root.batch_execute("INSERT INTO big VALUES (69999, 'again', NULL)").await.expect_err("taken");
    assert_eq!(sqlstate(&error), "23505");
    root.batch_execute("INSERT INTO big VALUES (70001, 'next', NULL)").await.expect("a new key");
    // No longer empty: a large copy goes through a batch, and finds a taken key.
    let error = copy_in(&root, "COPY big FROM STDIN", &lines((70_002..=140_000).chain([5]))).await.expect_err("taken");
    assert_eq!(sqlstate(&error), "23505");
    assert_eq!(copy_in(&root, "COPY big FROM STDIN", &lines(70_002..=140_000)).await.expect("batch"), 69_999);
    assert_eq!(text_rows(&root, "SELECT count(*), max(id) FROM big").await, [["140000", "140000"]]);

    // INSERT … SELECT of many rows loads too, and UPDATE and DELETE see them.
    let insert = |values: &str, from: i64| format!("INSERT INTO other SELECT g, {values}, '{PAD}' FROM generate_series({from}, {}) AS t(g)", from + ROWS - 1);
    root.batch_execute(&insert("'x' || g", 1)).await.expect("insert select");
    root.batch_execute("UPDATE other SET v = 'changed' WHERE id = 7; DELETE FROM other WHERE id > 69990").await.expect("dml");
    assert_eq!(text_rows(&root, "SELECT count(*), max(id) FROM other").await, [["69990", "69990"]]);
    assert_eq!(text_rows(&root, "SELECT v FROM other WHERE id = 7").await, [["changed"]]);

    // Emptied by DELETE, a table loads again, and the deleted rows stay gone.
    root.batch_execute("DELETE FROM other").await.expect("empty it");
    root.batch_execute(&insert("'y'", 100_001)).await.expect("reload");
    assert_eq!(text_rows(&root, "SELECT count(*), min(id), max(v) FROM other").await, [["70000", "100001", "y"]]);
}

/// Each user's partition of a USER table is loaded on its own: alice's
/// rows do not make bob's partition hold any, nor take his keys.
#[tokio::test]
async fn users_load_their_own_partitions() {
    let server = Server::start_with(&["--scrypt-log-n", "4"]);
    let root = server.root().await;
    root.batch_execute(
        "CREATE USER TABLE notes (id BIGINT PRIMARY KEY, body TEXT, pad TEXT);
         CREATE USER alice WITH PASSWORD 'pw' ROLE user;
         CREATE USER bob WITH PASSWORD 'pw' ROLE user;",
    )
    .await
    .expect("setup");
    let alice = server.connect("alice", "pw").await.expect("alice");
    let bob = server.connect("bob", "pw").await.expect("bob");
    assert_eq!(copy_in(&alice, "COPY notes FROM STDIN", &lines(1..=ROWS)).await.expect("alice"), ROWS as u64);
    assert_eq!(copy_in(&bob, "COPY notes FROM STDIN", &lines(1..=ROWS)).await.expect("bob"), ROWS as u64);
    for client in [&alice, &bob] {
        assert_eq!(text_rows(client, "SELECT count(*), max(id) FROM notes").await, [["70000", "70000"]]);
    }
    let error = bob.batch_execute("INSERT INTO notes VALUES (1, 'again', NULL)").await.expect_err("bob's own key");
    assert_eq!(sqlstate(&error), "23505");
}

/// A transaction that read the table before a load sees none of it, and
/// cannot commit a write based on what it read.
#[tokio::test]
async fn a_load_is_atomic_to_transactions() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute("CREATE SHARED TABLE big (id BIGINT PRIMARY KEY, v TEXT, pad TEXT)").await.expect("table");
    let reader = server.root().await;
    reader.batch_execute("BEGIN").await.expect("begin");
    assert_eq!(text_rows(&reader, "SELECT count(*) FROM big").await, [["0"]]);

    let rows = tokio::spawn({
        let loader = server.root().await;
        async move { copy_in(&loader, "COPY big FROM STDIN", &lines(1..=ROWS)).await.expect("load") }
    });
    // Meanwhile the count is all or nothing: never part of the load.
    loop {
        let count = text_rows(&root, "SELECT count(*) FROM big").await[0][0].clone();
        assert!(count == "0" || count == "70000", "a load seen in part: {count}");
        if rows.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(rows.await.expect("loader"), ROWS as u64);
    assert_eq!(text_rows(&root, "SELECT count(*) FROM big").await, [["70000"]]);

    assert_eq!(text_rows(&reader, "SELECT count(*) FROM big").await, [["0"]], "the snapshot from before");
    reader.batch_execute("INSERT INTO big VALUES (70001, 'after', NULL)").await.expect("staged");
    let error = reader.batch_execute("COMMIT").await.expect_err("what it read has changed");
    assert_eq!(sqlstate(&error), "40001");
}

/// A statement that answers 57014 has written nothing, and one that
/// answers its row count has written every row. The write runs where the
/// statement's guard cannot stop it; a timeout that fires once it has
/// begun must not say the statement failed. The timeouts are spread so
/// that some fire before the write (while INSERT … SELECT generates its
/// rows) and some after; whichever way each goes, the answer must be true.
#[tokio::test]
async fn a_timeout_never_hides_a_write_that_happened() {
    let server = Server::start();
    let root = server.root().await;
    let data = lines(1..=ROWS);
    let insert = format!("INSERT INTO {{}} SELECT g, 'v', '{PAD}' FROM generate_series(1, {ROWS}) AS t(g)");
    let mut outcomes = Vec::new();
    for (round, timeout_ms) in [1, 5, 20, 50, 100, 200, 300, 400, 500, 600].into_iter().enumerate() {
        for copy in [true, false] {
            let table = format!("t{round}_{copy}");
            root.batch_execute(&format!("CREATE SHARED TABLE {table} (id BIGINT PRIMARY KEY, v TEXT, pad TEXT)")).await.expect("table");
            root.batch_execute(&format!("SET statement_timeout = {timeout_ms}")).await.expect("set");
            let result = match copy {
                true => copy_in(&root, &format!("COPY {table} FROM STDIN"), &data).await,
                false => root.execute(&insert.replace("{}", &table), &[]).await,
            };
            root.batch_execute("SET statement_timeout = 0").await.expect("reset");
            // A write cut off from its statement would still be landing.
            if result.is_err() {
                tokio::time::sleep(Duration::from_millis(1500)).await;
            }
            let count = text_rows(&root, &format!("SELECT count(*) FROM {table}")).await[0][0].clone();
            match &result {
                Ok(rows) => assert_eq!((*rows, count.as_str()), (ROWS as u64, "70000"), "{table}, {timeout_ms} ms"),
                Err(error) => {
                    assert_eq!(sqlstate(error), "57014", "{table}, {timeout_ms} ms: {error:?}");
                    assert_eq!(count, "0", "{table}, {timeout_ms} ms: answered 57014 but the rows were written");
                }
            }
            outcomes.push(result.is_ok());
        }
    }
    assert!(outcomes.contains(&true) && outcomes.contains(&false), "both outcomes seen: {outcomes:?}");
}

/// DROP TABLE drops a loaded table's files whole rather than writing a
/// tombstone per row: the rows must be gone all the same, a new table of
/// the same name empty, the other tables whole, before and after a restart.
#[tokio::test]
async fn a_dropped_load_is_gone_and_its_neighbours_stay() {
    let mut server = Server::start();
    let root = server.root().await;
    let schema = "CREATE SHARED TABLE big (id BIGINT PRIMARY KEY, v TEXT NOT NULL, pad TEXT)";
    root.batch_execute(&format!("{schema}; CREATE SHARED TABLE kept (id BIGINT PRIMARY KEY, v TEXT NOT NULL, pad TEXT)")).await.expect("tables");
    copy_in(&root, "COPY big FROM STDIN", &lines(1..=ROWS)).await.expect("load big");
    copy_in(&root, "COPY kept FROM STDIN", &lines(1..=ROWS)).await.expect("load kept");
    root.batch_execute("INSERT INTO big VALUES (0, 'batched', NULL)").await.expect("a row in the memtable too");

    // A transaction that read the table fails at COMMIT once it is dropped.
    let reader = server.root().await;
    reader.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ").await.expect("begin");
    assert_eq!(text_rows(&reader, "SELECT count(*) FROM big").await, [[(ROWS + 1).to_string()]]);
    reader.batch_execute("INSERT INTO kept VALUES (-1, 'from the reader', NULL)").await.expect("write");

    root.batch_execute(&format!("DROP TABLE big; {schema}")).await.expect("drop and recreate");
    let error = reader.batch_execute("COMMIT").await.expect_err("read a dropped table");
    assert_eq!(sqlstate(&error), "40001");

    let kept = [[ROWS.to_string(), (ROWS * (ROWS + 1) / 2).to_string()]];
    for when in ["after the drop", "after a restart"] {
        let root = server.root().await;
        assert_eq!(text_rows(&root, "SELECT count(*) FROM big").await, [["0"]], "{when}");
        assert_eq!(text_rows(&root, "SELECT count(*), sum(id) FROM kept").await, kept, "{when}");
        server.kill();
        server.restart();
    }
    // The new table takes a load again.
    let root = server.root().await;
    copy_in(&root, "COPY big FROM STDIN", &lines(1..=10)).await.expect("copy into the new table");
    assert_eq!(text_rows(&root, "SELECT count(*) FROM big").await, [["10"]]);
}
