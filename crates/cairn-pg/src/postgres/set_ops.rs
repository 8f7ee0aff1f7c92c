//! `INTERSECT ALL` and `EXCEPT ALL` with PostgreSQL's multiset meaning:
//! a row the left side has m times and the right side n times comes
//! min(m, n) times out of INTERSECT ALL and max(m − n, 0) times out of
//! EXCEPT ALL. DataFusion plans both as a semi or anti join on every
//! column, which keeps all m copies or none
//! (`VALUES (1), (1) EXCEPT ALL VALUES (1)` gave nothing).
//!
//! Each side's copies of a row are numbered (`row_number()` over the
//! row's columns), and the join also matches the numbers: the k-th copy
//! on the left meets the k-th on the right.
//!
//! Found in the plan as the SQL planner makes it: a semi or anti join
//! treating NULLs as equal whose left side is not made distinct (that
//! is INTERSECT or EXCEPT without ALL). Subqueries become such joins
//! only later, in the optimizer.

use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{JoinType, NullEquality, Result};
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::{col, Expr, ExprFunctionExt, Join, LogicalPlan, LogicalPlanBuilder};

const LEFT_COPY: &str = "__cairn_left_copy";
const RIGHT_COPY: &str = "__cairn_right_copy";

/// `plan` with each INTERSECT ALL and EXCEPT ALL numbering its copies.
pub fn multiset_intersect_and_except(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| match node {
        LogicalPlan::Join(join) if is_all_set_operation(&join) => numbered(join).map(Transformed::yes),
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
}

fn is_all_set_operation(join: &Join) -> bool {
    matches!(join.join_type, JoinType::LeftSemi | JoinType::LeftAnti)
        && join.null_equality == NullEquality::NullEqualsNull
        && join.filter.is_none()
        && !matches!(join.left.as_ref(), LogicalPlan::Distinct(_))
        && !join.on.is_empty()
        && join.left.schema().fields().iter().all(|f| f.name() != LEFT_COPY)
}

/// `side` with a column numbering the copies of each of its rows.
fn with_copy_numbers(side: Arc<LogicalPlan>, name: &str) -> Result<LogicalPlan> {
    let columns: Vec<Expr> = side.schema().columns().into_iter().map(Expr::Column).collect();
    let number = row_number().partition_by(columns).build()?.alias(name);
    LogicalPlanBuilder::from(Arc::unwrap_or_clone(side)).window(vec![number])?.build()
}

fn numbered(join: Join) -> Result<LogicalPlan> {
    let output: Vec<Expr> = join.left.schema().columns().into_iter().map(Expr::Column).collect();
    let left = with_copy_numbers(join.left, LEFT_COPY)?;
    let right = with_copy_numbers(join.right, RIGHT_COPY)?;
    let mut on = join.on;
    on.push((col(LEFT_COPY), col(RIGHT_COPY)));
    let joined = Join::try_new(
        Arc::new(left),
        Arc::new(right),
        on,
        None,
        join.join_type,
        join.join_constraint,
        join.null_equality,
        join.null_aware,
    )?;
    LogicalPlanBuilder::from(LogicalPlan::Join(joined)).project(output)?.build()
}
