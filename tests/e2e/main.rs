//! End-to-end tests: each starts the real `cairn` binary and talks to it
//! through tokio-postgres. One test binary, so DataFusion is linked once.

mod alter;
mod auth;
mod conformance;
mod copy;
mod direct;
mod durability;
mod hardening;
mod isolation;
mod loads;
mod pg_catalog;
mod raw;
mod scans;
mod system_tables;
mod tables;
mod tls;
mod transactions;
mod types;
mod users;
mod wire;
