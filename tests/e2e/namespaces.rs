use cairn_e2e::{error_code, text_rows, Server};

#[tokio::test]
async fn create_use_and_drop_namespaces() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute("CREATE NAMESPACE app; CREATE SCHEMA IF NOT EXISTS app; CREATE NAMESPACE IF NOT EXISTS other")
        .await
        .expect("create");
    let names = text_rows(&root, "SELECT name FROM system.namespaces ORDER BY name").await;
    assert_eq!(names, [["app"], ["default"], ["other"]]);
    assert_eq!(error_code(&root, "CREATE NAMESPACE app").await, "42710");

    root.batch_execute("USE app").await.expect("use");
    assert_eq!(text_rows(&root, "SELECT current_schema()").await, [["app"]]);
    assert_eq!(text_rows(&root, "SHOW search_path").await, [["app"]]);
    assert_eq!(error_code(&root, "SELECT * FROM missing_table").await, "42P01");
    assert_eq!(error_code(&root, "USE nowhere").await, "3F000");
    root.batch_execute("SET search_path = default").await.expect("set");
    assert_eq!(text_rows(&root, "SELECT current_schema()").await, [["default"]]);

    // Another session sees the namespace at once, and not after the drop.
    let other = server.root().await;
    other.batch_execute("USE other").await.expect("visible to other sessions");
    root.batch_execute("DROP NAMESPACE other; DROP SCHEMA IF EXISTS other").await.expect("drop");
    assert_eq!(error_code(&root, "DROP NAMESPACE other").await, "42704");
    assert_eq!(error_code(&other, "USE other").await, "3F000");
    let names = text_rows(&root, "SELECT name FROM system.namespaces ORDER BY name").await;
    assert_eq!(names, [["app"], ["default"]]);
    // Namespaces are the schemas of information_schema too.
    let schemata = text_rows(&root, "SELECT schema_name FROM information_schema.schemata ORDER BY schema_name").await;
    assert_eq!(schemata, [["app"], ["default"], ["information_schema"], ["pg_catalog"], ["system"]]);
}

#[tokio::test]
async fn reserved_names_roles_and_transactions() {
    let server = Server::start();
    let root = server.root().await;
    for name in ["system", "pg_catalog", "information_schema", "pg_mine", "public"] {
        assert_eq!(error_code(&root, &format!("CREATE NAMESPACE {name}")).await, "42939", "{name}");
    }
    root.batch_execute("CREATE USER alice WITH PASSWORD 'a' ROLE user").await.expect("alice");
    let alice = server.connect("alice", "a").await.expect("login");
    assert_eq!(error_code(&alice, "CREATE NAMESPACE mine").await, "42501");
    assert_eq!(error_code(&alice, "DROP NAMESPACE default").await, "42501");
    // Catalog statements apply at once, even inside a block.
    root.batch_execute("BEGIN; CREATE NAMESPACE later; ROLLBACK").await.expect("in a block");
    assert_eq!(text_rows(&root, "SELECT name FROM system.namespaces WHERE name = 'later'").await, [["later"]]);
}
