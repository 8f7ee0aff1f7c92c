//! SQL trees to DataFusion plans: the one place a statement becomes a
//! `LogicalPlan` (simple and extended protocol, cursors, EXECUTE AS,
//! COPY (query), EXPLAIN all come here).

use cairn_pg::postgres::rewrites;
use cairn_types::CairnError;
use datafusion::common::{DataFusionError, Result, SchemaError};
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser::ast;

use crate::ddl::ident_name;

/// Plans one SQL statement as DataFusion would, after the rewrites of its
/// syntax tree ([`rewrites`]); the plan is refused unless every node in it
/// is one CairnDB runs ([`crate::allowed`]). (AND/OR chains were
/// rebalanced and too deep a statement refused when it was parsed, see
/// [`crate::nesting`].)
pub async fn plan(
    state: &datafusion::execution::session_state::SessionState,
    mut statement: datafusion::sql::parser::Statement,
) -> Result<LogicalPlan> {
    let mut insert_target = None;
    if let datafusion::sql::parser::Statement::Statement(inner) = &mut statement {
        rewrites::rewrite_statement(inner);
        insert_target = InsertTarget::of(inner);
    }
    let plan = state.statement_to_plan(statement).await.map_err(|error| match &insert_target {
        Some(target) => target.name_unknown_column(error),
        None => error,
    })?;
    crate::allowed::check(&plan).map_err(cairn_tables::error::to_df)?;
    Ok(plan)
}

/// An INSERT's table and the columns it lists, to name an unknown column
/// as PostgreSQL does: `column "c" of relation "t" does not exist`
/// (DataFusion's error says neither that it is the INSERT's list nor
/// which table).
struct InsertTarget {
    table: String,
    columns: Vec<String>,
}

impl InsertTarget {
    fn of(statement: &ast::Statement) -> Option<InsertTarget> {
        let ast::Statement::Insert(insert) = statement else { return None };
        let ast::TableObject::TableName(table) = &insert.table else { return None };
        let last = |name: &ast::ObjectName| name.0.last().and_then(|part| part.as_ident()).map(ident_name);
        let columns: Vec<String> = insert.columns.iter().filter_map(last).collect();
        (!columns.is_empty()).then(|| InsertTarget { table: last(table).unwrap_or_default(), columns })
    }

    fn name_unknown_column(&self, error: DataFusionError) -> DataFusionError {
        let unknown = match &error {
            DataFusionError::SchemaError(schema_error, _) => match schema_error.as_ref() {
                SchemaError::FieldNotFound { field, .. } if field.relation.is_none() && self.columns.contains(&field.name) => {
                    field.name.clone()
                }
                _ => return error,
            },
            _ => return error,
        };
        cairn_tables::error::to_df(CairnError::UndefinedColumn(format!(
            "column \"{unknown}\" of relation \"{}\" does not exist",
            self.table
        )))
    }
}
