//! CairnDB's storage layer over fjall.
//!
//! - [`key`]: the order-preserving key codec;
//! - [`value`]: versioned postcard values;
//! - [`entity`]: typed entities and their secondary indexes;
//! - [`Store`]: snapshots for reads, atomic group-committed writes, and
//!   bulk loads into empty partitions.
//!
//! It is not a SQL layer: nothing here knows DataFusion or Arrow. Keys are
//! never formatted strings; every key is built by [`key::KeyCodec`].
#![deny(clippy::unwrap_used)]

mod commit;
mod conflicts;
pub mod entity;
mod inserted;
mod journal;
pub mod key;
mod rows;
mod store;
pub mod value;
mod versions;

pub use conflicts::{CommitSeq, Pin, ReadSet};
pub use rows::{encode_primary_key, row_key, successor, EncodedRow, KeyRange, Partition, RowValues, StoredRow, StoredRowRef};
pub use store::{Durability, Load, LoadRow, Sequence, Snapshot, Store, StoreOptions, Writer};
pub use versions::TableVersion;

#[cfg(test)]
mod tests;
