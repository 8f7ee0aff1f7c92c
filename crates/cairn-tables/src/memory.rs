//! Memory for running statements: a pool the whole server shares, and a
//! limit per statement inside it, so that one statement cannot take what
//! every other needs (53200 instead of the machine running out).
//!
//! Both are DataFusion memory pools: the operators that hold much (sorts,
//! aggregations, joins, repartitions) reserve what they hold; sorts and
//! aggregations spill to disk when a reservation is refused, the others
//! fail the statement. What is not reserved (a scan's batches on their way
//! through) is not counted; it is bounded by the batch size, not the data.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cairn_types::{CairnError, Result};
use datafusion::error::DataFusionError;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};

/// How much memory statements may reserve.
#[derive(Debug, Clone)]
pub struct MemoryLimits {
    /// All running statements together.
    pub server_bytes: usize,
    /// One statement.
    pub statement_bytes: usize,
    /// Where sorts and aggregations spill (None: the OS's temporary directory).
    pub spill_dir: Option<PathBuf>,
}

impl MemoryLimits {
    /// `bytes` for the server and the whole of it for one statement,
    /// nothing spilled: for tests and small embedded uses.
    pub fn of(bytes: usize) -> MemoryLimits {
        MemoryLimits { server_bytes: bytes, statement_bytes: bytes, spill_dir: None }
    }
}

/// The server's pool, and a runtime per statement that draws on it.
pub struct QueryMemory {
    server: Arc<ServerPool>,
    statement_bytes: usize,
    /// Holds the disk manager and caches the statements' runtimes share.
    base: Arc<RuntimeEnv>,
}

impl QueryMemory {
    pub fn new(limits: &MemoryLimits) -> Result<QueryMemory> {
        let mode = match &limits.spill_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| CairnError::Storage(format!("cannot create the spill directory {}: {e}", dir.display())))?;
                DiskManagerMode::Directories(vec![dir.clone()])
            }
            None => DiskManagerMode::OsTmpDirectory,
        };
        let server = Arc::new(ServerPool { inner: GreedyMemoryPool::new(limits.server_bytes), limit: limits.server_bytes });
        let base = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::clone(&server) as _)
            .with_disk_manager_builder(DiskManagerBuilder::default().with_mode(mode))
            .build_arc()
            .map_err(|e| CairnError::Internal(format!("cannot build the query runtime: {e}")))?;
        Ok(QueryMemory { server, statement_bytes: limits.statement_bytes.min(limits.server_bytes), base })
    }

    /// A runtime for one statement: its reservations count against its
    /// own limit and the server's.
    pub fn statement_runtime(&self) -> Arc<RuntimeEnv> {
        let pool = StatementPool { server: Arc::clone(&self.server), limit: self.statement_bytes, used: AtomicUsize::new(0) };
        Arc::new(RuntimeEnv {
            memory_pool: Arc::new(pool),
            disk_manager: Arc::clone(&self.base.disk_manager),
            cache_manager: Arc::clone(&self.base.cache_manager),
            object_store_registry: Arc::clone(&self.base.object_store_registry),
        })
    }

    /// Bytes reserved by running statements, all together.
    #[cfg(test)]
    pub fn reserved(&self) -> usize {
        self.server.reserved()
    }
}

fn mib(bytes: usize) -> usize {
    bytes.div_ceil(1024 * 1024)
}

/// DataFusion's greedy pool, with an error that says whose limit it is.
#[derive(Debug)]
struct ServerPool {
    inner: GreedyMemoryPool,
    limit: usize,
}

impl fmt::Display for ServerPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server query memory: {} of {} MiB reserved", mib(self.reserved()), mib(self.limit))
    }
}

impl MemoryPool for ServerPool {
    fn name(&self) -> &str {
        "cairn-server"
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.inner.grow(reservation, additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.inner.shrink(reservation, shrink);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> datafusion::error::Result<()> {
        self.inner.try_grow(reservation, additional).map_err(|_| {
            DataFusionError::ResourcesExhausted(format!(
                "out of memory: running statements hold the server's query memory ({} MiB)",
                mib(self.limit)
            ))
        })
    }

    fn reserved(&self) -> usize {
        self.inner.reserved()
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.limit)
    }
}

/// One statement's share: refuses past its own limit, then asks the
/// server's pool.
#[derive(Debug)]
struct StatementPool {
    server: Arc<ServerPool>,
    limit: usize,
    used: AtomicUsize,
}

impl fmt::Display for StatementPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "statement memory: {} of {} MiB reserved", mib(self.reserved()), mib(self.limit))
    }
}

impl MemoryPool for StatementPool {
    fn name(&self) -> &str {
        "cairn-statement"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.server.register(consumer);
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.server.unregister(consumer);
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.used.fetch_add(additional, Ordering::Relaxed);
        self.server.grow(reservation, additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.used.fetch_sub(shrink, Ordering::Relaxed);
        self.server.shrink(reservation, shrink);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> datafusion::error::Result<()> {
        let limit = self.limit;
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(additional).filter(|&total| total <= limit)
            })
            .map_err(|_| {
                DataFusionError::ResourcesExhausted(format!(
                    "out of memory: the statement needs more than its {} MiB",
                    mib(limit)
                ))
            })?;
        self.server.try_grow(reservation, additional).inspect_err(|_| {
            self.used.fetch_sub(additional, Ordering::Relaxed);
        })
    }

    fn reserved(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reservation(runtime: &RuntimeEnv, name: &str) -> MemoryReservation {
        MemoryConsumer::new(name).register(&runtime.memory_pool)
    }

    #[test]
    fn a_statement_is_refused_past_its_limit_and_others_past_the_server_s() {
        let memory = QueryMemory::new(&MemoryLimits { server_bytes: 1000, statement_bytes: 600, spill_dir: None })
            .expect("memory");
        let (first, second) = (memory.statement_runtime(), memory.statement_runtime());
        let a = reservation(&first, "a");
        a.try_grow(600).expect("within the statement's limit");
        let error = a.try_grow(1).expect_err("past the statement's limit");
        assert!(error.to_string().contains("the statement needs more than"), "{error}");
        let b = reservation(&second, "b");
        let error = b.try_grow(500).expect_err("past the server's limit");
        assert!(error.to_string().contains("server's query memory"), "{error}");
        assert!(matches!(error, DataFusionError::ResourcesExhausted(_)));
        b.try_grow(400).expect("what is left");
        assert_eq!(memory.reserved(), 1000);
        drop(a);
        assert_eq!(memory.reserved(), 400);
        b.try_grow(200).expect("released memory is there again");
        assert_eq!(first.memory_pool.reserved(), 0);
    }
}
