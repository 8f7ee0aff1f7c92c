//! The types beyond the basics, each through text (simple protocol) and
//! binary (tokio-postgres decodes its typed values in binary) with its
//! PostgreSQL type OID.

use cairn_e2e::{error_code, text_rows, Server};
use tokio_postgres::types::Type;

async fn setup(server: &Server) -> tokio_postgres::Client {
    let root = server.root().await;
    root.batch_execute(
        "CREATE TABLE docs (
           id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
           doc JSONB,
           raw JSON,
           tags TEXT[],
           nums INT[],
           wait INTERVAL,
           n SERIAL
         );",
    )
    .await
    .expect("setup");
    root
}

#[tokio::test]
async fn the_same_types_in_binary_with_their_oids() {
    let server = Server::start();
    let root = setup(&server).await;
    let id = uuid::Uuid::new_v4();
    let doc = serde_json::json!({"k": [1, 2], "s": "x"});
    let inserted = root
        .execute(
            "INSERT INTO docs (id, doc, tags, nums) VALUES ($1, $2, $3, $4)",
            &[&id, &doc, &vec!["a".to_owned(), "b,c".to_owned()], &vec![5i32, 6]],
        )
        .await
        .expect("binary parameters");
    assert_eq!(inserted, 1);
    let row = root.query_one("SELECT id, doc, tags, nums, doc->'k' AS k FROM docs WHERE id = $1", &[&id]).await.expect("select");
    let types: Vec<Type> = row.columns().iter().map(|c| c.type_().clone()).collect();
    // jsonb -> key is jsonb, as in PostgreSQL.
    assert_eq!(types, [Type::UUID, Type::JSONB, Type::TEXT_ARRAY, Type::INT4_ARRAY, Type::JSONB]);
    assert_eq!(row.get::<_, uuid::Uuid>(0), id);
    assert_eq!(row.get::<_, serde_json::Value>(1), doc);
    assert_eq!(row.get::<_, Vec<String>>(2), ["a", "b,c"]);
    assert_eq!(row.get::<_, Vec<i32>>(3), [5, 6]);
    assert_eq!(row.get::<_, serde_json::Value>(4), serde_json::json!([1, 2]));
    // A uuid literal cast, and gen_random_uuid(), are uuids to the client.
    let row = root.query_one("SELECT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, gen_random_uuid()", &[]).await.expect("casts");
    assert_eq!(row.columns()[0].type_(), &Type::UUID);
    assert_eq!(row.columns()[1].type_(), &Type::UUID);
    let interval = root.query_one("SELECT INTERVAL '1 day'", &[]).await.expect("interval");
    assert_eq!(interval.columns()[0].type_(), &Type::INTERVAL);
}

#[tokio::test]
async fn every_basic_type_round_trips_in_binary_and_text() {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute(
        "CREATE TABLE basics (k INT PRIMARY KEY, b BOOLEAN, s SMALLINT, i INT, l BIGINT, r REAL, d DOUBLE PRECISION,
           n NUMERIC(12,2), t TEXT, v VARCHAR(5), y BYTEA, dt DATE, tm TIME, ts TIMESTAMP, tz TIMESTAMPTZ)",
    )
    .await
    .expect("create");
    let date = NaiveDate::from_ymd_opt(2024, 2, 29).expect("date");
    let time = NaiveTime::from_hms_micro_opt(13, 14, 15, 123_456).expect("time");
    let stamp = NaiveDateTime::new(date, time);
    let zoned: DateTime<Utc> = DateTime::from_naive_utc_and_offset(stamp, Utc);
    root.execute(
        "INSERT INTO basics VALUES ($1, $2, $3, $4, $5, $6, $7, 1234.5, $8, $9, $10, $11, $12, $13, $14)",
        &[&1i32, &true, &-7i16, &42i32, &i64::MAX, &1.5f32, &-2.25f64, &"héllo", &"abc", &vec![0u8, 255, 7], &date, &time, &stamp, &zoned],
    )
    .await
    .expect("binary parameters of every type");
    let row = root.query_one("SELECT * FROM basics WHERE k = $1", &[&1i32]).await.expect("select");
    let types: Vec<Type> = row.columns().iter().map(|c| c.type_().clone()).collect();
    assert_eq!(
        types,
        [
            Type::INT4, Type::BOOL, Type::INT2, Type::INT4, Type::INT8, Type::FLOAT4, Type::FLOAT8, Type::NUMERIC,
            Type::TEXT, Type::TEXT, Type::BYTEA, Type::DATE, Type::TIME, Type::TIMESTAMP, Type::TIMESTAMPTZ
        ]
    );
    assert!(row.get::<_, bool>(1));
    assert_eq!(row.get::<_, i16>(2), -7);
    assert_eq!(row.get::<_, i32>(3), 42);
    assert_eq!(row.get::<_, i64>(4), i64::MAX);
    assert_eq!(row.get::<_, f32>(5), 1.5);
    assert_eq!(row.get::<_, f64>(6), -2.25);
    assert_eq!(row.get::<_, &str>(8), "héllo");
    assert_eq!(row.get::<_, &str>(9), "abc");
    assert_eq!(row.get::<_, Vec<u8>>(10), [0, 255, 7]);
    assert_eq!(row.get::<_, NaiveDate>(11), date);
    assert_eq!(row.get::<_, NaiveTime>(12), time);
    assert_eq!(row.get::<_, NaiveDateTime>(13), stamp);
    assert_eq!(row.get::<_, DateTime<Utc>>(14), zoned);
    // The same row in text, as psql shows it.
    let text = text_rows(&root, "SELECT * FROM basics").await;
    assert_eq!(
        text,
        [[
            "1", "t", "-7", "42", "9223372036854775807", "1.5", "-2.25", "1234.50", "héllo", "abc", "\\x00ff07",
            "2024-02-29", "13:14:15.123456", "2024-02-29 13:14:15.123456", "2024-02-29 13:14:15.123456+00"
        ]]
    );
    assert_eq!(error_code(&root, "INSERT INTO basics (k, v) VALUES (2, 'toolong')").await, "22001");
    // PostgreSQL's SQLSTATE for text that is no date.
    assert_eq!(error_code(&root, "INSERT INTO basics (k, dt) VALUES (2, 'not a date')").await, "22007");
}
