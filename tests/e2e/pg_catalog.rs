//! pg_catalog as clients read it: live rows, stable OIDs, the functions
//! and syntax psql's backslash commands send.

use cairn_e2e::{text_rows, Server};

#[tokio::test]
async fn catalog_tables_follow_the_live_catalog() {
    let mut server = Server::start();
    let root = server.root().await;
    root.batch_execute(
        "CREATE NAMESPACE app;
         CREATE TABLE app.items (id BIGINT PRIMARY KEY, name TEXT);
         CREATE TABLE app.log (line TEXT);
         CREATE USER alice WITH PASSWORD 'a' ROLE user;",
    )
    .await
    .expect("setup");
    let namespaces = text_rows(
        &root,
        "SELECT nspname FROM pg_catalog.pg_namespace ORDER BY nspname",
    )
    .await;
    assert_eq!(
        namespaces.concat(),
        [
            "app",
            "information_schema",
            "pg_catalog",
            "public",
            "system"
        ]
    );
    let sql = "SELECT c.relname, c.relkind, c.relnatts, c.relhasindex FROM pg_catalog.pg_class c \
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app' ORDER BY 1";
    // The primary key is an index, as in PostgreSQL.
    assert_eq!(
        text_rows(&root, sql).await,
        [
            ["items", "r", "2", "t"],
            ["items_pkey", "i", "1", "f"],
            ["log", "r", "1", "f"]
        ]
    );
    // A table created a moment ago is there; OIDs survive a restart.
    let oids =
        "SELECT c.oid, c.relname FROM pg_catalog.pg_class c WHERE c.relkind = 'r' ORDER BY 1";
    let before = text_rows(&root, oids).await;
    drop(root);
    server.stop();
    server.restart();
    let root = server.root().await;
    assert_eq!(text_rows(&root, oids).await, before);
    // Owners, visibility along the search path, roles and the database.
    let visible = "SELECT c.relname, pg_catalog.pg_get_userbyid(c.relowner), pg_catalog.pg_table_is_visible(c.oid) \
                   FROM pg_catalog.pg_class c WHERE c.relname IN ('items', 'users') ORDER BY 1";
    assert_eq!(
        text_rows(&root, visible).await,
        [["items", "root", "f"], ["users", "root", "f"]]
    );
    root.batch_execute("SET search_path = app, system")
        .await
        .expect("search path");
    assert_eq!(
        text_rows(&root, visible).await,
        [["items", "root", "t"], ["users", "root", "t"]]
    );
    let roles = text_rows(
        &root,
        "SELECT rolname, rolsuper FROM pg_catalog.pg_roles ORDER BY rolname",
    )
    .await;
    assert_eq!(roles, [["alice", "f"], ["root", "t"]]);
    let alice = server.connect("alice", "a").await.expect("alice");
    assert_eq!(
        text_rows(&alice, "SELECT rolname FROM pg_catalog.pg_roles").await,
        [["alice"]],
        "a user sees only itself"
    );
    let database =
        "SELECT datname, pg_catalog.pg_encoding_to_char(encoding) FROM pg_catalog.pg_database";
    assert_eq!(text_rows(&root, database).await, [["cairn", "UTF8"]]);
    // The syntax psql sends: OPERATOR(pg_catalog.~) and COLLATE.
    let psql_style = "SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relname OPERATOR(pg_catalog.~) '^(items)$' COLLATE pg_catalog.default";
    assert_eq!(text_rows(&root, psql_style).await, [["items"]]);
    let row = root
        .query_one(
            "SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'app'",
            &[],
        )
        .await
        .expect("oid");
    assert_eq!(row.columns()[0].type_(), &tokio_postgres::types::Type::OID);
    assert!(row.get::<_, u32>(0) > 16_384);
}

#[tokio::test]
async fn columns_types_and_defaults_as_drivers_read_them() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute(
        "CREATE NAMESPACE app;
         CREATE TABLE app.items (id BIGINT PRIMARY KEY, name VARCHAR(20) NOT NULL DEFAULT 'x', tags TEXT[], price NUMERIC(12,2));",
    )
    .await
    .expect("setup");
    let sql = "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef, t.typname \
               FROM pg_catalog.pg_attribute a \
               JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
               JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
               WHERE c.relname = 'items' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";
    assert_eq!(
        text_rows(&root, sql).await,
        [
            ["id", "bigint", "t", "f", "int8"],
            ["name", "character varying(20)", "t", "t", "varchar"],
            ["tags", "text[]", "f", "f", "_text"],
            ["price", "numeric(12,2)", "f", "f", "numeric"],
        ]
    );
    // A plain (unaggregated) correlated scalar subquery, as psql writes them.
    let defaults = "SELECT a.attname, (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true) FROM pg_catalog.pg_attrdef d \
                    WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum) AS def \
                    FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
                    WHERE c.relname = 'items' ORDER BY a.attnum";
    assert_eq!(
        text_rows(&root, defaults).await,
        [
            ["id", "NULL"],
            ["name", "'x'::character varying"],
            ["tags", "NULL"],
            ["price", "NULL"]
        ]
    );
    // ARRAY(subquery), as psql's \du writes it.
    let member_of = "SELECT r.rolname, ARRAY(SELECT b.rolname FROM pg_catalog.pg_auth_members m \
                     JOIN pg_catalog.pg_roles b ON (m.roleid = b.oid) WHERE m.member = r.oid) AS memberof \
                     FROM pg_catalog.pg_roles r ORDER BY 1";
    assert_eq!(text_rows(&root, member_of).await, [["root", "NULL"]]);
    let names = "SELECT ARRAY(SELECT a.attname FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
                 WHERE c.relname = 'items' ORDER BY a.attnum)";
    assert_eq!(
        text_rows(&root, names).await,
        [["{id,name,tags,price}"]],
        "ORDER BY orders the array"
    );
    let casts = "SELECT 1::pg_catalog.int4, 'x'::pg_catalog.text, 26::oid";
    assert_eq!(text_rows(&root, casts).await, [["1", "x", "26"]]);
}

#[tokio::test]
async fn functions_and_statements_drivers_send() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute("CREATE NAMESPACE app; SET search_path = app, public")
        .await
        .expect("setup");
    assert_eq!(
        text_rows(
            &root,
            "SELECT current_schemas(false), current_schemas(true)"
        )
        .await,
        [["{app,public}", "{pg_catalog,app,public}"]]
    );
    let sql = "SELECT 'app' = ANY(current_schemas(true)), has_table_privilege('app.x', 'SELECT'), \
               has_schema_privilege('app', 'USAGE'), to_regtype('integer'), to_regtype('pg_catalog.text'), \
               to_regtype('nope'), pg_get_serial_sequence('t', 'id')";
    assert_eq!(
        text_rows(&root, sql).await,
        [["t", "t", "t", "23", "25", "NULL", "NULL"]]
    );
    // What drivers and poolers send to clean a connection.
    let messages = root
        .simple_query("CLOSE ALL; UNLISTEN *")
        .await
        .expect("accepted");
    assert_eq!(messages.len(), 2);
}

#[tokio::test]
async fn deallocate_all_drops_every_prepared_statement() {
    let server = Server::start();
    let root = server.root().await;
    // DEALLOCATE ALL drops the statements prepared on the connection (by
    // name: tests/e2e/raw.rs).
    let other = root.prepare("SELECT 2").await.expect("prepare");
    root.batch_execute("DEALLOCATE ALL")
        .await
        .expect("deallocate all");
    assert!(
        root.query(&other, &[]).await.is_err(),
        "the statement is gone"
    );
}

#[tokio::test]
async fn result_columns_are_named_as_postgres_names_them() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute("CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT)")
        .await
        .expect("setup");
    let statement = root
        .prepare("SELECT count(*), NULL, NULL, 1::int, name, upper(name), CASE WHEN true THEN 1 END FROM items GROUP BY name")
        .await
        .expect("prepare");
    let names: Vec<&str> = statement.columns().iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        ["count", "?column?", "?column?", "int4", "name", "upper", "case"]
    );
}

#[tokio::test]
async fn discard_all_resets_a_connection_for_the_next_user() {
    let server = Server::start();
    let root = server.root().await;
    let statement = root.prepare("SELECT 1").await.expect("prepare");
    root.batch_execute("SET application_name = 'pooled'").await.expect("set");
    root.batch_execute("DISCARD ALL").await.expect("discard");
    assert_eq!(text_rows(&root, "SHOW application_name").await, [[""]]);
    // In a string of statements it is in their implicit transaction: as
    // PostgreSQL, refused.
    let error = root.batch_execute("SELECT 1; DISCARD ALL").await.expect_err("not in a string");
    assert_eq!(error.code().map(|c| c.code()), Some("25001"));
    assert!(root.query(&statement, &[]).await.is_err(), "prepared statements are dropped");
    let error = root.batch_execute("BEGIN; DISCARD ALL").await.expect_err("not in a block");
    assert_eq!(error.code().map(|c| c.code()), Some("25001"));
    root.batch_execute("ROLLBACK").await.expect("rollback");
    assert_eq!(text_rows(&root, "SELECT current_setting('TimeZone'), current_setting('nope', true)").await, [["UTC", "NULL"]]);
}

/// The queries tokio-postgres and sqlx send to look up a type OID they do
/// not know (their typeinfo queries, verbatim), with the OID as a binary
/// `oid` parameter.
#[tokio::test]
async fn driver_type_lookup_queries_answer_for_every_oid() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute("CREATE TABLE pairs (a INT PRIMARY KEY, b TEXT)").await.expect("setup");
    let tokio_postgres_typeinfo = "SELECT t.typname, t.typtype, t.typelem, r.rngsubtype, t.typbasetype, n.nspname, t.typrelid \
        FROM pg_catalog.pg_type t \
        LEFT OUTER JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid \
        INNER JOIN pg_catalog.pg_namespace n ON t.typnamespace = n.oid \
        WHERE t.oid = $1";
    let row = root.query_one(tokio_postgres_typeinfo, &[&1043u32]).await.expect("varchar");
    assert_eq!(row.get::<_, String>("typname"), "varchar");
    assert_eq!(row.get::<_, i8>("typtype"), b'b' as i8);
    assert_eq!(row.get::<_, u32>("typelem"), 0);
    assert_eq!(row.get::<_, Option<u32>>("rngsubtype"), None);
    assert_eq!(row.get::<_, String>("nspname"), "pg_catalog");
    let row = root.query_one(tokio_postgres_typeinfo, &[&1009u32]).await.expect("text[]");
    assert_eq!(row.get::<_, u32>("typelem"), 25);
    assert!(root.query_opt(tokio_postgres_typeinfo, &[&4_000_000_000u32]).await.expect("unknown").is_none());

    let sqlx_typeinfo = "SELECT typname, typtype, typcategory, typrelid, typelem, typbasetype FROM pg_catalog.pg_type WHERE oid = $1";
    let row = root.query_one(sqlx_typeinfo, &[&2950u32]).await.expect("uuid");
    assert_eq!((row.get::<_, String>(0), row.get::<_, i8>(2)), ("uuid".to_owned(), b'U' as i8));
    let by_name = root.query_one("SELECT oid FROM pg_catalog.pg_type WHERE typname ILIKE $1", &[&"JSONB"]).await.expect("by name");
    assert_eq!(by_name.get::<_, u32>(0), 3802);

    let relation: u32 = root
        .query_one("SELECT oid FROM pg_catalog.pg_class WHERE relname = 'pairs'", &[])
        .await
        .expect("pairs")
        .get(0);
    let composite = root
        .query(
            "SELECT attname, atttypid FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND NOT attisdropped AND attnum > 0 ORDER BY attnum",
            &[&relation],
        )
        .await
        .expect("composite");
    let fields: Vec<(String, u32)> = composite.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(fields, [("a".to_owned(), 23), ("b".to_owned(), 25)]);
    let labels = root
        .query("SELECT enumlabel FROM pg_catalog.pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder", &[&1043u32])
        .await
        .expect("enum");
    assert!(labels.is_empty());
    let ranges = root.query("SELECT rngsubtype FROM pg_catalog.pg_range WHERE rngtypid = $1", &[&1043u32]).await.expect("range");
    assert!(ranges.is_empty());
}
