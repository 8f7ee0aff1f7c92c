//! CairnDB's PostgreSQL face: what makes DataFusion answer as
//! PostgreSQL does. The `pg_catalog` and `information_schema` tables
//! drivers and tools read, the rewrites of PostgreSQL syntax and the
//! planner extensions for its types and operators (`postgres`), result
//! column names, type text forms, and the session settings (`SET`,
//! `SHOW`, `pg_settings`).
//!
//! It sits on `cairn-tables` (the system tables it describes) and knows no
//! sessions; `cairn-sql` uses it to plan.
#![deny(clippy::unwrap_used)]

pub mod bytea;
pub mod keywords;
pub mod pg_catalog;
pub mod postgres;
pub mod series;
pub mod settings;
