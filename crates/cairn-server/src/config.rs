//! Configuration: command-line flags, environment variables and a TOML
//! file. A flag or its variable wins over the file, the file over the
//! built-in default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_catalog::{CatalogOptions, HashCost, LockoutPolicy};
use cairn_pgwire::{AuthPolicy, TlsFiles, WireConfig};
use cairn_sql::MemoryLimits;
use cairn_store::{Durability, StoreOptions};
use clap::{Parser, Subcommand, ValueEnum};
use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:5433";
pub const DEFAULT_DATA_DIR: &str = "data";
/// Enough for the columns of a few million-row tables.
pub const DEFAULT_SCAN_CACHE_MB: u64 = 256;
/// PostgreSQL's default `max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 100;
/// Query memory when the machine's memory cannot be read.
pub const FALLBACK_QUERY_MEMORY_MB: u64 = 4096;

/// fjall reports routine housekeeping at info; keep it to warnings.
pub const DEFAULT_LOG: &str = "info,fjall=warn,lsm_tree=warn";

/// CairnDB: a multi-tenant SQL database that speaks the PostgreSQL wire protocol.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default when no command is given).
    Serve(ServeArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DurabilityArg {
    /// Acknowledge a commit after an fdatasync covers it (survives power loss).
    Durable,
    /// Acknowledge once the OS has the bytes (survives a crash of the server, not of the machine).
    Buffered,
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:5433]
    #[arg(long, env = "CAIRN_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Data directory [default: ./data]
    #[arg(long, env = "CAIRN_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML configuration file; every flag may be set there too
    #[arg(long, env = "CAIRN_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// When a commit is acknowledged [default: durable]
    #[arg(long, env = "CAIRN_DURABILITY", value_enum)]
    pub durability: Option<DurabilityArg>,
    /// Block cache size in MiB [default: 64]
    #[arg(long, env = "CAIRN_CACHE_MB", value_name = "MIB")]
    pub cache_mb: Option<u64>,
    /// Memory for columnar copies of partitions read more often than written, in MiB; 0 turns them off [default: 256]
    #[arg(long, env = "CAIRN_SCAN_CACHE_MB", value_name = "MIB")]
    pub scan_cache_mb: Option<u64>,
    /// TLS certificate chain (PEM); enables TLS together with --tls-key
    #[arg(long, env = "CAIRN_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM)
    #[arg(long, env = "CAIRN_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Accept cleartext passwords from non-loopback clients without TLS (not recommended)
    #[arg(long, env = "CAIRN_ALLOW_INSECURE_REMOTE")]
    pub allow_insecure_remote: Option<bool>,
    /// Connections served at once; more are refused with SQLSTATE 53300 [default: 100]
    #[arg(long, env = "CAIRN_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Memory all running statements' sorts, joins and aggregations may hold together, in MiB [default: half the machine's memory]
    #[arg(long, env = "CAIRN_QUERY_MEMORY_MB", value_name = "MIB")]
    pub query_memory_mb: Option<u64>,
    /// Memory one statement may hold, in MiB; past it sorts and aggregations spill, the rest fail with 53200 [default: a quarter of query memory]
    #[arg(long, env = "CAIRN_STATEMENT_MEMORY_MB", value_name = "MIB")]
    pub statement_memory_mb: Option<u64>,
    /// Failed logins before an account is locked [default: 5]
    #[arg(long, env = "CAIRN_MAX_FAILED_LOGINS", value_name = "N")]
    pub max_failed_logins: Option<u32>,
    /// How long a locked account stays locked, in seconds [default: 300]
    #[arg(long, env = "CAIRN_LOCKOUT_SECONDS", value_name = "SECONDS")]
    pub lockout_seconds: Option<u64>,
    /// scrypt cost as log2(N) for new password hashes [default: 14]
    #[arg(long, env = "CAIRN_SCRYPT_LOG_N", value_name = "LOG_N")]
    pub scrypt_log_n: Option<u8>,
    /// How often expired stream-table rows are removed, in seconds [default: 60]
    #[arg(long, env = "CAIRN_EVICTION_INTERVAL_SECONDS", value_name = "SECONDS")]
    pub eviction_interval_seconds: Option<u64>,
    /// Log filter, as RUST_LOG [default: info,fjall=warn,lsm_tree=warn]
    #[arg(long, env = "CAIRN_LOG", value_name = "FILTER")]
    pub log: Option<String>,
}

/// The TOML file: the same settings as the flags, with the same names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub durability: Option<DurabilityArg>,
    pub cache_mb: Option<u64>,
    pub scan_cache_mb: Option<u64>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub allow_insecure_remote: Option<bool>,
    pub max_connections: Option<usize>,
    pub query_memory_mb: Option<u64>,
    pub statement_memory_mb: Option<u64>,
    pub max_failed_logins: Option<u32>,
    pub lockout_seconds: Option<u64>,
    pub scrypt_log_n: Option<u8>,
    pub eviction_interval_seconds: Option<u64>,
    pub log: Option<String>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<FileConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("invalid config file {}: {e}", path.display()))
    }
}

/// Everything the server needs, resolved.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub store: StoreOptions,
    pub catalog: CatalogOptions,
    /// Bytes of columnar table copies scans may keep (0: none).
    pub scan_cache_bytes: usize,
    pub wire: WireConfig,
    /// What running statements may hold, and where they spill.
    pub memory: MemoryLimits,
    /// How often expired stream rows are removed.
    pub eviction_interval: Duration,
    pub log: String,
}

impl Config {
    pub fn resolve(args: ServeArgs) -> Result<Config, String> {
        let file = match &args.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let default_listen: SocketAddr =
            DEFAULT_LISTEN.parse().map_err(|e| format!("bad default address: {e}"))?;
        let durability = match args.durability.or(file.durability).unwrap_or(DurabilityArg::Durable) {
            DurabilityArg::Durable => Durability::Durable,
            DurabilityArg::Buffered => Durability::Buffered,
        };
        let tls = match (args.tls_cert.or(file.tls_cert), args.tls_key.or(file.tls_key)) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => return Err("TLS needs both a certificate (tls_cert) and a key (tls_key)".into()),
        };
        let log_n = args.scrypt_log_n.or(file.scrypt_log_n).unwrap_or(HashCost::default().log_n);
        if !(4..=20).contains(&log_n) {
            return Err(format!("scrypt_log_n must be from 4 to 20, not {log_n}"));
        }
        let defaults = LockoutPolicy::default();
        let data_dir = args.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let query_memory_mb = args
            .query_memory_mb
            .or(file.query_memory_mb)
            .unwrap_or_else(|| machine_memory_mb().map_or(FALLBACK_QUERY_MEMORY_MB, |total| total / 2))
            .max(1);
        let statement_memory_mb =
            args.statement_memory_mb.or(file.statement_memory_mb).unwrap_or(query_memory_mb / 4).clamp(1, query_memory_mb);
        let mib = |mb: u64| usize::try_from(mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
        Ok(Config {
            listen: args.listen.or(file.listen).unwrap_or(default_listen),
            memory: MemoryLimits {
                server_bytes: mib(query_memory_mb),
                statement_bytes: mib(statement_memory_mb),
                spill_dir: Some(data_dir.join(SPILL_DIR)),
            },
            data_dir,
            store: StoreOptions {
                durability,
                cache_bytes: args.cache_mb.or(file.cache_mb).unwrap_or(64).saturating_mul(1024 * 1024),
            },
            scan_cache_bytes: usize::try_from(
                args.scan_cache_mb.or(file.scan_cache_mb).unwrap_or(DEFAULT_SCAN_CACHE_MB).saturating_mul(1024 * 1024),
            )
            .unwrap_or(usize::MAX),
            catalog: CatalogOptions {
                hash_cost: HashCost { log_n },
                lockout: LockoutPolicy {
                    max_failures: args
                        .max_failed_logins
                        .or(file.max_failed_logins)
                        .unwrap_or(defaults.max_failures)
                        .max(1),
                    lock_duration: args
                        .lockout_seconds
                        .or(file.lockout_seconds)
                        .map_or(defaults.lock_duration, Duration::from_secs),
                },
            },
            wire: WireConfig {
                tls,
                max_connections: args.max_connections.or(file.max_connections).unwrap_or(DEFAULT_MAX_CONNECTIONS).max(1),
                auth: AuthPolicy {
                    allow_insecure_remote: args
                        .allow_insecure_remote
                        .or(file.allow_insecure_remote)
                        .unwrap_or(false),
                },
            },
            eviction_interval: Duration::from_secs(
                args.eviction_interval_seconds.or(file.eviction_interval_seconds).unwrap_or(60).max(1),
            ),
            log: args.log.or(file.log).unwrap_or_else(|| DEFAULT_LOG.into()),
        })
    }
}

/// Under the data directory: where sorts and aggregations spill. Emptied
/// at start (files a crash left behind).
pub const SPILL_DIR: &str = "spill";

/// The machine's memory in MiB, from `/proc/meminfo` (None elsewhere).
fn machine_memory_mb() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = std::env::temp_dir().join(format!("cairn-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("cairn.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:7000\"\ndata_dir = \"/tmp/x\"\ndurability = \"buffered\"\nmax_failed_logins = 3\n")
            .expect("write");
        let args = ServeArgs {
            config: Some(path.clone()),
            data_dir: Some(PathBuf::from("/tmp/flag")),
            ..ServeArgs::default()
        };
        let config = Config::resolve(args).expect("resolve");
        assert_eq!(config.listen.port(), 7000);
        assert_eq!(config.data_dir, PathBuf::from("/tmp/flag"));
        assert_eq!(config.store.durability, Durability::Buffered);
        assert_eq!(config.catalog.lockout.max_failures, 3);
        std::fs::write(&path, "no_such_setting = 1\n").expect("write");
        let args = ServeArgs { config: Some(path), ..ServeArgs::default() };
        assert!(Config::resolve(args).is_err(), "unknown keys are refused");
    }

    #[test]
    fn defaults() {
        let config = Config::resolve(ServeArgs::default()).expect("resolve");
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.data_dir, PathBuf::from("data"));
        assert_eq!(config.store.durability, Durability::Durable);
        assert!(!config.wire.auth.allow_insecure_remote);
        assert!(config.memory.statement_bytes > 0 && config.memory.statement_bytes <= config.memory.server_bytes / 4);
        assert_eq!(config.memory.spill_dir, Some(PathBuf::from("data/spill")));
    }
}
