//! PostgreSQL's session information functions: `version()`,
//! `current_user`, `session_user`, `current_database()`, `current_schema()`.
//! Their values are fixed for a session, so each is a constant UDF built
//! when the session starts (or when `search_path` changes).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::values::PG_TYPE_METADATA;

/// The PostgreSQL version CairnDB reports (`server_version`, `version()`).
pub const PG_SERVER_VERSION: &str = "16.6";
/// The same, as `server_version_num` gives it.
pub const PG_SERVER_VERSION_NUM: &str = "160006";

/// A function's result shaped like its arguments: a scalar when every
/// argument is one (constant folding relies on it), else the array.
pub fn shaped_like(args: &[ColumnarValue], result: datafusion::arrow::array::ArrayRef) -> Result<ColumnarValue> {
    Ok(match args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
        true => ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?),
        false => ColumnarValue::Array(result),
    })
}

/// The version string clients see: PostgreSQL-shaped, so that drivers that
/// parse it find a version they know.
pub fn version_string() -> String {
    format!(
        "PostgreSQL {} (CairnDB {}) on {}-{}, 64-bit",
        PG_SERVER_VERSION,
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ConstantText {
    name: &'static str,
    value: Option<String>,
    /// The PostgreSQL type clients are told (`text` or `name`).
    pg_type: &'static str,
    signature: Signature,
}

impl ScalarUDFImpl for ConstantText {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// PostgreSQL names the column `version`, not `version()`.
    fn schema_name(&self, _args: &[datafusion::logical_expr::Expr]) -> Result<String> {
        Ok(self.name.to_owned())
    }

    fn display_name(&self, _args: &[datafusion::logical_expr::Expr]) -> Result<String> {
        Ok(self.name.to_owned())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, _args: datafusion::logical_expr::ReturnFieldArgs) -> Result<FieldRef> {
        let metadata = HashMap::from([(PG_TYPE_METADATA.to_owned(), self.pg_type.to_owned())]);
        Ok(Arc::new(Field::new(self.name, DataType::Utf8, self.value.is_none()).with_metadata(metadata)))
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(self.value.clone())))
    }
}

/// A zero-argument function that returns `value` (NULL for `None`), of
/// PostgreSQL type `pg_type`.
pub fn constant_text(name: &'static str, pg_type: &'static str, value: Option<&str>) -> ScalarUDF {
    ScalarUDF::from(ConstantText {
        name,
        value: value.map(str::to_owned),
        pg_type,
        signature: Signature::nullary(Volatility::Stable),
    })
}

/// `gen_random_uuid()`: a random (version 4) UUID per row.
#[derive(Debug, PartialEq, Eq, Hash)]
struct GenRandomUuid {
    signature: Signature,
}

impl ScalarUDFImpl for GenRandomUuid {
    fn name(&self) -> &str {
        "gen_random_uuid"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    /// Text to Arrow, `uuid` to clients.
    fn return_field_from_args(&self, _args: datafusion::logical_expr::ReturnFieldArgs) -> Result<FieldRef> {
        let metadata = HashMap::from([(PG_TYPE_METADATA.to_owned(), "uuid".to_owned())]);
        Ok(Arc::new(Field::new(self.name(), DataType::Utf8, false).with_metadata(metadata)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let uuids = (0..args.number_rows).map(|_| Some(uuid::Uuid::new_v4().hyphenated().to_string()));
        Ok(ColumnarValue::Array(Arc::new(StringArray::from_iter(uuids))))
    }
}

pub fn gen_random_uuid_udf() -> ScalarUDF {
    ScalarUDF::from(GenRandomUuid { signature: Signature::nullary(Volatility::Volatile) })
}

/// The session functions for a user in a database with a current schema.
pub fn session_functions(user: &str, database: &str, schema: Option<&str>) -> Vec<Arc<ScalarUDF>> {
    [
        constant_text("version", "text", Some(&version_string())),
        constant_text("current_user", "name", Some(user)),
        constant_text("session_user", "name", Some(user)),
        constant_text("current_role", "name", Some(user)),
        constant_text("user", "name", Some(user)),
        constant_text("current_database", "name", Some(database)),
        constant_text("current_catalog", "name", Some(database)),
        // NULL when no namespace of the search path exists, as in PostgreSQL.
        constant_text("current_schema", "name", schema),
    ]
    .into_iter()
    .map(Arc::new)
    .collect()
}

/// `current_setting(name [, missing_ok])`: the session's value of a
/// parameter, as `SHOW` gives it. Rebuilt whenever the settings change.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CurrentSetting {
    /// Lower-case name and value.
    values: Vec<(String, String)>,
    signature: Signature,
}

impl ScalarUDFImpl for CurrentSetting {
    fn name(&self) -> &str {
        "current_setting"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let columns = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(names) = columns.first() else {
            return datafusion::common::exec_err!("current_setting takes a parameter name");
        };
        let values = (0..args.number_rows)
            .map(|row| {
                let name = ScalarValue::try_from_array(names, row)?;
                let missing_ok = match columns.get(1) {
                    Some(flags) => matches!(ScalarValue::try_from_array(flags, row)?, ScalarValue::Boolean(Some(true))),
                    None => false,
                };
                let name = match name {
                    ScalarValue::Utf8(Some(n)) | ScalarValue::Utf8View(Some(n)) | ScalarValue::LargeUtf8(Some(n)) => n,
                    _ => return Ok(None),
                };
                let found = self.values.iter().find(|(key, _)| key.eq_ignore_ascii_case(&name));
                match (found, missing_ok) {
                    (Some((_, value)), _) => Ok(Some(value.clone())),
                    (None, true) => Ok(None),
                    (None, false) => Err(datafusion::error::DataFusionError::External(Box::new(
                        cairn_types::CairnError::UndefinedObject(format!("unrecognized configuration parameter \"{name}\"")),
                    ))),
                }
            })
            .collect::<Result<Vec<Option<String>>>>()?;
        Ok(ColumnarValue::Array(Arc::new(StringArray::from(values))))
    }
}

/// `current_setting` over these (name, value) pairs.
pub fn current_setting_udf(values: Vec<(String, String)>) -> ScalarUDF {
    ScalarUDF::from(CurrentSetting { values, signature: Signature::variadic_any(Volatility::Stable) })
}

/// What `information_schema._pg_expandarray(a)` is planned as, inside
/// `unnest(…)`: each element with its position, `{x, n}`, as PostgreSQL's
/// function returns them (pgJDBC's `getPrimaryKeys` reads both).
#[derive(Debug, PartialEq, Eq, Hash)]
struct ExpandArray {
    signature: Signature,
}

pub const EXPAND_ARRAY_FUNCTION: &str = "cairn_expandarray";

fn expanded_type(element: &FieldRef) -> DataType {
    let fields = vec![
        Field::new("x", element.data_type().clone(), true),
        Field::new("n", DataType::Int32, false),
    ];
    DataType::List(Arc::new(Field::new_list_field(DataType::Struct(fields.into()), true)))
}

impl ScalarUDFImpl for ExpandArray {
    fn name(&self) -> &str {
        EXPAND_ARRAY_FUNCTION
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::List(element)] => Ok(expanded_type(element)),
            _ => datafusion::common::plan_err!("_pg_expandarray takes an array"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::array::{Array, AsArray, Int32Array, ListArray, StructArray};
        let columns = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(list) = columns.first().and_then(|c| c.as_list_opt::<i32>()) else {
            return datafusion::common::exec_err!("_pg_expandarray takes an array");
        };
        let DataType::List(element) = list.data_type() else {
            return datafusion::common::exec_err!("_pg_expandarray takes an array");
        };
        let offsets = list.offsets();
        let positions: Vec<i32> = offsets
            .windows(2)
            .flat_map(|pair| 1..=(pair[1] - pair[0]))
            .collect();
        let start = usize::try_from(offsets[0]).unwrap_or(0);
        let values = list.values().slice(start, positions.len());
        let DataType::List(item) = expanded_type(element) else {
            return datafusion::common::exec_err!("_pg_expandarray: unexpected type");
        };
        let DataType::Struct(fields) = item.data_type() else {
            return datafusion::common::exec_err!("_pg_expandarray: unexpected type");
        };
        let items = StructArray::try_new(fields.clone(), vec![values, Arc::new(Int32Array::from(positions))], None)?;
        let rebased = datafusion::arrow::buffer::OffsetBuffer::new(offsets.iter().map(|o| o - offsets[0]).collect());
        let expanded = ListArray::try_new(item, rebased, Arc::new(items), list.nulls().cloned())?;
        Ok(ColumnarValue::Array(Arc::new(expanded)))
    }
}

pub fn expand_array_udf() -> ScalarUDF {
    ScalarUDF::from(ExpandArray { signature: Signature::any(1, Volatility::Immutable) })
}
