//! `RETURNING` on INSERT, UPDATE and DELETE. DataFusion's SQL front end
//! refuses it, so the clause is taken off the statement before planning and
//! answered here from the rows the statement wrote (the new rows for INSERT
//! and UPDATE, the removed ones for DELETE).

use std::sync::Arc;

use cairn_types::{CairnError, Result, TableDef, Value};
use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::sql::sqlparser::ast::{Expr, SelectItem, Statement};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use crate::ddl::ident_name;
use crate::values::{arrow_type, build_column};

/// The RETURNING list as written.
#[derive(Debug, Clone)]
pub struct Returning(Vec<SelectItem>);

/// Splits `RETURNING …` off a DML statement: the statement DataFusion can
/// plan, and the list. Statements without RETURNING come back untouched.
pub fn split(sql: &str) -> Result<(String, Option<Returning>)> {
    let first = sql.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
    if !matches!(first.as_str(), "INSERT" | "UPDATE" | "DELETE") {
        return Ok((sql.to_owned(), None));
    }
    let Ok(mut statements) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        // DataFusion will report the syntax error in its own words.
        return Ok((sql.to_owned(), None));
    };
    let [statement] = statements.as_mut_slice() else {
        return Ok((sql.to_owned(), None));
    };
    let returning = match statement {
        Statement::Insert(insert) => insert.returning.take(),
        Statement::Update(update) => update.returning.take(),
        Statement::Delete(delete) => delete.returning.take(),
        _ => None,
    };
    match returning {
        Some(items) => Ok((statement.to_string(), Some(Returning(items)))),
        None => Ok((sql.to_owned(), None)),
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
    fn returning_is_split_off_dml_only() {
        let (sql, returning) = split("INSERT INTO t (a) VALUES (1) RETURNING a, b AS bee").expect("split");
        assert_eq!(sql, "INSERT INTO t (a) VALUES (1)");
        assert_eq!(returning.expect("returning").0.len(), 2);
        let (sql, returning) = split("delete from t where a = 1 returning *").expect("split");
        assert_eq!(sql, "DELETE FROM t WHERE a = 1");
        assert!(returning.is_some());
        let (sql, returning) = split("SELECT 1").expect("split");
        assert_eq!((sql.as_str(), returning.is_none()), ("SELECT 1", true));
        let (sql, returning) = split("UPDATE t SET a = 1").expect("split");
        assert_eq!((sql.as_str(), returning.is_none()), ("UPDATE t SET a = 1", true));
    }
}
