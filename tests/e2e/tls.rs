use std::path::PathBuf;
use std::sync::Arc;

use cairn_e2e::{text_rows, Server, ROOT_PASSWORD};
use tokio_postgres::config::SslMode;
use tokio_rustls::rustls;

/// Read at run time: cargo sets it for the test process, and a binary
/// reused from a shared target directory may have been built elsewhere.
fn fixture(name: &str) -> PathBuf {
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    PathBuf::from(manifest_dir).join("fixtures").join(name)
}

/// A rustls client that trusts the test certificate.
pub fn connector() -> tokio_postgres_rustls::MakeRustlsConnect {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(fixture("ca.crt")).expect("CA fixture");
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.expect("certificate")).expect("trusted");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_postgres_rustls::MakeRustlsConnect::new(config)
}

#[tokio::test]
async fn tls_when_a_certificate_is_configured() {
    let cert = fixture("server.crt");
    let key = fixture("server.key");
    let server = Server::start_with(&[
        "--tls-cert",
        cert.to_str().expect("utf-8 path"),
        "--tls-key",
        key.to_str().expect("utf-8 path"),
    ]);
    let mut config = server.config("root", ROOT_PASSWORD);
    config.ssl_mode(SslMode::Require);
    let (client, connection) = config
        .connect(connector())
        .await
        .expect("TLS handshake and login");
    tokio::spawn(connection);
    assert_eq!(text_rows(&client, "SELECT current_user").await, [["root"]]);
    // Plain connections from loopback still work.
    let plain = server.root().await;
    assert_eq!(text_rows(&plain, "SELECT 1").await, [["1"]]);
}
