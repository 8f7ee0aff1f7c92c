//! Key reads and INSERT … VALUES take the direct path (no DataFusion
//! planning); each must answer exactly as the general path does. The
//! general path is forced by reading the same query through a subquery, or
//! inserting through INSERT … SELECT, which the direct path never takes.

use cairn_e2e::{text_rows, Server};
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

/// A prepared read with `params` answers as the same read through a
/// subquery does (compared by its `v` column), and finds rows.
async fn prepared_same(client: &Client, query: &str, params: &[&(dyn ToSql + Sync)]) {
    let values = |rows: Vec<tokio_postgres::Row>| rows.iter().map(|r| r.get::<_, i64>("v")).collect::<Vec<_>>();
    let direct = values(client.query(query, params).await.expect(query));
    let general = values(client.query(&format!("SELECT * FROM ({query}) AS general"), params).await.expect(query));
    assert!(!direct.is_empty(), "{query} found nothing");
    assert_eq!(direct, general, "{query}");
}

async fn same_answer(client: &Client, query: &str) {
    let direct = text_rows(client, query).await;
    let general = text_rows(client, &format!("SELECT * FROM ({query}) AS general")).await;
    assert_eq!(direct, general, "{query}");
}

#[tokio::test]
async fn key_reads_answer_as_the_general_path_does() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute(
        "CREATE TABLE pairs (a INT, b TEXT, v BIGINT, note TEXT, PRIMARY KEY (a, b));
         INSERT INTO pairs SELECT n % 10, 'k' || (n / 10), n, CASE WHEN n % 3 = 0 THEN NULL ELSE 'n' || n END
           FROM generate_series(0, 199) AS g(n);
         CREATE USER alice WITH PASSWORD 'alice-pw' ROLE user;
         CREATE USER TABLE feed (id BIGINT PRIMARY KEY, body TEXT);",
    )
    .await
    .expect("setup");
    for query in [
        "SELECT * FROM pairs WHERE a = 3 AND b = 'k7'",
        "SELECT v, a FROM pairs WHERE a = 3 AND b IN ('k1', 'k2', 'k19', 'nope') ORDER BY a, b",
        "SELECT b AS key, note FROM pairs WHERE a = 4 ORDER BY a, b",
        "SELECT * FROM pairs WHERE a = 4 ORDER BY a DESC, b DESC LIMIT 3",
        "SELECT * FROM pairs WHERE a >= 8 ORDER BY a, b LIMIT 5",
        "SELECT * FROM pairs WHERE a = 99",
        "SELECT a, b FROM pairs WHERE a = 2.5",
        "SELECT a FROM pairs WHERE a = '3' AND b = 'k3'",
        "SELECT * FROM pairs ORDER BY a, b LIMIT 7",
    ] {
        same_answer(&root, query).await;
    }
    // A prepared point read, and one with no row.
    let statement = root.prepare("SELECT v, note FROM pairs WHERE a = $1 AND b = $2").await.expect("prepare");
    let row = root.query_one(&statement, &[&3i32, &"k7"]).await.expect("row");
    assert_eq!((row.get::<_, i64>(0), row.get::<_, Option<String>>(1)), (73, Some("n73".to_owned())));
    assert!(root.query_opt(&statement, &[&3i32, &"k70"]).await.expect("no row").is_none());
    // Parameters are bound only where the direct path reads them (filters,
    // LIMIT, VALUES); each prepared read must answer as its subquery does.
    prepared_same(&root, "SELECT v FROM pairs WHERE a = $1 ORDER BY a, b LIMIT $2", &[&4i32, &3i64]).await;
    let range = "SELECT v FROM pairs WHERE a >= $1 AND a < $2 ORDER BY a DESC, b DESC LIMIT $3";
    prepared_same(&root, range, &[&2i32, &5i32, &7i64]).await;
    prepared_same(&root, "SELECT v FROM pairs WHERE a IN ($1, $2) ORDER BY a, b", &[&1i32, &99i32]).await;
    // A prepared key read is worked out once; each execution binds its own
    // values: other keys, a NULL key (no row), a NULL LIMIT (no limit).
    let by_key = root.prepare("SELECT v FROM pairs WHERE $2 = b AND a = $1").await.expect("prepare");
    for (a, b, v) in [(Some(3i32), "k7", Some(73i64)), (Some(5), "k2", Some(25)), (Some(3), "nope", None), (None, "k7", None)] {
        let row = root.query_opt(&by_key, &[&a, &b]).await.expect("execute");
        assert_eq!(row.map(|row| row.get::<_, i64>(0)), v, "a = {a:?}, b = {b}");
    }
    let limited = root.prepare("SELECT v FROM pairs WHERE a = $1 ORDER BY a, b LIMIT $2").await.expect("prepare");
    for (limit, count) in [(Some(3i64), 3), (None, 20), (Some(0), 0), (Some(2), 2)] {
        assert_eq!(root.query(&limited, &[&4i32, &limit]).await.expect("execute").len(), count, "LIMIT {limit:?}");
    }
    // A parameter in the output is not a key read: the general path answers.
    prepared_same(&root, "SELECT v, $1::text AS p FROM pairs WHERE a = 5", &[&"x"]).await;

    // A user sees only their partition, and their own uncommitted writes.
    let alice = server.connect("alice", "alice-pw").await.expect("alice");
    alice.batch_execute("INSERT INTO feed SELECT n, 'post ' || n FROM generate_series(1, 30) AS g(n)").await.expect("posts");
    let root_sees = text_rows(&root, "SELECT * FROM feed WHERE id = 1").await;
    assert!(root_sees.is_empty(), "{root_sees:?}");
    same_answer(&alice, "SELECT * FROM feed ORDER BY id DESC LIMIT 3").await;
    alice.batch_execute("BEGIN; DELETE FROM feed WHERE id = 30; INSERT INTO feed VALUES (31, 'draft')").await.expect("block");
    let latest = text_rows(&alice, "SELECT id, body FROM feed ORDER BY id DESC LIMIT 2").await;
    assert_eq!(latest, [["31", "draft"], ["29", "post 29"]]);
    alice.batch_execute("ROLLBACK").await.expect("rollback");
    assert_eq!(text_rows(&alice, "SELECT body FROM feed WHERE id = 30").await, [["post 30"]]);
}

/// INSERT … VALUES takes the direct path, INSERT … SELECT the general
/// one: the same rows, the same defaults and the same errors.
#[tokio::test]
async fn insert_values_writes_as_insert_select_does() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute(
        "CREATE TABLE direct_t (id BIGINT PRIMARY KEY, name VARCHAR(5) NOT NULL, n INT DEFAULT 7, at TIMESTAMP DEFAULT now(), who TEXT DEFAULT current_user);
         CREATE TABLE general_t (id BIGINT PRIMARY KEY, name VARCHAR(5) NOT NULL, n INT DEFAULT 7, at TIMESTAMP DEFAULT now(), who TEXT DEFAULT current_user);",
    )
    .await
    .expect("setup");
    root.batch_execute("INSERT INTO direct_t (id, name) VALUES (1, 'a'), (2, 'b')").await.expect("values");
    root.batch_execute("INSERT INTO general_t (id, name) SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(id, name)").await.expect("select");
    let statement = root.prepare("INSERT INTO direct_t (id, name, n) VALUES ($1, $2, $3)").await.expect("prepare");
    assert_eq!(root.execute(&statement, &[&3i64, &"c", &42i32]).await.expect("prepared"), 1);
    root.batch_execute("INSERT INTO general_t (id, name, n) SELECT 3, 'c', 42").await.expect("select");
    let rows = |table: &str| format!("SELECT id, name, n, at IS NOT NULL, who FROM {table} ORDER BY id");
    assert_eq!(text_rows(&root, &rows("direct_t")).await, text_rows(&root, &rows("general_t")).await);
    for (sql, code) in [
        ("INSERT INTO direct_t (id, name) VALUES (1, 'dup')", "23505"),
        ("INSERT INTO direct_t (id) VALUES (9)", "23502"),
        ("INSERT INTO direct_t (id, name) VALUES (9, 'toolong')", "22001"),
        ("INSERT INTO direct_t (id, name) VALUES ('x', 'a')", "22P02"),
    ] {
        assert_eq!(cairn_e2e::error_code(&root, sql).await, code, "{sql}");
    }
    assert_eq!(text_rows(&root, "SELECT count(*) FROM direct_t").await, [["3"]]);
}

/// UPDATE and DELETE by key read their rows directly; each must change the
/// table exactly as the same statement through the general path (a WHERE
/// that is not a key condition) does on a twin table.
#[tokio::test]
async fn updates_and_deletes_by_key_change_what_the_general_path_changes() {
    let server = Server::start();
    let root = server.root().await;
    let mut setup = String::new();
    for table in ["direct", "general"] {
        setup.push_str(&format!(
            "CREATE TABLE {table} (id BIGINT PRIMARY KEY, n INT NOT NULL, label TEXT, at TIMESTAMP);
             INSERT INTO {table} SELECT g, g % 5, 'l' || g, TIMESTAMP '2026-01-01 00:00:00' FROM generate_series(1, 50) AS g(g);"
        ));
    }
    root.batch_execute(&setup).await.expect("setup");
    // `id = k` is a key condition; `id + 0 = k` is not.
    let statements = [
        ("UPDATE {t} SET n = n + 1 WHERE {id} = 3", 1),
        ("UPDATE {t} SET label = upper(label) || '!', at = at + INTERVAL '1 day' WHERE {id} IN (4, 5, 99)", 2),
        ("UPDATE {t} SET n = 7 WHERE {id} = 99", 0),
        ("UPDATE {t} SET id = id + 100 WHERE {id} = 6", 1),
        ("UPDATE {t} SET n = n * 2, label = NULL WHERE {id} = 7", 1),
        ("DELETE FROM {t} WHERE {id} = 8", 1),
        ("DELETE FROM {t} WHERE {id} IN (9, 10, 11)", 3),
    ];
    for (statement, count) in statements {
        for (table, id) in [("direct", "id"), ("general", "id + 0")] {
            let sql = statement.replace("{t}", table).replace("{id}", id);
            assert_eq!(root.execute(sql.as_str(), &[]).await.expect(&sql), count, "{sql}");
        }
    }
    // Prepared, with the key and the new value as parameters.
    for (table, id) in [("direct", "id"), ("general", "id + 0")] {
        let sql = format!("UPDATE {table} SET n = n + $2 WHERE {id} = $1");
        let statement = root.prepare(&sql).await.expect("prepare");
        for key in [12i64, 13, 12] {
            assert_eq!(root.execute(&statement, &[&key, &10i32]).await.expect(&sql), 1);
        }
    }
    // A NOT NULL column set to NULL fails the same way on both.
    for (table, id) in [("direct", "id"), ("general", "id + 0")] {
        let error = root.execute(format!("UPDATE {table} SET n = NULL WHERE {id} = 1").as_str(), &[]).await.expect_err("null");
        assert_eq!(cairn_e2e::sqlstate(&error), "23502");
    }
    let direct = text_rows(&root, "SELECT * FROM direct ORDER BY id").await;
    assert_eq!(direct, text_rows(&root, "SELECT * FROM general ORDER BY id").await);
    assert_eq!(text_rows(&root, "SELECT n, label FROM direct WHERE id = 106").await, [["1", "l6"]]);
    let returned = root.query("UPDATE direct SET n = 0 WHERE id = 2 RETURNING id, n", &[]).await.expect("returning");
    assert_eq!((returned[0].get::<_, i64>(0), returned[0].get::<_, i32>(1)), (2, 0));
}
