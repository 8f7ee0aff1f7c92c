//! One connection from accept to close: TLS negotiation, the frame guard
//! ([`crate::framing`]), the connection limit, and the message loop.
//!
//! pgwire's `process_socket` runs the same loop, but it takes the socket
//! as it comes and gives no place to check frames before its decoder
//! reads them, nor to refuse a connection over the limit after its
//! startup packet; so this module runs pgwire's pieces (`negotiate_tls`,
//! `process_message`) in a loop of its own, kept close to pgwire's.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use pgwire::api::{ClientInfo, PgWireConnectionState};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::response::ReadyForQuery;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::server::{negotiate_tls, process_message, MaybeTls, PgWireMessageServerCodec};
use pgwire::tokio::TlsAcceptor;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, FramedParts};

use crate::errors::SEVERITY_FATAL;
use crate::framing::{violation, FrameGuard};
use crate::handler::Wire;

/// How long a client has to log in, as in pgwire (and PostgreSQL's
/// `authentication_timeout`, 60 s).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The connections open at once, and how many may be.
#[derive(Debug)]
pub(crate) struct ConnectionLimit {
    open: AtomicUsize,
    max: usize,
}

/// One counted connection; uncounted when dropped.
pub(crate) struct Admission {
    limit: Arc<ConnectionLimit>,
    within_limit: bool,
}

impl ConnectionLimit {
    pub(crate) fn new(max: usize) -> Arc<ConnectionLimit> {
        Arc::new(ConnectionLimit { open: AtomicUsize::new(0), max })
    }

    /// Counts a new connection. One over the limit is still counted (and
    /// served its refusal) so that the count stays exact.
    pub(crate) fn admit(self: &Arc<Self>) -> Admission {
        let before = self.open.fetch_add(1, Ordering::Relaxed);
        Admission { limit: Arc::clone(self), within_limit: before < self.max }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.limit.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// pgwire's codec for CairnDB's prepared statements.
type Codec = PgWireMessageServerCodec<<crate::handler::Handler as pgwire::api::query::ExtendedQueryHandler>::Statement>;
type Socket = Framed<FrameGuard<MaybeTls>, Codec>;

/// Serves one accepted connection to its end.
pub(crate) async fn serve(tcp: TcpStream, tls: Option<TlsAcceptor>, wire: Wire, admission: Admission) -> std::io::Result<()> {
    let startup_timeout = tokio::time::sleep(STARTUP_TIMEOUT);
    tokio::pin!(startup_timeout);
    let negotiated = tokio::select! {
        _ = &mut startup_timeout => return Ok(()),
        negotiated = negotiate_tls(tcp, tls) => negotiated?,
    };
    // A direct TLS handshake without TLS configured: nothing to say.
    let Some(negotiated) = negotiated else { return Ok(()) };
    let mut socket = guarded(negotiated, &wire);

    // One handler serves every kind of message of its connection.
    let handler = Arc::clone(&wire.0);

    loop {
        let logging_in = matches!(
            socket.state(),
            PgWireConnectionState::AwaitingStartup | PgWireConnectionState::AuthenticationInProgress
        );
        let message = if logging_in {
            tokio::select! {
                _ = &mut startup_timeout => None,
                message = socket.next() => message,
            }
        } else {
            socket.next().await
        };
        let message = match message {
            None => break,
            Some(Ok(message)) => message,
            Some(Err(PgWireError::IoError(error))) => {
                if let Some(violation) = violation(&error) {
                    tracing::debug!(peer = %socket.socket_addr(), %violation, "protocol violation");
                    send_error(&mut socket, fatal("08P01", violation.to_string()), false).await?;
                }
                break;
            }
            Some(Err(error)) => {
                let info: ErrorInfo = error.into();
                let fatal_error = ErrorInfo::new(SEVERITY_FATAL.into(), info.code, info.message);
                send_error(&mut socket, fatal_error, false).await?;
                break;
            }
        };
        // A Terminate ends the connection; a client such as asyncpg waits
        // for the server to close it.
        if matches!(message, PgWireFrontendMessage::Terminate(_)) {
            break;
        }
        let is_cancel_request = matches!(message, PgWireFrontendMessage::CancelRequest(_));
        if matches!(message, PgWireFrontendMessage::Startup(_)) && !admission.within_limit {
            send_error(&mut socket, fatal("53300", "sorry, too many clients already".into()), false).await?;
            break;
        }
        let in_extended_query = match socket.state() {
            PgWireConnectionState::CopyInProgress(extended) => extended,
            _ => message.is_extended_query(),
        };
        let processed = process_message(
            message,
            &mut socket,
            Arc::clone(&handler),
            Arc::clone(&handler),
            Arc::clone(&handler),
            Arc::clone(&handler),
            Arc::clone(&handler),
        )
        .await;
        if let Err(error) = processed {
            let info: ErrorInfo = error.into();
            let is_fatal = info.is_fatal();
            send_error(&mut socket, info, in_extended_query).await?;
            if is_fatal {
                break;
            }
        }
        if is_cancel_request {
            break;
        }
    }
    Ok(())
}

/// Puts the frame guard between the negotiated stream and pgwire's codec.
/// Bytes the negotiation read ahead go through the guard first.
fn guarded(negotiated: Framed<MaybeTls, Codec>, wire: &Wire) -> Socket {
    let parts = negotiated.into_parts();
    let guard = FrameGuard::new(parts.io, parts.read_buf, wire.0.authenticated(), wire.0.invalid_text());
    let mut guarded = FramedParts::new(guard, parts.codec);
    guarded.write_buf = parts.write_buf;
    Framed::from_parts(guarded)
}

fn fatal(code: &str, message: String) -> ErrorInfo {
    ErrorInfo::new(SEVERITY_FATAL.into(), code.into(), message)
}

/// Sends an error as PostgreSQL does: a FATAL one is the last message
/// before the connection closes (no ReadyForQuery, which would tell the
/// client it may go on); after an ERROR in an extended-query pipeline the
/// rest is skipped up to Sync; otherwise ReadyForQuery follows.
async fn send_error<S>(
    socket: &mut Framed<S, Codec>,
    info: ErrorInfo,
    in_extended_query: bool,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static,
{
    let is_fatal = info.is_fatal();
    socket.feed(PgWireBackendMessage::ErrorResponse(info.into())).await?;
    if is_fatal {
        socket.flush().await?;
        return socket.close().await;
    }
    let status = socket.transaction_status().to_error_state();
    socket.set_transaction_status(status);
    if in_extended_query {
        socket.set_state(PgWireConnectionState::AwaitingSync);
    } else {
        socket.set_state(PgWireConnectionState::ReadyForQuery);
        socket.feed(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(status))).await?;
    }
    socket.flush().await
}
