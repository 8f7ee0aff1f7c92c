//! The one place a CairnDB error becomes a wire error.

use cairn_types::CairnError;
use pgwire::error::{ErrorInfo, PgWireError};

pub const SEVERITY_ERROR: &str = "ERROR";
pub const SEVERITY_FATAL: &str = "FATAL";

pub fn error_info(error: &CairnError) -> ErrorInfo {
    let severity = if error.is_fatal() { SEVERITY_FATAL } else { SEVERITY_ERROR };
    let mut info = ErrorInfo::new(severity.to_owned(), error.code().as_str().to_owned(), error.to_string());
    info.detail = error.detail().map(str::to_owned);
    info.hint = error.hint().map(str::to_owned);
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
}
