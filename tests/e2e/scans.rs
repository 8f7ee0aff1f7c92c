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
