//! Constants as PostgreSQL types them, settled in the plan SQL becomes
//! (before Describe reads its schema, so that it and execution agree):
//!
//! - an integer constant is `integer` (int4) when it fits, `bigint` when
//!   not; DataFusion makes every one Int64, so `SELECT 1` reached
//!   node-postgres as a string and `pg_typeof(1)` said `bigint`;
//! - arithmetic of two integer constants is folded checked (22003 on
//!   overflow), before the optimizer would fold it wrapping;
//! - a cast to `numeric` without precision keeps the value's own scale
//!   (`1.50::numeric` is `1.50`, `'3.250'::numeric` is `3.250`), where
//!   DataFusion casts to `numeric(38,10)`.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, FieldRef};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::Cast;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, Operator};

use cairn_types::CairnError;

/// Marks the field of a cast to `numeric` without precision (see
/// [`unconstrained_numeric`]).
const UNCONSTRAINED_NUMERIC: &str = "cairn.numeric_unconstrained";

/// What `numeric` (and `decimal`) without precision is planned as until
/// [`type_constants`] settles its scale: DataFusion's numeric(38,10),
/// marked.
pub fn unconstrained_numeric() -> FieldRef {
    let metadata = std::collections::HashMap::from([(UNCONSTRAINED_NUMERIC.to_owned(), String::new())]);
    Arc::new(Field::new("", DataType::Decimal128(38, 10), true).with_metadata(metadata))
}

/// Types the constants of `plan` as PostgreSQL does (see the module's
/// comment) and recomputes the schemas above them, keeping every
/// expression's name, which the plan above refers to. INSERT, UPDATE and DELETE are left
/// as they are: the values they write are typed as the table's columns
/// already (a bulk VALUES list is also where the walk would cost most).
/// LIMIT and OFFSET stay Int64.
///
/// Arithmetic of two integer constants is folded here, checked: the
/// optimizer would fold it with DataFusion's wrapping kernels before
/// `CheckedIntegerArithmetic` sees it, and PostgreSQL too fails such a
/// constant (`SELECT 2147483647 + 1`) when it folds it.
pub fn type_constants(plan: LogicalPlan) -> Result<LogicalPlan> {
    if matches!(plan, LogicalPlan::Dml(_)) {
        return Ok(plan);
    }
    plan.transform_up_with_subqueries(|node| {
        if matches!(node, LogicalPlan::Limit(_)) {
            return Ok(Transformed::no(node));
        }
        if let LogicalPlan::Values(values) = &node {
            let mut changed = false;
            let rows: Vec<Vec<Expr>> = values
                .values
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|expr| {
                            let narrowed = expr.clone().transform_up(narrow_literal)?;
                            changed |= narrowed.transformed;
                            Ok(narrowed.data)
                        })
                        .collect::<Result<_>>()
                })
                .collect::<Result<_>>()?;
            if !changed {
                return Ok(Transformed::no(node));
            }
            return Ok(Transformed::yes(LogicalPlanBuilder::values(rows)?.build()?));
        }
        let schema: Option<Arc<DFSchema>> = match node.inputs().as_slice() {
            [input] => Some(Arc::clone(input.schema())),
            _ => None,
        };
        let names = NamePreserver::new(&node);
        let rewritten = node.map_expressions(|expr| {
            let name = names.save(&expr);
            let typed = expr.transform_up(|expr| {
                narrow_literal(expr)?.transform_data(|expr| unconstrained_cast(expr, schema.as_deref()))
            })?;
            Ok(typed.update_data(|expr| name.restore(expr)))
        })?;
        match rewritten.transformed {
            true => rewritten.map_data(LogicalPlan::recompute_schema),
            false => Ok(rewritten),
        }
    })
    .map(|transformed| transformed.data)
}

fn narrow_literal(expr: Expr) -> Result<Transformed<Expr>> {
    use datafusion::logical_expr::BinaryExpr as Binary;
    if let Expr::BinaryExpr(Binary { left, op, right }) = &expr {
        if let (Expr::Literal(l, None), Expr::Literal(r, None)) = (left.as_ref(), right.as_ref()) {
            if let Some(folded) = fold_integers(l, *op, r)? {
                return Ok(Transformed::yes(Expr::Literal(folded, None)));
            }
        }
    }
    Ok(match expr {
        Expr::Literal(ScalarValue::Int64(Some(value)), metadata) => match i32::try_from(value) {
            Ok(value) => Transformed::yes(Expr::Literal(ScalarValue::Int32(Some(value)), metadata)),
            Err(_) => Transformed::no(Expr::Literal(ScalarValue::Int64(Some(value)), metadata)),
        },
        other => Transformed::no(other),
    })
}

/// `l op r` for two integer constants and `+`, `-` or `*`: as int4 if
/// both are, else as int8; 22003 if it overflows. `None` for any other.
fn fold_integers(l: &ScalarValue, op: Operator, r: &ScalarValue) -> Result<Option<ScalarValue>> {
    let apply = |a: i64, b: i64| match op {
        Operator::Plus => Some(a.checked_add(b)),
        Operator::Minus => Some(a.checked_sub(b)),
        Operator::Multiply => Some(a.checked_mul(b)),
        _ => None,
    };
    let out_of_range = |name: &str| cairn_tables::error::to_df(CairnError::NumericValueOutOfRange(format!("{name} out of range")));
    Ok(match (l, r) {
        (ScalarValue::Int32(Some(a)), ScalarValue::Int32(Some(b))) => match apply(i64::from(*a), i64::from(*b)) {
            None => None,
            Some(value) => {
                let value = value.and_then(|v| i32::try_from(v).ok()).ok_or_else(|| out_of_range("integer"))?;
                Some(ScalarValue::Int32(Some(value)))
            }
        },
        (ScalarValue::Int32(Some(_)) | ScalarValue::Int64(Some(_)), ScalarValue::Int32(Some(_)) | ScalarValue::Int64(Some(_))) => {
            let wide = |v: &ScalarValue| match v {
                ScalarValue::Int32(Some(v)) => i64::from(*v),
                ScalarValue::Int64(Some(v)) => *v,
                _ => 0,
            };
            match apply(wide(l), wide(r)) {
                None => None,
                Some(value) => Some(ScalarValue::Int64(Some(value.ok_or_else(|| out_of_range("bigint"))?))),
            }
        }
        _ => None,
    })
}


/// A cast to numeric without precision: of a numeric, nothing; of an
/// integer constant, numeric with scale 0; of a text constant, numeric
/// with the scale the text is written with. Any other cast is left to
/// Arrow (scale 10); a parameter's cast stays, as it types the parameter.
fn unconstrained_cast(expr: Expr, schema: Option<&DFSchema>) -> Result<Transformed<Expr>> {
    let Expr::Cast(Cast { expr: inner, field }) = expr else { return Ok(Transformed::no(expr)) };
    if !field.metadata().contains_key(UNCONSTRAINED_NUMERIC) {
        return Ok(Transformed::no(Expr::Cast(Cast { expr: inner, field })));
    }
    let numeric = |value: i128, scale: i8| Expr::Literal(ScalarValue::Decimal128(Some(value), 38, scale), None);
    let settled = match inner.as_ref() {
        Expr::Literal(ScalarValue::Int32(Some(v)), _) => Some(numeric(i128::from(*v), 0)),
        Expr::Literal(ScalarValue::Int64(Some(v)), _) => Some(numeric(i128::from(*v), 0)),
        Expr::Literal(ScalarValue::Utf8(Some(text)) | ScalarValue::Utf8View(Some(text)), _) => {
            let scale = written_scale(text.trim());
            scale
                .and_then(|scale| datafusion::arrow::compute::kernels::cast_utils::parse_decimal::<Decimal128Type>(text.trim(), 38, scale).ok().map(|v| numeric(v, scale)))
        }
        Expr::Placeholder(_) => None,
        other => match schema.and_then(|schema| other.get_type(schema).ok()) {
            Some(DataType::Decimal128(..)) => Some(other.clone()),
            _ => None,
        },
    };
    Ok(match settled {
        Some(expr) => Transformed::yes(expr),
        None => Transformed::no(Expr::Cast(Cast { expr: inner, field })),
    })
}

/// The scale a number is written with: its digits after the point, less
/// its exponent (`1.50` 2, `1.5e-3` 4, `1e3` 0); `None` if it is not a
/// plain number or needs more than 38 digits.
fn written_scale(text: &str) -> Option<i8> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], text[at + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let mantissa = mantissa.trim_start_matches(['+', '-']);
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if !integer.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) || integer.len() + fraction.len() == 0 {
        return None;
    }
    let scale = (fraction.len() as i32 - exponent).max(0);
    (integer.len() as i32 + scale <= 38).then_some(scale as i8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_is_as_precise_as_it_is_written() {
        assert_eq!(written_scale("1.50"), Some(2));
        assert_eq!(written_scale("-0.5"), Some(1));
        assert_eq!(written_scale("1.5e-3"), Some(4));
        assert_eq!(written_scale("1e3"), Some(0));
        assert_eq!(written_scale("12"), Some(0));
        assert_eq!(written_scale("abc"), None);
        assert_eq!(written_scale("NaN"), None);
    }
}
