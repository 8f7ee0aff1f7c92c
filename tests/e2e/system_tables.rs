use cairn_e2e::{error_code, explain, text_rows, Server};

#[tokio::test]
async fn every_system_table_answers_select_star() {
    let server = Server::start();
    let root = server.root().await;
    for table in ["users", "namespaces", "tables", "columns", "storages", "jobs", "live_queries", "sessions"] {
        root.simple_query(&format!("SELECT * FROM system.{table}")).await.unwrap_or_else(|e| panic!("{table}: {e}"));
    }
    assert_eq!(text_rows(&root, "SELECT name FROM system.namespaces").await, [["public"]]);
    assert_eq!(text_rows(&root, "SELECT name, storage_type FROM system.storages").await, [["local", "local"]]);
    let sessions = text_rows(&root, "SELECT username FROM system.sessions").await;
    assert_eq!(sessions, [["root"]]);
}

#[tokio::test]
async fn password_hashes_are_never_returned() {
    let server = Server::start();
    let root = server.root().await;
    assert_eq!(error_code(&root, "SELECT password_hash FROM system.users").await, "42703");
    let columns = root.prepare("SELECT * FROM system.users").await.expect("prepare");
    assert!(columns.columns().iter().all(|c| !c.name().contains("password")));
}

#[tokio::test]
async fn explain_names_the_access_path() {
    let server = Server::start();
    let root = server.root().await;
    let cases = [
        ("SELECT * FROM system.users WHERE username = 'alice'", "IndexLookup(users_username_idx"),
        ("SELECT * FROM system.users WHERE user_id = 1", "PointGet(user_id"),
        ("SELECT * FROM system.users WHERE user_id IN (1, 2)", "PointGet(user_id IN (1, 2))"),
        ("SELECT * FROM system.users WHERE role = 'dba'", "IndexLookup(users_role_idx"),
        ("SELECT * FROM system.users WHERE deleted_at IS NULL", "IndexLookup(users_deleted_at_idx"),
        ("SELECT * FROM system.users", "FullScan"),
        ("SELECT * FROM system.jobs WHERE job_id = 7", "PointGet(job_id"),
        ("SELECT * FROM system.jobs WHERE status = 'running'", "IndexLookup(jobs_status_idx"),
        ("SELECT * FROM system.tables WHERE namespace = 'public'", "IndexLookup(tables_namespace_idx"),
        (
            "SELECT * FROM system.tables WHERE namespace = 'public' AND name = 't'",
            "IndexLookup(tables_namespace_name_key",
        ),
        ("SELECT * FROM system.namespaces WHERE name = 'public'", "IndexLookup(namespaces_name_key"),
        (
            "SELECT * FROM system.columns WHERE namespace = 'public' AND table_name = 't'",
            "IndexLookup(tables_namespace_name_key: (namespace, table_name)",
        ),
        ("SELECT * FROM system.storages WHERE name = 'local'", "IndexLookup(storages_name_key"),
    ];
    for (sql, path) in cases {
        let plan = explain(&root, sql).await;
        assert!(plan.contains(path), "{sql}\nexpected {path} in\n{plan}");
        // An exact pushdown leaves no filter above the scan.
        if !path.starts_with("FullScan") {
            assert!(!plan.contains("FilterExec"), "{sql}: filter not pushed down\n{plan}");
        }
    }
}

#[tokio::test]
async fn projection_and_limit_reach_the_scan() {
    let server = Server::start();
    let root = server.root().await;
    for i in 0..5 {
        root.batch_execute(&format!("CREATE USER u{i} WITH PASSWORD 'p'")).await.expect("create");
    }
    let plan = explain(&root, "SELECT username FROM system.users LIMIT 2").await;
    assert!(plan.contains("projection=[username]"), "{plan}");
    assert!(plan.contains("limit=2"), "{plan}");
    assert_eq!(text_rows(&root, "SELECT username FROM system.users LIMIT 2").await.len(), 2);
    // Pushed filters stay correct when combined: index path plus a residual check.
    let rows = text_rows(&root, "SELECT username FROM system.users WHERE role = 'user' AND username = 'u3'").await;
    assert_eq!(rows, [["u3"]]);
    let rows = text_rows(&root, "SELECT username FROM system.users WHERE role = 'dba' AND username = 'u3'").await;
    assert!(rows.is_empty());
    // Filters the table cannot answer exactly are applied by DataFusion.
    let rows = text_rows(&root, "SELECT username FROM system.users WHERE username LIKE 'u%' ORDER BY username DESC LIMIT 1").await;
    assert_eq!(rows, [["u4"]]);
}

#[tokio::test]
async fn a_user_sees_only_its_own_rows() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute(
        "CREATE USER alice WITH PASSWORD 'alice-pw' ROLE user;
         CREATE USER svc WITH PASSWORD 'svc-pw' ROLE service;",
    )
    .await
    .expect("setup");
    let mut clients = Vec::new();
    for (user, password) in [("alice", "alice-pw"), ("svc", "svc-pw")] {
        let client = server.connect(user, password).await.expect("login");
        assert_eq!(text_rows(&client, "SELECT username FROM system.users").await, [[user]]);
        assert_eq!(text_rows(&client, "SELECT count(*) FROM system.users WHERE username = 'root'").await, [["0"]]);
        assert_eq!(text_rows(&client, "SELECT username FROM system.sessions").await, [[user]]);
        for table in ["namespaces", "tables", "columns", "storages", "jobs"] {
            assert_eq!(error_code(&client, &format!("SELECT * FROM system.{table}")).await, "42501", "{table}");
        }
        clients.push(client);
    }
    let all = text_rows(&root, "SELECT count(*) FROM system.sessions").await;
    assert_eq!(all, [["3"]]);
}
