//! The catalog functions psql and drivers call with pg_catalog OIDs:
//! `pg_get_userbyid`, `pg_table_is_visible`, `pg_encoding_to_char`, and
//! `obj_description` / `col_description` / `shobj_description` (CairnDB
//! keeps no comments: always NULL).

use std::sync::Arc;

use cairn_catalog::Catalog;
use cairn_types::{TableDef, User};
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, StringArray};
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
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let ids = match arrays.first() {
            Some(first) => cast(first, &DataType::Int64)?,
            None => return datafusion::common::exec_err!("{} takes an OID", self.name),
        };
        let ids = ids.as_any().downcast_ref::<datafusion::arrow::array::PrimitiveArray<Int64Type>>();
        let id = |row: usize| ids.filter(|a| a.is_valid(row)).map(|a| u32::try_from(a.value(row)).unwrap_or(0));
        let len = ids.map_or(rows, |a| a.len());
        let result: ArrayRef = match self.kind {
            Kind::UserName => Arc::new(StringArray::from_iter((0..len).map(|r| id(r).map(|o| self.user_name(o))))),
            Kind::TableVisible => Arc::new(BooleanArray::from_iter((0..len).map(|r| id(r).map(|o| self.table_visible(o))))),
            Kind::EncodingName => Arc::new(StringArray::from_iter((0..len).map(|r| id(r).map(|_| "UTF8".to_owned())))),
            Kind::Description => Arc::new(StringArray::new_null(len)),
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
