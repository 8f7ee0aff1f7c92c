//! Column defaults: the few expressions CairnDB evaluates when an INSERT
//! leaves a column out.

use std::sync::Arc;

use cairn_types::{CairnError, Result};
use datafusion::logical_expr::{lit, Expr as DfExpr, ScalarUDF};
use datafusion::sql::sqlparser::ast::{Expr, FunctionArguments, UnaryOperator, Value};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// The functions a default may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DefaultFunction {
    Now,
    CurrentUser,
    SnowflakeId,
    RandomUuid,
}

fn function(expr: &Expr) -> Option<DefaultFunction> {
    let Expr::Function(function) = expr else { return None };
    let name = function.name.to_string().to_ascii_lowercase();
    let no_args = match &function.args {
        FunctionArguments::None => true,
        FunctionArguments::List(list) => list.args.is_empty(),
        FunctionArguments::Subquery(_) => false,
    };
    match (name.as_str(), no_args) {
        ("now" | "current_timestamp", true) => Some(DefaultFunction::Now),
        ("current_user" | "session_user" | "user", true) => Some(DefaultFunction::CurrentUser),
        ("snowflake_id", true) => Some(DefaultFunction::SnowflakeId),
        ("gen_random_uuid" | "uuid_generate_v4", true) => Some(DefaultFunction::RandomUuid),
        _ => None,
    }
}

fn unsupported(expr: &Expr) -> CairnError {
    CairnError::FeatureNotSupported(format!(
        "DEFAULT {expr} is not supported: use a literal, now(), current_timestamp, current_user, snowflake_id() or gen_random_uuid()"
    ))
}

/// Refuses defaults CairnDB cannot evaluate (checked at CREATE TABLE).
pub fn check(expr: &Expr) -> Result<()> {
    match expr {
        Expr::Value(_) => Ok(()),
        Expr::UnaryOp { op: UnaryOperator::Minus | UnaryOperator::Plus, expr } if matches!(**expr, Expr::Value(_)) => Ok(()),
        Expr::Cast { expr: inner, .. } => check(inner),
        Expr::Nested(inner) => check(inner),
        other if function(other).is_some() => Ok(()),
        other => Err(unsupported(other)),
    }
}

/// For a stored default that gives each row its own value, how to make
/// one (rows that exist when a column is added each get a fresh one).
pub fn per_row(sql: &str) -> Result<Option<fn() -> cairn_types::Value>> {
    Ok(match function(&parse(sql)?) {
        Some(DefaultFunction::SnowflakeId) => Some(|| cairn_types::Value::Int64(crate::snowflake::next_id())),
        Some(DefaultFunction::RandomUuid) => Some(|| cairn_types::Value::Text(uuid::Uuid::new_v4().hyphenated().to_string())),
        _ => None,
    })
}

/// A stored default expression's tree.
pub fn parse(sql: &str) -> Result<Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut parser| parser.parse_expr())
        .map_err(|e| CairnError::Internal(format!("stored default {sql} does not parse: {e}")))
}

/// The DataFusion expression for a stored default.
pub fn to_expr(sql: &str, user: &str, snowflake: &Arc<ScalarUDF>) -> Result<DfExpr> {
    convert(&parse(sql)?, user, snowflake)
}

fn convert(expr: &Expr, user: &str, snowflake: &Arc<ScalarUDF>) -> Result<DfExpr> {
    if let Some(function) = function(expr) {
        return Ok(match function {
            DefaultFunction::Now => datafusion::functions::datetime::expr_fn::now(),
            DefaultFunction::CurrentUser => lit(user.to_owned()),
            DefaultFunction::SnowflakeId => snowflake.call(vec![]),
            DefaultFunction::RandomUuid => crate::functions::gen_random_uuid_udf().call(vec![]),
        });
    }
    match expr {
        Expr::Nested(inner) => convert(inner, user, snowflake),
        Expr::UnaryOp { op: UnaryOperator::Minus, expr: inner } => {
            Ok(DfExpr::Negative(Box::new(convert(inner, user, snowflake)?)))
        }
        Expr::UnaryOp { op: UnaryOperator::Plus, expr: inner } => convert(inner, user, snowflake),
        Expr::Cast { expr: inner, .. } => convert(inner, user, snowflake),
        Expr::Value(value) => Ok(match &value.value {
            Value::Number(n, _) => match n.parse::<i64>() {
                Ok(i) => lit(i),
                Err(_) => lit(n.parse::<f64>().map_err(|_| unsupported(expr))?),
            },
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => lit(s.clone()),
            Value::Boolean(b) => lit(*b),
            Value::Null => lit(datafusion::common::ScalarValue::Null),
            _ => return Err(unsupported(expr)),
        }),
        other => Err(unsupported(other)),
    }
}
