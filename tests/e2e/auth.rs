use cairn_e2e::{sqlstate, Server, ROOT_PASSWORD};

#[tokio::test]
async fn wrong_password_and_unknown_user_fail_alike() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute("CREATE USER alice WITH PASSWORD 'alice-pw' ROLE user").await.expect("create");

    let wrong = server.connect("alice", "nope").await.expect_err("wrong password");
    let unknown = server.connect("mallory", "nope").await.expect_err("unknown user");
    assert_eq!(sqlstate(&wrong), "28P01");
    assert_eq!(sqlstate(&unknown), "28P01");
    let message = |e: &tokio_postgres::Error| e.as_db_error().map(|d| d.message().to_owned()).unwrap_or_default();
    assert_eq!(message(&wrong), "password authentication failed for user \"alice\"");
    assert_eq!(message(&unknown), "password authentication failed for user \"mallory\"");

    let alice = server.connect("alice", "alice-pw").await.expect("right password");
    let row = alice.query_one("SELECT current_user", &[]).await.expect("query");
    assert_eq!(row.get::<_, String>(0), "alice");
}

#[tokio::test]
async fn repeated_failures_lock_the_account() {
    let server = Server::start_with(&["--max-failed-logins", "3", "--lockout-seconds", "600"]);
    let root = server.root().await;
    root.batch_execute("CREATE USER bob WITH PASSWORD 'bob-pw'").await.expect("create");
    for _ in 0..3 {
        let error = server.connect("bob", "guess").await.expect_err("wrong");
        assert_eq!(sqlstate(&error), "28P01");
    }
    let locked = server.connect("bob", "bob-pw").await.expect_err("locked even with the right password");
    assert_eq!(sqlstate(&locked), "28P01");
    // Other accounts are not affected.
    server.connect("root", ROOT_PASSWORD).await.expect("root still logs in");
}

#[tokio::test]
async fn session_information_functions() {
    let server = Server::start();
    let root = server.root().await;
    let row = root
        .query_one("SELECT version(), current_user, session_user, current_database(), current_schema()", &[])
        .await
        .expect("query");
    let version: String = row.get(0);
    assert!(version.starts_with("PostgreSQL 16"), "{version}");
    assert!(version.contains("CairnDB"), "{version}");
    assert_eq!(row.get::<_, String>(1), "root");
    assert_eq!(row.get::<_, String>(2), "root");
    assert_eq!(row.get::<_, String>(3), "cairn");
    assert_eq!(row.get::<_, String>(4), "public");
    assert_eq!(row.columns()[0].name(), "version");
}
