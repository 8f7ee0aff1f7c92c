//! COPY FROM STDIN and TO STDOUT through tokio-postgres (extended
//! protocol); the simple-protocol path is driven by psql in CI.

use bytes::Bytes;
use cairn_e2e::{error_code, sqlstate, text_rows, Server};
use futures::{SinkExt, TryStreamExt};
use tokio_postgres::Client;

pub(crate) async fn copy_in(client: &Client, sql: &str, data: &str) -> Result<u64, tokio_postgres::Error> {
    let sink = client.copy_in::<_, Bytes>(sql).await?;
    futures::pin_mut!(sink);
    // Sent in small pieces: lines arrive split across CopyData messages.
    for chunk in data.as_bytes().chunks(7) {
        sink.send(Bytes::copy_from_slice(chunk)).await?;
    }
    sink.finish().await
}

async fn copy_out(client: &Client, sql: &str) -> String {
    let stream = client.copy_out(sql).await.expect("copy out");
    let chunks: Vec<Bytes> = stream.try_collect().await.expect("copy data");
    String::from_utf8(chunks.concat()).expect("utf-8")
}

async fn setup(server: &Server) -> Client {
    let root = server.root().await;
    root.batch_execute(
        "CREATE NAMESPACE app;
         CREATE USER alice WITH PASSWORD 'alice-pw' ROLE user;
         CREATE USER bob WITH PASSWORD 'bob-pw' ROLE user;
         CREATE SHARED TABLE app.products (sku TEXT PRIMARY KEY, name TEXT, price NUMERIC(12,2), stock INT DEFAULT 7)
           WITH (ACCESS_LEVEL = 'PUBLIC');
         CREATE USER TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT, owner TEXT DEFAULT current_user);",
    )
    .await
    .expect("setup");
    root
}

#[tokio::test]
async fn csv_in_and_out_with_header_nulls_quotes_and_defaults() {
    let server = Server::start();
    let root = setup(&server).await;
    let data = "sku,name,price\na,\"Apple, red\",1.50\nb,,2\nc,\"\",3.25\nd,\"say \"\"hi\"\"\nthere\",4\n";
    let copied = copy_in(&root, "COPY app.products (sku, name, price) FROM STDIN (FORMAT csv, HEADER true)", data)
        .await
        .expect("copy in");
    assert_eq!(copied, 4);
    let rows = text_rows(&root, "SELECT sku, coalesce(name, '<null>'), price, stock FROM app.products ORDER BY sku").await;
    assert_eq!(
        rows,
        [
            ["a", "Apple, red", "1.50", "7"],
            ["b", "<null>", "2.00", "7"],
            ["c", "", "3.25", "7"],
            ["d", "say \"hi\"\nthere", "4.00", "7"],
        ]
    );
    let out = copy_out(&root, "COPY app.products (sku, name, price) TO STDOUT WITH (FORMAT csv, HEADER true)").await;
    // Row order is key order; NULL is an empty field, the empty string is quoted.
    assert_eq!(out, "sku,name,price\na,\"Apple, red\",1.50\nb,,2.00\nc,\"\",3.25\nd,\"say \"\"hi\"\"\nthere\",4.00\n");
}

#[tokio::test]
async fn text_format_round_trips_escapes_and_queries_copy_out() {
    let server = Server::start();
    let root = setup(&server).await;
    let data = "t1\ttab\\there\t1\t1\nt2\t\\N\t2\t\\N\nt3\tback\\\\slash\\nnewline\t3\t3\n";
    assert_eq!(copy_in(&root, "COPY app.products (sku, name, price, stock) FROM STDIN", data).await.expect("copy in"), 3);
    assert_eq!(
        text_rows(&root, "SELECT name FROM app.products WHERE sku = 't1'").await,
        [["tab\there"]]
    );
    let out = copy_out(&root, "COPY app.products (sku, name, stock) TO STDOUT").await;
    assert_eq!(out, "t1\ttab\\there\t1\nt2\t\\N\t\\N\nt3\tback\\\\slash\\nnewline\t3\n");
    let out = copy_out(&root, "COPY (SELECT sku, price * 2 AS doubled FROM app.products WHERE stock IS NOT NULL ORDER BY sku DESC) TO STDOUT (DELIMITER '|')").await;
    assert_eq!(out, "t3|6.00\nt1|2.00\n");
}

#[tokio::test]
async fn a_bad_line_fails_the_whole_copy_with_its_line_number() {
    let server = Server::start();
    let root = setup(&server).await;
    let data = "sku,price\nok1,1\nok2,2\nbad,not-a-number\nok3,3\n";
    let error = copy_in(&root, "COPY app.products (sku, price) FROM STDIN (FORMAT csv, HEADER)", data)
        .await
        .expect_err("bad number");
    assert_eq!(sqlstate(&error), "22P02");
    let message = error.as_db_error().map(|e| e.message().to_owned()).unwrap_or_default();
    assert!(message.contains("line 4") && message.contains("column price"), "{message}");
    assert_eq!(text_rows(&root, "SELECT count(*) FROM app.products").await, [["0"]]);

    let error = copy_in(&root, "COPY app.products (sku, price) FROM STDIN", "x\t1\ny\n").await.expect_err("short line");
    assert_eq!(sqlstate(&error), "22P04");
    // A duplicate key inside the data: 23505, nothing written.
    let error = copy_in(&root, "COPY app.products (sku) FROM STDIN", "k1\nk2\nk1\n").await.expect_err("duplicate");
    assert_eq!(sqlstate(&error), "23505");
    assert_eq!(text_rows(&root, "SELECT count(*) FROM app.products").await, [["0"]]);
    // The connection is usable afterwards.
    assert_eq!(copy_in(&root, "COPY app.products (sku) FROM STDIN", "k1\n").await.expect("copy"), 1);

    // A copy the client abandons (CopyFail) writes nothing.
    {
        let sink = root.copy_in::<_, Bytes>("COPY app.products (sku) FROM STDIN").await.expect("copy");
        futures::pin_mut!(sink);
        sink.send(Bytes::from_static(b"abandoned\n")).await.expect("data");
    }
    assert_eq!(text_rows(&root, "SELECT sku FROM app.products").await, [["k1"]]);

    assert_eq!(error_code(&root, "COPY app.products (nope) FROM STDIN").await, "42703");
    assert_eq!(error_code(&root, "COPY app.missing FROM STDIN").await, "42P01");
    assert_eq!(error_code(&root, "COPY app.products FROM '/etc/passwd'").await, "42501");
    assert_eq!(error_code(&root, "COPY app.products TO '/tmp/out'").await, "42501");
    assert_eq!(error_code(&root, "COPY system.users FROM STDIN").await, "0A000");
}

/// Past a thousand rows a COPY checks once whether the table's partition
/// is empty instead of looking up each key, and keeps the keys it wrote as
/// a sorted run while they come in order. Duplicates must fail it all the
/// same: inside the data, in order or not, or against rows already there;
/// and rows of other partitions or deleted rows must not.
#[tokio::test]
async fn large_copies_find_every_duplicate_key() {
    let server = Server::start();
    let root = setup(&server).await;
    root.batch_execute("CREATE SHARED TABLE app.big (id BIGINT PRIMARY KEY, v TEXT)").await.expect("table");
    let lines = |ids: &mut dyn Iterator<Item = i64>| ids.map(|id| format!("{id}\tv{id}\n")).collect::<String>();
    let copy = "COPY app.big FROM STDIN";
    let count = "SELECT count(*) FROM app.big";
    for data in [lines(&mut (1..=2000).chain([1])), lines(&mut (1..=2000).rev().chain([1000]))] {
        let error = copy_in(&root, copy, &data).await.expect_err("a key twice in the data");
        assert_eq!(sqlstate(&error), "23505");
        assert_eq!(text_rows(&root, count).await, [["0"]]);
    }
    assert_eq!(copy_in(&root, copy, &lines(&mut (1..=2000))).await.expect("empty table"), 2000);
    let error = copy_in(&root, copy, &lines(&mut (2001..=3500).chain([1999]))).await.expect_err("a taken key");
    assert_eq!(sqlstate(&error), "23505");
    assert_eq!(text_rows(&root, count).await, [["2000"]]);
    root.batch_execute("DELETE FROM app.big").await.expect("delete");
    assert_eq!(copy_in(&root, copy, &lines(&mut (1..=2000))).await.expect("emptied table"), 2000);

    // Per user: alice's rows take no key of bob's partition, bob's own do.
    let alice = server.connect("alice", "alice-pw").await.expect("alice");
    let bob = server.connect("bob", "bob-pw").await.expect("bob");
    let notes = "COPY app.notes (id, body) FROM STDIN";
    assert_eq!(copy_in(&alice, notes, &lines(&mut (1..=1500))).await.expect("alice"), 1500);
    assert_eq!(copy_in(&bob, notes, &lines(&mut (1..=1500))).await.expect("bob"), 1500);
    let error = copy_in(&bob, notes, &lines(&mut (1501..=3000).chain([7]))).await.expect_err("bob's taken key");
    assert_eq!(sqlstate(&error), "23505");
    assert_eq!(text_rows(&bob, "SELECT count(*), max(id) FROM app.notes").await, [["1500", "1500"]]);
}

/// Past 16k rows a COPY's rows are converted on several threads, in
/// contiguous parts: the first bad row in row order must still be the one
/// reported, nothing may be written, and tables without a primary key
/// must get a distinct hidden key per row.
#[tokio::test]
async fn large_copies_converted_in_parts_fail_and_succeed_as_row_by_row() {
    let server = Server::start();
    let root = setup(&server).await;
    root.batch_execute(
        "CREATE SHARED TABLE app.wide (id BIGINT PRIMARY KEY, code VARCHAR(4), qty INT NOT NULL);
         CREATE SHARED TABLE app.keyless (v INT);",
    )
    .await
    .expect("tables");
    let rows = 20_000;
    // A NULL qty and a code too long, in the first part and the last, each way round.
    for (null_at, long_at, first) in [(3_000, 18_000, "23502"), (18_000, 3_000, "22001")] {
        let line = |id: i64| match id {
            _ if id == null_at => format!("{id}\tok\t\\N\n"),
            _ if id == long_at => format!("{id}\ttoo long\t1\n"),
            _ => format!("{id}\tok\t1\n"),
        };
        let data: String = (1..=rows).map(line).collect();
        let error = copy_in(&root, "COPY app.wide FROM STDIN", &data).await.expect_err("a NULL and a long code");
        assert_eq!(sqlstate(&error), first, "the first bad row in row order is reported: {error:?}");
        assert_eq!(text_rows(&root, "SELECT count(*) FROM app.wide").await, [["0"]]);
    }
    let data: String = (1..=rows).map(|id| format!("{id}\tok\t{}\n", id % 7)).collect();
    assert_eq!(copy_in(&root, "COPY app.wide FROM STDIN", &data).await.expect("valid rows"), 20_000);
    assert_eq!(text_rows(&root, "SELECT count(*), sum(qty), max(id) FROM app.wide").await, [["20000", "59998", "20000"]]);

    let data: String = (1..=rows).map(|v| format!("{v}\n")).collect();
    assert_eq!(copy_in(&root, "COPY app.keyless FROM STDIN", &data).await.expect("keyless"), 20_000);
    assert_eq!(text_rows(&root, "SELECT count(*), count(DISTINCT v) FROM app.keyless").await, [["20000", "20000"]]);
}

#[tokio::test]
async fn copy_runs_inside_transactions() {
    let server = Server::start();
    let root = setup(&server).await;
    root.batch_execute("BEGIN").await.expect("begin");
    copy_in(&root, "COPY app.products (sku) FROM STDIN", "r1\nr2\n").await.expect("copy");
    assert_eq!(text_rows(&root, "SELECT count(*) FROM app.products").await, [["2"]]);
    root.batch_execute("ROLLBACK").await.expect("rollback");
    assert_eq!(text_rows(&root, "SELECT count(*) FROM app.products").await, [["0"]]);

    root.batch_execute("BEGIN").await.expect("begin");
    copy_in(&root, "COPY app.products (sku) FROM STDIN", "c1\n").await.expect("copy");
    root.batch_execute("COMMIT").await.expect("commit");
    assert_eq!(text_rows(&root, "SELECT sku FROM app.products").await, [["c1"]]);

    // A failed COPY aborts the transaction block, as any failed statement.
    root.batch_execute("BEGIN").await.expect("begin");
    copy_in(&root, "COPY app.products (sku) FROM STDIN", "c1\n").await.expect_err("duplicate");
    assert_eq!(error_code(&root, "SELECT 1").await, "25P02");
    root.batch_execute("ROLLBACK").await.expect("rollback");
}

#[tokio::test]
async fn copy_stays_inside_the_callers_partition() {
    let server = Server::start();
    let _root = setup(&server).await;
    let alice = server.connect("alice", "alice-pw").await.expect("alice");
    let bob = server.connect("bob", "bob-pw").await.expect("bob");
    copy_in(&alice, "COPY app.notes (id, body) FROM STDIN", "1\talice one\n2\talice two\n").await.expect("alice");
    // The same keys in bob's partition: no conflict, no overwrite.
    copy_in(&bob, "COPY app.notes (id, body) FROM STDIN", "1\tbob one\n").await.expect("bob");
    assert_eq!(copy_out(&alice, "COPY app.notes TO STDOUT").await, "1\talice one\talice\n2\talice two\talice\n");
    assert_eq!(copy_out(&bob, "COPY app.notes TO STDOUT").await, "1\tbob one\tbob\n");
    assert_eq!(copy_out(&bob, "COPY (SELECT count(*) FROM app.notes) TO STDOUT").await, "1\n");
    // A user may not write a shared table above its access level.
    _root.batch_execute("CREATE SHARED TABLE app.private_t (k INT PRIMARY KEY)").await.expect("private");
    let Err(error) = alice.copy_in::<_, Bytes>("COPY app.private_t FROM STDIN").await else {
        panic!("a user copied into a private shared table");
    };
    assert_eq!(sqlstate(&error), "42501");
}

/// FORMAT binary (asyncpg's copy_records_to_table): each value in its
/// type's binary form, in and out, read back as inserted.
#[tokio::test]
async fn binary_format_in_and_out() {
    use tokio_postgres::binary_copy::{BinaryCopyInWriter, BinaryCopyOutStream};
    use tokio_postgres::types::Type;

    let server = Server::start();
    let root = server.root().await;
    root.batch_execute("CREATE TABLE events (id BIGINT PRIMARY KEY, body TEXT, at TIMESTAMPTZ, u UUID, ok BOOLEAN, blob BYTEA)")
        .await
        .expect("create");
    let types = [Type::INT8, Type::TEXT, Type::TIMESTAMPTZ, Type::UUID, Type::BOOL, Type::BYTEA];
    let at = chrono::DateTime::from_timestamp(1_700_000_000, 123_000).expect("time");
    let sink = root.copy_in("COPY events FROM STDIN (FORMAT binary)").await.expect("copy in");
    let writer = BinaryCopyInWriter::new(sink, &types);
    futures::pin_mut!(writer);
    for id in 0..300i64 {
        let body = (id % 7 != 0).then(|| format!("event {id}"));
        let u = uuid::Uuid::from_u128(id as u128);
        let blob = vec![0u8, 0xff, id as u8];
        writer.as_mut().write(&[&id, &body, &at, &u, &(id % 2 == 0), &blob]).await.expect("row");
    }
    assert_eq!(writer.finish().await.expect("finish"), 300);
    let rows = text_rows(&root, "SELECT count(*), count(body), min(at) FROM events").await;
    assert_eq!(rows, [["300", "257", "2023-11-14 22:13:20.000123+00"]]);

    let stream = root.copy_out("COPY (SELECT id, body, u FROM events WHERE id < 3 ORDER BY id) TO STDOUT BINARY").await.expect("out");
    let rows: Vec<_> = BinaryCopyOutStream::new(stream, &[Type::INT8, Type::TEXT, Type::UUID]).try_collect().await.expect("rows");
    let got: Vec<(i64, Option<String>, uuid::Uuid)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    assert_eq!(got[0], (0, None, uuid::Uuid::from_u128(0)));
    assert_eq!(got[2], (2, Some("event 2".to_owned()), uuid::Uuid::from_u128(2)));
}

#[tokio::test]
async fn malformed_binary_copy_writes_nothing() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute("CREATE TABLE nums (id BIGINT PRIMARY KEY)").await.expect("create");
    let header = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0".to_vec();
    let send = |data: Vec<u8>| {
        let root = &root;
        async move {
            let sink = root.copy_in::<_, Bytes>("COPY nums FROM STDIN (FORMAT binary)").await?;
            futures::pin_mut!(sink);
            sink.send(Bytes::from(data)).await?;
            sink.finish().await
        }
    };
    // One good row, then an int8 of three bytes.
    let mut bad_value = header.clone();
    bad_value.extend_from_slice(&[0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1]);
    bad_value.extend_from_slice(&[0, 1, 0, 0, 0, 3, 1, 2, 3, 0xff, 0xff]);
    assert_eq!(sqlstate(&send(bad_value).await.expect_err("bad value")), "22P03");
    let error = send(b"id\n1\n".to_vec()).await.expect_err("not binary");
    assert_eq!(sqlstate(&error), "22P04");
    let message = error.as_db_error().map(|e| e.message().to_owned()).unwrap_or_default();
    assert!(message.contains("signature not recognized (COPY nums, line 0)"), "{message}");
    let mut truncated = header;
    truncated.extend_from_slice(&[0, 1, 0, 0, 0, 8, 0, 0]);
    assert_eq!(sqlstate(&send(truncated).await.expect_err("truncated")), "22P04");
    assert_eq!(text_rows(&root, "SELECT count(*) FROM nums").await, [["0"]]);
    let Err(error) = root.copy_in::<_, Bytes>("COPY nums FROM STDIN (FORMAT binary, DELIMITER ',')").await else {
        panic!("a text option was accepted in binary mode");
    };
    assert_eq!(sqlstate(&error), "42601");
}

#[tokio::test]
async fn a_long_line_is_read_while_other_clients_go_on() {
    let server = Server::start();
    let root = setup(&server).await;
    let other = server.root().await;
    let value_bytes = 32 * 1024 * 1024;
    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
    let sink = root.copy_in::<_, Bytes>("COPY app.products (sku, name) FROM STDIN").await.expect("copy");
    futures::pin_mut!(sink);
    sink.send(Bytes::from_static(b"long\t")).await.expect("send");
    for sent in 0..value_bytes / chunk.len() {
        sink.send(chunk.clone()).await.expect("send");
        // Half-way through the line, another client is answered.
        if sent == value_bytes / chunk.len() / 2 {
            assert_eq!(text_rows(&other, "SELECT 1").await, vec![vec!["1".to_owned()]]);
        }
    }
    sink.send(Bytes::from_static(b"\nshort\ty\n")).await.expect("send");
    assert_eq!(sink.finish().await.expect("finish"), 2);
    let lengths = text_rows(&root, "SELECT sku, length(name) FROM app.products ORDER BY sku").await;
    assert_eq!(lengths, vec![vec!["long".to_owned(), value_bytes.to_string()], vec!["short".to_owned(), "1".to_owned()]]);
}

/// COPY reads dates, times, uuids and json as a cast of text does, in
/// PostgreSQL's forms: no seconds, month names, jsonb normalised.
#[tokio::test]
async fn typed_text_reads_as_postgresql_reads_it() {
    let server = Server::start();
    let root = server.root().await;
    root.batch_execute("CREATE TABLE events (id INT PRIMARY KEY, at TIMESTAMP, on_day DATE, at_utc TIMESTAMPTZ, u UUID, doc JSONB)")
        .await
        .expect("create");
    let data = "1\t2024-03-15 10:00\tMarch 15, 2024\t2024-03-15 10:00+02\tA0EEBC999C0B4EF8BB6D6BB9BD380A11\t{\"b\": 1, \"a\": [1,2]}\n";
    assert_eq!(copy_in(&root, "COPY events FROM STDIN", data).await.expect("copy in"), 1);
    assert_eq!(
        text_rows(&root, "SELECT at, on_day, at_utc, u, doc FROM events").await,
        [[
            "2024-03-15 10:00:00",
            "2024-03-15",
            "2024-03-15 08:00:00+00",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "{\"a\": [1, 2], \"b\": 1}"
        ]]
    );
    let error = copy_in(&root, "COPY events (id, on_day) FROM STDIN", "2\tnot a date\n").await.expect_err("bad date");
    assert_eq!(sqlstate(&error), "22007");
    let error = copy_in(&root, "COPY events (id, doc) FROM STDIN", "3\t{bad\n").await.expect_err("bad json");
    assert_eq!(sqlstate(&error), "22P02");
}
