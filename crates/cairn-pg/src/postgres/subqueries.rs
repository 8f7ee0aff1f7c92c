//! Correlated scalar subqueries restated in forms DataFusion decorrelates.
//!
//! DataFusion turns a correlated scalar subquery into a join when it is an
//! aggregate and every condition that mentions the outer query is an
//! equality between an outer and an inner column. psql's `\d` sends
//! subqueries outside that shape, such as
//!
//! ```sql
//! (SELECT pg_get_expr(d.adbin, d.adrelid, true) FROM pg_attrdef d
//!  WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef)
//! ```
//!
//! Three restatements, each exact for subqueries that find at most one
//! row (the only kind PostgreSQL accepts as a value):
//!
//! - the value becomes `single_value(v)`, an aggregate (which fails with
//!   21000 on a second row, as PostgreSQL does: see [`single_row`], which
//!   does the same for every plain scalar subquery);
//! - conditions on the outer row alone (`a.atthasdef`) move out, to
//!   `CASE WHEN a.atthasdef THEN (SELECT …) END`;
//! - in other conditions an outer column that an equality ties to an
//!   inner one (`c.oid = a.attcollation`) is replaced by that inner column,
//!   so `a.attcollation <> t.typcollation` reads `c.oid <> t.typcollation`.

use std::collections::{HashMap, HashSet};

use datafusion::sql::sqlparser::ast::{self, BinaryOperator, Expr};

/// Aggregates DataFusion knows: a subquery selecting one of these already
/// returns one row.
const AGGREGATES: [&str; 15] = [
    super::single_value::SINGLE_VALUE,
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "array_agg",
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
    "first_value",
    "last_value",
    "stddev",
    "variance",
];

/// Restates `expr` if it is a correlated scalar subquery DataFusion would
/// not plan as written.
pub(super) fn restate(expr: &mut Expr) {
    let Expr::Subquery(query) = expr else { return };
    let ast::SetExpr::Select(select) = query.body.as_mut() else {
        return;
    };
    if select.selection.is_none() || !is_plain(select) || query.limit_clause.is_some() {
        return;
    }
    let inner = relation_names(&select.from);
    let Some(selection) = select.selection.take() else {
        return;
    };
    let mut conditions = Vec::new();
    split_conjunction(selection, &mut conditions);

    let ties = outer_ties(&conditions, &inner);
    let mut outer_only = Vec::new();
    let mut kept = Vec::new();
    for mut condition in conditions {
        match columns_of(&condition, &inner) {
            Some(Sides {
                inner: false,
                outer: true,
            }) => outer_only.push(condition),
            Some(Sides {
                inner: true,
                outer: true,
            }) if tie(&condition, &inner).is_none() => {
                replace_outer_columns(&mut condition, &ties, &inner);
                kept.push(condition);
            }
            _ => kept.push(condition),
        }
    }
    select.selection = conjunction(kept);
    if select.selection.is_some() {
        aggregate_single_value(select);
    }
    if let Some(condition) = conjunction(outer_only) {
        let subquery = std::mem::replace(expr, Expr::value(ast::Value::Null));
        *expr = Expr::Case {
            case_token: ast::helpers::attached_token::AttachedToken::empty(),
            end_token: ast::helpers::attached_token::AttachedToken::empty(),
            operand: None,
            conditions: vec![ast::CaseWhen {
                condition,
                result: subquery,
            }],
            else_result: None,
        };
    }
}

fn is_plain(select: &ast::Select) -> bool {
    select.having.is_none()
        && select.distinct.is_none()
        && matches!(&select.group_by, ast::GroupByExpr::Expressions(keys, _) if keys.is_empty())
}

/// A scalar subquery that selects one value of rows it filters, without
/// grouping, ordering or a limit, selects `single_value(v)`: its one row's
/// value, NULL for none, 21000 for more. (DataFusion would join the rows
/// in and answer for any one of them.) The subquery of `= ANY (…)` and
/// `> ALL (…)` is a set, not a value: [`as_set`] undoes this for it.
pub(super) fn single_row(expr: &mut Expr) {
    let Expr::Subquery(query) = expr else { return };
    if query.limit_clause.is_some() || query.order_by.is_some() || query.fetch.is_some() {
        return;
    }
    let ast::SetExpr::Select(select) = query.body.as_mut() else { return };
    if !select.from.is_empty() && is_plain(select) {
        aggregate_single_value(select);
    }
}

/// `x op ANY (SELECT single_value(v) …)` reads `x op ANY (SELECT v …)`.
pub(super) fn as_set(expr: &mut Expr) {
    let (Expr::AnyOp { right, .. } | Expr::AllOp { right, .. }) = expr else { return };
    let Expr::Subquery(query) = right.as_mut() else { return };
    let ast::SetExpr::Select(select) = query.body.as_mut() else { return };
    let [ast::SelectItem::UnnamedExpr(value) | ast::SelectItem::ExprWithAlias { expr: value, .. }] =
        select.projection.as_mut_slice()
    else {
        return;
    };
    if let Expr::Function(function) = value {
        let single = function.name.0.last().and_then(|p| p.as_ident()).is_some_and(|name| name.value == super::single_value::SINGLE_VALUE);
        if let (true, ast::FunctionArguments::List(list)) = (single, &function.args) {
            if let [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(inner))] = list.args.as_slice() {
                *value = inner.clone();
            }
        }
    }
}

/// `SELECT v` as `SELECT single_value(v)`, unless `v` is an aggregate.
fn aggregate_single_value(select: &mut ast::Select) {
    let [item] = select.projection.as_mut_slice() else {
        return;
    };
    let (ast::SelectItem::UnnamedExpr(value) | ast::SelectItem::ExprWithAlias { expr: value, .. }) =
        item
    else {
        return;
    };
    let aggregate = matches!(value, Expr::Function(f)
        if f.name.0.last().and_then(|p| p.as_ident()).is_some_and(|name| AGGREGATES.contains(&name.value.to_ascii_lowercase().as_str())));
    if aggregate {
        return;
    }
    *value = super::build::call(super::single_value::SINGLE_VALUE, [value.clone()]);
}

/// The names the subquery's own relations are referred to by.
fn relation_names(from: &[ast::TableWithJoins]) -> HashSet<String> {
    let factors = from
        .iter()
        .flat_map(|t| std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)));
    factors
        .filter_map(|factor| match factor {
            ast::TableFactor::Table {
                alias: Some(alias), ..
            }
            | ast::TableFactor::Derived {
                alias: Some(alias), ..
            } => Some(alias.name.value.to_lowercase()),
            ast::TableFactor::Table {
                name, alias: None, ..
            } => name
                .0
                .last()
                .and_then(|part| part.as_ident())
                .map(|ident| ident.value.to_lowercase()),
            _ => None,
        })
        .collect()
}

fn split_conjunction(expr: Expr, into: &mut Vec<Expr>) {
    match expr {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            split_conjunction(*left, into);
            split_conjunction(*right, into);
        }
        Expr::Nested(inner)
            if matches!(
                inner.as_ref(),
                Expr::BinaryOp {
                    op: BinaryOperator::And,
                    ..
                }
            ) =>
        {
            split_conjunction(*inner, into);
        }
        other => into.push(other),
    }
}

fn conjunction(conditions: Vec<Expr>) -> Option<Expr> {
    conditions.into_iter().reduce(|left, right| Expr::BinaryOp {
        left: Box::new(left),
        op: BinaryOperator::And,
        right: Box::new(right),
    })
}

/// Which sides of the correlation an expression's columns come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sides {
    inner: bool,
    outer: bool,
}

/// `qualifier.column` as (qualifier, column), lowercased.
fn qualified(expr: &Expr) -> Option<(String, String)> {
    match expr {
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
            Some((parts[0].value.to_lowercase(), parts[1].value.to_lowercase()))
        }
        _ => None,
    }
}

/// The sides `expr`'s columns come from; `None` when that cannot be told
/// (an unqualified column, or a nested subquery).
fn columns_of(expr: &Expr, inner: &HashSet<String>) -> Option<Sides> {
    let mut sides = Sides {
        inner: false,
        outer: false,
    };
    let mut known = true;
    let _ = ast::visit_expressions(expr, |e| {
        match e {
            Expr::Identifier(_)
            | Expr::Subquery(_)
            | Expr::Exists { .. }
            | Expr::InSubquery { .. } => known = false,
            Expr::CompoundIdentifier(_) => match qualified(e) {
                Some((qualifier, _)) if inner.contains(&qualifier) => sides.inner = true,
                Some(_) => sides.outer = true,
                None => known = false,
            },
            _ => {}
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    known.then_some(sides)
}

/// `inner.column = outer.column` (either way round), the form DataFusion
/// decorrelates: the outer column and the inner expression.
fn tie<'a>(condition: &'a Expr, inner: &HashSet<String>) -> Option<((String, String), &'a Expr)> {
    let Expr::BinaryOp {
        left,
        op: BinaryOperator::Eq,
        right,
    } = condition
    else {
        return None;
    };
    let (l, r) = (qualified(left)?, qualified(right)?);
    match (inner.contains(&l.0), inner.contains(&r.0)) {
        (true, false) => Some((r, left.as_ref())),
        (false, true) => Some((l, right.as_ref())),
        _ => None,
    }
}

/// Outer columns an equality ties to an inner column.
fn outer_ties(conditions: &[Expr], inner: &HashSet<String>) -> HashMap<(String, String), Expr> {
    conditions
        .iter()
        .filter_map(|c| tie(c, inner))
        .map(|(outer, inner)| (outer, inner.clone()))
        .collect()
}

fn replace_outer_columns(
    condition: &mut Expr,
    ties: &HashMap<(String, String), Expr>,
    inner: &HashSet<String>,
) {
    let _ = ast::visit_expressions_mut(condition, |e| {
        if let Some(column) = qualified(e).filter(|(qualifier, _)| !inner.contains(qualifier)) {
            if let Some(replacement) = ties.get(&column) {
                *e = replacement.clone();
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

#[cfg(test)]
mod tests {
    use super::super::parse_expr;
    use super::*;

    fn restated(sql: &str) -> String {
        let mut expr = parse_expr(sql).expect("parses");
        restate(&mut expr);
        expr.to_string()
    }

    #[test]
    fn outer_only_conditions_move_out() {
        assert_eq!(
            restated("(SELECT f(d.x) FROM t d WHERE d.k = a.k AND a.flag)"),
            "CASE WHEN a.flag THEN (SELECT single_value(f(d.x)) FROM t d WHERE d.k = a.k) END"
        );
    }

    #[test]
    fn tied_outer_columns_are_read_from_the_inner_side() {
        assert_eq!(
            restated("(SELECT c.n FROM c, t WHERE c.oid = a.coll AND t.oid = a.typ AND a.coll <> t.coll)"),
            "(SELECT single_value(c.n) FROM c, t WHERE c.oid = a.coll AND t.oid = a.typ AND c.oid <> t.coll)"
        );
    }

    #[test]
    fn aggregates_and_unqualified_columns_are_left_alone() {
        assert_eq!(
            restated("(SELECT count(*) FROM t WHERE t.k = a.k)"),
            "(SELECT count(*) FROM t WHERE t.k = a.k)"
        );
        assert_eq!(
            restated("(SELECT x FROM t WHERE k = 1 AND flag)"),
            "(SELECT single_value(x) FROM t WHERE k = 1 AND flag)"
        );
    }
}
