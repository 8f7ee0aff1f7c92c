//! `system.columns`: one row per column of every table.

use cairn_catalog::{Catalog, SystemTable};
use cairn_store::Snapshot;
use cairn_types::{ColumnDef, UserId};
use datafusion::arrow::datatypes::DataType;

use super::tables::{table_defs, table_path, TableRow};
use super::*;

pub struct ColumnRow {
    table_id: i64,
    namespace: String,
    table_name: String,
    ordinal: i32,
    column: ColumnDef,
    is_primary_key: bool,
}

pub struct Columns;

impl SystemTableDef for Columns {
    type Row = ColumnRow;
    const NAME: &'static str = "columns";
    const ACCESS: SystemTable = SystemTable::Columns;

    fn columns() -> Vec<ColumnSpec<ColumnRow>> {
        vec![
            ColumnSpec {
                name: "table_id",
                data_type: DataType::Int64,
                nullable: false,
                build: |rows| int64_column(rows, |c: &ColumnRow| Some(c.table_id)),
                equality: Some(|c| int64_value(Some(c.table_id))),
            },
            ColumnSpec {
                name: "namespace",
                data_type: DataType::Utf8,
                nullable: false,
                build: |rows| text_column(rows, |c: &ColumnRow| Some(c.namespace.as_str())),
                equality: Some(|c| text_value(Some(&c.namespace))),
            },
            ColumnSpec {
                name: "table_name",
                data_type: DataType::Utf8,
                nullable: false,
                build: |rows| text_column(rows, |c: &ColumnRow| Some(c.table_name.as_str())),
                equality: Some(|c| text_value(Some(&c.table_name))),
            },
            ColumnSpec {
                name: "column_name",
                data_type: DataType::Utf8,
                nullable: false,
                build: |rows| text_column(rows, |c: &ColumnRow| Some(c.column.name.as_str())),
                equality: Some(|c| text_value(Some(&c.column.name))),
            },
            ColumnSpec {
                name: "ordinal_position",
                data_type: DataType::Int32,
                nullable: false,
                build: |rows| int32_column(rows, |c: &ColumnRow| Some(c.ordinal)),
                equality: None,
            },
            ColumnSpec {
                name: "data_type",
                data_type: DataType::Utf8,
                nullable: false,
                build: |rows| owned_text_column(rows, |c: &ColumnRow| Some(c.column.data_type.sql_name())),
                equality: None,
            },
            ColumnSpec {
                name: "is_nullable",
                data_type: DataType::Boolean,
                nullable: false,
                build: |rows| bool_column(rows, |c: &ColumnRow| Some(c.column.nullable)),
                equality: None,
            },
            ColumnSpec {
                name: "column_default",
                data_type: DataType::Utf8,
                nullable: true,
                build: |rows| text_column(rows, |c: &ColumnRow| c.column.default.as_deref()),
                equality: None,
            },
            ColumnSpec {
                name: "is_primary_key",
                data_type: DataType::Boolean,
                nullable: false,
                build: |rows| bool_column(rows, |c: &ColumnRow| Some(c.is_primary_key)),
                equality: None,
            },
        ]
    }

    fn owner(_: &ColumnRow) -> Option<UserId> {
        None
    }

    /// Columns are read through their table: the same paths as `system.tables`.
    fn choose_path(conditions: &Conditions) -> AccessPath {
        table_path(conditions, "table_name")
    }

    fn fetch<'a>(_: &'a Catalog, snapshot: &'a Snapshot, path: &'a AccessPath) -> RowIter<'a, ColumnRow> {
        Box::new(table_defs(snapshot, path).flat_map(move |def| {
            let rows: Vec<cairn_types::Result<ColumnRow>> =
                match def.and_then(|def| TableRow::resolve(snapshot, def)) {
                    Err(error) => vec![Err(error)],
                    Ok(table) => table
                        .def
                        .columns
                        .iter()
                        .enumerate()
                        .map(|(i, column)| {
                            Ok(ColumnRow {
                                table_id: id_value(table.def.id.0),
                                namespace: table.namespace.clone(),
                                table_name: table.def.name.clone(),
                                ordinal: i32::try_from(i + 1).unwrap_or(i32::MAX),
                                column: column.clone(),
                                is_primary_key: table
                                    .def
                                    .primary_key
                                    .iter()
                                    .any(|&k| usize::from(k) == i),
                            })
                        })
                        .collect(),
                };
            rows
        }))
    }
}
