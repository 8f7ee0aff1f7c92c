//! `information_schema`: the SQL-standard views, with PostgreSQL 16's
//! columns and PostgreSQL's spellings of types (`character varying`, not
//! Arrow's `Utf8`), built from the same catalog as pg_catalog.
//!
//! The standard's domains are plain types here: `sql_identifier`,
//! `character_data` and `yes_or_no` are text, `cardinal_number` integer.
//! Tables list CairnDB's tables (`BASE TABLE`) and system tables (`VIEW`);
//! columns, constraints and key columns are those of CairnDB's tables,
//! whose constraints are the primary key and NOT NULL (which PostgreSQL
//! lists as CHECK constraints named `<namespace oid>_<table oid>_<n>_not_null`).

use super::*;
use crate::pg_catalog::deparse::default_expression;
use crate::pg_catalog::types::format_type;

/// The database every catalog row names (as `pg_database` does).
const DATABASE: &str = "cairn";

fn text(value: &str) -> Option<String> {
    Some(value.to_owned())
}

fn ints<R>(rows: &[R], f: impl Fn(&R) -> Option<i32>) -> ArrayRef {
    Arc::new(Int32Array::from_iter(rows.iter().map(f)))
}

fn yes_no(yes: bool) -> Option<String> {
    text(if yes { "YES" } else { "NO" })
}

/// Every namespace's tables, with the namespace's name.
fn named_tables(catalog: &Catalog) -> cairn_types::Result<Vec<(String, TableDef)>> {
    Ok(tables_in_namespaces(catalog)?.into_iter().map(|(namespace, table)| (namespace.name, table)).collect())
}

fn tables_in_namespaces(catalog: &Catalog) -> cairn_types::Result<Vec<(Namespace, TableDef)>> {
    let snapshot = catalog.snapshot();
    let mut tables = Vec::new();
    for namespace in namespaces(catalog)? {
        for table in catalog.tables(&snapshot, namespace.id)? {
            tables.push((namespace.clone(), table));
        }
    }
    Ok(tables)
}

/// `information_schema.schemata`.
pub struct Schemata;

impl PgTable for Schemata {
    const SCHEMA: &'static str = super::super::INFORMATION_SCHEMA;
    const NAME: &'static str = "schemata";

    fn schema() -> SchemaRef {
        schema(&[
            ("catalog_name", DataType::Utf8),
            ("schema_name", DataType::Utf8),
            ("schema_owner", DataType::Utf8),
            ("default_character_set_catalog", DataType::Utf8),
            ("default_character_set_schema", DataType::Utf8),
            ("default_character_set_name", DataType::Utf8),
            ("sql_path", DataType::Utf8),
        ])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let mut names: Vec<String> =
            vec!["pg_catalog".into(), super::super::INFORMATION_SCHEMA.into(), SYSTEM_SCHEMA.into()];
        names.extend(namespaces(catalog)?.into_iter().map(|n| n.name));
        let owner = owner_name(catalog);
        batch(
            Self::schema(),
            vec![
                texts(&names, |_| text(DATABASE)),
                texts(&names, |n| Some(n.clone())),
                texts(&names, |_| Some(owner.clone())),
                texts(&names, |_| None),
                texts(&names, |_| None),
                texts(&names, |_| None),
                texts(&names, |_| None),
            ],
        )
    }
}

/// The name of the role that owns every object (as `owner` gives its OID).
fn owner_name(catalog: &Catalog) -> String {
    owning_user(catalog).map_or_else(|| "root".to_owned(), |user| user.username)
}

/// `information_schema.tables`.
pub struct Tables;

impl PgTable for Tables {
    const SCHEMA: &'static str = super::super::INFORMATION_SCHEMA;
    const NAME: &'static str = "tables";

    fn schema() -> SchemaRef {
        schema(&[
            ("table_catalog", DataType::Utf8),
            ("table_schema", DataType::Utf8),
            ("table_name", DataType::Utf8),
            ("table_type", DataType::Utf8),
            ("self_referencing_column_name", DataType::Utf8),
            ("reference_generation", DataType::Utf8),
            ("user_defined_type_catalog", DataType::Utf8),
            ("user_defined_type_schema", DataType::Utf8),
            ("user_defined_type_name", DataType::Utf8),
            ("is_insertable_into", DataType::Utf8),
            ("is_typed", DataType::Utf8),
            ("commit_action", DataType::Utf8),
        ])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        // (schema, name, base table)
        let mut rows: Vec<(String, String, bool)> =
            named_tables(catalog)?.into_iter().map(|(namespace, table)| (namespace, table.name, true)).collect();
        rows.extend(cairn_tables::system::SYSTEM_TABLE_NAMES.iter().map(|name| (SYSTEM_SCHEMA.to_owned(), (*name).to_owned(), false)));
        batch(
            Self::schema(),
            vec![
                texts(&rows, |_| text(DATABASE)),
                texts(&rows, |r| Some(r.0.clone())),
                texts(&rows, |r| Some(r.1.clone())),
                texts(&rows, |r| text(if r.2 { "BASE TABLE" } else { "VIEW" })),
                texts(&rows, |_| None),
                texts(&rows, |_| None),
                texts(&rows, |_| None),
                texts(&rows, |_| None),
                texts(&rows, |_| None),
                texts(&rows, |r| yes_no(r.2)),
                texts(&rows, |_| yes_no(false)),
                texts(&rows, |_| None),
            ],
        )
    }
}

/// One column of a CairnDB table.
struct Column {
    namespace: String,
    table: String,
    position: i32,
    def: cairn_types::ColumnDef,
}

/// The standard's description of a column's type.
struct TypeInfo {
    data_type: String,
    udt_name: String,
    max_length: Option<i32>,
    octet_length: Option<i32>,
    precision: Option<i32>,
    radix: Option<i32>,
    scale: Option<i32>,
    datetime_precision: Option<i32>,
}

/// As PostgreSQL's information_schema computes it from the type and typmod.
fn type_info(data_type: &cairn_types::DataType) -> TypeInfo {
    use cairn_types::DataType as T;
    let (oid, _) = type_of(data_type);
    let udt_name = builtin(oid).map_or_else(|| "unknown".to_owned(), |t| t.name.to_owned());
    let mut info = TypeInfo {
        data_type: match data_type {
            T::Array(_) => "ARRAY".to_owned(),
            _ => format_type(oid, -1).unwrap_or_else(|| "USER-DEFINED".to_owned()),
        },
        udt_name,
        max_length: None,
        octet_length: None,
        precision: None,
        radix: None,
        scale: None,
        datetime_precision: None,
    };
    // The largest text value PostgreSQL stores, in bytes (1 GB).
    const MAX_OCTETS: i32 = 1_073_741_824;
    let binary = |info: &mut TypeInfo, bits: i32, scale: Option<i32>| {
        info.precision = Some(bits);
        info.radix = Some(2);
        info.scale = scale;
    };
    match data_type {
        T::Text => info.octet_length = Some(MAX_OCTETS),
        T::Varchar { max_len } => {
            info.max_length = max_len.and_then(|n| i32::try_from(n).ok());
            info.octet_length = Some(info.max_length.map_or(MAX_OCTETS, |n| n.saturating_mul(4)));
        }
        T::SmallInt => binary(&mut info, 16, Some(0)),
        T::Int => binary(&mut info, 32, Some(0)),
        T::BigInt => binary(&mut info, 64, Some(0)),
        T::Real => binary(&mut info, 24, None),
        T::Double => binary(&mut info, 53, None),
        T::Numeric { precision, scale } => {
            info.precision = Some(i32::from(*precision));
            info.radix = Some(10);
            info.scale = Some(i32::from(*scale));
        }
        T::Date => info.datetime_precision = Some(0),
        T::Time | T::Timestamp | T::TimestampTz | T::Interval => info.datetime_precision = Some(6),
        _ => {}
    }
    info
}

/// `information_schema.columns`.
pub struct Columns;

impl PgTable for Columns {
    const SCHEMA: &'static str = super::super::INFORMATION_SCHEMA;
    const NAME: &'static str = "columns";

    fn schema() -> SchemaRef {
        let int = |name| (name, DataType::Int32);
        let txt = |name| (name, DataType::Utf8);
        schema(&[
            txt("table_catalog"),
            txt("table_schema"),
            txt("table_name"),
            txt("column_name"),
            int("ordinal_position"),
            txt("column_default"),
            txt("is_nullable"),
            txt("data_type"),
            int("character_maximum_length"),
            int("character_octet_length"),
            int("numeric_precision"),
            int("numeric_precision_radix"),
            int("numeric_scale"),
            int("datetime_precision"),
            txt("interval_type"),
            int("interval_precision"),
            txt("character_set_catalog"),
            txt("character_set_schema"),
            txt("character_set_name"),
            txt("collation_catalog"),
            txt("collation_schema"),
            txt("collation_name"),
            txt("domain_catalog"),
            txt("domain_schema"),
            txt("domain_name"),
            txt("udt_catalog"),
            txt("udt_schema"),
            txt("udt_name"),
            txt("scope_catalog"),
            txt("scope_schema"),
            txt("scope_name"),
            int("maximum_cardinality"),
            txt("dtd_identifier"),
            txt("is_self_referencing"),
            txt("is_identity"),
            txt("identity_generation"),
            txt("identity_start"),
            txt("identity_increment"),
            txt("identity_maximum"),
            txt("identity_minimum"),
            txt("identity_cycle"),
            txt("is_generated"),
            txt("generation_expression"),
            txt("is_updatable"),
        ])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        let mut rows = Vec::new();
        for (namespace, table) in named_tables(catalog)? {
            for (i, def) in table.columns.iter().enumerate() {
                let position = i32::try_from(i + 1).unwrap_or(i32::MAX);
                rows.push(Column { namespace: namespace.clone(), table: table.name.clone(), position, def: def.clone() });
            }
        }
        let types: Vec<TypeInfo> = rows.iter().map(|c| type_info(&c.def.data_type)).collect();
        let none = |_: &Column| None;
        let no_int = |_: &Column| None;
        batch(
            Self::schema(),
            vec![
                texts(&rows, |_| text(DATABASE)),
                texts(&rows, |c| Some(c.namespace.clone())),
                texts(&rows, |c| Some(c.table.clone())),
                texts(&rows, |c| Some(c.def.name.clone())),
                ints(&rows, |c| Some(c.position)),
                texts(&rows, |c| default_expression(&c.def)),
                texts(&rows, |c| yes_no(c.def.nullable)),
                texts(&types, |t| Some(t.data_type.clone())),
                ints(&types, |t| t.max_length),
                ints(&types, |t| t.octet_length),
                ints(&types, |t| t.precision),
                ints(&types, |t| t.radix),
                ints(&types, |t| t.scale),
                ints(&types, |t| t.datetime_precision),
                texts(&rows, none),
                ints(&rows, no_int),
                texts(&rows, none),
                texts(&rows, none),
                texts(&rows, none),
                texts(&rows, none),
                texts(&rows, none),
                texts(&rows, none),
                texts(&rows, none),
                texts(&rows, none),
                texts(&rows, none),
                texts(&rows, |_| text(DATABASE)),
                texts(&rows, |_| text("pg_catalog")),
                texts(&types, |t| Some(t.udt_name.clone())),
                texts(&rows, none),
                texts(&rows, none),
                texts(&rows, none),
                ints(&rows, no_int),
                texts(&rows, |c| Some(c.position.to_string())),
                texts(&rows, |_| yes_no(false)),
                texts(&rows, |_| yes_no(false)),
                texts(&rows, none),
                texts(&rows, none),
                texts(&rows, none),
                texts(&rows, none),
                texts(&rows, none),
                texts(&rows, |_| yes_no(false)),
                texts(&rows, |_| text("NEVER")),
                texts(&rows, none),
                texts(&rows, |_| yes_no(true)),
            ],
        )
    }
}

/// `information_schema.table_constraints`: each table's primary key and
/// NOT NULL columns.
pub struct TableConstraints;

impl PgTable for TableConstraints {
    const SCHEMA: &'static str = super::super::INFORMATION_SCHEMA;
    const NAME: &'static str = "table_constraints";

    fn schema() -> SchemaRef {
        schema(&[
            ("constraint_catalog", DataType::Utf8),
            ("constraint_schema", DataType::Utf8),
            ("constraint_name", DataType::Utf8),
            ("table_catalog", DataType::Utf8),
            ("table_schema", DataType::Utf8),
            ("table_name", DataType::Utf8),
            ("constraint_type", DataType::Utf8),
            ("is_deferrable", DataType::Utf8),
            ("initially_deferred", DataType::Utf8),
            ("enforced", DataType::Utf8),
            ("nulls_distinct", DataType::Utf8),
        ])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        // (namespace, table, constraint, type)
        let mut rows: Vec<(String, String, String, &str)> = Vec::new();
        for (namespace, table) in tables_in_namespaces(catalog)? {
            if !table.primary_key.is_empty() {
                rows.push((namespace.name.clone(), table.name.clone(), primary_key_name(&table), "PRIMARY KEY"));
            }
            for (i, _) in table.columns.iter().enumerate().filter(|(_, c)| !c.nullable) {
                let name = format!("{}_{}_{}_not_null", oid::namespace(namespace.id), oid::table(table.id), i + 1);
                rows.push((namespace.name.clone(), table.name.clone(), name, "CHECK"));
            }
        }
        batch(
            Self::schema(),
            vec![
                texts(&rows, |_| text(DATABASE)),
                texts(&rows, |r| Some(r.0.clone())),
                texts(&rows, |r| Some(r.2.clone())),
                texts(&rows, |_| text(DATABASE)),
                texts(&rows, |r| Some(r.0.clone())),
                texts(&rows, |r| Some(r.1.clone())),
                texts(&rows, |r| text(r.3)),
                texts(&rows, |_| yes_no(false)),
                texts(&rows, |_| yes_no(false)),
                texts(&rows, |_| yes_no(true)),
                texts(&rows, |_| None),
            ],
        )
    }
}

/// `information_schema.key_column_usage`: the primary keys' columns, in
/// key order.
pub struct KeyColumnUsage;

impl PgTable for KeyColumnUsage {
    const SCHEMA: &'static str = super::super::INFORMATION_SCHEMA;
    const NAME: &'static str = "key_column_usage";

    fn schema() -> SchemaRef {
        schema(&[
            ("constraint_catalog", DataType::Utf8),
            ("constraint_schema", DataType::Utf8),
            ("constraint_name", DataType::Utf8),
            ("table_catalog", DataType::Utf8),
            ("table_schema", DataType::Utf8),
            ("table_name", DataType::Utf8),
            ("column_name", DataType::Utf8),
            ("ordinal_position", DataType::Int32),
            ("position_in_unique_constraint", DataType::Int32),
        ])
    }

    fn batch(catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        // (namespace, table, constraint, column, position in the key)
        let mut rows: Vec<(String, String, String, String, i32)> = Vec::new();
        for (namespace, table) in named_tables(catalog)? {
            for (i, &column) in table.primary_key.iter().enumerate() {
                let Some(column) = table.columns.get(usize::from(column)) else { continue };
                let position = i32::try_from(i + 1).unwrap_or(i32::MAX);
                rows.push((namespace.clone(), table.name.clone(), primary_key_name(&table), column.name.clone(), position));
            }
        }
        batch(
            Self::schema(),
            vec![
                texts(&rows, |_| text(DATABASE)),
                texts(&rows, |r| Some(r.0.clone())),
                texts(&rows, |r| Some(r.2.clone())),
                texts(&rows, |_| text(DATABASE)),
                texts(&rows, |r| Some(r.0.clone())),
                texts(&rows, |r| Some(r.1.clone())),
                texts(&rows, |r| Some(r.3.clone())),
                ints(&rows, |r| Some(r.4)),
                ints(&rows, |_| None),
            ],
        )
    }
}

/// `information_schema.views`: CairnDB has no views (system tables are
/// listed in `tables`, whose definitions are not SQL).
pub struct Views;

impl PgTable for Views {
    const SCHEMA: &'static str = super::super::INFORMATION_SCHEMA;
    const NAME: &'static str = "views";

    fn schema() -> SchemaRef {
        schema(&[
            ("table_catalog", DataType::Utf8),
            ("table_schema", DataType::Utf8),
            ("table_name", DataType::Utf8),
            ("view_definition", DataType::Utf8),
            ("check_option", DataType::Utf8),
            ("is_updatable", DataType::Utf8),
            ("is_insertable_into", DataType::Utf8),
            ("is_trigger_updatable", DataType::Utf8),
            ("is_trigger_deletable", DataType::Utf8),
            ("is_trigger_insertable_into", DataType::Utf8),
        ])
    }

    fn batch(_catalog: &Catalog, _actor: &Actor) -> cairn_types::Result<RecordBatch> {
        Ok(RecordBatch::new_empty(Self::schema()))
    }
}
