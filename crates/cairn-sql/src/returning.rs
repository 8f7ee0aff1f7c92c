//! The parts of INSERT, UPDATE and DELETE that DataFusion's SQL front end
//! refuses: `RETURNING` and `ON CONFLICT`. They are taken off the statement
//! before planning; RETURNING is answered from the rows the statement wrote
//! (the new rows for INSERT and UPDATE, the removed ones for DELETE), and
//! ON CONFLICT is carried out by the table's writer.

use std::sync::Arc;

use cairn_types::{CairnError, Result, TableDef, Value};
use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::sql::sqlparser::ast::{
    AssignmentTarget, ConflictTarget, Expr, OnConflict, OnConflictAction, OnInsert, SelectItem, Statement,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use crate::ddl::ident_name;
use crate::values::{arrow_type, build_column};

/// The RETURNING list as written.
#[derive(Debug, Clone)]
pub struct Returning(Vec<SelectItem>);

/// What was taken off a statement.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    pub returning: Option<Returning>,
    pub on_conflict: Option<OnConflict>,
}

/// What INSERT does with a row whose key is taken.
#[derive(Debug, Clone, PartialEq)]
pub enum ConflictAction {
    DoNothing,
    /// `(column, excluded column)`: each assigned column takes the value of
    /// a column of the row that was to be inserted.
    DoUpdate(Vec<(usize, usize)>),
}

/// Splits `RETURNING …` and `ON CONFLICT …` off a DML statement: the
/// statement DataFusion can plan, and what was taken off. Other statements
/// come back untouched.
pub fn split(sql: &str) -> Result<(String, Extras)> {
    let first = sql.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
    if !matches!(first.as_str(), "INSERT" | "UPDATE" | "DELETE") {
        return Ok((sql.to_owned(), Extras::default()));
    }
    let Ok(mut statements) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        // DataFusion will report the syntax error in its own words.
        return Ok((sql.to_owned(), Extras::default()));
    };
    let [statement] = statements.as_mut_slice() else {
        return Ok((sql.to_owned(), Extras::default()));
    };
    let mut extras = Extras::default();
    match statement {
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
    if extras.returning.is_none() && extras.on_conflict.is_none() {
        return Ok((sql.to_owned(), extras));
    }
    Ok((statement.to_string(), extras))
}

/// Resolves ON CONFLICT against the table: the target must be its primary
/// key, and DO UPDATE may assign `excluded.column` to non-key columns.
pub fn conflict_action(on_conflict: &OnConflict, def: &TableDef) -> Result<ConflictAction> {
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
    match &on_conflict.action {
        OnConflictAction::DoNothing => Ok(ConflictAction::DoNothing),
        OnConflictAction::DoUpdate(update) => {
            if on_conflict.conflict_target.is_none() {
                return Err(CairnError::Syntax("ON CONFLICT DO UPDATE requires inference specification or constraint name".into()));
            }
            if update.selection.is_some() {
                return Err(unsupported("DO UPDATE … WHERE"));
            }
            let mut pairs = Vec::with_capacity(update.assignments.len());
            for assignment in &update.assignments {
                let AssignmentTarget::ColumnName(target) = &assignment.target else {
                    return Err(unsupported("with tuple assignments"));
                };
                let target = position(&target.0.last().and_then(|p| p.as_ident()).map(ident_name).unwrap_or_default())?;
                if key.contains(&target) {
                    return Err(unsupported("DO UPDATE of a primary-key column"));
                }
                let source = match &assignment.value {
                    Expr::CompoundIdentifier(parts)
                        if parts.len() == 2 && parts[0].value.eq_ignore_ascii_case("excluded") =>
                    {
                        position(&ident_name(&parts[1]))?
                    }
                    other => return Err(unsupported(&format!("DO UPDATE SET … = {other}: use excluded.column"))),
                };
                pairs.push((target, source));
            }
            Ok(ConflictAction::DoUpdate(pairs))
        }
    }
}

impl Returning {
    /// The output columns: (position in the table, name shown).
    fn columns(&self, def: &TableDef) -> Result<Vec<(usize, String)>> {
        let position = |name: &str| {
            def.columns.iter().position(|c| c.name == name).ok_or_else(|| {
                CairnError::UndefinedColumn(format!("column \"{name}\" does not exist"))
            })
        };
        let column = |expr: &Expr| -> Result<String> {
            match expr {
                Expr::Identifier(ident) => Ok(ident_name(ident)),
                Expr::CompoundIdentifier(parts) => {
                    parts.last().map(ident_name).ok_or_else(|| CairnError::Syntax("empty name".into()))
                }
                other => Err(CairnError::FeatureNotSupported(format!(
                    "RETURNING {other}: only column names and * are supported yet"
                ))),
            }
        };
        let mut columns = Vec::new();
        for item in &self.0 {
            match item {
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                    columns.extend(def.columns.iter().enumerate().map(|(i, c)| (i, c.name.clone())))
                }
                SelectItem::UnnamedExpr(expr) => {
                    let name = column(expr)?;
                    columns.push((position(&name)?, name));
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    columns.push((position(&column(expr)?)?, ident_name(alias)));
                }
                SelectItem::ExprWithAliases { .. } => {
                    return Err(CairnError::FeatureNotSupported("RETURNING with several aliases".into()))
                }
            }
        }
        Ok(columns)
    }

    /// The schema of the returned rows.
    pub fn schema(&self, def: &TableDef) -> Result<SchemaRef> {
        let fields = self
            .columns(def)?
            .into_iter()
            .map(|(i, name)| Ok(Field::new(name, arrow_type(&def.columns[i].data_type)?, true)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(Schema::new(fields)))
    }

    /// The returned rows as one batch.
    pub fn batch(&self, def: &TableDef, rows: &[Vec<Value>]) -> Result<RecordBatch> {
        let columns = self.columns(def)?;
        let arrays = columns
            .iter()
            .map(|(i, _)| build_column(&def.columns[*i].name, &def.columns[*i].data_type, rows, *i))
            .collect::<Result<Vec<_>>>()?;
        RecordBatch::try_new_with_options(
            self.schema(def)?,
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(rows.len())),
        )
        .map_err(|e| CairnError::Internal(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returning_and_on_conflict_are_split_off_dml_only() {
        let (sql, extras) = split("INSERT INTO t (a) VALUES (1) RETURNING a, b AS bee").expect("split");
        assert_eq!(sql, "INSERT INTO t (a) VALUES (1)");
        assert_eq!(extras.returning.expect("returning").0.len(), 2);
        let (sql, extras) = split("delete from t where a = 1 returning *").expect("split");
        assert_eq!(sql, "DELETE FROM t WHERE a = 1");
        assert!(extras.returning.is_some());
        let (sql, extras) = split("INSERT INTO t VALUES (1) ON CONFLICT (a) DO NOTHING").expect("split");
        assert_eq!(sql, "INSERT INTO t VALUES (1)");
        assert!(extras.on_conflict.is_some() && extras.returning.is_none());
        let (sql, extras) = split("SELECT 1").expect("split");
        assert_eq!((sql.as_str(), extras.returning.is_none()), ("SELECT 1", true));
        let (sql, extras) = split("UPDATE t SET a = 1").expect("split");
        assert_eq!((sql.as_str(), extras.returning.is_none()), ("UPDATE t SET a = 1", true));
    }
}
