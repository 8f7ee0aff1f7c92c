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
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, Operator, Union};

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
    // A recursive CTE's work table keeps the types it was planned with,
    // which its recursive term reads: retyping its constants would make
    // the two terms disagree. Such a statement keeps DataFusion's types.
    let recursive = plan
        .exists(|node| Ok(matches!(node, LogicalPlan::RecursiveQuery(_))))
        .unwrap_or(false);
    if recursive {
        return Ok(plan);
    }
    let typed = plan.transform_up_with_subqueries(|node| {
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
    })?;
    if !typed.transformed {
        return Ok(typed.data);
    }
    // A node above a retyped one keeps the types it was built with (a
    // projection over a sort over the projection that changed): every
    // schema is recomputed, inputs first, or Describe would announce a
    // bigint the rows then bring as an integer.
    typed.data.transform_up_with_subqueries(|node| recompute_schema(node).map(Transformed::yes)).map(|t| t.data)
}

/// `node` with its schema made again from its inputs'. A UNION's too:
/// DataFusion keeps the one it was planned with (its type coercion then
/// casts `SELECT 1 UNION SELECT 2` to the bigint the constants were),
/// so it is derived again, as the SQL planner does, from the first input.
fn recompute_schema(node: LogicalPlan) -> Result<LogicalPlan> {
    match node {
        LogicalPlan::Union(union) => Ok(LogicalPlan::Union(Union::try_new_with_loose_types(union.inputs)?)),
        node => node.recompute_schema(),
    }
}

fn narrow_literal(expr: Expr) -> Result<Transformed<Expr>> {
    use datafusion::logical_expr::BinaryExpr as Binary;
    match &expr {
        Expr::BinaryExpr(Binary { left, op, right }) => {
            if let (Some(l), Some(r)) = (Integer::of(left), Integer::of(right)) {
                if let Some(folded) = fold_integers(l, *op, r)? {
                    return Ok(Transformed::yes(folded.literal()));
                }
            }
        }
        // `32767::int2`, `40000::int2` (22003), as the constant they are:
        // folded later, the cast would be gone before arithmetic on it.
        Expr::Cast(Cast { expr: inner, field }) => {
            if let (Some(value), Some(width)) = (Integer::of(inner), Width::of(field.data_type())) {
                return Ok(Transformed::yes(Integer::new(i128::from(value.value), width)?.literal()));
            }
        }
        Expr::Negative(inner) => {
            if let Some(value) = Integer::of(inner) {
                return Ok(Transformed::yes(Integer::new(-i128::from(value.value), value.width)?.literal()));
            }
        }
        _ => {}
    }
    Ok(match expr {
        Expr::Literal(ScalarValue::Int64(Some(value)), metadata) => match i32::try_from(value) {
            Ok(value) => Transformed::yes(Expr::Literal(ScalarValue::Int32(Some(value)), metadata)),
            Err(_) => Transformed::no(Expr::Literal(ScalarValue::Int64(Some(value)), metadata)),
        },
        other => Transformed::no(other),
    })
}

/// The widths of PostgreSQL's integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Width {
    Small,
    Integer,
    Big,
}

impl Width {
    fn of(data_type: &DataType) -> Option<Width> {
        match data_type {
            DataType::Int16 => Some(Width::Small),
            DataType::Int32 => Some(Width::Integer),
            DataType::Int64 => Some(Width::Big),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Width::Small => "smallint",
            Width::Integer => "integer",
            Width::Big => "bigint",
        }
    }

    fn range(self) -> std::ops::RangeInclusive<i128> {
        match self {
            Width::Small => i128::from(i16::MIN)..=i128::from(i16::MAX),
            Width::Integer => i128::from(i32::MIN)..=i128::from(i32::MAX),
            Width::Big => i128::from(i64::MIN)..=i128::from(i64::MAX),
        }
    }
}

/// An integer constant of one width.
#[derive(Debug, Clone, Copy)]
struct Integer {
    value: i64,
    width: Width,
}

impl Integer {
    fn of(expr: &Expr) -> Option<Integer> {
        let (value, width) = match expr {
            Expr::Literal(ScalarValue::Int16(Some(v)), None) => (i64::from(*v), Width::Small),
            Expr::Literal(ScalarValue::Int32(Some(v)), None) => (i64::from(*v), Width::Integer),
            Expr::Literal(ScalarValue::Int64(Some(v)), None) => (*v, Width::Big),
            _ => return None,
        };
        Some(Integer { value, width })
    }

    /// `value` as an integer of `width`; 22003 if it does not fit.
    fn new(value: i128, width: Width) -> Result<Integer> {
        match i64::try_from(value) {
            Ok(fits) if width.range().contains(&value) => Ok(Integer { value: fits, width }),
            _ => Err(cairn_tables::error::to_df(CairnError::NumericValueOutOfRange(format!(
                "{} out of range",
                width.name()
            )))),
        }
    }

    fn literal(self) -> Expr {
        let value = self.value;
        Expr::Literal(
            match self.width {
                Width::Small => ScalarValue::Int16(Some(value as i16)),
                Width::Integer => ScalarValue::Int32(Some(value as i32)),
                Width::Big => ScalarValue::Int64(Some(value)),
            },
            None,
        )
    }
}

/// `l op r` for two integer constants and an arithmetic operator, in the
/// wider of their widths, as PostgreSQL computes it: 22003 past the
/// width, 22012 for a zero divisor. `None` for any other operator.
fn fold_integers(l: Integer, op: Operator, r: Integer) -> Result<Option<Integer>> {
    let (a, b) = (i128::from(l.value), i128::from(r.value));
    let value = match op {
        Operator::Plus => a + b,
        Operator::Minus => a - b,
        Operator::Multiply => a * b,
        Operator::Divide | Operator::Modulo if b == 0 => {
            return Err(cairn_tables::error::to_df(CairnError::DivisionByZero));
        }
        // Both truncate toward zero and keep the dividend's sign, as in
        // PostgreSQL.
        Operator::Divide => a / b,
        Operator::Modulo => a % b,
        _ => return Ok(None),
    };
    Integer::new(value, l.width.max(r.width)).map(Some)
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
