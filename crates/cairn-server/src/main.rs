//! `cairn`: CairnDB's server binary. Reads the configuration, opens the
//! store, bootstraps the catalog on first start, serves the PostgreSQL wire
//! protocol, and on SIGINT/SIGTERM stops accepting and syncs the journal.

mod config;

use std::process::ExitCode;
use std::sync::Arc;

use cairn_catalog::Catalog;
use cairn_sql::Engine;
use cairn_store::Store;
use clap::Parser;
use tokio::net::TcpListener;

use crate::config::{Cli, Command, Config};

/// Every statement allocates and frees many small objects (plan nodes,
/// Arrow arrays, wire buffers) on several threads. Against glibc's malloc,
/// mimalloc took a point select from 19–21 to 17.6 µs of server CPU and
/// COPY from about 610k to 635k rows/s (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The variable that sets root's password at first start.
const ROOT_PASSWORD_ENV: &str = "CAIRN_ROOT_PASSWORD";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(args)) => args,
        None => cli.serve,
    };
    let config = match Config::resolve(args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("cairn: {error}");
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stdout());
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(colour).init();

    // This runtime plans and runs statements (DataFusion's compute, and
    // catalog work on its blocking threads): stacks deep enough for the
    // most deeply nested statement CairnDB accepts.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(cairn_sql::nesting::STATEMENT_STACK_BYTES)
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cairn: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// Descriptors the server needs besides its connections: the store's
/// files, spill files, the listener.
const FILES_BESIDES_CONNECTIONS: u64 = 256;

/// Raises the open-file limit to the hard limit: every connection is a
/// descriptor, and the usual soft limit (1,024) is below what
/// `max_connections` and the store may need together. When the limit is
/// reached anyway, accepts back off (see cairn-pgwire's server).
fn raise_open_file_limit(max_connections: usize) {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < max_connections as u64 + FILES_BESIDES_CONNECTIONS => tracing::warn!(
            open_files = limit,
            max_connections,
            "the open-file limit is low for max_connections; raise it (ulimit -n) or lower max_connections"
        ),
        Ok(limit) => tracing::debug!(open_files = limit, "open-file limit"),
        Err(error) => tracing::warn!(%error, "cannot raise the open-file limit"),
    }
}

async fn serve(config: Config) -> Result<(), String> {
    raise_open_file_limit(config.wire.max_connections);
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("cannot create data directory {}: {e}", config.data_dir.display()))?;
    let store = Store::open(&config.data_dir, &config.store)
        .map_err(|e| format!("cannot open the store in {}: {e}", config.data_dir.display()))?;
    let catalog = Arc::new(Catalog::new(store.clone(), config.catalog));
    let root_password = std::env::var(ROOT_PASSWORD_ENV).ok().filter(|p| !p.is_empty());
    let bootstrap_catalog = Arc::clone(&catalog);
    let generated = tokio::task::spawn_blocking(move || bootstrap_catalog.bootstrap(root_password.as_deref()))
        .await
        .map_err(|e| format!("bootstrap failed: {e}"))?
        .map_err(|e| format!("bootstrap failed: {e}"))?;
    if let Some(password) = generated {
        // Printed once, on first start only; it is not stored anywhere but as a hash.
        println!("CairnDB first start: created user \"root\" with password: {password}");
        println!("(set {ROOT_PASSWORD_ENV} before the first start to choose it instead)");
    }

    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(
        listen = %local,
        data_dir = %config.data_dir.display(),
        tls = config.wire.tls.is_some(),
        "CairnDB {} ready",
        env!("CARGO_PKG_VERSION")
    );
    tokio::spawn(evict_expired_rows(Arc::clone(&catalog), config.eviction_interval));
    if let Some(spill) = &config.memory.spill_dir {
        // Spill files live only as long as their statement: any here were left by a crash.
        if spill.exists() {
            std::fs::remove_dir_all(spill).map_err(|e| format!("cannot empty {}: {e}", spill.display()))?;
        }
    }
    let engine = Engine::new(catalog, config.scan_cache_bytes, tokio::runtime::Handle::current(), &config.memory)
        .map_err(|e| e.to_string())?;
    cairn_pgwire::serve(listener, engine, config.wire.clone(), shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;

    tracing::info!("shutting down: syncing the journal");
    store.sync_all().map_err(|e| format!("final sync failed: {e}"))?;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Removes expired stream-table rows now and then, so that they stop
/// taking disk and memory. (Queries never return them either way.)
async fn evict_expired_rows(catalog: Arc<Catalog>, period: std::time::Duration) {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let catalog = Arc::clone(&catalog);
        match tokio::task::spawn_blocking(move || catalog.evict_expired_rows()).await {
            Ok(Ok(0)) => {}
            Ok(Ok(removed)) => tracing::debug!(removed, "evicted expired stream rows"),
            Ok(Err(error)) => tracing::warn!(%error, "stream eviction failed"),
            Err(error) => tracing::warn!(%error, "stream eviction task failed"),
        }
    }
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
