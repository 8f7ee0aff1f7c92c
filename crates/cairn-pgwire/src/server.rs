//! The listener: accepts connections and hands each to a connection
//! thread ([`crate::threads`]), which negotiates TLS and runs pgwire's
//! connection loop for it.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::Arc;

use cairn_sql::Engine;
use cairn_types::{CairnError, Result};
use futures::Future;
use pgwire::tokio::process_socket;
use tokio::net::TcpListener;
use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

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
    let threads = ConnectionThreads::start(cairn_sql::cores(), move |socket, peer| {
        let (tls, wire) = (tls.clone(), frontend.for_connection());
        async move {
            if let Err(error) = process_socket(socket, tls, wire).await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        }
    })?;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (socket, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: keep serving.
                        tracing::warn!(%error, "accept failed");
                        continue;
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
