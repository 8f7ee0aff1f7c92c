//! CairnDB's tables as DataFusion sees them: the table providers over
//! the catalog's tables and their lazy, cancellable scans, the write path
//! (INSERT, UPDATE, DELETE, ON CONFLICT, the direct key path), the scan
//! cache of columnar copies, transactions' snapshots as the scans read
//! them, and the `system.*` tables.
//!
//! It knows DataFusion and the catalog, not SQL text, sessions or the
//! PostgreSQL catalogs (`cairn-pg`, `cairn-sql` sit above it).
#![deny(clippy::unwrap_used)]

pub mod cancel;
pub mod conflict;
pub mod datetime;
pub mod defaults;
pub mod direct;
pub mod equality;
pub mod error;
pub mod functions;
pub mod json;
pub mod memory;
pub mod pg_text;
pub mod scan_cache;
pub mod scan_exec;
pub mod scan_stream;
pub mod snowflake;
pub mod system;
pub mod table_scan;
pub mod tables;
pub mod txn;
pub mod values;

/// The cores this process may use. Read once: `available_parallelism`
/// opens and reads the cgroup's files on every call, which cost a
/// single-row INSERT more than its own conversion.
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
