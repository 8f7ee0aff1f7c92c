//! Errors across the DataFusion boundary. CairnDB errors travel through
//! DataFusion inside `DataFusionError::External` and are recovered by
//! walking the source chain; DataFusion's own errors are classified into
//! SQLSTATEs here, in one place.

use cairn_types::CairnError;
use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;

/// A statement that panicked: the panic was caught where the statement
/// ran, so the session goes on.
pub fn panicked() -> CairnError {
    CairnError::Internal("the statement panicked; the connection is still usable".into())
}

/// Wraps a CairnDB error for DataFusion.
pub fn to_df(error: CairnError) -> DataFusionError {
    DataFusionError::External(Box::new(error))
}

/// The CairnDB error a DataFusion error stands for.
pub fn from_df(error: DataFusionError) -> CairnError {
    // A CairnDB error anywhere in the chain wins.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(current) = source {
        if let Some(cairn) = current.downcast_ref::<CairnError>() {
            return cairn.clone();
        }
        source = current.source();
    }
    classify(error.find_root())
}

/// The error PostgreSQL gives when a statement nests too deeply.
pub fn too_deep() -> CairnError {
    CairnError::StackDepthExceeded(
        "stack depth limit exceeded: the statement nests too deeply; simplify it".into(),
    )
}

/// A parser's error: 54001 past its recursion limit, else 42601.
pub fn from_parser(error: ParserError) -> CairnError {
    match error {
        ParserError::RecursionLimitExceeded => too_deep(),
        other => {
            let text = other.to_string();
            let text = text.strip_prefix("sql parser error: ").unwrap_or(&text);
            CairnError::Syntax(format!("syntax error: {text}"))
        }
    }
}

fn classify(error: &DataFusionError) -> CairnError {
    let message = error.message().into_owned();
    // `(value).field` on a value that is not composite (get_field's check).
    if let Some((_, rest)) = message.split_once("Cannot access field at argument 1: type ") {
        let data_type = rest.split_once(" is not").map_or(rest, |(data_type, _)| data_type);
        return CairnError::WrongObjectType(format!(
            "column notation applied to type {data_type}, which is not a composite type"
        ));
    }
    // The regex crate's refusal of a pattern, however DataFusion wraps it:
    // its first line says why (`regex parse error:` and the pattern follow).
    if let Some(at) = message.find("regex parse error") {
        let why = message[at..].lines().find(|line| line.trim_start().starts_with("error:")).map_or("", str::trim);
        let why = why.strip_prefix("error: ").unwrap_or(why);
        return CairnError::InvalidRegularExpression(format!("invalid regular expression: {why}"));
    }
    match error {
        DataFusionError::SQL(parser_error, _) => from_parser(parser_error.as_ref().clone()),
        DataFusionError::NotImplemented(_) => CairnError::FeatureNotSupported(message),
        // The memory pools' own messages (`crate::memory`).
        DataFusionError::ResourcesExhausted(m) => CairnError::OutOfMemory(m.clone()),
        DataFusionError::SchemaError(schema_error, _) => match schema_error.as_ref() {
            // As PostgreSQL: a qualifier that names no relation in scope
            // is the error; a bare name is quoted, a qualified one not.
            datafusion::common::SchemaError::FieldNotFound { field, valid_fields } => match &field.relation {
                Some(relation) if !valid_fields.iter().any(|valid| valid.relation.as_ref().is_some_and(|r| r.table() == relation.table())) => {
                    CairnError::UndefinedTable(format!("missing FROM-clause entry for table \"{}\"", relation.table()))
                }
                Some(relation) => CairnError::UndefinedColumn(format!("column {relation}.{} does not exist", field.name)),
                None => CairnError::UndefinedColumn(format!("column \"{}\" does not exist", field.name)),
            },
            _ => CairnError::Plan(message),
        },
        DataFusionError::Plan(plan) => classify_plan(plan),
        DataFusionError::ArrowError(arrow, _) => match arrow.as_ref() {
            ArrowError::DivideByZero => CairnError::DivisionByZero,
            ArrowError::CastError(m) | ArrowError::ParseError(m) => invalid_text(m),
            ArrowError::ArithmeticOverflow(m) => CairnError::NumericValueOutOfRange(m.clone()),
            _ => internal(error),
        },
        DataFusionError::Execution(m) if m.contains("Divide by zero") => CairnError::DivisionByZero,
        DataFusionError::Execution(m) if m.contains("Cannot cast") => invalid_text(m),
        DataFusionError::Execution(m) if m.contains("Overflow") || m.contains("overflow") => {
            CairnError::NumericValueOutOfRange(m.clone())
        }
        _ => internal(error),
    }
}

/// A failed cast of text, in PostgreSQL's words where Arrow's say which
/// text and type: `Cannot cast string 'abc' to value of Int32 type` is
/// `invalid input syntax for type integer: "abc"` (booleans: `Cannot cast
/// value 'maybe' to value of Boolean type`).
fn invalid_text(message: &str) -> CairnError {
    let text_and_type = message
        .split_once("Cannot cast string '")
        .or_else(|| message.split_once("Cannot cast value '"))
        .map(|(_, rest)| rest);
    let parsed = text_and_type.and_then(|rest| {
        let (text, rest) = rest.rsplit_once("' to value of ")?;
        let arrow_type = rest.strip_suffix(" type")?;
        let pg_type = match arrow_type {
            "Int16" => "smallint",
            "Int32" => "integer",
            "Int64" => "bigint",
            "Float32" => "real",
            "Float64" => "double precision",
            "Boolean" => "boolean",
            name if name.starts_with("Decimal") => "numeric",
            _ => return None,
        };
        // A well-formed integer too large for its type is out of range,
        // not invalid (PostgreSQL's 22003).
        let integer = text.trim();
        let digits = integer.strip_prefix(['-', '+']).unwrap_or(integer);
        if matches!(pg_type, "smallint" | "integer" | "bigint") {
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                return Some(CairnError::NumericValueOutOfRange(format!(
                    "value \"{text}\" is out of range for type {pg_type}"
                )));
            }
        }
        Some(CairnError::InvalidTextRepresentation(format!("invalid input syntax for type {pg_type}: \"{text}\"")))
    });
    parsed.unwrap_or_else(|| CairnError::InvalidTextRepresentation(message.to_owned()))
}

/// Planning errors: DataFusion says what went wrong only in its message.
fn classify_plan(message: &str) -> CairnError {
    if let Some(rest) = message.strip_prefix("table '") {
        if let Some(name) = rest.strip_suffix("' not found") {
            let name = name.rsplit('.').next().unwrap_or(name);
            return CairnError::UndefinedTable(format!("relation \"{name}\" does not exist"));
        }
    }
    // `SessionContext::table_provider`'s wording.
    if let Some(name) = message.strip_prefix("No table named '").and_then(|rest| rest.strip_suffix('\'')) {
        return CairnError::UndefinedTable(format!("relation \"{name}\" does not exist"));
    }
    if let Some(name) = message.strip_prefix("failed to resolve schema: ") {
        return CairnError::UndefinedTable(format!("schema \"{name}\" does not exist"));
    }
    for kind in ["DDL", "DML", "Statement"] {
        if message.starts_with(&format!("{kind} not supported")) {
            return CairnError::FeatureNotSupported(format!(
                "{message}: CairnDB does not support this statement yet"
            ));
        }
    }
    if message.contains("Invalid function") || message.contains("No function matches") {
        return CairnError::UndefinedFunction(message.to_owned());
    }
    if message.contains("Cannot infer common argument type")
        || message.contains("Cannot coerce")
        || message.contains("There isn't a common type")
    {
        return CairnError::DatatypeMismatch(message.to_owned());
    }
    CairnError::Plan(message.to_owned())
}

fn internal(error: &DataFusionError) -> CairnError {
    tracing::error!(%error, "unclassified DataFusion error");
    CairnError::Internal(error.message().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_cast_of_text_reads_as_postgresql_says_it() {
        let cases = [
            ("Cast error: Cannot cast string 'abc' to value of Int32 type", "invalid input syntax for type integer: \"abc\""),
            ("Cannot cast string 'it's' to value of Int64 type", "invalid input syntax for type bigint: \"it's\""),
            ("Cannot cast string '1.x' to value of Decimal128(10, 2) type", "invalid input syntax for type numeric: \"1.x\""),
            ("Cannot cast value 'maybe' to value of Boolean type", "invalid input syntax for type boolean: \"maybe\""),
            ("Cannot cast string 'x' to value of Utf8View type", "Cannot cast string 'x' to value of Utf8View type"),
        ];
        for (arrow, postgres) in cases {
            let CairnError::InvalidTextRepresentation(message) = super::invalid_text(arrow) else { panic!("22P02") };
            assert_eq!(message, postgres);
        }
    }

    #[test]
    fn cairn_errors_survive_the_round_trip() {
        let original = CairnError::InsufficientPrivilege("no".into());
        let wrapped = DataFusionError::Context("scan".into(), Box::new(to_df(original.clone())));
        assert_eq!(from_df(wrapped), original);
    }

    #[test]
    fn missing_tables_and_division_by_zero_get_their_codes() {
        let error = from_df(DataFusionError::Plan("table 'cairn.system.nope' not found".into()));
        assert_eq!(error.code().as_str(), "42P01");
        assert_eq!(error.to_string(), "relation \"nope\" does not exist");
        let error = from_df(DataFusionError::ArrowError(Box::new(ArrowError::DivideByZero), None));
        assert_eq!(error.code().as_str(), "22012");
    }
}
