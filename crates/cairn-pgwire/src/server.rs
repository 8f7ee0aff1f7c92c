//! The listener: accepts connections and hands each to a connection
//! thread ([`crate::threads`]), which negotiates TLS and runs pgwire's
//! connection loop for it.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_sql::Engine;
use cairn_types::{CairnError, Result};
use futures::Future;
use tokio::net::TcpListener;
use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::connection::{self, ConnectionLimit};
use crate::handler::{AuthPolicy, Frontend};
use crate::threads::ConnectionThreads;

/// Certificate and key files (PEM) for TLS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct WireConfig {
    pub tls: Option<TlsFiles>,
    pub auth: AuthPolicy,
    /// Connections served at once; the next is refused with 53300.
    pub max_connections: usize,
}

/// Builds a TLS acceptor from PEM files (ring crypto, no C build).
pub fn tls_acceptor(files: &TlsFiles) -> Result<TlsAcceptor> {
    let config_error = |what: &str, e: &dyn std::fmt::Display| {
        CairnError::InvalidParameterValue(format!("TLS {what}: {e}"))
    };
    let cert_file = File::open(&files.cert).map_err(|e| config_error("certificate file", &e))?;
    let certs = rustls_pemfile::certs(&mut BufReader::new(cert_file))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| config_error("certificate", &e))?;
    let key_file = File::open(&files.key).map_err(|e| config_error("key file", &e))?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut BufReader::new(key_file))
        .map_err(|e| config_error("key", &e))?
        .ok_or_else(|| config_error("key", &"no private key in the file"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error("protocol versions", &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| config_error("certificate and key", &e))?;
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves connections on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    engine: Arc<Engine>,
    config: WireConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
    let frontend = Arc::new(Frontend::new(engine, config.auth));
    let limit = ConnectionLimit::new(config.max_connections);
    let threads = ConnectionThreads::start(cairn_sql::cores(), move |socket, peer| {
        let (tls, wire, admission) = (tls.clone(), frontend.for_connection(), limit.admit());
        async move {
            if let Err(error) = connection::serve(socket, tls, wire, admission).await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        }
    })?;
    let mut shutdown = std::pin::pin!(shutdown);
    let mut backoff = AcceptBackoff::default();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (socket, peer) = match accepted {
                    Ok(accepted) => {
                        backoff.succeeded();
                        accepted
                    }
                    Err(error) => {
                        // Out of file descriptors and the like: wait before
                        // trying again (the error would repeat at once).
                        let pause = backoff.failed(&error);
                        tokio::select! {
                            _ = &mut shutdown => break,
                            _ = tokio::time::sleep(pause) => continue,
                        }
                    }
                };
                if let Err(error) = threads.hand_off(socket, peer) {
                    tracing::error!(%peer, %error, "cannot serve a connection");
                }
            }
        }
    }
    tokio::task::spawn_blocking(move || threads.stop())
        .await
        .map_err(|e| CairnError::Internal(format!("stopping the connection threads failed: {e}")))
}

/// Pauses after failed accepts, growing while they keep failing, and a
/// log line per interval rather than per failure.
#[derive(Default)]
struct AcceptBackoff {
    pause: Duration,
    failures: u64,
    logged_at: Option<Instant>,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(5);
    const LONGEST: Duration = Duration::from_secs(1);
    const LOG_EVERY: Duration = Duration::from_secs(10);

    fn failed(&mut self, error: &std::io::Error) -> Duration {
        self.failures += 1;
        self.pause = (self.pause * 2).clamp(Self::FIRST, Self::LONGEST);
        if self.logged_at.is_none_or(|at| at.elapsed() >= Self::LOG_EVERY) {
            tracing::warn!(%error, failures = self.failures, "accept failed; backing off");
            self.logged_at = Some(Instant::now());
            self.failures = 0;
        }
        self.pause
    }

    fn succeeded(&mut self) {
        self.pause = Duration::ZERO;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_failures_back_off_up_to_a_second_and_reset() {
        let mut backoff = AcceptBackoff::default();
        let error = std::io::Error::other("too many open files");
        let pauses: Vec<Duration> = (0..10).map(|_| backoff.failed(&error)).collect();
        assert_eq!(pauses[0], Duration::from_millis(5));
        assert_eq!(pauses[1], Duration::from_millis(10));
        assert_eq!(pauses[9], Duration::from_secs(1));
        backoff.succeeded();
        assert_eq!(backoff.failed(&error), Duration::from_millis(5));
    }
}
