//! SQL trees to DataFusion plans: the one place a statement becomes a
//! `LogicalPlan` (simple and extended protocol, cursors, EXECUTE AS,
//! COPY (query), EXPLAIN all come here).

use cairn_pg::postgres::rewrites;
use datafusion::common::Result;
use datafusion::logical_expr::LogicalPlan;

/// Plans one SQL statement as DataFusion would, after the rewrites of its
/// syntax tree ([`rewrites`]); the plan is refused unless every node in it
/// is one CairnDB runs ([`crate::allowed`]). (AND/OR chains were
/// rebalanced and too deep a statement refused when it was parsed, see
/// [`crate::nesting`].)
pub async fn plan(
    state: &datafusion::execution::session_state::SessionState,
    mut statement: datafusion::sql::parser::Statement,
) -> Result<LogicalPlan> {
    if let datafusion::sql::parser::Statement::Statement(inner) = &mut statement {
        rewrites::rewrite_statement(inner);
    }
    let plan = state.statement_to_plan(statement).await?;
    crate::allowed::check(&plan).map_err(cairn_tables::error::to_df)?;
    Ok(plan)
}
