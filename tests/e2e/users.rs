use cairn_e2e::{error_code, text_rows, Server};

#[tokio::test]
async fn the_user_statements_of_the_issue() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute(
        "CREATE USER alice WITH PASSWORD 'alice-pw' ROLE user;
         CREATE USER svc WITH PASSWORD 'svc-pw' ROLE service EMAIL 'ops@example.com';
         ALTER USER alice SET PASSWORD 'new-pw';
         ALTER USER svc SET ROLE dba;",
    )
    .await
    .expect("user statements");

    let rows = text_rows(&root, "SELECT username, role, email, deleted_at FROM system.users WHERE username = 'svc'").await;
    assert_eq!(rows, [["svc", "dba", "ops@example.com", "NULL"]]);
    let dbas = text_rows(&root, "SELECT username FROM system.users WHERE role = 'dba'").await;
    assert_eq!(dbas, [["svc"]]);

    root.batch_execute("DROP USER svc").await.expect("drop");
    let rows = text_rows(&root, "SELECT deleted_at IS NOT NULL FROM system.users WHERE username = 'svc'").await;
    assert_eq!(rows, [["t"]], "soft delete keeps the row and sets deleted_at");
    let error = server.connect("svc", "svc-pw").await.expect_err("a dropped user cannot log in");
    assert_eq!(cairn_e2e::sqlstate(&error), "28P01");

    // The new password works, the old one does not.
    server.connect("alice", "new-pw").await.expect("new password");
    server.connect("alice", "alice-pw").await.expect_err("old password");

    let rows = text_rows(&root, "SELECT user_id, username, role, email, created_at, deleted_at FROM system.users WHERE username = 'alice'").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][1..4], ["alice", "user", "NULL"]);
    let counts = text_rows(&root, "SELECT role, count(*) FROM system.users GROUP BY role ORDER BY role").await;
    assert_eq!(counts, [["dba", "1"], ["system", "1"], ["user", "1"]]);
}

#[tokio::test]
async fn user_statement_errors_carry_their_sqlstates() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute("CREATE USER alice WITH PASSWORD 'a' ROLE user").await.expect("create");
    assert_eq!(error_code(&root, "CREATE USER alice WITH PASSWORD 'b' ROLE user").await, "23505");
    assert_eq!(error_code(&root, "CREATE USER bob WITH PASSWORD 'b' ROLE wizard").await, "22023");
    assert_eq!(error_code(&root, "CREATE USER bob WITH ROLE user").await, "42601");
    assert_eq!(error_code(&root, "ALTER USER nobody SET ROLE dba").await, "42704");
    assert_eq!(error_code(&root, "DROP USER nobody").await, "42704");
    root.batch_execute("DROP USER IF EXISTS nobody").await.expect("IF EXISTS");
    assert_eq!(error_code(&root, "DROP USER root").await, "55006");
    // A dropped name can be used again.
    root.batch_execute("DROP USER alice; CREATE USER alice WITH PASSWORD 'c'").await.expect("reuse");
    let live = text_rows(&root, "SELECT count(*) FROM system.users WHERE username = 'alice' AND deleted_at IS NULL").await;
    assert_eq!(live, [["1"]]);
}

#[tokio::test]
async fn only_admins_manage_other_users() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute(
        "CREATE USER alice WITH PASSWORD 'alice-pw' ROLE user;
         CREATE USER bob WITH PASSWORD 'bob-pw' ROLE user;
         CREATE USER svc WITH PASSWORD 'svc-pw' ROLE service;
         CREATE USER admin WITH PASSWORD 'admin-pw' ROLE dba;",
    )
    .await
    .expect("setup");
    let alice = server.connect("alice", "alice-pw").await.expect("alice");
    assert_eq!(error_code(&alice, "CREATE USER x WITH PASSWORD 'x'").await, "42501");
    assert_eq!(error_code(&alice, "ALTER USER bob SET PASSWORD 'x'").await, "42501");
    assert_eq!(error_code(&alice, "ALTER USER alice SET ROLE dba").await, "42501");
    assert_eq!(error_code(&alice, "DROP USER bob").await, "42501");
    alice.batch_execute("ALTER USER alice SET PASSWORD 'mine'").await.expect("own password");
    server.connect("alice", "mine").await.expect("changed");

    let svc = server.connect("svc", "svc-pw").await.expect("svc");
    assert_eq!(error_code(&svc, "CREATE USER y WITH PASSWORD 'y'").await, "42501");

    let admin = server.connect("admin", "admin-pw").await.expect("admin");
    admin.batch_execute("CREATE USER carol WITH PASSWORD 'c' ROLE service").await.expect("dba creates");
    assert_eq!(error_code(&admin, "CREATE USER god WITH PASSWORD 'g' ROLE system").await, "42501");
    assert_eq!(error_code(&admin, "ALTER USER root SET PASSWORD 'x'").await, "42501");
    assert_eq!(error_code(&admin, "ALTER USER bob SET ROLE system").await, "42501");
    admin.batch_execute("ALTER USER bob SET ROLE dba; DROP USER carol").await.expect("dba manages");
}
