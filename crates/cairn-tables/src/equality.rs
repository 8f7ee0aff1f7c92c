//! The filters a scan can answer from keys and indexes.

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, Operator};

/// `column = v`, `column IN (v, …)`, an OR of equalities on one column (as
/// DataFusion rewrites short IN lists), or `column IS NULL` (a `None`).
pub struct Equality<'e> {
    pub column: &'e str,
    pub values: Vec<Option<&'e ScalarValue>>,
}

pub fn equality(filter: &Expr) -> Option<Equality<'_>> {
    match filter {
        Expr::BinaryExpr(binary) if binary.op == Operator::Or => {
            let mut left = equality(&binary.left)?;
            let right = equality(&binary.right)?;
            if left.column != right.column {
                return None;
            }
            left.values.extend(right.values);
            Some(left)
        }
        Expr::BinaryExpr(binary) if binary.op == Operator::Eq => match (binary.left.as_ref(), binary.right.as_ref()) {
            (Expr::Column(column), Expr::Literal(value, _)) | (Expr::Literal(value, _), Expr::Column(column)) => {
                Some(Equality { column: &column.name, values: vec![Some(value)] })
            }
            _ => None,
        },
        Expr::InList(in_list) if !in_list.negated => {
            let Expr::Column(column) = in_list.expr.as_ref() else { return None };
            let values = in_list
                .list
                .iter()
                .map(|e| match e {
                    Expr::Literal(value, _) => Some(Some(value)),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?;
            Some(Equality { column: &column.name, values })
        }
        Expr::IsNull(inner) => match inner.as_ref() {
            Expr::Column(column) => Some(Equality { column: &column.name, values: vec![None] }),
            _ => None,
        },
        _ => None,
    }
}

/// `column < v`, `v <= column`, `column BETWEEN a AND b`, …: bounds on one
/// column; each bound is a value and whether it is inclusive.
pub struct Range<'e> {
    pub column: &'e str,
    pub lower: Option<(&'e ScalarValue, bool)>,
    pub upper: Option<(&'e ScalarValue, bool)>,
}

pub fn range(filter: &Expr) -> Option<Range<'_>> {
    match filter {
        Expr::BinaryExpr(binary) => {
            // Normalised to `column op value`.
            let (column, op, value) = match (binary.left.as_ref(), binary.right.as_ref()) {
                (Expr::Column(column), Expr::Literal(value, _)) => (column, binary.op, value),
                (Expr::Literal(value, _), Expr::Column(column)) => (column, binary.op.swap()?, value),
                _ => return None,
            };
            if value.is_null() {
                return None;
            }
            let column = column.name.as_str();
            match op {
                Operator::Gt => Some(Range { column, lower: Some((value, false)), upper: None }),
                Operator::GtEq => Some(Range { column, lower: Some((value, true)), upper: None }),
                Operator::Lt => Some(Range { column, lower: None, upper: Some((value, false)) }),
                Operator::LtEq => Some(Range { column, lower: None, upper: Some((value, true)) }),
                _ => None,
            }
        }
        Expr::Between(between) if !between.negated => {
            let Expr::Column(column) = between.expr.as_ref() else { return None };
            let (Expr::Literal(low, _), Expr::Literal(high, _)) = (between.low.as_ref(), between.high.as_ref()) else {
                return None;
            };
            if low.is_null() || high.is_null() {
                return None;
            }
            Some(Range { column: &column.name, lower: Some((low, true)), upper: Some((high, true)) })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_from_comparisons_and_between() {
        let bounds = |expr: Expr| {
            range(&expr).map(|r| (r.column.to_owned(), r.lower.map(|(_, inclusive)| inclusive), r.upper.map(|(_, inclusive)| inclusive)))
        };
        assert_eq!(bounds(col("a").gt(lit(1i64))), Some(("a".into(), Some(false), None)));
        assert_eq!(bounds(lit(1i64).lt_eq(col("a"))), Some(("a".into(), Some(true), None)));
        assert_eq!(bounds(col("a").lt(lit(1i64))), Some(("a".into(), None, Some(false))));
        assert_eq!(bounds(col("a").between(lit(1i64), lit(5i64))), Some(("a".into(), Some(true), Some(true))));
        assert_eq!(bounds(col("a").not_between(lit(1i64), lit(5i64))), None);
        assert_eq!(bounds(col("a").eq(lit(1i64))), None);
    }
    use datafusion::logical_expr::{col, lit};

    /// (column, number of values) of the equality `expr` is, if it is one.
    fn shape(expr: Expr) -> Option<(String, usize)> {
        equality(&expr).map(|e| (e.column.to_owned(), e.values.len()))
    }

    #[test]
    fn equalities_in_lists_ors_and_is_null() {
        assert_eq!(shape(col("a").eq(lit(1i64))), Some(("a".into(), 1)));
        assert_eq!(shape(lit(1i64).eq(col("a"))), Some(("a".into(), 1)));
        assert_eq!(shape(col("a").in_list(vec![lit(1i64), lit(2i64)], false)), Some(("a".into(), 2)));
        assert_eq!(shape(col("a").eq(lit(1i64)).or(col("a").eq(lit(2i64)))), Some(("a".into(), 2)));
        assert_eq!(shape(col("a").eq(lit(1i64)).or(col("b").eq(lit(2i64)))), None);
        assert_eq!(shape(col("a").in_list(vec![lit(1i64)], true)), None);
        assert_eq!(shape(col("a").gt(lit(1i64))), None);
        let is_null = col("a").is_null();
        assert_eq!(equality(&is_null).map(|e| e.values), Some(vec![None]));
    }
}
