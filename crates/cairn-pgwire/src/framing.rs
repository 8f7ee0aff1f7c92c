//! A guard in front of pgwire's decoder: every frontend message is checked
//! against its declared length and its message type's layout before
//! pgwire reads it.
//!
//! pgwire's decoders read the fields they expect and leave whatever else
//! the declared length covers in the buffer, where it is read as the next
//! message: a Query whose length covers `SELECT 1\0` and a second
//! complete `Q` message ran both ("message smuggling"). They also turn
//! invalid UTF-8 into U+FFFD instead of refusing it. (Reported upstream:
//! see the closing note of the issue that added this module.) So this
//! guard, an `AsyncRead` between the (TLS) stream and pgwire's `Framed`,
//! walks the same byte stream message by message:
//!
//! - a message whose fields do not end exactly at its declared length, or
//!   whose length is out of range, ends the connection with FATAL 08P01,
//!   as PostgreSQL ends it for an invalid message length;
//! - before authentication, a message over PostgreSQL's startup limit
//!   (10,000 bytes) does the same, so nobody makes the server buffer a
//!   large message before logging in;
//! - a Query or Parse whose text is not valid UTF-8 passes (so the
//!   message stream stays in step), but is recorded in [`InvalidText`]:
//!   the handler answers it with 22021 instead of running it.
//!
//! Bytes are handed on only once the message they belong to is checked,
//! so pgwire never sees a byte of a message the guard refused.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// PostgreSQL's limit on a startup packet and on any message before
/// authentication (`MAX_STARTUP_PACKET_LENGTH`).
pub(crate) const MAX_STARTUP_MESSAGE: usize = 10_000;

/// PostgreSQL's limit on any message (`PQ_LARGE_MESSAGE_LIMIT`).
const MAX_MESSAGE: usize = 0x3fff_ffff;

/// Untyped request codes that may precede the startup packet.
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;

/// Why the guard ended a connection.
#[derive(Debug)]
pub(crate) struct ProtocolViolation(pub String);

impl std::fmt::Display for ProtocolViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolViolation {}

/// The protocol violation behind an I/O error from the guard, if it is one.
pub(crate) fn violation(error: &io::Error) -> Option<&ProtocolViolation> {
    error.get_ref().and_then(|inner| inner.downcast_ref::<ProtocolViolation>())
}

/// Query and Parse texts that were not valid UTF-8, as pgwire will hand
/// them to the handler (invalid bytes as U+FFFD), with PostgreSQL's error
/// message for each. Bounded: an entry that is never asked for (its
/// message was skipped after an earlier error) ages out.
#[derive(Default, Clone)]
pub(crate) struct InvalidText(Arc<Mutex<VecDeque<(String, String)>>>);

impl InvalidText {
    const KEPT: usize = 16;

    fn record(&self, lossy: String, message: String) {
        let mut texts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if texts.len() == Self::KEPT {
            texts.pop_front();
        }
        texts.push_back((lossy, message));
    }

    /// The 22021 message for `text`, if the client sent it as invalid
    /// UTF-8. Only texts with U+FFFD can have been, so others cost nothing.
    pub(crate) fn take(&self, text: &str) -> Option<String> {
        if !text.contains('\u{FFFD}') {
            return None;
        }
        let mut texts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let position = texts.iter().position(|(lossy, _)| lossy == text)?;
        texts.remove(position).map(|(_, message)| message)
    }
}

/// Where the stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Untyped messages: SSL/GSS requests, then the startup packet or a
    /// cancel request.
    Startup,
    /// Typed messages.
    Typed,
}

/// The checking `AsyncRead` (writes pass straight through).
pub(crate) struct FrameGuard<S> {
    inner: S,
    phase: Phase,
    /// Bytes read but not yet checked (an incomplete message).
    unchecked: BytesMut,
    /// Checked bytes not yet handed to pgwire.
    checked: BytesMut,
    authenticated: Arc<dyn Fn() -> bool + Send + Sync>,
    invalid_text: InvalidText,
    failed: bool,
}

impl<S> FrameGuard<S> {
    /// Guards `inner`; `already_read` are bytes taken from it before (by
    /// TLS negotiation) that pgwire has not decoded yet.
    pub(crate) fn new(
        inner: S,
        already_read: BytesMut,
        authenticated: Arc<dyn Fn() -> bool + Send + Sync>,
        invalid_text: InvalidText,
    ) -> FrameGuard<S> {
        FrameGuard {
            inner,
            phase: Phase::Startup,
            unchecked: already_read,
            checked: BytesMut::new(),
            authenticated,
            invalid_text,
            failed: false,
        }
    }

    /// Moves every complete message from `unchecked` to `checked`.
    fn check_complete_messages(&mut self) -> Result<(), ProtocolViolation> {
        loop {
            let header = match self.phase {
                Phase::Startup => 4,
                Phase::Typed => 5,
            };
            if self.unchecked.len() < header {
                return Ok(());
            }
            let length_at = header - 4;
            let declared = u32::from_be_bytes([
                self.unchecked[length_at],
                self.unchecked[length_at + 1],
                self.unchecked[length_at + 2],
                self.unchecked[length_at + 3],
            ]) as usize;
            let limit = match (self.phase, (self.authenticated)()) {
                (Phase::Typed, true) => MAX_MESSAGE,
                _ => MAX_STARTUP_MESSAGE,
            };
            if declared < 4 || declared > limit {
                return Err(ProtocolViolation(format!("invalid message length {declared}")));
            }
            let total = length_at + declared;
            if self.unchecked.len() < total {
                // Reserve no more than what is promised and allowed.
                self.unchecked.reserve(total - self.unchecked.len());
                return Ok(());
            }
            let message = self.unchecked.split_to(total);
            match self.phase {
                Phase::Startup => self.check_untyped(&message[4..])?,
                Phase::Typed => self.check_typed(message[0], &message[5..])?,
            }
            self.checked.extend_from_slice(&message);
        }
    }

    fn check_untyped(&mut self, body: &[u8]) -> Result<(), ProtocolViolation> {
        let mut body = body;
        if body.len() < 4 {
            return Err(ProtocolViolation("invalid startup packet layout".into()));
        }
        match body.get_u32() {
            SSL_REQUEST | GSSENC_REQUEST | CANCEL_REQUEST => {}
            // A protocol version: the startup packet. Typed messages follow.
            _ => self.phase = Phase::Typed,
        }
        Ok(())
    }

    fn check_typed(&mut self, kind: u8, body: &[u8]) -> Result<(), ProtocolViolation> {
        let mut fields = Fields { rest: body };
        match kind {
            b'Q' => {
                let query = fields.cstring()?;
                self.check_text(query);
            }
            b'P' => {
                fields.cstring()?;
                let query = fields.cstring()?;
                let types = fields.count()?;
                fields.skip(types * 4)?;
                self.check_text(query);
            }
            b'B' => {
                fields.cstring()?;
                fields.cstring()?;
                let formats = fields.count()?;
                fields.skip(formats * 2)?;
                for _ in 0..fields.count()? {
                    let length = fields.i32()?;
                    if length > 0 {
                        fields.skip(length as usize)?;
                    } else if length < -1 {
                        return Err(ProtocolViolation(format!("invalid parameter length {length}")));
                    }
                }
                let results = fields.count()?;
                fields.skip(results * 2)?;
            }
            b'E' => {
                fields.cstring()?;
                fields.i32()?;
            }
            b'D' | b'C' => {
                fields.skip(1)?;
                fields.cstring()?;
            }
            // CopyFail's reason and a password.
            b'f' | b'p' => {
                fields.cstring()?;
            }
            // CopyData is whatever the length says.
            b'd' => fields.rest = &[],
            // Sync, Flush, Terminate, CopyDone: no fields.
            b'S' | b'H' | b'X' | b'c' => {}
            other => {
                return Err(ProtocolViolation(format!("invalid frontend message type {}", char::from(other))))
            }
        }
        if fields.rest.is_empty() {
            Ok(())
        } else {
            Err(ProtocolViolation(format!(
                "invalid message format: {} bytes after the fields of a {} message",
                fields.rest.len(),
                char::from(kind)
            )))
        }
    }

    /// Records a query text that is not UTF-8 for the handler to refuse.
    fn check_text(&self, text: &[u8]) {
        if let Err(error) = std::str::from_utf8(text) {
            // PostgreSQL shows as many bytes as the first one announces.
            let start = error.valid_up_to();
            let announced = match text[start] {
                b if b & 0xe0 == 0xc0 => 2,
                b if b & 0xf0 == 0xe0 => 3,
                b if b & 0xf8 == 0xf0 => 4,
                _ => 1,
            };
            let bad = &text[start..text.len().min(start + announced)];
            let bytes: Vec<String> = bad.iter().map(|b| format!("0x{b:02x}")).collect();
            self.invalid_text.record(
                String::from_utf8_lossy(text).into_owned(),
                format!("invalid byte sequence for encoding \"UTF8\": {}", bytes.join(" ")),
            );
        }
    }
}

/// A cursor over a message's fields; every read is bounds-checked.
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn short() -> ProtocolViolation {
        ProtocolViolation("invalid message format: a field runs past the message's length".into())
    }

    fn cstring(&mut self) -> Result<&'a [u8], ProtocolViolation> {
        let end = self.rest.iter().position(|b| *b == 0).ok_or_else(|| {
            ProtocolViolation("invalid message format: a string is not terminated".into())
        })?;
        let (text, rest) = self.rest.split_at(end);
        self.rest = &rest[1..];
        Ok(text)
    }

    fn skip(&mut self, bytes: usize) -> Result<(), ProtocolViolation> {
        if bytes > self.rest.len() {
            return Err(Self::short());
        }
        self.rest = &self.rest[bytes..];
        Ok(())
    }

    fn i32(&mut self) -> Result<i32, ProtocolViolation> {
        if self.rest.len() < 4 {
            return Err(Self::short());
        }
        Ok(self.rest.get_i32())
    }

    /// An Int16 count, read as unsigned as PostgreSQL does.
    fn count(&mut self) -> Result<usize, ProtocolViolation> {
        if self.rest.len() < 2 {
            return Err(Self::short());
        }
        Ok(usize::from(self.rest.get_u16()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FrameGuard<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.checked.is_empty() {
                let n = this.checked.len().min(out.remaining());
                out.put_slice(&this.checked.split_to(n));
                return Poll::Ready(Ok(()));
            }
            if this.failed {
                return Poll::Ready(Ok(()));
            }
            if let Err(violation) = this.check_complete_messages() {
                this.failed = true;
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, violation)));
            }
            if !this.checked.is_empty() {
                continue;
            }
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if read.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => this.unchecked.extend_from_slice(read.filled()),
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FrameGuard<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    fn typed(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut message = vec![kind];
        message.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        message.extend_from_slice(body);
        message
    }

    fn startup() -> Vec<u8> {
        let body = b"\x00\x03\x00\x00user\x00u\x00\x00";
        let mut message = (body.len() as u32 + 4).to_be_bytes().to_vec();
        message.extend_from_slice(body);
        message
    }

    async fn read_all(input: Vec<u8>, authenticated: bool) -> (io::Result<Vec<u8>>, InvalidText) {
        let invalid = InvalidText::default();
        let mut guard = FrameGuard::new(&input[..], BytesMut::new(), Arc::new(move || authenticated), invalid.clone());
        let mut out = Vec::new();
        let result = guard.read_to_end(&mut out).await.map(|_| out);
        (result, invalid)
    }

    #[tokio::test]
    async fn well_formed_messages_pass_unchanged() {
        let mut input = startup();
        input.extend(typed(b'p', b"secret\0"));
        input.extend(typed(b'Q', b"SELECT 1\0"));
        input.extend(typed(b'P', b"s\0SELECT $1\0\x00\x01\x00\x00\x00\x17"));
        input.extend(typed(b'B', b"\0s\0\x00\x00\x00\x01\x00\x00\x00\x011\x00\x00"));
        input.extend(typed(b'E', b"\0\x00\x00\x00\x00"));
        input.extend(typed(b'S', b""));
        let (output, invalid) = read_all(input.clone(), true).await;
        assert_eq!(output.expect("passes"), input);
        assert_eq!(invalid.take("SELECT 1"), None);
    }

    #[tokio::test]
    async fn a_message_hidden_inside_another_ends_the_connection() {
        let mut body = b"SELECT 1\0".to_vec();
        body.extend(typed(b'Q', b"DROP TABLE t\0"));
        let mut input = startup();
        input.extend(typed(b'Q', &body));
        let (output, _) = read_all(input, true).await;
        let error = output.expect_err("refused");
        assert!(violation(&error).is_some_and(|v| v.0.contains("after the fields")), "{error}");
    }

    #[tokio::test]
    async fn large_messages_before_authentication_are_refused_unread() {
        let mut input = startup();
        input.extend(typed(b'p', &vec![b'x'; MAX_STARTUP_MESSAGE]));
        let (output, _) = read_all(input.clone(), false).await;
        assert!(output.is_err());
        // The same message after authentication is fine.
        let mut password = vec![b'x'; MAX_STARTUP_MESSAGE];
        password.push(0);
        let mut input = startup();
        input.extend(typed(b'p', &password));
        assert!(read_all(input, true).await.0.is_ok());
    }

    #[tokio::test]
    async fn invalid_utf8_in_a_query_is_recorded_for_the_handler() {
        let mut input = startup();
        input.extend(typed(b'Q', b"SELECT '\xff\xfe'\0"));
        let (output, invalid) = read_all(input, true).await;
        assert!(output.is_ok());
        let message = invalid.take("SELECT '\u{FFFD}\u{FFFD}'").expect("recorded");
        assert_eq!(message, "invalid byte sequence for encoding \"UTF8\": 0xff");
        assert_eq!(invalid.take("SELECT '\u{FFFD}\u{FFFD}'"), None, "taken once");
    }

    #[tokio::test]
    async fn truncated_fields_and_bad_lengths_are_refused() {
        for message in [
            typed(b'E', b"\0\x00\x00"),
            typed(b'B', b"\0s\0\x00\x00\x00\x01\xff\xff\xff\xfe\x00\x00"),
            typed(b'Q', b"no terminator"),
            vec![b'Q', 0, 0, 0, 2],
        ] {
            let mut input = startup();
            input.extend(message);
            assert!(read_all(input, true).await.0.is_err());
        }
    }
}
