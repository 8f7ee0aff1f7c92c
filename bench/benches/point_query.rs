//! What one point query costs at each layer: a raw fjall get (and put)
//! beside CairnDB's point select by primary key over the wire, so the SQL
//! and protocol overhead per point query is a number (the difference).
//!
//!   cargo build --release -p cairn-server && cargo bench -p cairn-bench
//!
//! The wire benchmark starts the release `cairn` binary (next to this
//! benchmark, or `$CAIRN_BIN`) on a free port, like the end-to-end tests.

use criterion::{criterion_group, criterion_main, Criterion};
use fjall::{Database, KeyspaceCreateOptions};
use rand::Rng;

const ROWS: u64 = 100_000;

fn key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

fn fjall_get_and_put(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Database::builder(dir.path()).open().expect("open fjall");
    let rows = db.keyspace("rows", KeyspaceCreateOptions::default).expect("keyspace");
    let value = vec![7u8; 48];
    for id in 1..=ROWS {
        rows.insert(key(id), value.as_slice()).expect("insert");
    }
    let mut rng = rand::thread_rng();
    c.bench_function("fjall get (100k keys)", |b| {
        b.iter(|| rows.get(key(rng.gen_range(1..=ROWS))).expect("get").expect("present"))
    });
    c.bench_function("fjall put (no fsync)", |b| {
        b.iter(|| rows.insert(key(rng.gen_range(1..=ROWS)), value.as_slice()).expect("put"))
    });
}

fn wire_point_select(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let server = cairn_e2e::Server::start();
    let client = runtime.block_on(async {
        let client = server.root().await;
        client
            .batch_execute(&format!(
                "CREATE TABLE accounts (id BIGINT PRIMARY KEY, balance BIGINT, name TEXT);
                 INSERT INTO accounts SELECT n, n * 7, 'account ' || n FROM generate_series(1, {ROWS}) AS g(n);"
            ))
            .await
            .expect("load");
        client
    });
    let statement = runtime
        .block_on(client.prepare("SELECT id, balance, name FROM accounts WHERE id = $1"))
        .expect("prepare");
    let mut rng = rand::thread_rng();
    c.bench_function("CairnDB point select over the wire (prepared)", |b| {
        b.iter(|| {
            let id: i64 = rng.gen_range(1..=ROWS as i64);
            runtime.block_on(client.query_one(&statement, &[&id])).expect("row")
        })
    });
    c.bench_function("CairnDB SELECT 1 over the wire (prepared; protocol floor)", |b| {
        let one = runtime.block_on(client.prepare("SELECT 1")).expect("prepare");
        b.iter(|| runtime.block_on(client.query_one(&one, &[])).expect("row"))
    });
}

criterion_group!(benches, fjall_get_and_put, wire_point_select);
criterion_main!(benches);
