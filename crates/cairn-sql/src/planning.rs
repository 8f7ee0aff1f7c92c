//! SQL trees to DataFusion plans: the one place a statement becomes a
//! `LogicalPlan` (simple and extended protocol, cursors, EXECUTE AS,
//! COPY (query), EXPLAIN all come here).

use cairn_pg::postgres::rewrites;
use cairn_types::CairnError;
use datafusion::common::{DataFusionError, Result, SchemaError};
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::resolve::resolve_table_references;
use datafusion::sql::sqlparser::ast;
use datafusion::common::TableReference;

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
    // The tables as the statement names them, for an error that names one.
    let written = resolve_table_references(&statement, true).map(|(tables, _)| tables).unwrap_or_default();
    let plan = state.statement_to_plan(statement).await.map_err(|error| match &insert_target {
        Some(target) => target.name_unknown_column(error),
        None => error,
    });
    let plan = plan.map_err(|error| name_missing_relation(error, &written))?;
    let plan = cairn_pg::postgres::type_constants(plan)?;
    crate::allowed::check(&plan).map_err(cairn_tables::error::to_df)?;
    Ok(plan)
}

/// DataFusion names a missing table by its resolved name
/// (`cairn.app.nope`); PostgreSQL as the statement wrote it: `relation
/// "app.nope" does not exist`, or `"nope"` if it was not qualified.
fn name_missing_relation(error: DataFusionError, written: &[TableReference]) -> DataFusionError {
    // A FROM clause's error comes wrapped in a Diagnostic.
    let DataFusionError::Plan(message) = error.find_root() else { return error };
    let Some(resolved) = message.strip_prefix("table '").and_then(|rest| rest.strip_suffix("' not found")) else {
        return error;
    };
    let mut parts = resolved.rsplit('.');
    let (Some(table), schema) = (parts.next(), parts.next()) else { return error };
    let named = written.iter().find(|name| name.table() == table && name.schema().is_none_or(|s| Some(s) == schema));
    let Some(named) = named else { return error };
    let as_written = match named.schema() {
        Some(schema) => format!("{schema}.{table}"),
        None => table.to_owned(),
    };
    cairn_tables::error::to_df(CairnError::UndefinedTable(format!("relation \"{as_written}\" does not exist")))
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
