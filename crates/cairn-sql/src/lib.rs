//! CairnDB's SQL layer: sessions, one parse per statement, dispatch on
//! its tree, planning and plan reuse, transactions, cancel and timeouts.
//!
//! It is not a wire layer (it knows nothing of pgwire or sockets) and not
//! a storage engine: tables are `cairn-tables`' providers, PostgreSQL's
//! catalogs and syntax `cairn-pg`'s. `docs/architecture.md` follows one
//! statement through all of them. Everything a client can reach returns
//! `cairn_types::Result`.
#![deny(clippy::unwrap_used)]

mod allowed;
pub mod alter;
mod compute;
pub mod copy;
mod correlated;
pub mod ddl;
mod namespaces;
pub mod nesting;
mod planning;
mod returning;
mod session;
mod shapes;
pub mod statement;

use std::sync::Arc;

use cairn_catalog::{Actor, Catalog};
use cairn_types::{CairnError, Result, Role, SessionId, SessionInfo, Timestamp, User};

pub use session::{CopyIn, Output, Prepared, Session, TxState, CATALOG_NAME};

// What the wire layer and the server use of the layers below.
pub use cairn_pg::settings::{self, Settings};
pub use cairn_pg::postgres;
pub use cairn_tables::functions::{version_string, PG_SERVER_VERSION, PG_SERVER_VERSION_NUM};
pub use cairn_tables::memory::MemoryLimits;
pub use cairn_tables::{cores, error, values};

/// What a new session starts with, from the client's startup message.
#[derive(Debug, Clone)]
pub struct SessionParams {
    pub session_id: SessionId,
    pub client_addr: String,
    pub database: String,
    /// Startup parameters such as `application_name`, `DateStyle`, `TimeZone`.
    pub startup: Vec<(String, String)>,
}

/// Shared by every session: the catalog and the blocking-work bridge.
pub struct Engine {
    catalog: Arc<Catalog>,
    /// Columnar copies of large tables, shared by every session's scans.
    scan_cache: Arc<cairn_tables::scan_cache::ScanCache>,
    /// Held by an autocommit UPDATE or DELETE retrying after a conflict:
    /// retries take turns, so writers contending for one hot row make
    /// progress instead of colliding again and again.
    retry_turn: tokio::sync::Mutex<()>,
    /// The multi-threaded runtime DataFusion's plans run on, and the
    /// memory they may hold ([`compute`]).
    compute: compute::Compute,
    /// Password checks running at once. Each scrypt takes 16 MiB and a
    /// core for tens of milliseconds: one per core is as fast as more
    /// would be, and many login attempts at once wait here instead of
    /// each holding its 16 MiB.
    password_checks: tokio::sync::Semaphore,
}

impl Engine {
    /// An engine over `catalog` whose scans keep up to `scan_cache_bytes`
    /// of columnar table copies (0: none), running DataFusion's plans on
    /// the runtime `compute` within the `memory` limits.
    pub fn new(
        catalog: Arc<Catalog>,
        scan_cache_bytes: usize,
        compute: tokio::runtime::Handle,
        memory: &MemoryLimits,
    ) -> Result<Arc<Engine>> {
        Ok(Arc::new(Engine {
            catalog,
            scan_cache: Arc::new(cairn_tables::scan_cache::ScanCache::new(scan_cache_bytes)),
            retry_turn: tokio::sync::Mutex::new(()),
            compute: compute::Compute::new(compute, memory)?,
            password_checks: tokio::sync::Semaphore::new(cores()),
        }))
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// Runs catalog work that blocks (scrypt, fsync) off the async runtime.
    pub async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Catalog) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let catalog = Arc::clone(&self.catalog);
        tokio::task::spawn_blocking(move || work(&catalog))
            .await
            .map_err(|e| CairnError::Internal(format!("catalog task failed: {e}")))?
    }

    /// Verifies a login (28P01 on any failure).
    pub async fn authenticate(&self, username: &str, password: &str) -> Result<User> {
        let (username, password) = (username.to_owned(), password.to_owned());
        let _turn = self
            .password_checks
            .acquire()
            .await
            .map_err(|_| CairnError::Internal("the password checks were closed".into()))?;
        self.blocking(move |catalog| catalog.authenticate(&username, &password))
            .await
    }

    /// Opens a session for an authenticated user and lists it in
    /// `system.sessions` until it is dropped.
    pub fn open_session(self: &Arc<Self>, user: &User, params: SessionParams) -> Result<Session> {
        let mut settings = Settings::for_user(&user.username, user.role == Role::System);
        for (name, value) in &params.startup {
            // Unknown startup parameters are ignored, as they are harmless;
            // a bad value for a known one fails the connection.
            match settings.set(name, Some(value.clone())) {
                Ok(_) => {}
                Err(CairnError::UndefinedObject(_)) => {}
                Err(error) => return Err(error),
            }
        }
        let registration = self.catalog.sessions().register(SessionInfo {
            id: params.session_id,
            user_id: user.id,
            username: user.username.clone(),
            client_addr: params.client_addr,
            application_name: settings
                .get("application_name")
                .ok()
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            connected_at: Timestamp::now(),
        });
        Session::new(
            Arc::clone(self),
            Actor::of(user),
            params.session_id,
            params.database,
            settings,
            registration,
        )
    }
}
