//! The catalog functions psql and drivers call with pg_catalog OIDs:
//! `pg_get_userbyid`, `pg_table_is_visible`, `pg_encoding_to_char`, and
//! `obj_description` / `col_description` / `shobj_description` (CairnDB
//! keeps no comments: always NULL).

use std::sync::Arc;

use cairn_catalog::Catalog;
use cairn_types::{TableDef, User};
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, PrimitiveArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use super::oid;
use crate::system::{SYSTEM_SCHEMA, SYSTEM_TABLE_NAMES};

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
        let user = oid::user_of(oid).and_then(|id| self.catalog.snapshot().get::<User>(&id).ok().flatten());
        user.map_or_else(|| format!("unknown (OID={oid})"), |user| user.username)
    }

    fn table_visible(&self, table_oid: u32) -> bool {
        if (oid::SYSTEM_TABLE_BASE..oid::SYSTEM_TABLE_BASE + SYSTEM_TABLE_NAMES.len() as u32).contains(&table_oid) {
            return self.search_path.iter().any(|s| s == SYSTEM_SCHEMA);
        }
        let snapshot = self.catalog.snapshot();
        let Some(table) = oid::table_of(table_oid).and_then(|id| snapshot.get::<TableDef>(&id).ok().flatten()) else {
            return false;
        };
        let namespace = snapshot.get::<cairn_types::Namespace>(&table.namespace_id).ok().flatten();
        namespace.is_some_and(|n| self.search_path.contains(&n.name))
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
            Kind::TableVisible => DataType::Boolean,
            _ => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(first) = arrays.first() else {
            return datafusion::common::exec_err!("{} takes an argument", self.name);
        };
        let len = first.len();
        let integers = |array: &ArrayRef| -> Result<Vec<Option<i64>>> {
            let array = cast(array, &DataType::Int64)?;
            let array = array.as_any().downcast_ref::<PrimitiveArray<Int64Type>>();
            Ok((0..len).map(|row| array.filter(|a| a.is_valid(row)).map(|a| a.value(row))).collect())
        };
        let result: ArrayRef = if self.kind == Kind::Expression {
            cast(first, &DataType::Utf8)?
        } else {
            let oids: Vec<Option<u32>> =
                integers(first)?.into_iter().map(|id| id.map(|id| u32::try_from(id).unwrap_or(0))).collect();
            match self.kind {
                Kind::UserName => Arc::new(StringArray::from_iter(oids.iter().map(|o| o.map(|o| self.user_name(o))))),
                Kind::TableVisible => Arc::new(BooleanArray::from_iter(oids.iter().map(|o| o.map(|o| self.table_visible(o))))),
                Kind::EncodingName => Arc::new(StringArray::from_iter(oids.iter().map(|o| o.map(|_| "UTF8".to_owned())))),
                Kind::FormatType => {
                    let typmods = match arrays.get(1) {
                        Some(typmods) => integers(typmods)?,
                        None => vec![None; len],
                    };
                    Arc::new(StringArray::from_iter(oids.iter().zip(typmods).map(|(oid, typmod)| {
                        let typmod = typmod.map_or(-1, |m| i32::try_from(m).unwrap_or(-1));
                        oid.map(|oid| super::types::format_type(oid, typmod).unwrap_or_else(|| "???".to_owned()))
                    })))
                }
                Kind::Description | Kind::Expression => Arc::new(StringArray::new_null(len)),
            }
        };
        Ok(match args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
            true => ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?),
            false => ColumnarValue::Array(result),
        })
    }
}

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
    ]
    .into_iter()
    .map(|(name, kind)| {
        ScalarUDF::from(CatalogFunction {
            name,
            kind,
            catalog: Arc::clone(catalog),
            search_path: search_path.to_vec(),
            signature: Signature::variadic_any(Volatility::Stable),
        })
    })
    .collect()
}
