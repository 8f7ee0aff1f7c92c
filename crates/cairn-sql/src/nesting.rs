//! How deep a statement may nest, so that no input can overflow a
//! thread's stack and abort the process.
//!
//! sqlparser reads `a OR b OR …` and `1 + 1 + …` in a loop, but builds a
//! tree as deep as the chain is long; everything after it (our rewrites,
//! DataFusion's planner and optimizer, expression evaluation, and dropping
//! the tree) recurses over that depth. Three measures keep it bounded:
//!
//! - AND and OR chains are rebalanced into trees of logarithmic depth
//!   (both are associative, and SQL fixes no evaluation order), so the
//!   filters ORMs generate with thousands of terms, and 100,000, plan as
//!   PostgreSQL plans them (it flattens such chains too);
//! - any other expression or query nested deeper than
//!   [`MAX_NESTING`] is refused with 54001, as PostgreSQL refuses a
//!   100,000-term `1 + 1 + …` ("stack depth limit exceeded");
//! - the threads that parse, plan and run statements have stacks of
//!   [`STATEMENT_STACK_BYTES`], room for [`MAX_NESTING`] levels in every
//!   one of those recursions, and a refused tree is dropped on a stack
//!   sized to its text ([`drop_deep`]).
//!
//! Parentheses, CASE and subqueries nest through the parser's own
//! recursion, which its recursion limit ([`PARSER_RECURSION_LIMIT`])
//! stops first.

use std::ops::ControlFlow;

use cairn_tables::error::too_deep;
use cairn_types::CairnError;
use datafusion::sql::parser::{CopyToSource, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{self, BinaryOperator, Expr, Visit, VisitMut, Visitor, VisitorMut};

/// How deep expressions and subqueries may nest in one statement.
/// PostgreSQL runs a 2,000-term `1 + 1 + …` and refuses 100,000 terms.
pub const MAX_NESTING: usize = 10_000;

/// How deep subqueries inside expressions (scalar, EXISTS, IN) may nest.
/// DataFusion's plan check before optimising (`assert_valid_extension_nodes`)
/// visits a subquery once per enclosing subquery as well as in order, so
/// its work doubles with each level: 12 levels cost milliseconds, 25
/// cost minutes of one core. PostgreSQL has no such limit; it is listed
/// in `docs/compatibility.md`.
pub const MAX_SUBQUERY_NESTING: usize = 12;

/// How deep the parser may recurse (parentheses, CASE, subqueries).
/// PostgreSQL parses 2,000 nested parentheses.
pub const PARSER_RECURSION_LIMIT: usize = 2_500;

/// The stack of every thread that parses, plans or runs statements: room
/// for [`MAX_NESTING`] levels of the deepest recursion over a statement
/// (expression evaluation in an unoptimised build). Only the pages a
/// statement touches are ever backed by memory.
pub const STATEMENT_STACK_BYTES: usize = 256 << 20;

/// Stack bytes to allow per byte of statement text when dropping a tree
/// that was refused for its depth: every level of a tree is at least one
/// byte of text, and dropping a level takes far less stack than this.
const DROP_STACK_PER_TEXT_BYTE: usize = 256;

/// Rebalances AND/OR chains, then refuses `statement` with 54001 if it
/// still nests deeper than [`MAX_NESTING`]. `text_bytes`, the length of
/// the text it was parsed from, bounds its depth.
pub fn bound(mut statement: DfStatement, text_bytes: usize) -> Result<DfStatement, CairnError> {
    for inner in queries_of(&mut statement) {
        let _ = match inner {
            Inner::Statement(statement) => statement.visit(&mut Rebalance),
            Inner::Query(query) => query.visit(&mut Rebalance),
        };
    }
    let mut depth = Depth::default();
    let too_deep_found = queries_of(&mut statement).into_iter().any(|inner| {
        let flow = match inner {
            Inner::Statement(statement) => Visit::visit(&*statement, &mut depth),
            Inner::Query(query) => Visit::visit(&*query, &mut depth),
        };
        flow.is_break()
    });
    if too_deep_found {
        drop_deep(statement, text_bytes);
        return Err(too_deep());
    }
    Ok(statement)
}

/// [`bound`] for a sqlparser statement CairnDB reads itself (CREATE
/// TABLE's defaults, ALTER TABLE, COPY's query).
pub fn bound_sql(statement: ast::Statement, text_bytes: usize) -> Result<ast::Statement, CairnError> {
    match bound(DfStatement::Statement(Box::new(statement)), text_bytes)? {
        DfStatement::Statement(statement) => Ok(*statement),
        _ => Err(CairnError::Internal("bound changed the kind of a statement".into())),
    }
}

/// Drops a deeply nested tree on a stack large enough for it: its depth
/// is at most its text's length.
fn drop_deep<T: Send>(tree: T, text_bytes: usize) {
    let stack = text_bytes.saturating_mul(DROP_STACK_PER_TEXT_BYTE).max(1 << 20);
    stacker::grow(stack, move || drop(tree));
}

enum Inner<'a> {
    Statement(&'a mut ast::Statement),
    Query(&'a mut ast::Query),
}

/// The sqlparser trees inside one of DataFusion's statements.
fn queries_of(statement: &mut DfStatement) -> Vec<Inner<'_>> {
    match statement {
        DfStatement::Statement(statement) => vec![Inner::Statement(statement)],
        DfStatement::Explain(explain) => queries_of(&mut explain.statement),
        DfStatement::CopyTo(copy) => match &mut copy.source {
            CopyToSource::Query(query) => vec![Inner::Query(query)],
            CopyToSource::Relation(_) => vec![],
        },
        DfStatement::CreateExternalTable(_) | DfStatement::Reset(_) => vec![],
    }
}

/// Turns every chain of one of AND / OR into a balanced tree. It works
/// top-down (`pre_visit_expr`), so it reaches a chain at its top and
/// flattens it in a loop before anything recurses into it.
struct Rebalance;

impl VisitorMut for Rebalance {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::BinaryOp { op: op @ (BinaryOperator::And | BinaryOperator::Or), .. } = expr {
            let op = op.clone();
            let chain = std::mem::replace(expr, Expr::value(ast::Value::Null));
            let operands = flatten(chain, &op);
            *expr = balanced(operands, &op);
        }
        ControlFlow::Continue(())
    }
}

/// The operands of a chain of `op`, left to right, found with a loop.
fn flatten(chain: Expr, op: &BinaryOperator) -> Vec<Expr> {
    let mut operands = Vec::new();
    let mut pending = vec![chain];
    while let Some(expr) = pending.pop() {
        match expr {
            Expr::BinaryOp { left, op: this, right } if this == *op => {
                pending.push(*right);
                pending.push(*left);
            }
            other => operands.push(other),
        }
    }
    operands
}

/// `operands` joined by `op` into a tree of depth log2(n).
fn balanced(mut operands: Vec<Expr>, op: &BinaryOperator) -> Expr {
    while operands.len() > 1 {
        let mut paired = Vec::with_capacity(operands.len().div_ceil(2));
        let mut drain = operands.into_iter();
        while let Some(left) = drain.next() {
            paired.push(match drain.next() {
                Some(right) => Expr::BinaryOp { left: Box::new(left), op: op.clone(), right: Box::new(right) },
                None => left,
            });
        }
        operands = paired;
    }
    operands.pop().unwrap_or_else(|| Expr::value(ast::Value::Null))
}

/// Counts expression and query nesting, and subqueries in expressions;
/// breaks past [`MAX_NESTING`] or [`MAX_SUBQUERY_NESTING`].
#[derive(Default)]
struct Depth {
    current: usize,
    subqueries: usize,
}

impl Depth {
    fn enter(&mut self) -> ControlFlow<()> {
        self.current += 1;
        if self.current > MAX_NESTING {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn leave(&mut self) -> ControlFlow<()> {
        self.current = self.current.saturating_sub(1);
        ControlFlow::Continue(())
    }
}

fn is_subquery(expr: &Expr) -> bool {
    matches!(expr, Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. })
}

impl Visitor for Depth {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if is_subquery(expr) {
            self.subqueries += 1;
            if self.subqueries > MAX_SUBQUERY_NESTING {
                return ControlFlow::Break(());
            }
        }
        self.enter()
    }

    fn post_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if is_subquery(expr) {
            self.subqueries = self.subqueries.saturating_sub(1);
        }
        self.leave()
    }

    fn pre_visit_query(&mut self, _: &ast::Query) -> ControlFlow<()> {
        self.enter()
    }

    fn post_visit_query(&mut self, _: &ast::Query) -> ControlFlow<()> {
        self.leave()
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::parser::DFParserBuilder;

    use super::*;

    fn parse(sql: &str) -> DfStatement {
        let mut statements = DFParserBuilder::new(sql)
            .with_recursion_limit(PARSER_RECURSION_LIMIT)
            .build()
            .and_then(|mut parser| parser.parse_statements())
            .expect("parses");
        statements.pop_front().expect("one statement")
    }

    /// Runs `f` on a thread with a statement's stack, as the server does.
    fn on_statement_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(STATEMENT_STACK_BYTES)
            .spawn(f)
            .expect("thread")
            .join()
            .expect("no panic")
    }

    #[test]
    fn and_or_chains_become_balanced_and_keep_their_operands_in_order() {
        let sql = "SELECT a OR b OR c OR d OR e";
        let statement = bound(parse(sql), sql.len()).expect("shallow");
        assert_eq!(statement.to_string(), sql);
        let DfStatement::Statement(inner) = statement else { panic!("a query") };
        let ast::Statement::Query(query) = *inner else { panic!("a query") };
        let ast::SetExpr::Select(select) = *query.body else { panic!("a select") };
        let ast::SelectItem::UnnamedExpr(expr) = &select.projection[0] else { panic!("an expression") };
        // ((a OR b) OR (c OR d)) OR e: depth 3 instead of 4.
        let Expr::BinaryOp { left, right, .. } = expr else { panic!("an OR") };
        assert_eq!(left.to_string(), "a OR b OR c OR d");
        assert_eq!(right.to_string(), "e");
        let Expr::BinaryOp { left, right, .. } = left.as_ref() else { panic!("an OR") };
        assert_eq!((left.to_string(), right.to_string()), ("a OR b".into(), "c OR d".into()));
    }

    #[test]
    fn a_mixed_chain_keeps_its_precedence() {
        let sql = "SELECT a AND b OR c AND d OR e";
        let statement = bound(parse(sql), sql.len()).expect("shallow");
        assert_eq!(statement.to_string(), "SELECT a AND b OR c AND d OR e");
    }

    #[test]
    fn long_or_chains_pass_and_long_sums_are_refused_with_54001() {
        on_statement_stack(|| {
            let terms: Vec<String> = (0..100_000).map(|i| format!("v = {i}")).collect();
            let sql = format!("SELECT count(*) FROM t WHERE {}", terms.join(" OR "));
            bound(parse(&sql), sql.len()).expect("an OR chain is rebalanced");

            let sql = format!("SELECT {}", vec!["1"; 100_000].join(" + "));
            let error = bound(parse(&sql), sql.len()).expect_err("too deep");
            assert_eq!(error.code().as_str(), "54001");

            let sql = format!("SELECT {}", vec!["1"; 2_000].join(" + "));
            bound(parse(&sql), sql.len()).expect("2,000 terms run, as in PostgreSQL");

            let nested = |depth: usize| format!("SELECT {}1{}", "(SELECT ".repeat(depth), ")".repeat(depth));
            let sql = nested(MAX_SUBQUERY_NESTING);
            bound(parse(&sql), sql.len()).expect("subqueries up to the limit");
            let sql = nested(MAX_SUBQUERY_NESTING + 1);
            assert_eq!(bound(parse(&sql), sql.len()).expect_err("too deep").code().as_str(), "54001");
        });
    }
}
