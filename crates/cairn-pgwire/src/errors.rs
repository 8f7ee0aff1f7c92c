//! The one place a CairnDB error becomes a wire error.

use cairn_types::CairnError;
use pgwire::error::{ErrorInfo, PgWireError};

pub const SEVERITY_ERROR: &str = "ERROR";
pub const SEVERITY_FATAL: &str = "FATAL";

/// ErrorResponse fields are C strings: a NUL inside one (a message quoting
/// a client's bad binary value) would end it early and garble the message.
fn field(text: &str) -> String {
    text.replace('\0', "\\0")
}

pub fn error_info(error: &CairnError) -> ErrorInfo {
    let severity = if error.is_fatal() { SEVERITY_FATAL } else { SEVERITY_ERROR };
    let mut info = ErrorInfo::new(severity.to_owned(), error.code().as_str().to_owned(), field(&error.to_string()));
    info.detail = error.detail().map(field);
    info.hint = error.hint().map(field);
    if matches!(error, CairnError::Internal(_)) {
        tracing::error!(%error, "internal error reported to a client");
    }
    info
}

pub fn to_pg(error: &CairnError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_failures_are_fatal_and_statement_errors_are_not() {
        let auth = error_info(&CairnError::AuthenticationFailed { user: "x".into() });
        assert_eq!((auth.severity.as_str(), auth.code.as_str()), ("FATAL", "28P01"));
        let syntax = error_info(&CairnError::Syntax("bad".into()));
        assert_eq!((syntax.severity.as_str(), syntax.code.as_str()), ("ERROR", "42601"));
    }

    #[test]
    fn a_nul_in_a_message_cannot_cut_it_short() {
        let info = error_info(&CairnError::InvalidTextRepresentation("cannot cast '\0\0\u{4}\u{13}'".into()));
        assert!(!info.message.contains('\0'), "{}", info.message);
        assert!(info.message.ends_with("\\0\\0\u{4}\u{13}'"), "{}", info.message);
    }
}
