//! `EXISTS (…)` as a value (in a select list: `SELECT EXISTS (SELECT 1
//! FROM t WHERE …)`, which ORMs send for `exists()` queries). DataFusion
//! plans EXISTS only as a filter; as a value it is restated as a count,
//! `(SELECT count(1) FROM t WHERE …) > 0`, a scalar subquery DataFusion
//! plans correlated or not (and whose empty count is 0, not NULL).
//!
//! Only subqueries whose rows the count may replace are restated: one
//! SELECT without GROUP BY, HAVING, DISTINCT or OFFSET, and a LIMIT only
//! of a positive constant (Django's `Exists()` sends `LIMIT 1`), which
//! does not change whether there is a row; its ORDER BY, meaningless
//! there, is dropped. Others are left as they are.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast;

use super::build;

/// Restates each EXISTS of the select lists of `statement`.
pub fn exists_as_counts(statement: &mut ast::Statement) {
    struct SelectLists;
    impl ast::VisitorMut for SelectLists {
        type Break = ();
        fn pre_visit_query(&mut self, query: &mut ast::Query) -> ControlFlow<()> {
            if let ast::SetExpr::Select(select) = query.body.as_mut() {
                for item in &mut select.projection {
                    if let ast::SelectItem::UnnamedExpr(expr) | ast::SelectItem::ExprWithAlias { expr, .. } = item {
                        let _ = ast::visit_expressions_mut(expr, |expr| {
                            restate(expr);
                            ControlFlow::<()>::Continue(())
                        });
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    let _ = ast::VisitMut::visit(statement, &mut SelectLists);
}

fn restate(expr: &mut ast::Expr) {
    let ast::Expr::Exists { subquery, negated } = expr else { return };
    let Some(count) = counted(subquery) else { return };
    let op = if *negated { ast::BinaryOperator::Eq } else { ast::BinaryOperator::Gt };
    *expr = ast::Expr::Nested(Box::new(ast::Expr::BinaryOp {
        left: Box::new(ast::Expr::Subquery(Box::new(count))),
        op,
        right: Box::new(build::integer(0)),
    }));
}

/// `query` with its select list replaced by `count(1)`, if that counts
/// the rows it would return.
fn counted(query: &ast::Query) -> Option<ast::Query> {
    let ast::SetExpr::Select(select) = query.body.as_ref() else { return None };
    let grouped = !matches!(&select.group_by, ast::GroupByExpr::Expressions(exprs, modifiers) if exprs.is_empty() && modifiers.is_empty());
    if grouped || select.having.is_some() || select.distinct.is_some() || query.fetch.is_some() {
        return None;
    }
    let harmless_limit = match &query.limit_clause {
        None => true,
        Some(ast::LimitClause::LimitOffset { limit, offset: None, limit_by }) if limit_by.is_empty() => match limit {
            None => true,
            Some(ast::Expr::Value(value)) => {
                matches!(&value.value, ast::Value::Number(n, _) if n.parse::<u64>().is_ok_and(|n| n > 0))
            }
            Some(_) => false,
        },
        Some(_) => false,
    };
    if !harmless_limit {
        return None;
    }
    let mut select = select.clone();
    select.projection = vec![ast::SelectItem::UnnamedExpr(build::call("count", [build::integer(1)]))];
    let mut counted = query.clone();
    counted.body = Box::new(ast::SetExpr::Select(select));
    counted.order_by = None;
    counted.limit_clause = None;
    Some(counted)
}
