//! Which logical plans CairnDB runs: an allow-list over every node.
//!
//! DataFusion can plan statements that read or write server files
//! (`COPY … TO 'path'`, `CREATE EXTERNAL TABLE`, `INSERT INTO` a listing
//! table) and statements that change its own in-memory catalog. CairnDB
//! executes its DDL and session statements itself, so none of those may
//! ever reach DataFusion's executor. A deny-list of the top node is not
//! enough: `EXPLAIN ANALYZE COPY (…) TO 'file'` runs the `Copy` node under
//! an `Analyze`. So every node is checked, subqueries included, and only
//! the kinds listed in [`check`] pass.
//!
//! Tables need no check of their own: the only catalog a session's
//! DataFusion context has is CairnDB's (`with_create_default_catalog_and_schema(false)`,
//! no URL tables), whose providers read the store, and the only table
//! functions are `generate_series` and `range`.

use cairn_types::{CairnError, Result};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::logical_expr::{LogicalPlan, WriteOp};

/// Refuses `plan` unless every node in it is one CairnDB means to run.
pub(crate) fn check(plan: &LogicalPlan) -> Result<()> {
    let mut refused = None;
    plan.apply_with_subqueries(|node| {
        refused = refusal(node);
        Ok(if refused.is_some() { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
    })
    .map_err(cairn_tables::error::from_df)?;
    refused.map_or(Ok(()), Err)
}

/// Why `node` may not run, or `None` if it may.
fn refusal(node: &LogicalPlan) -> Option<CairnError> {
    match node {
        LogicalPlan::Projection(_)
        | LogicalPlan::Filter(_)
        | LogicalPlan::Window(_)
        | LogicalPlan::Aggregate(_)
        | LogicalPlan::Sort(_)
        | LogicalPlan::Join(_)
        | LogicalPlan::Repartition(_)
        | LogicalPlan::Union(_)
        | LogicalPlan::TableScan(_)
        | LogicalPlan::EmptyRelation(_)
        | LogicalPlan::Subquery(_)
        | LogicalPlan::SubqueryAlias(_)
        | LogicalPlan::Limit(_)
        | LogicalPlan::Values(_)
        | LogicalPlan::Explain(_)
        | LogicalPlan::Analyze(_)
        | LogicalPlan::Distinct(_)
        | LogicalPlan::Unnest(_)
        | LogicalPlan::RecursiveQuery(_) => None,
        // Writes go through CairnDB's table providers.
        LogicalPlan::Dml(dml) => match dml.op {
            WriteOp::Insert(_) | WriteOp::Update | WriteOp::Delete => None,
            ref op => Some(CairnError::FeatureNotSupported(format!("{op} is not supported"))),
        },
        LogicalPlan::Copy(_) => Some(server_files("COPY to or from a server file")),
        LogicalPlan::Ddl(datafusion::logical_expr::DdlStatement::CreateExternalTable(_)) => {
            Some(server_files("CREATE EXTERNAL TABLE"))
        }
        LogicalPlan::Ddl(ddl) => Some(CairnError::FeatureNotSupported(format!(
            "{} is not supported here",
            ddl.name()
        ))),
        LogicalPlan::Statement(statement) => Some(CairnError::FeatureNotSupported(format!(
            "{} is not supported here",
            statement.name()
        ))),
        LogicalPlan::DescribeTable(_) => {
            Some(CairnError::FeatureNotSupported("DESCRIBE is not supported: use psql's \\d".into()))
        }
        LogicalPlan::Extension(extension) => Some(CairnError::FeatureNotSupported(format!(
            "{} is not supported",
            extension.node.name()
        ))),
    }
}

/// No client, whatever its role, reads or writes the server's files
/// through SQL: the server's OS user is not the client's.
fn server_files(what: &str) -> CairnError {
    CairnError::InsufficientPrivilege(format!(
        "permission denied: {what} is not allowed; use COPY … TO STDOUT or FROM STDIN"
    ))
}
