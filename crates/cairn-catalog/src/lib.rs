//! CairnDB's catalog: users, namespaces, table definitions, storages, jobs,
//! live-query records and sessions, with numeric ids that survive restarts,
//! and the access rules that decide who may do what ([`access`]).
//!
//! It is not a SQL layer (no DataFusion here) and not a storage engine: it
//! stores through `cairn-store` and never builds keys itself.
#![deny(clippy::unwrap_used)]

pub mod access;
mod catalog;
mod logins;
mod password;
mod sessions;

pub use access::{Actor, RowScope, SystemTable, TableOp, UserChange};
pub use catalog::{
    Catalog, CatalogOptions, IdentityCheck, NewTable, NewUser, FIRST_TABLE_ID, DEFAULT_NAMESPACE, LOCAL_STORAGE, RESERVED_NAMESPACES, ROOT_USERNAME,
};
pub use logins::LockoutPolicy;
pub use password::HashCost;
pub use sessions::{SessionGuard, Sessions};

#[cfg(test)]
mod tests;
