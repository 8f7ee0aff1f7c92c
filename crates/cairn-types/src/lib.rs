//! CairnDB's shared vocabulary: ids, the system models that the catalog
//! stores, roles and access levels, and the one error type every layer
//! returns.
//!
//! Every model is defined here exactly once. This crate depends on `serde`
//! only; it is not a storage layer (no key encodings live here), not a SQL
//! layer and not a wire layer.
#![deny(clippy::unwrap_used)]

mod error;
mod ids;
mod models;
mod role;
mod time;
mod value;

pub use error::{CairnError, Result, SqlState};
pub use ids::{JobId, LiveQueryId, NamespaceId, SessionId, StorageId, TableId, UserId};
pub use models::{
    ColumnDef, DataType, DroppedTable, Job, JobStatus, JobType, LiveQuery, Namespace, SessionInfo, Storage,
    StorageKind, TableDef, User,
};
pub use role::{AccessLevel, Role, TableKind};
pub use time::Timestamp;
pub use value::{Value, ValueRef};
