//! The parts of INSERT, UPDATE and DELETE that DataFusion's SQL front end
//! refuses: `RETURNING` and `ON CONFLICT`. They are taken off the statement
//! before planning; RETURNING is answered from the rows the statement wrote
//! (the new rows for INSERT and UPDATE, the removed ones for DELETE), and
//! ON CONFLICT is carried out by the table's writer.

use std::sync::Arc;

use cairn_types::{CairnError, Result, TableDef, Value};
use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::{Column, DFSchema};
use datafusion::logical_expr::cast;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::dataframe::DataFrame;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::col;
use datafusion::sql::sqlparser::ast::{
    visit_expressions_mut, AssignmentTarget, ConflictTarget, Expr, ExprWithAlias, OnConflict, OnConflictAction, OnInsert, SelectItem, Statement,
};
use datafusion::sql::parser::Statement as DfStatement;

use crate::ddl::ident_name;
use cairn_tables::conflict::{ConflictAction, ConflictUpdate};
use cairn_tables::error::from_df;
use cairn_tables::values::table_schema;
use cairn_tables::values::{arrow_type, build_column};

/// The RETURNING list as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Returning(Vec<SelectItem>);

/// What was taken off a statement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Extras {
    pub returning: Option<Returning>,
    pub on_conflict: Option<OnConflict>,
}

/// Takes `RETURNING …` and `ON CONFLICT …` off a DML statement, leaving
/// the statement DataFusion can plan; other statements are left alone.
pub fn take_extras(statement: &mut DfStatement) -> Result<Extras> {
    let DfStatement::Statement(statement) = statement else {
        return Ok(Extras::default());
    };
    let mut extras = Extras::default();
    match statement.as_mut() {
        Statement::Insert(insert) => {
            extras.returning = insert.returning.take().map(Returning);
            extras.on_conflict = match insert.on.take() {
                Some(OnInsert::OnConflict(on_conflict)) => Some(on_conflict),
                Some(other) => {
                    return Err(CairnError::FeatureNotSupported(format!("{other} is not supported")))
                }
                None => None,
            };
        }
        Statement::Update(update) => extras.returning = update.returning.take().map(Returning),
        Statement::Delete(delete) => extras.returning = delete.returning.take().map(Returning),
        _ => {}
    }
    Ok(extras)
}

/// Resolves ON CONFLICT against the table: the target must be its primary
/// key; DO UPDATE may set non-key columns to any expression over the
/// existing row and `excluded`, under an optional WHERE.
pub fn conflict_action(ctx: &SessionContext, on_conflict: &OnConflict, def: &TableDef) -> Result<ConflictAction> {
    let unsupported = |what: &str| CairnError::FeatureNotSupported(format!("ON CONFLICT {what} is not supported yet"));
    let position = |name: &str| {
        def.columns.iter().position(|c| c.name == name).ok_or_else(|| {
            CairnError::UndefinedColumn(format!("column \"{name}\" does not exist"))
        })
    };
    let key: Vec<usize> = def.primary_key.iter().map(|&i| usize::from(i)).collect();
    match &on_conflict.conflict_target {
        None => {}
        Some(ConflictTarget::Columns(columns)) => {
            let mut named = columns.iter().map(|c| position(&ident_name(c))).collect::<Result<Vec<_>>>()?;
            let mut wanted = key.clone();
            named.sort_unstable();
            wanted.sort_unstable();
            if named != wanted || key.is_empty() {
                return Err(CairnError::InvalidColumnReference(
                    "there is no unique or exclusion constraint matching the ON CONFLICT specification".into(),
                ));
            }
        }
        Some(ConflictTarget::OnConstraint(_)) => return Err(unsupported("ON CONSTRAINT")),
    }
    let OnConflictAction::DoUpdate(update) = &on_conflict.action else {
        return Ok(ConflictAction::DoNothing);
    };
    if on_conflict.conflict_target.is_none() {
        return Err(CairnError::Syntax("ON CONFLICT DO UPDATE requires inference specification or constraint name".into()));
    }
    let table = table_schema(def)?;
    let both = DFSchema::try_from_qualified_schema(def.name.as_str(), &table)
        .and_then(|existing| existing.join(&DFSchema::try_from_qualified_schema("excluded", &table)?))
        .map_err(from_df)?;
    let plan = |expr: &Expr, target: Option<&cairn_types::DataType>| -> Result<Arc<dyn PhysicalExpr>> {
        let mut expr = logical_expr(ctx, expr, &both)?;
        if let Some(target) = target {
            expr = cast(expr, arrow_type(target)?);
        }
        ctx.create_physical_expr(expr, &both).map_err(from_df)
    };
    let mut assignments = Vec::with_capacity(update.assignments.len());
    for assignment in &update.assignments {
        let AssignmentTarget::ColumnName(target) = &assignment.target else {
            return Err(unsupported("with tuple assignments"));
        };
        let target = position(&target.0.last().and_then(|p| p.as_ident()).map(ident_name).unwrap_or_default())?;
        if key.contains(&target) {
            return Err(unsupported("DO UPDATE of a primary-key column"));
        }
        assignments.push((target, plan(&assignment.value, Some(&def.columns[target].data_type))?));
    }
    let condition = update.selection.as_ref().map(|condition| plan(condition, None)).transpose()?;
    let schema = Arc::new(Schema::new(
        table.fields().iter().chain(table.fields().iter()).cloned().collect::<Vec<_>>(),
    ));
    Ok(ConflictAction::DoUpdate(Arc::new(ConflictUpdate { def: def.clone(), schema, assignments, condition })))
}

impl Returning {
    /// The items as written.
    pub fn items(&self) -> &[SelectItem] {
        &self.0
    }

    /// The returned rows, as a DataFrame over `rows` (the table's columns):
    /// each item is any expression over the table's columns, planned by
    /// DataFusion, named as PostgreSQL names it.
    fn frame(&self, ctx: &SessionContext, def: &TableDef, rows: &[Vec<Value>]) -> Result<DataFrame> {
        let schema = table_schema(def)?;
        let arrays = def
            .columns
            .iter()
            .enumerate()
            .map(|(i, column)| build_column(&column.name, &column.data_type, rows, i))
            .collect::<Result<Vec<_>>>()?;
        let batch = RecordBatch::try_new_with_options(schema, arrays, &RecordBatchOptions::new().with_row_count(Some(rows.len())))
            .map_err(|e| CairnError::Internal(e.to_string()))?;
        let frame = ctx.read_batch(batch).and_then(|df| df.alias(&def.name)).map_err(from_df)?;
        let mut exprs = Vec::new();
        for item in &self.0 {
            match item {
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                    exprs.extend(def.columns.iter().map(|c| col(Column::new(Some(def.name.as_str()), c.name.as_str()))))
                }
                SelectItem::UnnamedExpr(expr) => {
                    exprs.push(logical_expr(ctx, expr, frame.schema())?.alias(cairn_pg::postgres::column_name(expr)))
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    exprs.push(logical_expr(ctx, expr, frame.schema())?.alias(ident_name(alias)))
                }
                SelectItem::ExprWithAliases { .. } => {
                    return Err(CairnError::FeatureNotSupported("RETURNING with several aliases".into()))
                }
            }
        }
        frame.select(exprs).map_err(from_df)
    }

    /// The schema of the returned rows (for Describe).
    pub fn schema(&self, ctx: &SessionContext, def: &TableDef) -> Result<SchemaRef> {
        Ok(Arc::clone(self.frame(ctx, def, &[])?.schema().inner()))
    }

    /// The returned rows as one batch.
    pub async fn batch(&self, ctx: &SessionContext, def: &TableDef, rows: &[Vec<Value>]) -> Result<RecordBatch> {
        let frame = self.frame(ctx, def, rows)?;
        let schema = Arc::clone(frame.schema().inner());
        let batches = frame.collect().await.map_err(from_df)?;
        concat_batches(&schema, &batches).map_err(|e| CairnError::Internal(e.to_string()))
    }
}

/// Plans one expression of RETURNING or ON CONFLICT over `schema`, after
/// the same rewrites as a query's expressions.
fn logical_expr(ctx: &SessionContext, expr: &Expr, schema: &DFSchema) -> Result<datafusion::logical_expr::Expr> {
    let mut expr = expr.clone();
    let _ = visit_expressions_mut(&mut expr, |expr| {
        cairn_pg::postgres::rewrites::rewrite_expression(expr);
        std::ops::ControlFlow::<()>::Continue(())
    });
    ctx.state().create_logical_expr_from_sql_expr(ExprWithAlias { expr, alias: None }, schema).map_err(from_df)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returning_and_on_conflict_are_taken_off_dml_only() {
        let take = |sql: &str| match crate::statement::parse_statements(sql).expect("parses").as_slice() {
            [crate::statement::Statement::Query(query)] => (query.statement.to_string(), query.extras.clone()),
            other => panic!("{sql}: {other:?}"),
        };
        let (sql, extras) = take("INSERT INTO t (a) VALUES (1) RETURNING a, b AS bee");
        assert_eq!(sql, "INSERT INTO t (a) VALUES (1)");
        assert_eq!(extras.returning.expect("returning").0.len(), 2);
        let (sql, extras) = take("/* note */ delete from t where a = 1 returning *");
        assert_eq!(sql, "DELETE FROM t WHERE a = 1");
        assert!(extras.returning.is_some());
        let (sql, extras) = take("INSERT INTO t VALUES (1) ON CONFLICT (a) DO NOTHING");
        assert_eq!(sql, "INSERT INTO t VALUES (1)");
        assert!(extras.on_conflict.is_some() && extras.returning.is_none());
        let (sql, extras) = take("SELECT 1");
        assert_eq!((sql.as_str(), extras), ("SELECT 1", Extras::default()));
        let (sql, extras) = take("UPDATE t SET a = 1");
        assert_eq!((sql.as_str(), extras), ("UPDATE t SET a = 1", Extras::default()));
    }
}
