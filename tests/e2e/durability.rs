use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cairn_e2e::{text_rows, Server};

#[tokio::test]
async fn everything_survives_a_clean_restart() {
    let mut server = Server::start();
    {
        let root = server.root().await;
        root.batch_execute(
            "CREATE USER alice WITH PASSWORD 'alice-pw' ROLE user;
             CREATE USER svc WITH PASSWORD 'svc-pw' ROLE service;
             DROP USER svc;",
        )
        .await
        .expect("setup");
    }
    let status = server.stop();
    assert!(status.success(), "SIGTERM is a clean shutdown: {status}");
    server.restart();
    let root = server.root().await;
    let rows = text_rows(&root, "SELECT username, role, deleted_at IS NULL FROM system.users ORDER BY user_id").await;
    assert_eq!(rows, [["root", "system", "t"], ["alice", "user", "t"], ["svc", "service", "f"]]);
    server.connect("alice", "alice-pw").await.expect("password survives");
    // Ids keep counting after a restart.
    root.batch_execute("CREATE USER carol WITH PASSWORD 'c'").await.expect("create");
    let id = text_rows(&root, "SELECT user_id FROM system.users WHERE username = 'carol'").await;
    assert_eq!(id, [["4"]]);
}

/// Writers create users as fast as they can; the server is killed with
/// SIGKILL in the middle. Every CREATE USER that returned success must be
/// there after the restart.
#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let mut server = Server::start_with(&["--scrypt-log-n", "4"]);
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..4 {
        let client = server.root().await;
        let stop = Arc::clone(&stop);
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let name = format!("w{writer}_{i}");
                match client.batch_execute(&format!("CREATE USER {name} WITH PASSWORD 'p'")).await {
                    Ok(()) => acknowledged.push(name),
                    Err(_) => break,
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill();
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.expect("writer"));
    }
    assert!(acknowledged.len() > 10, "the writers got going: {}", acknowledged.len());

    server.restart();
    let root = server.root().await;
    let present: std::collections::HashSet<String> = text_rows(&root, "SELECT username FROM system.users")
        .await
        .into_iter()
        .map(|row| row[0].clone())
        .collect();
    let lost: Vec<&String> = acknowledged.iter().filter(|name| !present.contains(*name)).collect();
    assert!(lost.is_empty(), "{} acknowledged users lost after kill -9: {lost:?}", lost.len());
}

/// Users insert into their partitions of a USER table, five rows per
/// statement, until SIGKILL. After the restart every acknowledged
/// statement is there, in its user's partition, and no statement is there
/// in part.
#[tokio::test]
async fn acknowledged_user_table_rows_survive_kill_9_whole() {
    const ROWS_PER_STATEMENT: i64 = 5;
    let mut server = Server::start_with(&["--scrypt-log-n", "4"]);
    let users = ["u0", "u1", "u2", "u3"];
    {
        let root = server.root().await;
        let mut setup = String::from("CREATE USER TABLE notes (statement BIGINT, n BIGINT, PRIMARY KEY (statement, n));");
        for user in users {
            setup.push_str(&format!("CREATE USER {user} WITH PASSWORD 'pw' ROLE user;"));
        }
        root.batch_execute(&setup).await.expect("setup");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for user in users {
        let client = server.connect(user, "pw").await.expect("user connects");
        let stop = Arc::clone(&stop);
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for statement in 0i64.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let values: Vec<String> = (0..ROWS_PER_STATEMENT).map(|n| format!("({statement}, {n})")).collect();
                match client.batch_execute(&format!("INSERT INTO notes VALUES {}", values.join(", "))).await {
                    Ok(()) => acknowledged.push(statement),
                    Err(_) => break,
                }
            }
            (user, acknowledged)
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill();
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.push(writer.await.expect("writer"));
    }
    assert!(acknowledged.iter().all(|(_, statements)| statements.len() > 2), "the writers got going");

    server.restart();
    for (user, statements) in acknowledged {
        let client = server.connect(user, "pw").await.expect("user connects after restart");
        let counts: std::collections::HashMap<i64, i64> =
            text_rows(&client, "SELECT statement, count(*) FROM notes GROUP BY statement")
                .await
                .into_iter()
                .map(|row| (row[0].parse().expect("statement"), row[1].parse().expect("count")))
                .collect();
        let lost: Vec<&i64> = statements.iter().filter(|s| !counts.contains_key(s)).collect();
        assert!(lost.is_empty(), "{user}: acknowledged statements lost: {lost:?}");
        let partial: Vec<(&i64, &i64)> = counts.iter().filter(|(_, &count)| count != ROWS_PER_STATEMENT).collect();
        assert!(partial.is_empty(), "{user}: statements visible in part: {partial:?}");
        // At most the one statement in flight at the kill went beyond what was acknowledged.
        assert!(counts.len() <= statements.len() + 1, "{user}: rows from nowhere");
    }
}

/// A large insert into an empty table is written as a bulk load, around
/// the journal: it must be on disk when acknowledged all the same, and a
/// write acknowledged after it must not be lost or hidden by it.
#[tokio::test]
async fn an_acknowledged_load_survives_kill_9() {
    let mut server = Server::start();
    {
        let root = server.root().await;
        root.batch_execute(
            "CREATE SHARED TABLE big (id BIGINT PRIMARY KEY, v TEXT, pad TEXT);
             INSERT INTO big SELECT g, 'v' || g, repeat('p', 330) FROM generate_series(1, 70000) AS t(g);
             INSERT INTO big VALUES (70001, 'after the load', NULL);
             UPDATE big SET v = 'changed' WHERE id = 5",
        )
        .await
        .expect("load and write after it");
    }
    server.kill();
    server.restart();
    let root = server.root().await;
    assert_eq!(text_rows(&root, "SELECT count(*), max(id) FROM big").await, [["70001", "70001"]]);
    assert_eq!(text_rows(&root, "SELECT v FROM big WHERE id IN (5, 6, 70001) ORDER BY id").await, [["changed"], ["v6"], ["after the load"]]);
}
