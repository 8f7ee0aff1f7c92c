//! Where DataFusion runs a query: on the engine's compute runtime, not on
//! the connection's thread.
//!
//! The server runs each connection on a single-threaded runtime (one per
//! core; see `cairn-pgwire`'s `threads`), which keeps the key reads and
//! writes of the direct path cheap. A DataFusion plan spawns a task per
//! partition on whatever runtime polls it: on a connection's runtime, one
//! query's GROUP BY would use one core, and share it with every other
//! connection on that thread (DataFusion yields between batches, so they
//! interleave rather than wait). So a plan is executed, and its stream polled,
//! by a task on the compute runtime (the server's multi-threaded one),
//! which hands the batches back through a small channel. The cost is a
//! hand-off between threads per query and per batch, small beside any
//! plan that needs DataFusion.
//!
//! Dropping a query's stream aborts its task, but a tokio task stops only
//! when it yields, and DataFusion yields only at its leaves and exchanges:
//! a cross join feeding a sort turned out thousands of batches in one poll,
//! and a cancelled or timed-out statement ran on for many seconds. So every
//! operator of an executed plan takes its turn in tokio's cooperative
//! budget ([`interruptible`]), and each statement runs with its own memory
//! limit ([`QueryMemory`]).

use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::dataframe::DataFrame;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::physical_plan::analyze::AnalyzeExec;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};
use futures::StreamExt;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};
use tokio_util::task::AbortOnDropHandle;

use cairn_types::{CairnError, Result};

use cairn_tables::error::{from_df, panicked, to_df};
use cairn_tables::memory::{MemoryLimits, QueryMemory};

/// Where statements run: the runtime, and the memory they may hold.
pub(crate) struct Compute {
    runtime: Handle,
    memory: QueryMemory,
}

impl Compute {
    pub fn new(runtime: Handle, limits: &MemoryLimits) -> Result<Compute> {
        Ok(Compute { runtime, memory: QueryMemory::new(limits)? })
    }
}

/// Plans `df` for execution and starts it with a runtime of its own
/// (its memory limit).
async fn start(df: DataFrame, runtime: Arc<RuntimeEnv>) -> datafusion::error::Result<SendableRecordBatchStream> {
    let task = Arc::new(df.task_ctx().with_runtime(runtime));
    let plan = interruptible(df.create_physical_plan().await?)?;
    datafusion::physical_plan::execute_stream(plan, task)
}

/// `plan` with every operator under a [`CooperativeExec`], which spends a
/// unit of tokio's budget per batch and yields when it runs out, so that an
/// aborted task stops within a budget's worth of batches. (DataFusion's own
/// `EnsureCooperative` wraps only leaves and exchanges.) EXPLAIN shows the
/// plan before this; EXPLAIN ANALYZE, which runs it, shows these nodes too.
fn interruptible(plan: Arc<dyn ExecutionPlan>) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        let wrap = !node.children().is_empty() && !node.is::<CooperativeExec>() && !node.is::<AnalyzeExec>();
        Ok(match wrap {
            true => Transformed::yes(Arc::new(CooperativeExec::new(node)) as Arc<dyn ExecutionPlan>),
            false => Transformed::no(node),
        })
    })
    .map(|transformed| transformed.data)
}

/// Batches in flight between the compute task and the connection: enough
/// to overlap computing one with sending the one before.
const BATCHES_IN_FLIGHT: usize = 2;

/// Executes `df` on `compute`; its batches arrive through the stream.
/// Dropping the stream stops the query.
pub(crate) async fn execute_stream(compute: &Compute, df: DataFrame) -> Result<SendableRecordBatchStream> {
    let (started, schema) = oneshot::channel();
    let (batches, received) = mpsc::channel::<datafusion::error::Result<RecordBatch>>(BATCHES_IN_FLIGHT);
    let runtime = compute.memory.statement_runtime();
    let task = compute.runtime.spawn(async move {
        let mut stream = match start(df, runtime).await {
            Ok(stream) => stream,
            Err(error) => {
                let _ = started.send(Err(error));
                return;
            }
        };
        if started.send(Ok(stream.schema())).is_err() {
            return;
        }
        while let Some(batch) = stream.next().await {
            if batches.send(batch).await.is_err() {
                return;
            }
        }
    });
    let task = AbortOnDropHandle::new(task);
    let schema = match schema.await {
        Ok(schema) => schema.map_err(from_df)?,
        Err(_) => return Err(stopped(task).await),
    };
    // The task lives as long as the stream: dropping it aborts the query.
    // The channel closes when the task ends; if it ended by panicking, the
    // stream ends with that error rather than silently short.
    let stream = futures::stream::unfold(Some((received, task)), |state| async move {
        let (mut received, task) = state?;
        match received.recv().await {
            Some(batch) => Some((batch, Some((received, task)))),
            None => match task.await {
                Ok(()) => None,
                Err(error) => Some((Err(to_df(task_failed(&error))), None)),
            },
        }
    });
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
}

/// Executes `df` on `compute` and gathers every batch (an INSERT's write,
/// an UPDATE's rows).
pub(crate) async fn collect(compute: &Compute, df: DataFrame) -> Result<Vec<RecordBatch>> {
    let runtime = compute.memory.statement_runtime();
    let task = AbortOnDropHandle::new(compute.runtime.spawn(async move {
        let stream = start(df, runtime).await?;
        datafusion::physical_plan::common::collect(stream).await
    }));
    match task.await {
        Ok(outcome) => outcome.map_err(from_df),
        Err(error) => Err(task_failed(&error)),
    }
}

/// Why a compute task ended without an answer: it panicked.
async fn stopped(task: AbortOnDropHandle<()>) -> CairnError {
    match task.await {
        Ok(()) => CairnError::Internal("a query ended without a result".into()),
        Err(error) => task_failed(&error),
    }
}

fn task_failed(error: &tokio::task::JoinError) -> CairnError {
    match error.is_panic() {
        true => panicked(),
        false => CairnError::Internal(format!("query task failed: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::Int64Array;
    use datafusion::prelude::SessionContext;

    use super::*;

    fn compute_runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
    }

    fn on(runtime: &tokio::runtime::Runtime) -> Compute {
        Compute::new(runtime.handle().clone(), &MemoryLimits::of(1 << 30)).expect("compute")
    }

    fn sum(batches: &[RecordBatch]) -> i64 {
        let column = |b: &RecordBatch| b.column(0).as_any().downcast_ref::<Int64Array>().expect("int64").clone();
        batches.iter().map(|b| column(b).iter().flatten().sum::<i64>()).sum()
    }

    #[tokio::test]
    async fn a_query_on_the_compute_runtime_streams_every_batch_back() {
        let compute = compute_runtime();
        let ctx = SessionContext::new();
        let df = ctx.sql("SELECT value FROM generate_series(1, 100000)").await.expect("plan");
        let mut stream = execute_stream(&on(&compute), df).await.expect("execute");
        let mut batches = Vec::new();
        while let Some(batch) = stream.next().await {
            batches.push(batch.expect("batch"));
        }
        assert!(batches.len() > BATCHES_IN_FLIGHT, "more batches than the channel holds");
        assert_eq!(sum(&batches), 100_000 * 100_001 / 2);

        let df = ctx.sql("SELECT sum(value) FROM generate_series(1, 1000)").await.expect("plan");
        assert_eq!(sum(&collect(&on(&compute), df).await.expect("collect")), 500_500);
        compute.shutdown_background();
    }

    #[tokio::test]
    async fn an_execution_error_comes_back_as_the_statement_s_error() {
        let compute = compute_runtime();
        let ctx = SessionContext::new();
        let df = ctx.sql("SELECT 1 / (value - 3) FROM generate_series(1, 5)").await.expect("plan");
        let mut stream = execute_stream(&on(&compute), df).await.expect("execute");
        let mut failed = false;
        while let Some(batch) = stream.next().await {
            failed |= batch.is_err();
        }
        assert!(failed, "division by zero reaches the client");
        let df = ctx.sql("SELECT 1 / (value - 3) FROM generate_series(1, 5)").await.expect("plan");
        assert!(collect(&on(&compute), df).await.is_err());
        compute.shutdown_background();
    }

    #[tokio::test]
    async fn dropping_the_stream_stops_the_query() {
        let compute = compute_runtime();
        let ctx = SessionContext::new();
        let df = ctx.sql("SELECT value FROM generate_series(1, 1000000000)").await.expect("plan");
        let mut stream = execute_stream(&on(&compute), df).await.expect("execute");
        stream.next().await.expect("a batch").expect("ok");
        drop(stream);
        let metrics = compute.metrics();
        for _ in 0..500 {
            if metrics.num_alive_tasks() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(metrics.num_alive_tasks(), 0, "the query's task was aborted");
        compute.shutdown_background();
    }
}
