//! ALTER TABLE: ADD/DROP/RENAME COLUMN, ALTER COLUMN SET/DROP DEFAULT and
//! SET/DROP NOT NULL, RENAME TO.
//!
//! Rows are stored positionally, so the changes that move data rewrite
//! the table's rows in the same atomic write as the new definition: a crash
//! leaves either the old table or the new one, never a mix.
//! - ADD COLUMN appends the default to every row (or nothing: a row shorter
//!   than its table reads NULL in the missing columns);
//! - DROP COLUMN removes the value from every row;
//! - SET NOT NULL checks every row first.

use cairn_store::Writer;
use cairn_types::{CairnError, ColumnDef, Result, TableDef, Value};
use datafusion::sql::sqlparser::ast::{self, AlterColumnOperation, AlterTableOperation, RenameTableNameKind};

use crate::ddl::{column_definition, ident_name, qualified_name, validate_default};

/// A parsed ALTER TABLE.
#[derive(Debug, Clone, PartialEq)]
pub struct AlterTable {
    pub namespace: Option<String>,
    pub name: String,
    pub if_exists: bool,
    pub changes: Vec<TableChange>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TableChange {
    AddColumn { column: ColumnDef, if_not_exists: bool },
    DropColumn { name: String, if_exists: bool },
    RenameColumn { from: String, to: String },
    /// `None`: DROP DEFAULT. The default as SQL text, checked.
    SetDefault { column: String, default: Option<String> },
    SetNotNull { column: String, not_null: bool },
    RenameTable { to: String },
}

/// What the rows that exist get in a new column.
pub enum Fill {
    Null,
    /// One value for every row (a literal, `now()`, `current_user`).
    Same(Value),
    /// A value made for each row: a volatile default (`snowflake_id()`,
    /// `gen_random_uuid()::text`, `random()`) is evaluated once per row,
    /// as PostgreSQL does.
    PerRow(Box<dyn Fn() -> Result<Value> + Send + Sync>),
}

impl Fill {
    fn next(&self) -> Result<Value> {
        match self {
            Fill::Null => Ok(Value::Null),
            Fill::Same(value) => Ok(value.clone()),
            Fill::PerRow(make) => make(),
        }
    }
}

fn unsupported(what: impl Into<String>) -> CairnError {
    CairnError::FeatureNotSupported(what.into())
}

pub fn parse_alter_table(statement: &ast::Statement) -> Result<AlterTable> {
    let ast::Statement::AlterTable(alter) = statement else {
        return Err(CairnError::Syntax("expected ALTER TABLE".into()));
    };
    let (namespace, name) = qualified_name(&alter.name)?;
    let mut changes = Vec::with_capacity(alter.operations.len());
    for operation in &alter.operations {
        changes.push(match operation {
            AlterTableOperation::AddColumn { if_not_exists, column_def, column_position: None, .. } => {
                let (column, is_key) = column_definition(column_def)?;
                if is_key {
                    return Err(unsupported("adding a primary key column is not supported"));
                }
                TableChange::AddColumn { column, if_not_exists: *if_not_exists }
            }
            AlterTableOperation::DropColumn { column_names, if_exists, .. } => match column_names.as_slice() {
                [column] => TableChange::DropColumn { name: ident_name(column), if_exists: *if_exists },
                _ => return Err(CairnError::Syntax("DROP COLUMN takes one column".into())),
            },
            AlterTableOperation::RenameColumn { old_column_name, new_column_name } => {
                TableChange::RenameColumn { from: ident_name(old_column_name), to: ident_name(new_column_name) }
            }
            AlterTableOperation::RenameTable { table_name: RenameTableNameKind::To(to) | RenameTableNameKind::As(to) } => {
                let (target_namespace, to) = qualified_name(to)?;
                if target_namespace.is_some() {
                    return Err(CairnError::Syntax("RENAME TO takes a table name without a namespace".into()));
                }
                TableChange::RenameTable { to }
            }
            AlterTableOperation::AlterColumn { column_name, op } => {
                let column = ident_name(column_name);
                match op {
                    AlterColumnOperation::SetNotNull => TableChange::SetNotNull { column, not_null: true },
                    AlterColumnOperation::DropNotNull => TableChange::SetNotNull { column, not_null: false },
                    AlterColumnOperation::SetDefault { value } => {
                        TableChange::SetDefault { column, default: Some(validate_default(value)?) }
                    }
                    AlterColumnOperation::DropDefault => TableChange::SetDefault { column, default: None },
                    other => return Err(unsupported(format!("ALTER COLUMN {other} is not supported yet"))),
                }
            }
            other => return Err(unsupported(format!("ALTER TABLE {other} is not supported yet"))),
        });
    }
    Ok(AlterTable { namespace, name, if_exists: alter.if_exists, changes })
}

fn position(def: &TableDef, column: &str) -> Result<usize> {
    def.columns.iter().position(|c| c.name == column).ok_or_else(|| {
        CairnError::UndefinedColumn(format!("column \"{column}\" of relation \"{}\" does not exist", def.name))
    })
}

/// Applies `changes` in order to `def` and its rows; `fills[i]` is for
/// `changes[i]` when that adds a column.
pub fn apply(def: &mut TableDef, w: &mut Writer, changes: &[TableChange], fills: &[Fill]) -> Result<()> {
    for (change, fill) in changes.iter().zip(fills) {
        match change {
            TableChange::AddColumn { column, if_not_exists } => {
                if def.columns.iter().any(|c| c.name == column.name) {
                    if *if_not_exists {
                        continue;
                    }
                    return Err(CairnError::DuplicateColumn(format!(
                        "column \"{}\" of relation \"{}\" already exists",
                        column.name, def.name
                    )));
                }
                let index = def.columns.len();
                def.columns.push(column.clone());
                if matches!(fill, Fill::Null) && column.nullable {
                    continue;
                }
                // NOT NULL without a default fails on the first row: only
                // an empty table takes it, as in PostgreSQL.
                w.rewrite_rows(def.id, |row| {
                    row.values.resize(index, Value::Null);
                    let value = fill.next()?;
                    if value.is_null() && !column.nullable {
                        return Err(CairnError::ColumnContainsNulls { table: def.name.clone(), column: column.name.clone() });
                    }
                    row.values.push(value);
                    Ok(true)
                })?;
            }
            TableChange::DropColumn { name, if_exists } => {
                let index = match position(def, name) {
                    Ok(index) => index,
                    Err(_) if *if_exists => continue,
                    Err(error) => return Err(error),
                };
                if def.primary_key.iter().any(|&k| usize::from(k) == index) {
                    return Err(unsupported(format!(
                        "cannot drop column \"{name}\": it is part of the primary key of \"{}\"",
                        def.name
                    )));
                }
                if def.columns.len() == 1 {
                    return Err(unsupported("a table must keep at least one column"));
                }
                def.columns.remove(index);
                for key in &mut def.primary_key {
                    if usize::from(*key) > index {
                        *key -= 1;
                    }
                }
                w.rewrite_rows(def.id, |row| {
                    if row.values.len() > index {
                        row.values.remove(index);
                        return Ok(true);
                    }
                    Ok(false)
                })?;
            }
            TableChange::RenameColumn { from, to } => {
                let index = position(def, from)?;
                if def.columns.iter().any(|c| c.name == *to) {
                    return Err(CairnError::DuplicateColumn(format!(
                        "column \"{to}\" of relation \"{}\" already exists",
                        def.name
                    )));
                }
                def.columns[index].name = to.clone();
            }
            TableChange::SetDefault { column, default } => {
                let index = position(def, column)?;
                def.columns[index].default = default.clone();
            }
            TableChange::SetNotNull { column, not_null: false } => {
                let index = position(def, column)?;
                if def.primary_key.iter().any(|&k| usize::from(k) == index) {
                    return Err(CairnError::InvalidTableDefinition(format!(
                        "column \"{column}\" is in a primary key"
                    )));
                }
                def.columns[index].nullable = true;
            }
            TableChange::SetNotNull { column, not_null: true } => {
                let index = position(def, column)?;
                def.columns[index].nullable = false;
                let table = &def.name;
                w.rewrite_rows(def.id, |row| match row.values.get(index) {
                    Some(value) if !value.is_null() => Ok(false),
                    _ => Err(CairnError::ColumnContainsNulls { table: table.clone(), column: column.clone() }),
                })?;
            }
            TableChange::RenameTable { to } => def.name = to.clone(),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ALTER TABLE read as the session reads it.
    fn parse_alter_table(sql: &str) -> Result<AlterTable> {
        match crate::statement::parse_statements(sql)?.pop() {
            Some(crate::statement::Statement::AlterTable(alter)) => Ok(alter),
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn every_supported_operation_parses() {
        let alter = parse_alter_table(
            "ALTER TABLE IF EXISTS app.products ADD COLUMN stock INT DEFAULT 0, DROP COLUMN IF EXISTS old, \
             ALTER COLUMN name SET NOT NULL, ALTER COLUMN name DROP NOT NULL, ALTER COLUMN price SET DEFAULT 1, \
             ALTER price DROP DEFAULT",
        )
        .expect("succeeds");
        assert_eq!((alter.namespace.as_deref(), alter.name.as_str(), alter.if_exists), (Some("app"), "products", true));
        assert!(matches!(&alter.changes[0], TableChange::AddColumn { column, .. } if column.default.as_deref() == Some("0")));
        assert_eq!(alter.changes[1], TableChange::DropColumn { name: "old".into(), if_exists: true });
        assert_eq!(alter.changes[2], TableChange::SetNotNull { column: "name".into(), not_null: true });
        assert_eq!(alter.changes[5], TableChange::SetDefault { column: "price".into(), default: None });
        let rename = parse_alter_table("ALTER TABLE t RENAME COLUMN \"A\" TO b").expect("succeeds");
        assert_eq!(rename.changes, [TableChange::RenameColumn { from: "A".into(), to: "b".into() }]);
        let rename = parse_alter_table("ALTER TABLE t RENAME TO u").expect("succeeds");
        assert_eq!(rename.changes, [TableChange::RenameTable { to: "u".into() }]);
    }

    #[test]
    fn unsupported_operations_say_so() {
        for sql in [
            "ALTER TABLE t ALTER COLUMN a TYPE TEXT",
            "ALTER TABLE t ADD COLUMN k INT PRIMARY KEY",
            "ALTER TABLE t ADD CONSTRAINT c UNIQUE (a)",
        ] {
            assert_eq!(parse_alter_table(sql).expect_err("fails").code().as_str(), "0A000", "{sql}");
        }
        assert_eq!(parse_alter_table("ALTER TABLE t RENAME TO x.u").expect_err("fails").code().as_str(), "42601");
    }
}
