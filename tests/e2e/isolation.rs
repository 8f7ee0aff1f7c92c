//! The isolation suite: two users with rows in one USER table. Every query
//! shape shows each only their own rows, and every write changes only
//! their own rows.

use bytes::Bytes;
use cairn_e2e::{error_code, text_rows, Server};
use futures::TryStreamExt;
use tokio_postgres::Client;

struct Users {
    root: Client,
    alice: Client,
    bob: Client,
    svc: Client,
}

async fn setup(server: &Server) -> Users {
    let root = server.root().await;
    root.batch_execute(
        "CREATE USER alice WITH PASSWORD 'a-pw' ROLE user;
         CREATE USER bob WITH PASSWORD 'b-pw' ROLE user;
         CREATE USER svc WITH PASSWORD 's-pw' ROLE service;
         CREATE USER TABLE notes (id BIGINT PRIMARY KEY, body TEXT, score INT);
         CREATE SHARED TABLE tags (id BIGINT PRIMARY KEY, tag TEXT) WITH (ACCESS_LEVEL = 'PUBLIC');
         INSERT INTO tags VALUES (1, 'one'), (2, 'two'), (3, 'three');",
    )
    .await
    .expect("setup");
    let alice = server.connect("alice", "a-pw").await.expect("alice");
    let bob = server.connect("bob", "b-pw").await.expect("bob");
    let svc = server.connect("svc", "s-pw").await.expect("svc");
    // The same ids in both partitions.
    alice.batch_execute("INSERT INTO notes VALUES (1, 'alice 1', 10), (2, 'alice 2', 20)").await.expect("alice rows");
    bob.batch_execute("INSERT INTO notes VALUES (1, 'bob 1', 100), (3, 'bob 3', 300)").await.expect("bob rows");
    Users { root, alice, bob, svc }
}

fn bodies(rows: Vec<Vec<String>>) -> Vec<String> {
    let mut bodies: Vec<String> = rows.into_iter().map(|row| row.concat()).collect();
    bodies.sort();
    bodies
}

#[tokio::test]
async fn every_read_shape_sees_only_the_callers_rows() {
    let server = Server::start();
    let Users { alice, bob, root, svc } = setup(&server).await;
    let shapes = [
        "SELECT body FROM notes",
        "SELECT body FROM notes WHERE id IN (1, 2, 3)",
        "SELECT body FROM notes WHERE id > 0",
        "SELECT body FROM notes ORDER BY id DESC LIMIT 10",
        "SELECT a.body FROM notes a JOIN notes b ON a.id = b.id",
        "SELECT a.body FROM notes a CROSS JOIN notes b WHERE b.id = 1",
        "SELECT body FROM notes WHERE id IN (SELECT id FROM notes)",
        "SELECT body FROM notes WHERE EXISTS (SELECT 1 FROM notes n2 WHERE n2.id = notes.id)",
        "SELECT n.body FROM notes n JOIN tags t ON t.id = n.id",
        "SELECT body FROM (SELECT * FROM notes UNION ALL SELECT * FROM notes) u GROUP BY body",
        "WITH mine AS (SELECT * FROM notes) SELECT body FROM mine",
        "SELECT body FROM notes WHERE score = (SELECT max(score) FROM notes) OR score = (SELECT min(score) FROM notes)",
    ];
    for sql in shapes {
        assert_eq!(bodies(text_rows(&alice, sql).await), ["alice 1", "alice 2"], "alice: {sql}");
        assert_eq!(bodies(text_rows(&bob, sql).await), ["bob 1", "bob 3"], "bob: {sql}");
    }
    // A key both partitions hold reads each caller's own row.
    assert_eq!(text_rows(&alice, "SELECT body FROM notes WHERE id = 1").await, [["alice 1"]]);
    assert_eq!(text_rows(&bob, "SELECT body FROM notes WHERE id = 1").await, [["bob 1"]]);
    assert_eq!(text_rows(&alice, "SELECT count(*), sum(score) FROM notes").await, [["2", "30"]]);
    assert_eq!(text_rows(&bob, "SELECT count(*), sum(score) FROM notes").await, [["2", "400"]]);
    // The dba sees its own (empty) partition, not everyone's.
    assert_eq!(text_rows(&root, "SELECT count(*) FROM notes").await, [["0"]]);

    // The same statement prepared on each user's connection, run in turn.
    for _ in 0..2 {
        for (client, expected) in [(&alice, "alice 1"), (&bob, "bob 1")] {
            let statement = client.prepare("SELECT body FROM notes WHERE id = $1").await.expect("prepare");
            let rows = client.query(&statement, &[&1i64]).await.expect("execute");
            assert_eq!(rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>(), [expected]);
        }
    }
    // One service connection (a pool's) acting for each user in turn.
    for (user, expected) in [("alice", ["alice 1", "alice 2"]), ("bob", ["bob 1", "bob 3"]), ("alice", ["alice 1", "alice 2"])] {
        let rows = text_rows(&svc, &format!("EXECUTE AS USER '{user}' (SELECT body FROM notes)")).await;
        assert_eq!(bodies(rows), expected, "svc as {user}");
    }
    // A user cannot act for another user, nor read the system tables' other rows.
    assert_eq!(error_code(&alice, "EXECUTE AS USER 'bob' (SELECT body FROM notes)").await, "42501");
    assert_eq!(error_code(&alice, "SELECT * FROM system.tables").await, "42501");
    // COPY TO reads the caller's partition.
    let copied: Vec<Bytes> = bob.copy_out("COPY notes (body) TO STDOUT").await.expect("copy").try_collect().await.expect("data");
    assert_eq!(String::from_utf8(copied.concat()).expect("utf-8"), "bob 1\nbob 3\n");
}

#[tokio::test]
async fn every_write_shape_changes_only_the_callers_rows() {
    let server = Server::start();
    let Users { alice, bob, svc, .. } = setup(&server).await;
    // Without WHERE: all of the caller's rows, none of the other's.
    assert_eq!(alice.execute("UPDATE notes SET score = score + 1", &[]).await.expect("update"), 2);
    assert_eq!(text_rows(&bob, "SELECT score FROM notes ORDER BY id").await, [["100"], ["300"]]);
    // By key: the same id in the other partition is untouched.
    assert_eq!(bob.execute("UPDATE notes SET body = 'bob one' WHERE id = 1", &[]).await.expect("update"), 1);
    assert_eq!(text_rows(&alice, "SELECT body FROM notes WHERE id = 1").await, [["alice 1"]]);
    // Moving a key inside one's partition does not collide with the other's.
    assert_eq!(alice.execute("UPDATE notes SET id = 3 WHERE id = 2", &[]).await.expect("move"), 1);
    assert_eq!(text_rows(&bob, "SELECT body FROM notes WHERE id = 3").await, [["bob 3"]]);
    // Subqueries in writes read the caller's rows too.
    let deleted = bob.execute("DELETE FROM notes WHERE id IN (SELECT id FROM notes WHERE score > 200)", &[]).await.expect("delete");
    assert_eq!(deleted, 1);
    assert_eq!(bodies(text_rows(&alice, "SELECT body FROM notes").await), ["alice 1", "alice 2"]);
    // Inserting an id the other user has is no conflict; ON CONFLICT sees only one's own rows.
    alice.batch_execute("INSERT INTO notes VALUES (1, 'again', 0) ON CONFLICT (id) DO UPDATE SET body = excluded.body").await.expect("upsert");
    assert_eq!(text_rows(&bob, "SELECT body FROM notes WHERE id = 1").await, [["bob one"]]);
    assert_eq!(text_rows(&alice, "SELECT body FROM notes WHERE id = 1").await, [["again"]]);
    // A service writing for a user writes into that user's partition.
    svc.batch_execute("EXECUTE AS USER 'bob' (INSERT INTO notes VALUES (7, 'from svc', 7))").await.expect("svc insert");
    assert_eq!(text_rows(&bob, "SELECT body FROM notes WHERE id = 7").await, [["from svc"]]);
    assert!(text_rows(&alice, "SELECT body FROM notes WHERE id = 7").await.is_empty());
    // DELETE without WHERE empties only the caller's partition.
    assert_eq!(alice.execute("DELETE FROM notes", &[]).await.expect("delete all"), 2);
    assert_eq!(text_rows(&bob, "SELECT count(*) FROM notes").await, [["2"]]);
    // A transaction too.
    bob.batch_execute("BEGIN; DELETE FROM notes; COMMIT").await.expect("tx");
    alice.batch_execute("INSERT INTO notes VALUES (5, 'still here', 5)").await.expect("insert");
    assert_eq!(text_rows(&alice, "SELECT count(*) FROM notes").await, [["1"]]);
    // UPDATE … WHERE false and DELETE … WHERE id IN (empty) change nothing.
    assert_eq!(alice.execute("UPDATE notes SET score = 0 WHERE false", &[]).await.expect("noop"), 0);
    assert_eq!(alice.execute("DELETE FROM notes WHERE id IN (SELECT id FROM notes WHERE score < 0)", &[]).await.expect("noop"), 0);
    assert_eq!(text_rows(&alice, "SELECT score FROM notes").await, [["5"]]);
}
