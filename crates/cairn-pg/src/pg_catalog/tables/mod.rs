//! The pg_catalog tables, one module each, built from the catalog as the
//! caller may see it. Columns follow PostgreSQL 16 where clients read them; ones
//! CairnDB has no equivalent for hold PostgreSQL's defaults.

use std::sync::Arc;

use cairn_catalog::{Actor, Catalog};
use cairn_types::{CairnError, Namespace, Role, TableDef, User};
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float32Array, Int16Array, Int32Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, UInt32Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::types::{builtin, type_of, BuiltinType, BUILTIN_TYPES};
use super::{oid, PgTable};
use cairn_tables::system::SYSTEM_SCHEMA;
use cairn_tables::values::PG_TYPE_METADATA;

/// The catalog columns whose type is PostgreSQL's one-byte `"char"`
/// (a name has that type in every catalog that has it). Text to Arrow,
/// they are sent with the `"char"` OID, as drivers' type lookups read
/// `typtype` as a byte (tokio-postgres fails on text there).
const CHAR_COLUMNS: &[&str] = &[
    "typtype", "typcategory", "typalign", "typstorage", "typdelim", "relkind", "relpersistence",
    "relreplident", "attalign", "attstorage", "attidentity", "attgenerated", "attcompression",
    "contype", "confupdtype", "confdeltype", "confmatchtype", "amtype", "datlocprovider",
    "collprovider", "prokind", "provolatile", "proparallel", "tgenabled", "ev_type", "ev_enabled",
    "deptype", "polcmd",
];

fn schema(fields: &[(&str, DataType)]) -> SchemaRef {
    let char_metadata = || std::collections::HashMap::from([(PG_TYPE_METADATA.to_owned(), "char".to_owned())]);
    Arc::new(Schema::new(
        fields
            .iter()
            .map(|(name, t)| {
                let field = Field::new(*name, t.clone(), true);
                match *t == DataType::Utf8 && CHAR_COLUMNS.contains(name) {
                    true => field.with_metadata(char_metadata()),
                    false => field,
                }
            })
            .collect::<Vec<_>>(),
    ))
}

fn batch(schema: SchemaRef, columns: Vec<ArrayRef>) -> cairn_types::Result<RecordBatch> {
    RecordBatch::try_new(schema, columns).map_err(|e| CairnError::Internal(e.to_string()))
}

fn oids<R>(rows: &[R], f: impl Fn(&R) -> u32) -> ArrayRef {
    Arc::new(UInt32Array::from_iter_values(rows.iter().map(f)))
}

fn texts<R>(rows: &[R], f: impl Fn(&R) -> Option<String>) -> ArrayRef {
    Arc::new(StringArray::from_iter(rows.iter().map(f)))
}

/// An all-NULL `text[]` column (the ACLs: CairnDB's access rules are not grants).
fn no_acls<R>(rows: &[R]) -> ArrayRef {
    datafusion::arrow::array::new_null_array(&acl_type(), rows.len())
}

fn acl_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

fn bools<R>(rows: &[R], f: impl Fn(&R) -> bool) -> ArrayRef {
    Arc::new(BooleanArray::from_iter(rows.iter().map(|r| Some(f(r)))))
}

fn namespaces(catalog: &Catalog) -> cairn_types::Result<Vec<Namespace>> {
    catalog.snapshot().scan::<Namespace>().collect()
}

/// The owner every CairnDB object reports: the first system account (root).
fn owning_user(catalog: &Catalog) -> Option<User> {
    catalog.snapshot().scan::<User>().filter_map(Result::ok).find(|user| user.role == Role::System)
}

/// The owner's OID.
fn owner(catalog: &Catalog) -> u32 {
    owning_user(catalog).map_or(10, |user| oid::role(user.id))
}

const DEFAULT_COLLATION: u32 = 100;

/// One column of a table, as pg_attribute and pg_attrdef show it.
struct Attribute {
    table: u32,
    number: i16,
    column: cairn_types::ColumnDef,
}

/// The name PostgreSQL gives a table's primary key index and constraint.
fn primary_key_name(table: &TableDef) -> String {
    format!("{}_pkey", table.name)
}

/// Every table, with its namespace's OID.
fn all_tables(catalog: &Catalog) -> cairn_types::Result<Vec<(u32, TableDef)>> {
    let snapshot = catalog.snapshot();
    let mut tables = Vec::new();
    for namespace in namespaces(catalog)? {
        for table in catalog.tables(&snapshot, namespace.id)? {
            tables.push((oid::namespace(namespace.id), table));
        }
    }
    Ok(tables)
}

/// `int2[]`, which stands in for `int2vector` too.
fn int2_array_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Int16, true)))
}

fn oid_array_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::UInt32, true)))
}

fn int2_arrays<R>(rows: &[R], f: impl Fn(&R) -> Vec<i16>) -> ArrayRef {
    use datafusion::arrow::array::ListArray;
    use datafusion::arrow::datatypes::Int16Type;
    Arc::new(ListArray::from_iter_primitive::<Int16Type, _, _>(
        rows.iter()
            .map(|r| Some(f(r).into_iter().map(Some).collect::<Vec<_>>())),
    ))
}

/// Key column numbers (from 1) of a table's primary key.
fn key_attnums(table: &TableDef) -> Vec<i16> {
    table
        .primary_key
        .iter()
        .map(|&i| i16::try_from(i + 1).unwrap_or(i16::MAX))
        .collect()
}

fn attributes(catalog: &Catalog) -> cairn_types::Result<Vec<Attribute>> {
    let snapshot = catalog.snapshot();
    let mut rows = Vec::new();
    for namespace in namespaces(catalog)? {
        for table in catalog.tables(&snapshot, namespace.id)? {
            for (i, column) in table.columns.iter().enumerate() {
                rows.push(Attribute {
                    table: oid::table(table.id),
                    number: i16::try_from(i + 1).unwrap_or(i16::MAX),
                    column: column.clone(),
                });
            }
            // The primary key index's columns, as PostgreSQL lists them.
            for (i, &position) in table.primary_key.iter().enumerate() {
                let Some(column) = table.columns.get(usize::from(position)) else {
                    continue;
                };
                rows.push(Attribute {
                    table: oid::primary_key_index(table.id),
                    number: i16::try_from(i + 1).unwrap_or(i16::MAX),
                    column: cairn_types::ColumnDef {
                        default: None,
                        ..column.clone()
                    },
                });
            }
        }
    }
    Ok(rows)
}

mod empty;
pub mod information_schema;
mod pg_am;
mod pg_attrdef;
mod pg_attribute;
mod pg_class;
mod pg_collation;
mod pg_constraint;
mod pg_database;
mod pg_index;
mod pg_namespace;
mod pg_settings;
mod pg_stat_activity;
mod pg_tables;
mod pg_tablespace;
mod pg_type;
mod roles;

pub use empty::*;
pub use pg_constraint::PgConstraint;
pub use pg_index::PgIndex;
pub use pg_settings::PgSettings;
pub use pg_stat_activity::PgStatActivity;
pub use pg_tables::{PgIndexes, PgTables};
pub use pg_tablespace::PgTablespace;

pub use pg_am::PgAm;
pub use pg_attrdef::PgAttrdef;
pub use pg_attribute::PgAttribute;
pub use pg_class::PgClass;
pub use pg_collation::PgCollation;
pub use pg_database::PgDatabase;
pub use pg_namespace::PgNamespace;
pub use pg_type::PgType;
pub use roles::{PgAuthMembers, PgRoles, PgUser};
