//! Extended-protocol replies that wait for Sync.
//!
//! pgwire 0.42's Bind and Execute handlers `send` BindComplete and
//! CommandComplete, and `send` flushes: one Bind/Execute/Sync round trip
//! cost four `sendto`s, and under pgbench those syscalls and the client
//! wakeups each one causes were a third of the server's CPU. PostgreSQL
//! buffers its replies until Sync or Flush (the protocol lets it), so the
//! handlers run against [`Deferred`], which buffers everything and leaves
//! the flush to Sync and Flush. A large result still streams: the framed
//! writer flushes by itself once its buffer passes its limit.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Sink;
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireConnectionState};
use pgwire::messages::response::TransactionStatus;
use pgwire::messages::startup::SecretKey;
use pgwire::messages::{PgWireBackendMessage, ProtocolVersion};

/// A client connection whose flushes wait for Sync, except after a
/// message the client must see before it can go on (a COPY's start: the
/// client sends the data only once it has the CopyInResponse).
pub(crate) struct Deferred<'a, C> {
    client: &'a mut C,
    flush_now: bool,
}

impl<'a, C> Deferred<'a, C> {
    pub(crate) fn new(client: &'a mut C) -> Self {
        Deferred { client, flush_now: false }
    }
}

impl<C> Sink<PgWireBackendMessage> for Deferred<'_, C>
where
    C: Sink<PgWireBackendMessage> + Unpin,
{
    type Error = C::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut *self.client).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, message: PgWireBackendMessage) -> Result<(), Self::Error> {
        if matches!(message, PgWireBackendMessage::CopyInResponse(_) | PgWireBackendMessage::CopyBothResponse(_)) {
            self.flush_now = true;
        }
        Pin::new(&mut *self.client).start_send(message)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if !self.flush_now {
            return Poll::Ready(Ok(()));
        }
        let flushed = Pin::new(&mut *self.client).poll_flush(cx);
        if flushed.is_ready() {
            self.flush_now = false;
        }
        flushed
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut *self.client).poll_close(cx)
    }
}

impl<C: ClientPortalStore> ClientPortalStore for Deferred<'_, C> {
    type PortalStore = C::PortalStore;

    fn portal_store(&self) -> &Self::PortalStore {
        self.client.portal_store()
    }
}

impl<C: ClientInfo> ClientInfo for Deferred<'_, C> {
    fn socket_addr(&self) -> std::net::SocketAddr {
        self.client.socket_addr()
    }

    fn is_secure(&self) -> bool {
        self.client.is_secure()
    }

    fn protocol_version(&self) -> ProtocolVersion {
        self.client.protocol_version()
    }

    fn set_protocol_version(&mut self, version: ProtocolVersion) {
        self.client.set_protocol_version(version)
    }

    fn pid_and_secret_key(&self) -> (i32, SecretKey) {
        self.client.pid_and_secret_key()
    }

    fn set_pid_and_secret_key(&mut self, pid: i32, secret_key: SecretKey) {
        self.client.set_pid_and_secret_key(pid, secret_key)
    }

    fn state(&self) -> PgWireConnectionState {
        self.client.state()
    }

    fn set_state(&mut self, new_state: PgWireConnectionState) {
        self.client.set_state(new_state)
    }

    fn transaction_status(&self) -> TransactionStatus {
        self.client.transaction_status()
    }

    fn set_transaction_status(&mut self, new_status: TransactionStatus) {
        self.client.set_transaction_status(new_status)
    }

    fn metadata(&self) -> &std::collections::HashMap<String, String> {
        self.client.metadata()
    }

    fn metadata_mut(&mut self) -> &mut std::collections::HashMap<String, String> {
        self.client.metadata_mut()
    }

    fn session_extensions(&self) -> &pgwire::api::SessionExtensions {
        self.client.session_extensions()
    }

    fn sni_server_name(&self) -> Option<&str> {
        self.client.sni_server_name()
    }

    fn client_certificates<'a>(&self) -> Option<&[tokio_rustls::rustls::pki_types::CertificateDer<'a>]> {
        self.client.client_certificates()
    }
}
