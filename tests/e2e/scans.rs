//! Scans too long for one batch come back in batches, and scans longer
//! still are read by several threads, each over part of the key range.
//! Either way every row must come back exactly once, in key order when the
//! query asks for it, and only from the partition the session may read.

use cairn_e2e::{text_rows, Server};

/// Ids 1..=60_000, then 1,000 ids spread far above them: the parallel
/// scan cuts its range by key value, so most cuts land in the sparse
/// part, which must not lose or repeat rows.
const SETUP: &str = "
    CREATE TABLE big (id BIGINT PRIMARY KEY, grp INT, label TEXT);
    INSERT INTO big SELECT n, n % 7, 'row ' || n FROM generate_series(1, 60000) AS g(n);
    INSERT INTO big SELECT n * 1000000000, n % 7, 'far ' || n FROM generate_series(1, 1000) AS g(n);";

fn ids() -> Vec<i64> {
    (1..=60_000).chain((1..=1_000).map(|n| n * 1_000_000_000)).collect()
}

#[tokio::test]
async fn long_scans_return_every_row_once_in_key_order() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute(SETUP).await.expect("setup");
    let expected = ids();

    let read = |rows: Vec<tokio_postgres::Row>| rows.iter().map(|row| row.get::<_, i64>(0)).collect::<Vec<_>>();
    let all = read(root.query("SELECT id FROM big ORDER BY id", &[]).await.expect("ordered scan"));
    assert_eq!(all, expected, "a full scan in key order");
    let from = read(root.query("SELECT id FROM big WHERE id >= 20000 ORDER BY id", &[]).await.expect("range"));
    assert_eq!(from, expected.iter().copied().filter(|&id| id >= 20_000).collect::<Vec<_>>(), "a range scan");
    let backwards = read(root.query("SELECT id FROM big ORDER BY id DESC", &[]).await.expect("descending"));
    assert_eq!(backwards, expected.iter().rev().copied().collect::<Vec<_>>());

    let sum: i64 = expected.iter().sum();
    let totals = text_rows(&root, "SELECT count(*), count(DISTINCT id), sum(id) FROM big").await;
    assert_eq!(totals, [[expected.len().to_string(), expected.len().to_string(), sum.to_string()]]);
    let groups = text_rows(&root, "SELECT grp, count(*), sum(id) FROM big GROUP BY grp ORDER BY grp").await;
    let want: Vec<Vec<String>> = (0..7)
        .map(|grp| {
            let members: Vec<i64> =
                expected.iter().copied().filter(|id| if *id > 60_000 { (id / 1_000_000_000) % 7 == grp } else { id % 7 == grp }).collect();
            vec![grp.to_string(), members.len().to_string(), members.iter().sum::<i64>().to_string()]
        })
        .collect();
    assert_eq!(groups, want);
    // Only the columns asked for, right ones in the right places.
    let picked = text_rows(&root, "SELECT label, id FROM big WHERE id IN (7, 59999, 3000000000)").await;
    assert_eq!(picked, [["row 7", "7"], ["row 59999", "59999"], ["far 3", "3000000000"]]);

    // An open transaction sees its own writes in a long scan too.
    root.batch_execute("BEGIN; DELETE FROM big WHERE id <= 10; INSERT INTO big VALUES (0, 0, 'mine')").await.expect("write");
    let inside = text_rows(&root, "SELECT count(*), min(id) FROM big").await;
    assert_eq!(inside, [[(expected.len() - 9).to_string(), "0".to_owned()]]);
    root.batch_execute("ROLLBACK").await.expect("rollback");
}

#[tokio::test]
async fn a_long_scan_of_a_user_table_reads_only_its_user() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute(
        "CREATE USER alice WITH PASSWORD 'alice-pw' ROLE user;
         CREATE USER bob WITH PASSWORD 'bob-pw' ROLE user;
         CREATE USER TABLE notes (id BIGINT PRIMARY KEY, body TEXT);
         EXECUTE AS USER 'alice' (INSERT INTO notes SELECT n, 'a' FROM generate_series(1, 50000) AS g(n));
         EXECUTE AS USER 'bob' (INSERT INTO notes SELECT n, 'b' FROM generate_series(1, 30) AS g(n));",
    )
    .await
    .expect("setup");
    let alice = server.connect("alice", "alice-pw").await.expect("alice");
    let seen = text_rows(&alice, "SELECT count(*), count(DISTINCT id), min(body), max(body) FROM notes").await;
    assert_eq!(seen, [["50000", "50000", "a", "a"]]);
    let bob = server.connect("bob", "bob-pw").await.expect("bob");
    assert_eq!(text_rows(&bob, "SELECT count(*), max(body) FROM notes").await, [["30", "b"]]);
}

/// A full scan of a large table that has not changed is answered from a
/// columnar copy (the second unchanged scan makes it, the third reads
/// it). Each change must show at once: every check runs three times, so
/// that it reads through the store, then fills the copy, then reads it.
#[tokio::test]
async fn a_cached_table_copy_follows_every_change() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute(
        "CREATE TABLE big (id BIGINT PRIMARY KEY, grp INT, label TEXT);
         INSERT INTO big SELECT n, n % 7, 'row ' || n FROM generate_series(1, 40000) AS g(n);",
    )
    .await
    .expect("setup");
    let totals = "SELECT count(*), sum(id), sum(grp), max(label) FROM big";
    let expect = |count: i64, ids: i64, grps: i64, label: &str| vec![vec![count.to_string(), ids.to_string(), grps.to_string(), label.to_owned()]];
    let (ids, grps): (i64, i64) = ((1..=40_000).sum(), (1..=40_000).map(|n| n % 7).sum());
    async fn thrice(client: &tokio_postgres::Client, sql: &str, want: &[Vec<String>], after: &str) {
        for round in 1..=3 {
            assert_eq!(text_rows(client, sql).await, want, "{sql}: read {round} after {after}");
        }
    }
    thrice(&root, totals, &expect(40_000, ids, grps, "row 9999"), "loading").await;

    root.batch_execute("UPDATE big SET grp = grp + 100, label = 'z' WHERE id = 5").await.expect("update");
    thrice(&root, totals, &expect(40_000, ids, grps + 100, "z"), "an UPDATE").await;
    root.batch_execute("INSERT INTO big VALUES (50000, 1, 'new')").await.expect("insert");
    thrice(&root, totals, &expect(40_001, ids + 50_000, grps + 101, "z"), "an INSERT").await;
    root.batch_execute("DELETE FROM big WHERE id = 50000").await.expect("delete");
    thrice(&root, totals, &expect(40_000, ids, grps + 100, "z"), "a DELETE").await;

    // Another session's commit, and a COPY.
    let other = server.root().await;
    other.batch_execute("UPDATE big SET label = 'zz' WHERE id = 6").await.expect("other session");
    thrice(&root, totals, &expect(40_000, ids, grps + 100, "zz"), "another session's UPDATE").await;
    crate::copy::copy_in(&root, "COPY big FROM STDIN", "60000\t0\tcopied\n").await.expect("copy");
    thrice(&root, totals, &expect(40_001, ids + 60_000, grps + 100, "zz"), "a COPY").await;

    // Schema changes: a new column with its default, a renamed one.
    root.batch_execute("ALTER TABLE big ADD COLUMN extra INT DEFAULT 2").await.expect("add column");
    thrice(&root, "SELECT count(*), sum(extra) FROM big", &[vec!["40001".to_owned(), "80002".to_owned()]], "ADD COLUMN").await;
    root.batch_execute("ALTER TABLE big RENAME COLUMN grp TO bucket").await.expect("rename");
    thrice(&root, "SELECT sum(bucket) FROM big", &[vec![(grps + 100).to_string()]], "RENAME COLUMN").await;

    // A transaction reads its own snapshot, not a copy made since.
    root.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ").await.expect("begin");
    thrice(&root, "SELECT count(*) FROM big", &[vec!["40001".to_owned()]], "BEGIN").await;
    other.batch_execute("DELETE FROM big WHERE id <= 10").await.expect("delete in other session");
    thrice(&root, "SELECT count(*) FROM big", &[vec!["40001".to_owned()]], "a commit the transaction must not see").await;
    root.batch_execute("COMMIT").await.expect("commit");
    thrice(&root, "SELECT count(*) FROM big", &[vec!["39991".to_owned()]], "the transaction ended").await;
    thrice(&other, "SELECT count(*) FROM big", &[vec!["39991".to_owned()]], "the DELETE, in its own session").await;
}

/// A user's reads of their partition in key order, with LIMIT or without,
/// either way round (a feed's latest rows), are answered from a copy of
/// the partition once it has been read twice unchanged. Every read runs
/// three times (store, copy made, copy read), after each change by the
/// user and by others, through the extended protocol as drivers send it.
#[tokio::test]
async fn a_users_cached_feed_follows_their_writes() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute(
        "CREATE USER alice WITH PASSWORD 'alice-pw' ROLE user;
         CREATE USER bob WITH PASSWORD 'bob-pw' ROLE user;
         CREATE USER TABLE notes (id BIGINT PRIMARY KEY, body TEXT, at TIMESTAMP);
         EXECUTE AS USER 'alice' (INSERT INTO notes SELECT n, 'note ' || n, TIMESTAMP '2026-01-01 00:00:00' FROM generate_series(1, 100) AS g(n));
         EXECUTE AS USER 'bob' (INSERT INTO notes SELECT n, 'bob ' || n, TIMESTAMP '2026-01-02 00:00:00' FROM generate_series(1, 10000) AS g(n));",
    )
    .await
    .expect("setup");
    let alice = server.connect("alice", "alice-pw").await.expect("alice");
    let bob = server.connect("bob", "bob-pw").await.expect("bob");
    let latest = alice.prepare("SELECT * FROM notes ORDER BY id DESC LIMIT $1").await.expect("prepare");
    let first = alice.prepare("SELECT id, body FROM notes ORDER BY id LIMIT 3").await.expect("prepare");
    let every = alice.prepare("SELECT id FROM notes ORDER BY id DESC").await.expect("prepare");

    /// Alice's feed must show exactly `ids` (ascending) on every read.
    async fn check(alice: &tokio_postgres::Client, statements: &[&tokio_postgres::Statement; 3], ids: &[i64], after: &str) {
        let [latest, first, every] = statements;
        let newest: Vec<(i64, String)> = ids.iter().rev().take(20).map(|&id| (id, format!("note {id}"))).collect();
        let oldest: Vec<(i64, String)> = ids.iter().take(3).map(|&id| (id, format!("note {id}"))).collect();
        for round in 1..=3 {
            let rows = alice.query(*latest, &[&20_i64]).await.expect("latest");
            let got: Vec<(i64, String)> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
            assert_eq!(got, newest, "latest 20, read {round} after {after}");
            assert!(rows.iter().all(|row| row.get::<_, std::time::SystemTime>(2) > std::time::UNIX_EPOCH), "every column");
            let rows = alice.query(*first, &[]).await.expect("first");
            assert_eq!(rows.iter().map(|row| (row.get(0), row.get(1))).collect::<Vec<(i64, String)>>(), oldest, "first 3, read {round} after {after}");
            let rows = alice.query(*every, &[]).await.expect("every");
            let got: Vec<i64> = rows.iter().map(|row| row.get(0)).collect();
            assert_eq!(got, ids.iter().rev().copied().collect::<Vec<_>>(), "all, newest first, read {round} after {after}");
        }
    }
    let statements = [&latest, &first, &every];
    let mut ids: Vec<i64> = (1..=100).collect();
    check(&alice, &statements, &ids, "loading").await;

    bob.batch_execute("INSERT INTO notes VALUES (10001, 'bob 10001', now()); DELETE FROM notes WHERE id = 100")
        .await
        .expect("bob writes his rows");
    check(&alice, &statements, &ids, "another user's writes").await;

    alice.batch_execute("INSERT INTO notes VALUES (101, 'note 101', now())").await.expect("insert");
    ids.push(101);
    check(&alice, &statements, &ids, "an INSERT").await;
    alice.batch_execute("DELETE FROM notes WHERE id IN (1, 100)").await.expect("delete");
    ids.retain(|&id| id != 1 && id != 100);
    check(&alice, &statements, &ids, "a DELETE").await;
    alice.batch_execute("UPDATE notes SET body = 'note ' || (id + 1000), id = id + 1000 WHERE id = 50").await.expect("update the key");
    ids.retain(|&id| id != 50);
    ids.push(1050);
    check(&alice, &statements, &ids, "an UPDATE of the key").await;
    // Own writes in an open transaction, then the commit.
    alice.batch_execute("BEGIN; INSERT INTO notes VALUES (2000, 'note 2000', now())").await.expect("begin");
    ids.push(2000);
    check(&alice, &statements, &ids, "an insert in the open transaction").await;
    alice.batch_execute("COMMIT").await.expect("commit");
    check(&alice, &statements, &ids, "COMMIT").await;

    // Bob's partition is larger than a read with LIMIT copies, and a read
    // of all of it spans several batches, read backwards.
    let bob_ids: Vec<i64> = (1..=10_001).filter(|&id| id != 100).collect();
    for round in 1..=3 {
        let latest: Vec<i64> = bob.query("SELECT id FROM notes ORDER BY id DESC LIMIT 9000", &[]).await.expect("bob's latest").iter().map(|row| row.get(0)).collect();
        assert_eq!(latest, bob_ids.iter().rev().take(9000).copied().collect::<Vec<_>>(), "read {round}");
        let all: Vec<i64> = bob.query("SELECT id FROM notes ORDER BY id DESC", &[]).await.expect("all of bob's").iter().map(|row| row.get(0)).collect();
        assert_eq!(all, bob_ids.iter().rev().copied().collect::<Vec<_>>(), "read {round}");
    }
    // Now a copy of all of it is there, and serves reads with LIMIT.
    let latest: Vec<i64> = bob.query("SELECT id FROM notes ORDER BY id DESC LIMIT 9000", &[]).await.expect("from the copy").iter().map(|row| row.get(0)).collect();
    assert_eq!(latest, bob_ids.iter().rev().take(9000).copied().collect::<Vec<_>>());
}

#[tokio::test]
async fn a_scan_holds_its_batches_in_flight_not_the_table() {
    // No columnar copy and a small block cache: what the scan itself holds.
    let mut server = Server::start_with(&["--scan-cache-mb", "0", "--cache-mb", "1"]);
    let client = server.root().await;
    client
        .batch_execute(
            "CREATE SHARED TABLE wide (id BIGINT PRIMARY KEY, pad TEXT);
             INSERT INTO wide SELECT value, repeat('x', 200) FROM generate_series(1, 1000000)",
        )
        .await
        .expect("200 MB of text");
    drop(client);
    // A fresh process: the insert's memory is not in the measure.
    assert!(server.stop().success());
    server.restart();
    let client = server.root().await;
    assert_eq!(text_rows(&client, "SELECT 1").await, vec![vec!["1".to_owned()]]);
    server.reset_peak_memory();
    let before = server.peak_memory();
    let sum = text_rows(&client, "SELECT sum(length(pad)) FROM wide").await;
    assert_eq!(sum, vec![vec!["200000000".to_owned()]]);
    let grown = server.peak_memory().saturating_sub(before);
    assert!(grown < 100 << 20, "the scan of 200 MB raised the peak by {} MiB", grown >> 20);

    // In key order: the scan replaces the sort, and nothing between it and
    // the client reads the table ahead.
    server.reset_peak_memory();
    let before = server.peak_memory();
    let last = text_rows(&client, "SELECT length(pad) FROM wide ORDER BY id LIMIT 1 OFFSET 999999").await;
    assert_eq!(last, vec![vec!["200".to_owned()]]);
    let grown = server.peak_memory().saturating_sub(before);
    assert!(grown < 100 << 20, "the ordered scan raised the peak by {} MiB", grown >> 20);

    // FETCH ALL from a cursor sends the rows as it reads them.
    client.batch_execute("BEGIN; DECLARE c CURSOR FOR SELECT pad FROM wide").await.expect("cursor");
    server.reset_peak_memory();
    let before = server.peak_memory();
    let rows = client.query_raw("FETCH ALL FROM c", std::iter::empty::<i32>()).await.expect("fetch");
    let fetched = futures::TryStreamExt::try_fold(rows, 0usize, |n, _| async move { Ok(n + 1) }).await.expect("rows");
    assert_eq!(fetched, 1_000_000);
    let grown = server.peak_memory().saturating_sub(before);
    assert!(grown < 100 << 20, "FETCH ALL raised the peak by {} MiB", grown >> 20);
    client.batch_execute("ROLLBACK").await.expect("rollback");

    // Inside a transaction block too: the block's writes are merged into
    // the rows as they stream, not by reading the partition first.
    client.batch_execute("BEGIN; DELETE FROM wide WHERE id = 5; UPDATE wide SET pad = 'y' WHERE id = 6").await.expect("block");
    server.reset_peak_memory();
    let before = server.peak_memory();
    let sum = text_rows(&client, "SELECT sum(length(pad)), count(*) FROM wide").await;
    assert_eq!(sum, vec![vec!["199999601".to_owned(), "999999".to_owned()]]);
    let grown = server.peak_memory().saturating_sub(before);
    assert!(grown < 100 << 20, "the scan in a block raised the peak by {} MiB", grown >> 20);
    client.batch_execute("ROLLBACK").await.expect("rollback");
}

#[tokio::test]
async fn a_timeout_or_cancel_stops_a_plain_select_of_a_large_table() {
    let server = Server::start();
    let client = server.root().await;
    client
        .batch_execute(
            "CREATE SHARED TABLE big (id BIGINT PRIMARY KEY, pad TEXT);
             INSERT INTO big SELECT value, repeat('x', 200) FROM generate_series(1, 300000)",
        )
        .await
        .expect("table");
    client.batch_execute("SET statement_timeout = 50").await.expect("set");
    // Every path: the direct key path's plain SELECT *, a filtered scan, COPY TO.
    for sql in ["SELECT * FROM big", "SELECT * FROM big WHERE pad LIKE 'x%'"] {
        let error = client.simple_query(sql).await.err().expect("stopped");
        assert_eq!(cairn_e2e::sqlstate(&error), "57014", "{sql}");
    }
    let copied: Result<Vec<bytes::Bytes>, _> = match client.copy_out("COPY big TO STDOUT").await {
        Ok(stream) => futures::TryStreamExt::try_collect(stream).await,
        Err(error) => Err(error),
    };
    assert_eq!(cairn_e2e::sqlstate(&copied.err().expect("stopped")), "57014", "COPY TO");
    // Inside a transaction block, and through a cursor.
    for sql in ["SELECT * FROM big", "DECLARE c CURSOR FOR SELECT * FROM big; FETCH ALL FROM c"] {
        client.batch_execute("BEGIN").await.expect("begin");
        let error = client.simple_query(sql).await.err().expect("stopped");
        assert_eq!(cairn_e2e::sqlstate(&error), "57014", "in a block: {sql}");
        client.batch_execute("ROLLBACK").await.expect("rollback");
    }
    client.batch_execute("SET statement_timeout = 0").await.expect("reset");
    let rows = client.query("SELECT * FROM big WHERE id <= 20000", &[]).await.expect("a range of more than the direct path reads");
    assert_eq!(rows.len(), 20000);
}
