//! The one error type. Every failure a client can see is a [`CairnError`],
//! and every variant maps to exactly one SQLSTATE through [`CairnError::code`].

use std::fmt;

pub type Result<T, E = CairnError> = std::result::Result<T, E>;

/// A five-character SQLSTATE code, as listed in PostgreSQL's
/// "PostgreSQL Error Codes" appendix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SqlState(&'static str);

impl SqlState {
    pub const FEATURE_NOT_SUPPORTED: SqlState = SqlState("0A000");
    pub const STRING_DATA_RIGHT_TRUNCATION: SqlState = SqlState("22001");
    pub const NUMERIC_VALUE_OUT_OF_RANGE: SqlState = SqlState("22003");
    pub const DIVISION_BY_ZERO: SqlState = SqlState("22012");
    pub const INVALID_PARAMETER_VALUE: SqlState = SqlState("22023");
    pub const INVALID_TEXT_REPRESENTATION: SqlState = SqlState("22P02");
    pub const INVALID_BINARY_REPRESENTATION: SqlState = SqlState("22P03");
    pub const BAD_COPY_FILE_FORMAT: SqlState = SqlState("22P04");
    pub const CHARACTER_NOT_IN_REPERTOIRE: SqlState = SqlState("22021");
    pub const CARDINALITY_VIOLATION: SqlState = SqlState("21000");
    pub const NOT_NULL_VIOLATION: SqlState = SqlState("23502");
    pub const UNIQUE_VIOLATION: SqlState = SqlState("23505");
    pub const INVALID_AUTHORIZATION: SqlState = SqlState("28000");
    pub const INVALID_PASSWORD: SqlState = SqlState("28P01");
    pub const DEPENDENT_OBJECTS_STILL_EXIST: SqlState = SqlState("2BP01");
    pub const INVALID_SCHEMA_NAME: SqlState = SqlState("3F000");
    pub const ACTIVE_SQL_TRANSACTION: SqlState = SqlState("25001");
    pub const IN_FAILED_SQL_TRANSACTION: SqlState = SqlState("25P02");
    pub const NO_ACTIVE_SQL_TRANSACTION: SqlState = SqlState("25P01");
    pub const INVALID_SAVEPOINT: SqlState = SqlState("3B001");
    pub const INVALID_CURSOR_NAME: SqlState = SqlState("34000");
    pub const DUPLICATE_CURSOR: SqlState = SqlState("42P03");
    pub const SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION: SqlState = SqlState("42000");
    pub const DATATYPE_MISMATCH: SqlState = SqlState("42804");
    pub const WRONG_OBJECT_TYPE: SqlState = SqlState("42809");
    pub const UNDEFINED_FUNCTION: SqlState = SqlState("42883");
    pub const SERIALIZATION_FAILURE: SqlState = SqlState("40001");
    pub const SYNTAX_ERROR: SqlState = SqlState("42601");
    pub const INSUFFICIENT_PRIVILEGE: SqlState = SqlState("42501");
    pub const UNDEFINED_COLUMN: SqlState = SqlState("42703");
    pub const UNDEFINED_TABLE: SqlState = SqlState("42P01");
    pub const INVALID_COLUMN_REFERENCE: SqlState = SqlState("42P10");
    pub const DUPLICATE_TABLE: SqlState = SqlState("42P07");
    pub const DUPLICATE_COLUMN: SqlState = SqlState("42701");
    pub const INVALID_TABLE_DEFINITION: SqlState = SqlState("42P16");
    pub const UNDEFINED_OBJECT: SqlState = SqlState("42704");
    pub const DUPLICATE_OBJECT: SqlState = SqlState("42710");
    pub const DUPLICATE_SCHEMA: SqlState = SqlState("42P06");
    pub const UNTRANSLATABLE_CHARACTER: SqlState = SqlState("22P05");
    pub const INVALID_DATETIME_FORMAT: SqlState = SqlState("22007");
    pub const INVALID_REGULAR_EXPRESSION: SqlState = SqlState("2201B");
    pub const DATETIME_FIELD_OVERFLOW: SqlState = SqlState("22008");
    pub const RESERVED_NAME: SqlState = SqlState("42939");
    pub const PROTOCOL_VIOLATION: SqlState = SqlState("08P01");
    pub const OUT_OF_MEMORY: SqlState = SqlState("53200");
    pub const TOO_MANY_CONNECTIONS: SqlState = SqlState("53300");
    pub const STATEMENT_TOO_COMPLEX: SqlState = SqlState("54001");
    pub const OBJECT_IN_USE: SqlState = SqlState("55006");
    pub const QUERY_CANCELED: SqlState = SqlState("57014");
    pub const ADMIN_SHUTDOWN: SqlState = SqlState("57P01");
    pub const IO_ERROR: SqlState = SqlState("58030");
    pub const INTERNAL_ERROR: SqlState = SqlState("XX000");

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Every kind of failure a client can be told about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CairnError {
    /// The statement does not parse.
    Syntax(String),
    /// Parses, but cannot be planned (a class-42 error with no finer code).
    Plan(String),
    /// Operand types do not fit together.
    DatatypeMismatch(String),
    /// An operation on the wrong kind of object (field access on a value
    /// that has no fields).
    WrongObjectType(String),
    /// No function of that name and argument types.
    UndefinedFunction(String),
    /// Text longer than its `varchar(n)`.
    StringDataRightTruncation(String),
    /// A number does not fit its type.
    NumericValueOutOfRange(String),
    DivisionByZero,
    /// A statement arrived in a transaction block that already failed.
    InFailedSqlTransaction,
    /// Parses, but uses something CairnDB does not do (yet).
    FeatureNotSupported(String),
    /// A value or option is out of its allowed set.
    InvalidParameterValue(String),
    /// Text that does not read as the type it must be.
    InvalidTextRepresentation(String),
    /// A binary value (binary COPY) that does not read as its type.
    InvalidBinaryRepresentation(String),
    /// COPY input whose lines do not have the table's shape.
    BadCopyFileFormat(String),
    /// Bytes that are not valid UTF-8.
    CharacterNotInRepertoire(String),
    /// One statement would change the same row twice.
    CardinalityViolation(String),
    /// A pattern of `~`, `regexp_*`, `SIMILAR TO` that is no regular
    /// expression.
    InvalidRegularExpression(String),
    /// Text that is no date or time (`'nope'::timestamp`).
    InvalidDatetimeFormat(String),
    /// A date or time whose fields are out of range (`'2024-02-30'::date`).
    DatetimeFieldOverflow(String),
    /// Text that is not JSON; `detail` says where (`Token "x" is invalid.`).
    InvalidJson { detail: String },
    /// A `\u0000` escape in jsonb, which text cannot hold.
    UnsupportedUnicodeEscape,
    /// A NOT NULL column got NULL.
    /// `detail`: `Failing row contains (…).`, the row as PostgreSQL lists it.
    NotNullViolation { table: String, column: String, detail: String },
    /// A column made NOT NULL (by ADD COLUMN or SET NOT NULL) holds NULL.
    ColumnContainsNulls { table: String, column: String },
    /// A unique key or unique index already holds this value.
    UniqueViolation { constraint: String, detail: String },
    /// Unknown user or wrong password. Deliberately one variant: the client
    /// must not learn which of the two it was.
    AuthenticationFailed { user: String },
    /// The role may not do this.
    InsufficientPrivilege(String),
    /// Unknown table (or system table).
    UndefinedTable(String),
    /// A column list that names no constraint (ON CONFLICT's target).
    InvalidColumnReference(String),
    /// A table of that name already exists.
    DuplicateTable(String),
    /// Unknown column.
    UndefinedColumn(String),
    /// A column of that name already exists.
    DuplicateColumn(String),
    /// A table definition that cannot be (a key column made nullable, …).
    InvalidTableDefinition(String),
    /// Unknown user, namespace or setting.
    UndefinedObject(String),
    /// An object that must be unique by name already exists.
    DuplicateObject(String),
    /// A namespace (schema) of that name already exists.
    DuplicateSchema(String),
    /// A name that is reserved for the system.
    ReservedName(String),
    /// The object is in use (for example, dropping one's own account).
    ObjectInUse(String),
    /// A namespace (schema) that does not exist, where one is required.
    InvalidSchemaName(String),
    /// Objects still depend on the one being dropped.
    DependentObjectsStillExist(String),
    /// Not allowed inside a transaction block.
    ActiveSqlTransaction(String),
    /// Only allowed inside a transaction block (savepoints).
    NoActiveSqlTransaction(String),
    /// 34000: no cursor of that name.
    InvalidCursorName(String),
    /// 42P03: a cursor of that name is open.
    DuplicateCursor(String),
    /// No savepoint of that name.
    InvalidSavepoint(String),
    /// An optimistic transaction lost a conflict; retry it.
    SerializationFailure,
    /// Cancelled by request or by `statement_timeout`.
    QueryCanceled(String),
    /// The connection limit is reached.
    TooManyConnections,
    /// The session's user was dropped or its role changed: the connection
    /// ends (PostgreSQL's code for a session an administrator terminated).
    SessionTerminated(String),
    /// A message that breaks the wire protocol's rules.
    ProtocolViolation(String),
    /// A statement nests deeper than the server's stacks allow (PostgreSQL's
    /// "stack depth limit exceeded").
    StackDepthExceeded(String),
    /// A statement needs more memory than its limit allows.
    OutOfMemory(String),
    /// The storage engine failed (I/O, corruption, poisoned after a failed fsync).
    Storage(String),
    /// A bug: something that should not happen. Logged in full.
    Internal(String),
}

impl CairnError {
    /// The SQLSTATE the client sees. Exhaustive on purpose: a new variant
    /// must choose its code.
    pub fn code(&self) -> SqlState {
        match self {
            CairnError::Syntax(_) => SqlState::SYNTAX_ERROR,
            CairnError::Plan(_) => SqlState::SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION,
            CairnError::DatatypeMismatch(_) => SqlState::DATATYPE_MISMATCH,
            CairnError::WrongObjectType(_) => SqlState::WRONG_OBJECT_TYPE,
            CairnError::UndefinedFunction(_) => SqlState::UNDEFINED_FUNCTION,
            CairnError::NumericValueOutOfRange(_) => SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            CairnError::StringDataRightTruncation(_) => SqlState::STRING_DATA_RIGHT_TRUNCATION,
            CairnError::DivisionByZero => SqlState::DIVISION_BY_ZERO,
            CairnError::InFailedSqlTransaction => SqlState::IN_FAILED_SQL_TRANSACTION,
            CairnError::FeatureNotSupported(_) => SqlState::FEATURE_NOT_SUPPORTED,
            CairnError::InvalidParameterValue(_) => SqlState::INVALID_PARAMETER_VALUE,
            CairnError::InvalidTextRepresentation(_) | CairnError::InvalidJson { .. } => {
                SqlState::INVALID_TEXT_REPRESENTATION
            }
            CairnError::UnsupportedUnicodeEscape => SqlState::UNTRANSLATABLE_CHARACTER,
            CairnError::InvalidDatetimeFormat(_) => SqlState::INVALID_DATETIME_FORMAT,
            CairnError::InvalidRegularExpression(_) => SqlState::INVALID_REGULAR_EXPRESSION,
            CairnError::DatetimeFieldOverflow(_) => SqlState::DATETIME_FIELD_OVERFLOW,
            CairnError::InvalidBinaryRepresentation(_) => SqlState::INVALID_BINARY_REPRESENTATION,
            CairnError::BadCopyFileFormat(_) => SqlState::BAD_COPY_FILE_FORMAT,
            CairnError::CharacterNotInRepertoire(_) => SqlState::CHARACTER_NOT_IN_REPERTOIRE,
            CairnError::CardinalityViolation(_) => SqlState::CARDINALITY_VIOLATION,
            CairnError::NotNullViolation { .. } | CairnError::ColumnContainsNulls { .. } => SqlState::NOT_NULL_VIOLATION,
            CairnError::UniqueViolation { .. } => SqlState::UNIQUE_VIOLATION,
            CairnError::AuthenticationFailed { .. } => SqlState::INVALID_PASSWORD,
            CairnError::InsufficientPrivilege(_) => SqlState::INSUFFICIENT_PRIVILEGE,
            CairnError::UndefinedTable(_) => SqlState::UNDEFINED_TABLE,
            CairnError::UndefinedColumn(_) => SqlState::UNDEFINED_COLUMN,
            CairnError::DuplicateColumn(_) => SqlState::DUPLICATE_COLUMN,
            CairnError::InvalidTableDefinition(_) => SqlState::INVALID_TABLE_DEFINITION,
            CairnError::DuplicateTable(_) => SqlState::DUPLICATE_TABLE,
            CairnError::InvalidColumnReference(_) => SqlState::INVALID_COLUMN_REFERENCE,
            CairnError::UndefinedObject(_) => SqlState::UNDEFINED_OBJECT,
            CairnError::DuplicateObject(_) => SqlState::DUPLICATE_OBJECT,
            CairnError::DuplicateSchema(_) => SqlState::DUPLICATE_SCHEMA,
            CairnError::ReservedName(_) => SqlState::RESERVED_NAME,
            CairnError::ObjectInUse(_) => SqlState::OBJECT_IN_USE,
            CairnError::DependentObjectsStillExist(_) => SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
            CairnError::InvalidSchemaName(_) => SqlState::INVALID_SCHEMA_NAME,
            CairnError::ActiveSqlTransaction(_) => SqlState::ACTIVE_SQL_TRANSACTION,
            CairnError::NoActiveSqlTransaction(_) => SqlState::NO_ACTIVE_SQL_TRANSACTION,
            CairnError::InvalidCursorName(_) => SqlState::INVALID_CURSOR_NAME,
            CairnError::DuplicateCursor(_) => SqlState::DUPLICATE_CURSOR,
            CairnError::InvalidSavepoint(_) => SqlState::INVALID_SAVEPOINT,
            CairnError::SerializationFailure => SqlState::SERIALIZATION_FAILURE,
            CairnError::QueryCanceled(_) => SqlState::QUERY_CANCELED,
            CairnError::TooManyConnections => SqlState::TOO_MANY_CONNECTIONS,
            CairnError::SessionTerminated(_) => SqlState::ADMIN_SHUTDOWN,
            CairnError::ProtocolViolation(_) => SqlState::PROTOCOL_VIOLATION,
            CairnError::StackDepthExceeded(_) => SqlState::STATEMENT_TOO_COMPLEX,
            CairnError::OutOfMemory(_) => SqlState::OUT_OF_MEMORY,
            CairnError::Storage(_) => SqlState::IO_ERROR,
            CairnError::Internal(_) => SqlState::INTERNAL_ERROR,
        }
    }

    /// The DETAIL field, where there is one.
    pub fn detail(&self) -> Option<&str> {
        match self {
            CairnError::UniqueViolation { detail, .. } => Some(detail),
            CairnError::NotNullViolation { detail, .. } => Some(detail),
            CairnError::InvalidJson { detail } => Some(detail),
            CairnError::UnsupportedUnicodeEscape => Some("\\u0000 cannot be converted to text."),
            _ => None,
        }
    }

    /// The HINT field, where there is one.
    pub fn hint(&self) -> Option<&str> {
        match self {
            CairnError::SerializationFailure => Some("The transaction might succeed if retried."),
            _ => None,
        }
    }

    /// True when running the same statement again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, CairnError::SerializationFailure)
    }

    /// True for failures that end the connection rather than the statement.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            CairnError::AuthenticationFailed { .. }
                | CairnError::TooManyConnections
                | CairnError::SessionTerminated(_)
        )
    }
}

impl fmt::Display for CairnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CairnError::Syntax(m)
            | CairnError::Plan(m)
            | CairnError::DatatypeMismatch(m)
            | CairnError::WrongObjectType(m)
            | CairnError::UndefinedFunction(m)
            | CairnError::NumericValueOutOfRange(m)
            | CairnError::StringDataRightTruncation(m)
            | CairnError::CardinalityViolation(m)
            | CairnError::BadCopyFileFormat(m)
            | CairnError::CharacterNotInRepertoire(m)
            | CairnError::FeatureNotSupported(m)
            | CairnError::InvalidParameterValue(m)
            | CairnError::InvalidTextRepresentation(m)
            | CairnError::InvalidDatetimeFormat(m)
            | CairnError::InvalidRegularExpression(m)
            | CairnError::DatetimeFieldOverflow(m)
            | CairnError::InvalidBinaryRepresentation(m)
            | CairnError::InsufficientPrivilege(m)
            | CairnError::UndefinedTable(m)
            | CairnError::UndefinedColumn(m)
            | CairnError::DuplicateColumn(m)
            | CairnError::InvalidTableDefinition(m)
            | CairnError::DuplicateTable(m)
            | CairnError::InvalidColumnReference(m)
            | CairnError::UndefinedObject(m)
            | CairnError::DuplicateObject(m)
            | CairnError::DuplicateSchema(m)
            | CairnError::ReservedName(m)
            | CairnError::ObjectInUse(m)
            | CairnError::DependentObjectsStillExist(m)
            | CairnError::InvalidSchemaName(m)
            | CairnError::ActiveSqlTransaction(m)
            | CairnError::NoActiveSqlTransaction(m)
            | CairnError::InvalidCursorName(m)
            | CairnError::DuplicateCursor(m)
            | CairnError::InvalidSavepoint(m)
            | CairnError::QueryCanceled(m)
            | CairnError::ProtocolViolation(m)
            | CairnError::SessionTerminated(m)
            | CairnError::StackDepthExceeded(m)
            | CairnError::OutOfMemory(m) => f.write_str(m),
            CairnError::InvalidJson { .. } => f.write_str("invalid input syntax for type json"),
            CairnError::UnsupportedUnicodeEscape => f.write_str("unsupported Unicode escape sequence"),
            CairnError::NotNullViolation { table, column, .. } => {
                write!(f, "null value in column \"{column}\" of relation \"{table}\" violates not-null constraint")
            }
            CairnError::ColumnContainsNulls { table, column } => {
                write!(f, "column \"{column}\" of relation \"{table}\" contains null values")
            }
            CairnError::UniqueViolation { constraint, .. } => {
                write!(f, "duplicate key value violates unique constraint \"{constraint}\"")
            }
            CairnError::AuthenticationFailed { user } => {
                write!(f, "password authentication failed for user \"{user}\"")
            }
            CairnError::SerializationFailure => f.write_str(
                "could not serialize access due to concurrent update",
            ),
            CairnError::DivisionByZero => f.write_str("division by zero"),
            CairnError::InFailedSqlTransaction => f.write_str(
                "current transaction is aborted, commands ignored until end of transaction block",
            ),
            CairnError::TooManyConnections => {
                f.write_str("sorry, too many clients already")
            }
            CairnError::Storage(m) => write!(f, "storage error: {m}"),
            CairnError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for CairnError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_sqlstate() {
        let cases = [
            (CairnError::Syntax(String::new()), "42601"),
            (CairnError::FeatureNotSupported(String::new()), "0A000"),
            (CairnError::Plan(String::new()), "42000"),
            (CairnError::DatatypeMismatch(String::new()), "42804"),
            (CairnError::WrongObjectType(String::new()), "42809"),
            (CairnError::UndefinedFunction(String::new()), "42883"),
            (CairnError::NumericValueOutOfRange(String::new()), "22003"),
            (CairnError::StringDataRightTruncation(String::new()), "22001"),
            (CairnError::DivisionByZero, "22012"),
            (CairnError::InFailedSqlTransaction, "25P02"),
            (CairnError::InvalidParameterValue(String::new()), "22023"),
            (CairnError::InvalidTextRepresentation(String::new()), "22P02"),
            (CairnError::InvalidBinaryRepresentation(String::new()), "22P03"),
            (CairnError::CardinalityViolation(String::new()), "21000"),
            (CairnError::BadCopyFileFormat(String::new()), "22P04"),
            (CairnError::CharacterNotInRepertoire(String::new()), "22021"),
            (CairnError::NotNullViolation { table: "t".into(), column: "c".into(), detail: String::new() }, "23502"),
            (
                CairnError::UniqueViolation { constraint: "k".into(), detail: String::new() },
                "23505",
            ),
            (CairnError::AuthenticationFailed { user: "u".into() }, "28P01"),
            (CairnError::InsufficientPrivilege(String::new()), "42501"),
            (CairnError::UndefinedTable(String::new()), "42P01"),
            (CairnError::UndefinedColumn(String::new()), "42703"),
            (CairnError::DuplicateColumn(String::new()), "42701"),
            (CairnError::InvalidTableDefinition(String::new()), "42P16"),
            (CairnError::DuplicateTable(String::new()), "42P07"),
            (CairnError::InvalidColumnReference(String::new()), "42P10"),
            (CairnError::UndefinedObject(String::new()), "42704"),
            (CairnError::DuplicateObject(String::new()), "42710"),
            (CairnError::DuplicateSchema(String::new()), "42P06"),
            (CairnError::ReservedName(String::new()), "42939"),
            (CairnError::ObjectInUse(String::new()), "55006"),
            (CairnError::DependentObjectsStillExist(String::new()), "2BP01"),
            (CairnError::InvalidSchemaName(String::new()), "3F000"),
            (CairnError::ActiveSqlTransaction(String::new()), "25001"),
            (CairnError::InvalidCursorName(String::new()), "34000"),
            (CairnError::DuplicateCursor(String::new()), "42P03"),
            (CairnError::NoActiveSqlTransaction(String::new()), "25P01"),
            (CairnError::InvalidSavepoint(String::new()), "3B001"),
            (CairnError::SerializationFailure, "40001"),
            (CairnError::QueryCanceled(String::new()), "57014"),
            (CairnError::TooManyConnections, "53300"),
            (CairnError::SessionTerminated(String::new()), "57P01"),
            (CairnError::ProtocolViolation(String::new()), "08P01"),
            (CairnError::StackDepthExceeded(String::new()), "54001"),
            (CairnError::OutOfMemory(String::new()), "53200"),
            (CairnError::Storage(String::new()), "58030"),
            (CairnError::Internal(String::new()), "XX000"),
        ];
        for (error, code) in cases {
            assert_eq!(error.code().as_str(), code, "{error:?}");
        }
    }

    #[test]
    fn auth_failure_message_does_not_depend_on_the_cause() {
        let message = CairnError::AuthenticationFailed { user: "alice".into() }.to_string();
        assert_eq!(message, "password authentication failed for user \"alice\"");
    }
}
