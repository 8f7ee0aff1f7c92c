//! CairnDB's PostgreSQL wire front end: pgwire handlers that map protocol
//! messages onto `cairn-sql` sessions, result encoding, and the listener.
//!
//! It knows sessions, not storage: it never touches fjall or the catalog's
//! internals, and holds no SQL logic of its own.
#![deny(clippy::unwrap_used)]

mod connection;
mod copy;
mod deferred;
mod encode;
mod errors;
mod framing;
mod handler;
mod server;
mod threads;
mod types;
mod wire_values;

pub use handler::AuthPolicy;
pub use server::{serve, tls_acceptor, TlsFiles, WireConfig};
