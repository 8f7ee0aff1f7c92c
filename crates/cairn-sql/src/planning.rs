//! SQL trees to DataFusion plans: the one place a statement becomes a
//! `LogicalPlan` (simple and extended protocol, cursors, EXECUTE AS,
//! COPY (query), EXPLAIN all come here).

use std::collections::HashSet;
use std::ops::ControlFlow;

use cairn_pg::postgres::rewrites;
use cairn_types::CairnError;
use datafusion::common::{DataFusionError, Result, SchemaError};
use datafusion::execution::session_state::SessionState;
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
    state: &SessionState,
    mut statement: datafusion::sql::parser::Statement,
) -> Result<LogicalPlan> {
    let mut insert_target = None;
    if let datafusion::sql::parser::Statement::Statement(inner) = &mut statement {
        rewrites::rewrite_statement(inner);
        qualify_by_search_path(state, inner);
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
    let plan = cairn_pg::postgres::recursive_terms_without_sources(plan)?;
    let plan = cairn_pg::postgres::multiset_intersect_and_except(plan)?;
    crate::allowed::check(&plan).map_err(cairn_tables::error::to_df)?;
    Ok(plan)
}

/// The namespaces of the session's `search_path` that exist, in order;
/// the first is DataFusion's default schema. Kept in the session's
/// config, where [`plan`] reads it.
#[derive(Debug, Default)]
pub(crate) struct SearchPath(pub Vec<String>);

/// Qualifies each unqualified table name with the first namespace of the
/// search path that has such a table, as PostgreSQL resolves names
/// (DataFusion looks in its default schema only). Names of the
/// statement's CTEs stay as they are.
fn qualify_by_search_path(state: &SessionState, statement: &mut ast::Statement) {
    let Some(path) = state.config().get_extension::<SearchPath>() else { return };
    let [first, rest @ ..] = path.0.as_slice() else { return };
    if rest.is_empty() {
        return;
    }
    let Some(catalog) = state.catalog_list().catalog(&state.config().options().catalog.default_catalog) else {
        return;
    };
    let has_table = |schema: &str, table: &str| catalog.schema(schema).is_some_and(|s| s.table_exist(table));
    let ctes = cte_names(statement);
    let _ = ast::visit_relations_mut(statement, |name| {
        if let [ast::ObjectNamePart::Identifier(ident)] = name.0.as_slice() {
            let table = ident_name(ident);
            if !ctes.contains(&table) && !has_table(first, &table) {
                if let Some(schema) = rest.iter().find(|schema| has_table(schema, &table)) {
                    name.0.insert(0, ast::ObjectNamePart::Identifier(ast::Ident::with_quote('"', schema)));
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

/// The names every WITH clause of `statement` gives its CTEs.
fn cte_names(statement: &ast::Statement) -> HashSet<String> {
    struct Ctes(HashSet<String>);
    impl ast::Visitor for Ctes {
        type Break = ();
        fn pre_visit_query(&mut self, query: &ast::Query) -> ControlFlow<()> {
            for cte in query.with.iter().flat_map(|with| &with.cte_tables) {
                self.0.insert(ident_name(&cte.alias.name));
            }
            ControlFlow::Continue(())
        }
    }
    let mut ctes = Ctes(HashSet::new());
    let _ = ast::Visit::visit(statement, &mut ctes);
    ctes.0
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
