//! The catalog functions psql and drivers call: `pg_get_userbyid`,
//! `pg_table_is_visible`, `pg_encoding_to_char`, `format_type`,
//! `pg_get_expr`, `current_schemas`, `to_regtype`, the `has_*_privilege`
//! checks (true: access is checked when a statement runs),
//! `pg_get_serial_sequence` (NULL: no sequences), `pg_get_indexdef` and
//! `pg_get_constraintdef` (primary keys), and `obj_description` /
//! `col_description` / `shobj_description` (NULL: CairnDB keeps no comments),
//! and `pg_typeof`.

use std::sync::Arc;

use cairn_catalog::Catalog;
use cairn_types::{TableDef, User};
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, PrimitiveArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

use super::oid;
use cairn_tables::system::{SYSTEM_SCHEMA, SYSTEM_TABLE_NAMES};

/// What a catalog function computes from one OID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    UserName,
    TableVisible,
    EncodingName,
    Description,
    /// `format_type(type oid, typmod)`.
    FormatType,
    /// `pg_get_expr(text, relation [, pretty])`: defaults are kept as SQL text.
    Expression,
    /// `current_schemas(include_implicit)`: the search path, as `name[]`.
    CurrentSchemas,
    /// `has_table_privilege(…)` and friends: true. CairnDB checks access
    /// when a statement reads or writes, by role and access level.
    Privilege,
    /// `to_regtype(name)`: a built-in type's OID, or NULL.
    ToRegtype,
    /// NULL: `pg_get_serial_sequence` (there are no sequences) and
    /// `pg_advisory_unlock_all` (void; CairnDB takes no advisory locks).
    Null,
    /// `pg_get_indexdef(index [, column, pretty])`.
    IndexDefinition,
    /// `pg_get_constraintdef(constraint [, pretty])`.
    ConstraintDefinition,
    /// `pg_relation_is_publishable`: false, CairnDB has no publications.
    Never,
    /// `pg_type_is_visible`, `pg_collation_is_visible`: true, every type and
    /// collation is in pg_catalog, which is always searched.
    Always,
    /// `pg_table_size` and friends: NULL. Rows live in one LSM tree with
    /// no per-table size kept, and a guess would mislead.
    UnknownSize,
    /// `pg_size_pretty(bigint)`.
    SizePretty,
    /// `'name'::regclass`: a table's OID from its (possibly qualified)
    /// name, looked up on the search path; 42P01 if there is none.
    RegclassOid,
}

struct CatalogFunction {
    name: &'static str,
    kind: Kind,
    catalog: Arc<Catalog>,
    /// The session's search path, for `pg_table_is_visible`.
    search_path: Vec<String>,
    signature: Signature,
}

impl std::fmt::Debug for CatalogFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for CatalogFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.search_path == other.search_path
    }
}

impl Eq for CatalogFunction {}

impl std::hash::Hash for CatalogFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.search_path.hash(state);
    }
}

impl CatalogFunction {
    fn user_name(&self, oid: u32) -> String {
        let user = oid::user_of(oid)
            .and_then(|id| self.catalog.snapshot().get::<User>(&id).ok().flatten());
        user.map_or_else(|| format!("unknown (OID={oid})"), |user| user.username)
    }

    fn table_visible(&self, table_oid: u32) -> bool {
        if (oid::SYSTEM_TABLE_BASE..oid::SYSTEM_TABLE_BASE + SYSTEM_TABLE_NAMES.len() as u32)
            .contains(&table_oid)
        {
            return self.search_path.iter().any(|s| s == SYSTEM_SCHEMA);
        }
        let snapshot = self.catalog.snapshot();
        let Some(table) = oid::table_of(table_oid)
            .or_else(|| oid::table_of_primary_key_index(table_oid))
            .and_then(|id| snapshot.get::<TableDef>(&id).ok().flatten())
        else {
            return false;
        };
        let namespace = snapshot
            .get::<cairn_types::Namespace>(&table.namespace_id)
            .ok()
            .flatten();
        namespace.is_some_and(|n| self.search_path.contains(&n.name))
    }
}

impl CatalogFunction {
    /// `'ns.t'::regclass`, `'t'::regclass` (first on the search path),
    /// or an OID written as text.
    fn regclass(&self, name: &str) -> Result<u32> {
        if let Ok(oid) = name.trim().parse::<u32>() {
            return Ok(oid);
        }
        let part = |p: &str| match p.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\"\"", "\""),
            None => p.to_lowercase(),
        };
        let parts: Vec<String> = name.trim().splitn(2, '.').map(part).collect();
        let (namespaces, table) = match parts.as_slice() {
            [namespace, table] => (vec![namespace.clone()], table),
            [table] => (self.search_path.clone(), table),
            _ => return Err(undefined_relation(name)),
        };
        if let Some(oid) = catalog_relation_oid(table).filter(|_| namespaces.iter().any(|n| n == super::PG_CATALOG) || parts.len() == 1) {
            return Ok(oid);
        }
        let snapshot = self.catalog.snapshot();
        for namespace in &namespaces {
            let found = self.catalog.table(&snapshot, namespace, table).map_err(|e| {
                datafusion::error::DataFusionError::External(Box::new(e))
            })?;
            if let Some(found) = found {
                return Ok(oid::table(found.id));
            }
        }
        Err(undefined_relation(name))
    }

    fn table(&self, id: cairn_types::TableId) -> Option<TableDef> {
        self.catalog.snapshot().get::<TableDef>(&id).ok().flatten()
    }

    /// The whole definition for column 0, else that key column's name.
    fn index_definition(&self, index: u32, column: usize, pretty: bool) -> Option<String> {
        let table = self.table(oid::table_of_primary_key_index(index)?)?;
        if column > 0 {
            return super::deparse::primary_key_column(&table, column);
        }
        let namespace = self
            .catalog
            .snapshot()
            .get::<cairn_types::Namespace>(&table.namespace_id)
            .ok()
            .flatten()?;
        let qualify = !pretty || !self.search_path.contains(&namespace.name);
        Some(super::deparse::primary_key_index(
            &table,
            &namespace.name,
            qualify,
        ))
    }
}

impl ScalarUDFImpl for CatalogFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::TableVisible | Kind::Privilege | Kind::Never | Kind::Always => DataType::Boolean,
            Kind::CurrentSchemas => {
                DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
            }
            Kind::ToRegtype | Kind::RegclassOid => DataType::UInt32,
            Kind::UnknownSize => DataType::Int64,
            _ => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        if self.kind == Kind::Null {
            return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None)));
        }
        let Some(first) = arrays.first() else {
            return datafusion::common::exec_err!("{} takes an argument", self.name);
        };
        let len = first.len();
        let constant = |value: ScalarValue| Ok(ColumnarValue::Scalar(value));
        match self.kind {
            Kind::Privilege => return constant(ScalarValue::Boolean(Some(true))),
            Kind::Never => return constant(ScalarValue::Boolean(Some(false))),
            Kind::Always => return constant(ScalarValue::Boolean(Some(true))),
            Kind::UnknownSize => return constant(ScalarValue::Int64(None)),
            Kind::RegclassOid => {
                let names = cast(first, &DataType::Utf8)?;
                let names = names.as_any().downcast_ref::<StringArray>();
                let oids = (0..len)
                    .map(|row| match names.filter(|n| n.is_valid(row)) {
                        Some(names) => self.regclass(names.value(row)).map(Some),
                        None => Ok(None),
                    })
                    .collect::<Result<Vec<_>>>()?;
                let result: ArrayRef = Arc::new(datafusion::arrow::array::UInt32Array::from(oids));
                return cairn_tables::functions::shaped_like(&args.args, result);
            }
            Kind::CurrentSchemas => {
                let implicit = first
                    .as_any()
                    .downcast_ref::<BooleanArray>()
                    .is_some_and(|b| b.is_valid(0) && b.value(0));
                let mut names: Vec<ScalarValue> = Vec::new();
                if implicit {
                    names.push(ScalarValue::Utf8(Some(super::PG_CATALOG.to_owned())));
                }
                names.extend(
                    self.search_path
                        .iter()
                        .map(|name| ScalarValue::Utf8(Some(name.clone()))),
                );
                return constant(ScalarValue::List(ScalarValue::new_list_nullable(
                    &names,
                    &DataType::Utf8,
                )));
            }
            Kind::ToRegtype => {
                let names = cast(first, &DataType::Utf8)?;
                let names = names.as_any().downcast_ref::<StringArray>();
                let oids = (0..len).map(|row| {
                    let name = names
                        .filter(|n| n.is_valid(row))
                        .map(|n| n.value(row).trim().to_ascii_lowercase())?;
                    let name = name.strip_prefix("pg_catalog.").unwrap_or(&name).to_owned();
                    super::types::BUILTIN_TYPES
                        .iter()
                        .find(|t| t.name == name || t.display == name)
                        .map(|t| t.oid)
                });
                let result: ArrayRef =
                    Arc::new(datafusion::arrow::array::UInt32Array::from_iter(oids));
                return cairn_tables::functions::shaped_like(&args.args, result);
            }
            _ => {}
        }
        let integers = |array: &ArrayRef| -> Result<Vec<Option<i64>>> {
            let array = cast(array, &DataType::Int64)?;
            let array = array.as_any().downcast_ref::<PrimitiveArray<Int64Type>>();
            Ok((0..len)
                .map(|row| array.filter(|a| a.is_valid(row)).map(|a| a.value(row)))
                .collect())
        };
        let result: ArrayRef = if self.kind == Kind::Expression {
            cast(first, &DataType::Utf8)?
        } else {
            let oids: Vec<Option<u32>> = integers(first)?
                .into_iter()
                .map(|id| id.map(|id| u32::try_from(id).unwrap_or(0)))
                .collect();
            match self.kind {
                Kind::UserName => Arc::new(StringArray::from_iter(
                    oids.iter().map(|o| o.map(|o| self.user_name(o))),
                )),
                Kind::TableVisible => Arc::new(BooleanArray::from_iter(
                    oids.iter().map(|o| o.map(|o| self.table_visible(o))),
                )),
                Kind::EncodingName => Arc::new(StringArray::from_iter(
                    oids.iter().map(|o| o.map(|_| "UTF8".to_owned())),
                )),
                Kind::FormatType => {
                    let typmods = match arrays.get(1) {
                        Some(typmods) => integers(typmods)?,
                        None => vec![None; len],
                    };
                    Arc::new(StringArray::from_iter(oids.iter().zip(typmods).map(
                        |(oid, typmod)| {
                            let typmod = typmod.map_or(-1, |m| i32::try_from(m).unwrap_or(-1));
                            oid.map(|oid| {
                                super::types::format_type(oid, typmod)
                                    .unwrap_or_else(|| "???".to_owned())
                            })
                        },
                    )))
                }
                Kind::IndexDefinition => {
                    let columns = match arrays.get(1) {
                        Some(columns) => integers(columns)?,
                        None => vec![Some(0); len],
                    };
                    let pretty = arrays.get(2).map(|p| {
                        p.as_any()
                            .downcast_ref::<BooleanArray>()
                            .is_some_and(|b| b.is_valid(0) && b.value(0))
                    });
                    Arc::new(StringArray::from_iter(oids.iter().zip(columns).map(
                        |(oid, column)| {
                            self.index_definition(
                                (*oid)?,
                                usize::try_from(column?).ok()?,
                                pretty.unwrap_or(false),
                            )
                        },
                    )))
                }
                Kind::ConstraintDefinition => {
                    Arc::new(StringArray::from_iter(oids.iter().map(|oid| {
                        let table = self.table(oid::table_of_primary_key_constraint((*oid)?)?)?;
                        Some(super::deparse::primary_key_constraint(&table))
                    })))
                }
                Kind::SizePretty => {
                    let sizes = integers(first)?;
                    Arc::new(StringArray::from_iter(
                        sizes.into_iter().map(|size| size.map(size_pretty)),
                    ))
                }
                Kind::Description
                | Kind::Never
                | Kind::Always
                | Kind::UnknownSize
                | Kind::RegclassOid
                | Kind::Expression
                | Kind::CurrentSchemas
                | Kind::Privilege
                | Kind::ToRegtype
                | Kind::Null => Arc::new(StringArray::new_null(len)),
            }
        };
        cairn_tables::functions::shaped_like(&args.args, result)
    }
}

/// PostgreSQL's OIDs for the catalog tables clients name in
/// `obj_description(oid, 'pg_catalog.pg_class'::regclass)` and the like.
fn catalog_relation_oid(name: &str) -> Option<u32> {
    Some(match name {
        "pg_type" => 1247,
        "pg_attribute" => 1249,
        "pg_proc" => 1255,
        "pg_class" => 1259,
        "pg_database" => 1262,
        "pg_namespace" => 2615,
        "pg_constraint" => 2606,
        "pg_index" => 2610,
        "pg_description" => 2609,
        "pg_attrdef" => 2604,
        _ => return None,
    })
}

fn undefined_relation(name: &str) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::External(Box::new(cairn_types::CairnError::UndefinedTable(format!(
        "relation \"{name}\" does not exist"
    ))))
}

/// `pg_size_pretty`: bytes below 10 kB, then kB, MB, … each rounded half
/// away from zero, as PostgreSQL prints them.
fn size_pretty(size: i64) -> String {
    const LIMIT: i64 = 10 * 1024;
    const LIMIT_HALVES: i64 = LIMIT * 2 - 1;
    let half_rounded = |x: i64| (x + if x < 0 { -1 } else { 1 }) / 2;
    if size.abs() < LIMIT {
        return format!("{size} bytes");
    }
    // One bit more than the unit, for rounding.
    let mut halves = size >> 9;
    for unit in ["kB", "MB", "GB", "TB"] {
        if halves.abs() < LIMIT_HALVES {
            return format!("{} {unit}", half_rounded(halves));
        }
        halves >>= 10;
    }
    format!("{} PB", half_rounded(halves))
}

/// `pg_typeof(any)`: the name of its argument's type as `format_type`
/// writes it (`integer`, `numeric`, `text[]`). PostgreSQL's result is a
/// `regtype`, whose text is that name; CairnDB sends it as text.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TypeOf {
    signature: Signature,
}

impl ScalarUDFImpl for TypeOf {
    fn name(&self) -> &str {
        "pg_typeof"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some(field) = args.arg_fields.first() else {
            return datafusion::common::exec_err!("pg_typeof takes one argument");
        };
        let name = match field.data_type() {
            // An untyped NULL, as PostgreSQL's `pg_typeof(NULL)`.
            DataType::Null => "unknown".to_owned(),
            data_type => {
                let named = field.metadata().get(cairn_tables::values::PG_TYPE_METADATA).map(String::as_str);
                let oid = super::types::oid_of_arrow(data_type, named);
                super::types::format_type(oid, -1).unwrap_or_else(|| "text".to_owned())
            }
        };
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(name))))
    }
}

/// What `'name'::regclass` is planned as (see `postgres::rewrites`).
pub const REGCLASS_FUNCTION: &str = "cairn_regclass";

/// The catalog functions for a session with this search path.
pub fn catalog_functions(catalog: &Arc<Catalog>, search_path: &[String]) -> Vec<ScalarUDF> {
    [
        ("pg_get_userbyid", Kind::UserName),
        ("pg_table_is_visible", Kind::TableVisible),
        ("pg_encoding_to_char", Kind::EncodingName),
        ("obj_description", Kind::Description),
        ("col_description", Kind::Description),
        ("shobj_description", Kind::Description),
        ("format_type", Kind::FormatType),
        ("pg_get_expr", Kind::Expression),
        ("current_schemas", Kind::CurrentSchemas),
        ("has_table_privilege", Kind::Privilege),
        ("has_schema_privilege", Kind::Privilege),
        ("has_database_privilege", Kind::Privilege),
        ("has_column_privilege", Kind::Privilege),
        ("to_regtype", Kind::ToRegtype),
        ("pg_get_serial_sequence", Kind::Null),
        ("pg_advisory_unlock_all", Kind::Null),
        ("pg_get_indexdef", Kind::IndexDefinition),
        ("pg_get_constraintdef", Kind::ConstraintDefinition),
        ("pg_relation_is_publishable", Kind::Never),
        ("pg_get_statisticsobjdef_columns", Kind::Null),
        ("pg_table_size", Kind::UnknownSize),
        ("pg_relation_size", Kind::UnknownSize),
        ("pg_total_relation_size", Kind::UnknownSize),
        ("pg_indexes_size", Kind::UnknownSize),
        ("pg_database_size", Kind::UnknownSize),
        ("pg_size_pretty", Kind::SizePretty),
        ("pg_type_is_visible", Kind::Always),
        ("pg_collation_is_visible", Kind::Always),
        (REGCLASS_FUNCTION, Kind::RegclassOid),
    ]
    .into_iter()
    .map(|(name, kind)| {
        ScalarUDF::from(CatalogFunction {
            name,
            kind,
            catalog: Arc::clone(catalog),
            search_path: search_path.to_vec(),
            // Some take no argument: `pg_advisory_unlock_all()`, which
            // asyncpg's pool sends to reset a connection.
            signature: Signature::one_of(
                vec![TypeSignature::Nullary, TypeSignature::VariadicAny],
                Volatility::Stable,
            ),
        })
    })
    .chain([ScalarUDF::from(TypeOf { signature: Signature::any(1, Volatility::Immutable) })])
    .collect()
}

#[cfg(test)]
mod tests {
    use super::size_pretty;

    #[test]
    fn sizes_print_as_postgres_prints_them() {
        assert_eq!(size_pretty(8192), "8192 bytes");
        assert_eq!(size_pretty(10 * 1024), "10 kB");
        assert_eq!(size_pretty(1_000_000), "977 kB");
        assert_eq!(size_pretty(123_456_789), "118 MB");
        assert_eq!(size_pretty(-20_000), "-20 kB");
    }
}
