//! A session driven directly, for what the wire cannot show: which plan a
//! statement ran by.

use std::sync::Arc;
use std::time::Duration;

use cairn_catalog::{Catalog, CatalogOptions, HashCost, LockoutPolicy};
use cairn_store::{Store, StoreOptions};
use cairn_types::SessionId;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use futures::TryStreamExt;

use super::*;
use cairn_tables::memory::MemoryLimits;
use crate::{Engine, SessionParams};

async fn session(dir: &tempfile::TempDir) -> Session {
    let store = Store::open(dir.path(), &StoreOptions::default()).expect("store");
    let options = CatalogOptions {
        hash_cost: HashCost { log_n: 4 },
        lockout: LockoutPolicy { max_failures: 3, lock_duration: Duration::from_secs(60) },
    };
    let catalog = Arc::new(Catalog::new(store, options));
    catalog.bootstrap(Some("root-pw")).expect("bootstrap");
    let engine = Engine::new(catalog, 0, tokio::runtime::Handle::current(), &MemoryLimits::of(64 << 20)).expect("engine");
    let root = engine.authenticate("root", "root-pw").await.expect("root");
    let params = SessionParams {
        session_id: SessionId(1),
        client_addr: "test".into(),
        database: "cairn".into(),
        startup: Vec::new(),
    };
    engine.open_session(&root, params).expect("session")
}

/// Runs a query string as the simple protocol does; the rows of its
/// last statement, each as text joined by `|`.
async fn run(session: &Session, sql: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for statement in session.parse(sql).expect("parses") {
        lines.clear();
        let output = session.execute(statement).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        if let Output::Rows { stream, .. } = output {
            let batches: Vec<RecordBatch> = stream.try_collect().await.expect("rows");
            for batch in batches {
                let options = FormatOptions::default().with_null("NULL");
                let columns: Vec<ArrayFormatter> =
                    batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("format")).collect();
                for row in 0..batch.num_rows() {
                    lines.push(columns.iter().map(|c| c.value(row).to_string()).collect::<Vec<_>>().join("|"));
                }
            }
        }
        session.ready_for_query();
    }
    lines
}

/// The plan the session keeps for `sql`'s shape.
fn kept_plan(session: &Session, sql: &str) -> Option<Arc<ShapePlan>> {
    let Some(Statement::Query(query)) = parse_statements(sql).expect("parses").pop() else { panic!("{sql}: a query") };
    let shape = Shape::of(&query.statement, &query.extras).expect("a shape");
    session.shapes.lock().unwrap_or_else(PoisonError::into_inner).get(&shape.key).cloned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shape_is_planned_once_and_again_after_the_schema_or_settings_move() {
    let dir = tempfile::tempdir().expect("dir");
    let session = session(&dir).await;
    run(&session, "CREATE TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a'); INSERT INTO t VALUES (2, 'b')").await;

    assert_eq!(run(&session, "SELECT * FROM t WHERE id = 1").await, ["1|a"]);
    let first = kept_plan(&session, "SELECT * FROM t WHERE id = 1").expect("kept");
    assert!(first.planned.is_some(), "a key read by a literal is bindable");
    assert_eq!(run(&session, "select * from t where id=2").await, ["2|b"]);
    let second = kept_plan(&session, "SELECT * FROM t WHERE id = 2").expect("kept");
    assert!(Arc::ptr_eq(&first, &second), "another literal runs the same plan");
    // A literal the parameter's type cannot hold exactly: planned as written.
    assert_eq!(run(&session, "SELECT * FROM t WHERE id = 1.5").await, Vec::<String>::new());
    assert_eq!(run(&session, "SELECT * FROM t WHERE id = 3000000000").await, Vec::<String>::new());
    assert_eq!(run(&session, "SELECT * FROM t WHERE id = 2.0").await, ["2|b"]);

    run(&session, "ALTER TABLE t ADD COLUMN n INT DEFAULT 7").await;
    assert_eq!(run(&session, "SELECT * FROM t WHERE id = 1").await, ["1|a|7"], "the new column is seen");
    let altered = kept_plan(&session, "SELECT * FROM t WHERE id = 1").expect("kept");
    assert!(!Arc::ptr_eq(&first, &altered), "planned again after ALTER TABLE");

    run(&session, "CREATE NAMESPACE other; CREATE TABLE other.t (id INT PRIMARY KEY, v TEXT); INSERT INTO other.t VALUES (1, 'other')").await;
    assert_eq!(run(&session, "SET search_path = other; SELECT * FROM t WHERE id = 1").await, ["1|other"]);
    assert_eq!(run(&session, "RESET search_path; SELECT * FROM t WHERE id = 1").await, ["1|a|7"]);

    // Seen before, a statement is recognised by its tokens and not parsed.
    let [Statement::Shaped(_)] = session.parse("SELECT * FROM t WHERE id = 42").expect("parses").as_slice() else {
        panic!("recognised by its tokens")
    };
    assert_eq!(run(&session, "SELECT v FROM t WHERE id = 2").await, ["b"]);
    assert_eq!(run(&session, "SELECT v FROM t WHERE id = 2").await, ["b"], "run by the tokens' shape");
    assert_eq!(run(&session, "SELECT v FROM t WHERE id = 2.5").await, Vec::<String>::new(), "planned as written");
    assert_eq!(run(&session, "SET search_path = other; SELECT v FROM t WHERE id = 1").await, ["other"]);
    run(&session, "RESET search_path").await;

    // Writes by shape: the rows are those written as literals.
    run(&session, "INSERT INTO t (id, v) VALUES (3, 'c'); INSERT INTO t (id, v) VALUES (4, 'it''s')").await;
    run(&session, "UPDATE t SET v = 'd' WHERE id = 3").await;
    assert!(kept_plan(&session, "UPDATE t SET v = 'x' WHERE id = 9").is_some());
    assert_eq!(run(&session, "SELECT id, v FROM t WHERE id >= 3 ORDER BY id").await, ["3|d", "4|it's"]);
}

/// The sizes of the batches `sql`'s rows come in.
async fn batch_sizes(session: &Session, sql: &str) -> Vec<usize> {
    let mut statements = session.parse(sql).expect("parses");
    assert_eq!(statements.len(), 1, "{sql}: one statement");
    let output = session.execute(statements.remove(0)).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let Output::Rows { stream, .. } = output else { panic!("{sql}: rows") };
    let batches: Vec<RecordBatch> = stream.try_collect().await.expect("rows");
    session.ready_for_query();
    batches.iter().map(RecordBatch::num_rows).filter(|&rows| rows > 0).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn scans_come_in_batches_of_the_sessions_batch_size_in_and_out_of_a_block() {
    let dir = tempfile::tempdir().expect("dir");
    let session = session(&dir).await;
    run(&session, "CREATE SHARED TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t SELECT value, 'v' FROM generate_series(1, 1000)").await;
    session.ctx.state_ref().write().config_mut().options_mut().execution.batch_size = datafusion::config::ConfigNonZeroUsize::try_new(300).expect("non-zero");

    // The scan may come in several partitions, each cut into batches.
    let in_batches_of_300 = |sizes: Vec<usize>| sizes.len() >= 4 && sizes.iter().all(|&rows| rows <= 300) && sizes.iter().sum::<usize>() == 1000;
    let sql = "SELECT id, v FROM t WHERE v LIKE 'v%'";
    let sizes = batch_sizes(&session, sql).await;
    assert!(in_batches_of_300(sizes.clone()), "outside a block: {sizes:?}");
    // Inside a block the block's writes are merged in as the rows stream:
    // one row fewer, one more.
    run(&session, "BEGIN; DELETE FROM t WHERE id = 10; INSERT INTO t VALUES (1001, 'v')").await;
    let sizes = batch_sizes(&session, sql).await;
    assert!(in_batches_of_300(sizes.clone()), "inside a block: {sizes:?}");
    let ends = run(&session, "SELECT min(id), max(id), count(*) FROM t WHERE id <> 10").await;
    assert_eq!(ends, ["1|1001|1000"]);
    run(&session, "ROLLBACK").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_scan_is_read_in_partitions_and_a_small_one_in_key_order() {
    use datafusion::physical_plan::{execute_stream_partitioned, ExecutionPlanProperties};

    let dir = tempfile::tempdir().expect("dir");
    let session = session(&dir).await;
    run(&session, "CREATE SHARED TABLE big (id INT PRIMARY KEY, v TEXT); INSERT INTO big SELECT value, 'v' FROM generate_series(1, 50000)").await;
    run(&session, "CREATE SHARED TABLE small (id INT PRIMARY KEY); INSERT INTO small VALUES (3), (1), (2)").await;
    session.ctx.state_ref().write().config_mut().options_mut().execution.target_partitions = 4;

    let plan = session.ctx.sql("SELECT id FROM big").await.expect("plans").create_physical_plan().await.expect("physical");
    assert_eq!(plan.output_partitioning().partition_count(), 4);
    let mut ids = Vec::new();
    for stream in execute_stream_partitioned(plan, session.ctx.task_ctx()).expect("runs") {
        let batches: Vec<RecordBatch> = stream.try_collect().await.expect("rows");
        let mut read = Vec::new();
        for batch in &batches {
            let column = batch.column(0).as_any().downcast_ref::<datafusion::arrow::array::Int32Array>().expect("int4");
            read.extend(column.values().iter().copied());
        }
        assert!(!read.is_empty(), "every partition reads a part");
        ids.extend(read);
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=50000).collect::<Vec<i32>>(), "every row once");
    session.statement.clear();

    // Few rows: one stream, in key order, whatever the partitions.
    assert_eq!(run(&session, "SELECT id FROM small").await, ["1", "2", "3"]);
    assert_eq!(run(&session, "SELECT count(*), count(DISTINCT id), sum(id) FROM big").await, ["50000|50000|1250025000"]);
}
