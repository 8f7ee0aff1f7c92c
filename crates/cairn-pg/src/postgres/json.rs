//! The json and jsonb operators and functions, on the values of
//! [`cairn_tables::json`]: `->`, `->>`, `#>`, `#>>`, `@>`, `<@`, `?`,
//! `?|`, `?&`, jsonb `||`, `-` and `#-` (planned from the operators by
//! [`plan_operator`]), and `jsonb_typeof`, `jsonb_build_object`,
//! `to_jsonb`, `jsonb_set` and the rest of [`functions`].
//!
//! A value's type comes from its field's metadata: json keeps its text, so
//! a part of it is the text it was written as; jsonb's is normal, and a
//! part of it is written in jsonb's form. Text that is neither (an
//! untyped literal) reads as jsonb.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int32Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{exec_err, DFSchema, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ExprSchemable, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::logical_expr::Expr;
use datafusion::sql::sqlparser::ast::BinaryOperator;

use cairn_tables::error::to_df;
use cairn_tables::json::{Json, Node, SetMode, Step};
use cairn_tables::values::PG_TYPE_METADATA;
use cairn_types::{CairnError, Value};

/// Which of the two types a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Json,
    Jsonb,
}

impl Kind {
    fn of(field: &Field) -> Option<Kind> {
        match field.metadata().get(PG_TYPE_METADATA).map(String::as_str) {
            Some("json") => Some(Kind::Json),
            Some("jsonb") => Some(Kind::Jsonb),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Json => "json",
            Kind::Jsonb => "jsonb",
        }
    }
}

/// What a [`JsonFunction`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    /// `->` / `->>`.
    Get { as_text: bool },
    /// `#>` / `#>>` (a text[] path), `json[b]_extract_path[_text]` (the
    /// path as arguments).
    GetPath { as_text: bool, variadic: bool },
    /// `@>`; `<@` with the arguments swapped.
    Contains { swapped: bool },
    /// `?`.
    HasKey,
    /// `?|` (any) / `?&` (all).
    HasKeys { all: bool },
    /// jsonb `||`.
    Concat,
    /// jsonb `-` a key, an index or a text[] of keys.
    Delete,
    /// `#-`.
    DeletePath,
    TypeOf,
    ArrayLength,
    StripNulls,
    /// `jsonb_set`, `jsonb_insert`.
    Set { insert: bool },
    BuildObject,
    BuildArray,
    /// `to_json`, `to_jsonb`.
    To,
}

/// One json operator or function. `kind` is the type of the value it
/// makes where that is fixed by its name (`jsonb_build_object`); else the
/// first argument's type decides.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonFunction {
    name: &'static str,
    op: Op,
    kind: Option<Kind>,
    signature: Signature,
}

fn udf(name: &'static str, op: Op, kind: Option<Kind>) -> ScalarUDF {
    let signature = match op {
        Op::BuildObject | Op::BuildArray | Op::GetPath { variadic: true, .. } => {
            Signature::variadic_any(Volatility::Immutable)
        }
        Op::TypeOf | Op::ArrayLength | Op::StripNulls | Op::To => Signature::any(1, Volatility::Immutable),
        Op::Set { .. } => Signature::variadic_any(Volatility::Immutable),
        _ => Signature::any(2, Volatility::Immutable),
    };
    ScalarUDF::from(JsonFunction { name, op, kind, signature })
}

/// The json functions, registered by name.
pub fn functions() -> Vec<ScalarUDF> {
    use Kind::{Json as J, Jsonb as B};
    vec![
        udf("json_typeof", Op::TypeOf, Some(J)),
        udf("jsonb_typeof", Op::TypeOf, Some(B)),
        udf("json_array_length", Op::ArrayLength, Some(J)),
        udf("jsonb_array_length", Op::ArrayLength, Some(B)),
        udf("jsonb_strip_nulls", Op::StripNulls, Some(B)),
        udf("json_strip_nulls", Op::StripNulls, Some(J)),
        udf("jsonb_set", Op::Set { insert: false }, Some(B)),
        udf("jsonb_insert", Op::Set { insert: true }, Some(B)),
        udf("json_build_object", Op::BuildObject, Some(J)),
        udf("jsonb_build_object", Op::BuildObject, Some(B)),
        udf("json_build_array", Op::BuildArray, Some(J)),
        udf("jsonb_build_array", Op::BuildArray, Some(B)),
        udf("to_json", Op::To, Some(J)),
        udf("to_jsonb", Op::To, Some(B)),
        udf("json_extract_path", Op::GetPath { as_text: false, variadic: true }, Some(J)),
        udf("jsonb_extract_path", Op::GetPath { as_text: false, variadic: true }, Some(B)),
        udf("json_extract_path_text", Op::GetPath { as_text: true, variadic: true }, Some(J)),
        udf("jsonb_extract_path_text", Op::GetPath { as_text: true, variadic: true }, Some(B)),
    ]
}

/// The json operator `op` between `left` and `right`, if it is one: the
/// operators only json has always, and `||` and `-` when the left side is
/// jsonb (else they are text's and arithmetic).
pub fn plan_operator(op: &BinaryOperator, left: &Expr, right: &Expr, schema: &DFSchema) -> Option<Expr> {
    let kind_of = |e: &Expr| e.to_field(schema).ok().and_then(|(_, field)| Kind::of(&field));
    let (name, op, swap) = match op {
        BinaryOperator::Arrow => ("json_get", Op::Get { as_text: false }, false),
        BinaryOperator::LongArrow => ("json_get_text", Op::Get { as_text: true }, false),
        BinaryOperator::HashArrow => ("json_get_path", Op::GetPath { as_text: false, variadic: false }, false),
        BinaryOperator::HashLongArrow => ("json_get_path_text", Op::GetPath { as_text: true, variadic: false }, false),
        BinaryOperator::AtArrow => ("jsonb_contains", Op::Contains { swapped: false }, false),
        BinaryOperator::ArrowAt => ("jsonb_contained", Op::Contains { swapped: true }, false),
        BinaryOperator::Question => ("jsonb_exists", Op::HasKey, false),
        BinaryOperator::QuestionPipe => ("jsonb_exists_any", Op::HasKeys { all: false }, false),
        BinaryOperator::QuestionAnd => ("jsonb_exists_all", Op::HasKeys { all: true }, false),
        BinaryOperator::HashMinus => ("jsonb_delete_path", Op::DeletePath, false),
        BinaryOperator::StringConcat if kind_of(left) == Some(Kind::Jsonb) || kind_of(right) == Some(Kind::Jsonb) => {
            ("jsonb_concat", Op::Concat, false)
        }
        BinaryOperator::Minus if kind_of(left) == Some(Kind::Jsonb) => ("jsonb_delete", Op::Delete, false),
        _ => return None,
    };
    let args = match swap {
        true => vec![right.clone(), left.clone()],
        false => vec![left.clone(), right.clone()],
    };
    Some(udf(name, op, None).call(args))
}

fn text_field(name: &str, kind: Kind) -> FieldRef {
    let metadata = HashMap::from([(PG_TYPE_METADATA.to_owned(), kind.name().to_owned())]);
    Arc::new(Field::new(name, DataType::Utf8, true).with_metadata(metadata))
}

impl JsonFunction {
    /// The type of the value this makes, or of its first argument.
    fn kind(&self, fields: &[FieldRef]) -> Kind {
        self.kind.or_else(|| fields.first().and_then(|f| Kind::of(f))).unwrap_or(Kind::Jsonb)
    }
}

impl ScalarUDFImpl for JsonFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.op {
            Op::Contains { .. } | Op::HasKey | Op::HasKeys { .. } => DataType::Boolean,
            Op::ArrayLength => DataType::Int32,
            _ => DataType::Utf8,
        })
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let data_type = self.return_type(&[])?;
        Ok(match self.op {
            Op::Get { as_text: true } | Op::GetPath { as_text: true, .. } | Op::TypeOf => {
                Arc::new(Field::new(self.name, DataType::Utf8, true))
            }
            _ if data_type != DataType::Utf8 => Arc::new(Field::new(self.name, data_type, true)),
            Op::Concat | Op::Delete | Op::DeletePath => text_field(self.name, Kind::Jsonb),
            _ => text_field(self.name, self.kind(args.arg_fields)),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let kind = self.kind(&args.arg_fields);
        let input_kind = args.arg_fields.first().and_then(|f| Kind::of(f)).unwrap_or(kind);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let rows = args.number_rows;
        let result: ArrayRef = match self.op {
            Op::Contains { .. } | Op::HasKey | Op::HasKeys { .. } => {
                Arc::new((0..rows).map(|row| self.test(&arrays, row)).collect::<Result<BooleanArray>>()?)
            }
            Op::ArrayLength => Arc::new(
                (0..rows)
                    .map(|row| {
                        Ok(match document(&arrays[0], row)? {
                            None => None,
                            Some(Node { value: Json::Array(elements), .. }) => i32::try_from(elements.len()).ok(),
                            Some(_) => {
                                return Err(to_df(CairnError::InvalidParameterValue(format!(
                                    "cannot get array length of a {}",
                                    match kind {
                                        Kind::Json => "non-array",
                                        Kind::Jsonb => "scalar",
                                    }
                                ))))
                            }
                        })
                    })
                    .collect::<Result<Int32Array>>()?,
            ),
            _ => Arc::new(
                (0..rows)
                    .map(|row| self.text(&arrays, &args.arg_fields, row, kind, input_kind))
                    .collect::<Result<StringArray>>()?,
            ),
        };
        cairn_tables::functions::shaped_like(&args.args, result)
    }
}

impl JsonFunction {
    /// The boolean operators, for one row.
    fn test(&self, arrays: &[ArrayRef], row: usize) -> Result<Option<bool>> {
        let Some(doc) = document(&arrays[0], row)? else { return Ok(None) };
        Ok(match self.op {
            Op::Contains { swapped } => {
                let Some(other) = document(&arrays[1], row)? else { return Ok(None) };
                let (doc, other) = (doc.value.normalized(), other.value.normalized());
                Some(match swapped {
                    false => doc.contains(&other),
                    true => other.contains(&doc),
                })
            }
            Op::HasKey => text_at(&arrays[1], row)?.map(|key| doc.value.has_key(&key)),
            Op::HasKeys { all } => {
                let Some(keys) = text_array(&arrays[1], row)? else { return Ok(None) };
                let mut keys = keys.iter().flatten();
                Some(match all {
                    true => keys.all(|key| doc.value.has_key(key)),
                    false => keys.any(|key| doc.value.has_key(key)),
                })
            }
            _ => None,
        })
    }

    /// The operators and functions that make text (json, jsonb or
    /// plain), for one row.
    fn text(
        &self,
        arrays: &[ArrayRef],
        fields: &[FieldRef],
        row: usize,
        kind: Kind,
        input_kind: Kind,
    ) -> Result<Option<String>> {
        // A part of a json value is the text it was written as.
        let part = |source: &str, node: &Node, as_text: bool| -> Option<String> {
            let written = |json: &Json| match input_kind {
                Kind::Json => source.get(node.span.clone()).map_or_else(|| json.jsonb_text(), str::to_owned),
                Kind::Jsonb => json.jsonb_text(),
            };
            match as_text {
                true => node.value.as_text(written),
                false => Some(written(&node.value)),
            }
        };
        let made = |json: Json| -> Option<String> {
            Some(match kind {
                Kind::Jsonb => json.normalized().jsonb_text(),
                Kind::Json => json.json_text(" : ", ", "),
            })
        };
        match self.op {
            Op::Get { as_text } => {
                let (Some(source), Some(step)) = (text_at(&arrays[0], row)?, step_at(&arrays[1], row)?) else {
                    return Ok(None);
                };
                let doc = parse(&source)?;
                Ok(doc.value.get(&step).and_then(|node| part(&source, node, as_text)))
            }
            Op::GetPath { as_text, variadic } => {
                let Some(source) = text_at(&arrays[0], row)? else { return Ok(None) };
                let path = match variadic {
                    true => arrays[1..].iter().map(|a| text_at(a, row)).collect::<Result<Option<Vec<_>>>>()?,
                    false => text_array(&arrays[1], row)?.and_then(|steps| steps.into_iter().collect()),
                };
                let Some(path) = path else { return Ok(None) };
                let doc = parse(&source)?;
                if path.is_empty() {
                    return Ok(part(&source, &doc, as_text));
                }
                Ok(doc.value.get_path(&path).and_then(|node| part(&source, node, as_text)))
            }
            Op::Concat => {
                let (Some(left), Some(right)) = (document(&arrays[0], row)?, document(&arrays[1], row)?) else {
                    return Ok(None);
                };
                Ok(Some(left.value.normalized().concat(right.value.normalized()).jsonb_text()))
            }
            Op::Delete => {
                let Some(doc) = document(&arrays[0], row)? else { return Ok(None) };
                let doc = doc.value.normalized();
                let removed = match arrays[1].data_type() {
                    t if t.is_integer() => match ScalarValue::try_from_array(&arrays[1], row)? {
                        ScalarValue::Int64(Some(i)) => doc.remove_index(i).map_err(to_df)?,
                        other if other.is_null() => return Ok(None),
                        other => doc.remove_index(integer(&other)?).map_err(to_df)?,
                    },
                    DataType::List(_) => match text_array(&arrays[1], row)? {
                        None => return Ok(None),
                        Some(keys) => keys.iter().flatten().fold(doc, |doc, key| doc.remove_key(key)),
                    },
                    _ => match text_at(&arrays[1], row)? {
                        None => return Ok(None),
                        Some(key) => doc.remove_key(&key),
                    },
                };
                Ok(Some(removed.jsonb_text()))
            }
            Op::DeletePath => {
                let Some(doc) = document(&arrays[0], row)? else { return Ok(None) };
                let Some(path) = text_array(&arrays[1], row)?.and_then(|p| p.into_iter().collect::<Option<Vec<_>>>())
                else {
                    return Ok(None);
                };
                Ok(Some(doc.value.normalized().remove_path(&path).jsonb_text()))
            }
            Op::TypeOf => Ok(document(&arrays[0], row)?.map(|doc| doc.value.type_name().to_owned())),
            Op::StripNulls => Ok(document(&arrays[0], row)?.map(|doc| match kind {
                Kind::Jsonb => doc.value.normalized().strip_nulls().jsonb_text(),
                Kind::Json => doc.value.strip_nulls().json_text(":", ","),
            })),
            Op::Set { insert } => {
                let [target, path, value, rest @ ..] = arrays else {
                    return exec_err!("{} takes a target, a path and a value", self.name);
                };
                let (Some(doc), Some(path), Some(value)) =
                    (document(target, row)?, text_array(path, row)?, document(value, row)?)
                else {
                    return Ok(None);
                };
                let Some(path) = path.into_iter().collect::<Option<Vec<_>>>() else { return Ok(None) };
                let flag = match rest.first() {
                    Some(flag) => match ScalarValue::try_from_array(flag, row)? {
                        ScalarValue::Boolean(Some(flag)) => Some(flag),
                        _ => return Ok(None),
                    },
                    None => None,
                };
                let mode = match (insert, flag) {
                    (false, Some(false)) => SetMode::Replace,
                    (false, _) => SetMode::ReplaceOrCreate,
                    (true, Some(true)) => SetMode::InsertAfter,
                    (true, _) => SetMode::InsertBefore,
                };
                Ok(Some(doc.value.normalized().set_path(&path, value.value.normalized(), mode).jsonb_text()))
            }
            Op::BuildObject => {
                if !arrays.len().is_multiple_of(2) {
                    return Err(to_df(CairnError::InvalidParameterValue(
                        "argument list must have even number of elements".into(),
                    )));
                }
                let mut members = Vec::with_capacity(arrays.len() / 2);
                for (i, pair) in arrays.chunks(2).enumerate() {
                    let Some(key) = text_at(&pair[0], row)? else {
                        return Err(to_df(CairnError::InvalidParameterValue(format!(
                            "argument {}: key must not be null",
                            2 * i + 1
                        ))));
                    };
                    members.push((key, Node::new(to_json(&pair[1], &fields[2 * i + 1], row)?)));
                }
                Ok(made(Json::Object(members)))
            }
            Op::BuildArray => {
                let elements = arrays
                    .iter()
                    .zip(fields)
                    .map(|(array, field)| to_json(array, field, row).map(Node::new))
                    .collect::<Result<Vec<_>>>()?;
                Ok(match kind {
                    Kind::Jsonb => made(Json::Array(elements)),
                    Kind::Json => Some(Json::Array(elements).json_text(" : ", ", ")),
                })
            }
            Op::To => {
                if is_null(&arrays[0], row) {
                    return Ok(None);
                }
                let json = to_json(&arrays[0], &fields[0], row)?;
                Ok(Some(match kind {
                    Kind::Jsonb => json.normalized().jsonb_text(),
                    Kind::Json => json.json_text(":", ","),
                }))
            }
            _ => Ok(None),
        }
    }
}

fn parse(text: &str) -> Result<Node> {
    Json::parse(text).map_err(to_df)
}

fn integer(value: &ScalarValue) -> Result<i64> {
    match value.cast_to(&DataType::Int64)? {
        ScalarValue::Int64(Some(i)) => Ok(i),
        _ => exec_err!("an integer was expected"),
    }
}

/// Whether row `row` is NULL (an untyped NULL's array has no validity
/// bitmap: every row of it is).
fn is_null(array: &ArrayRef, row: usize) -> bool {
    array.is_null(row) || array.data_type() == &DataType::Null
}

/// Row `row` of a text (or any) column as text.
fn text_at(array: &ArrayRef, row: usize) -> Result<Option<String>> {
    if is_null(array, row) {
        return Ok(None);
    }
    let text = cast(&array.slice(row, 1), &DataType::Utf8)?;
    Ok(Some(text.as_string::<i32>().value(0).to_owned()))
}

/// Row `row` as a json value.
fn document(array: &ArrayRef, row: usize) -> Result<Option<Node>> {
    text_at(array, row)?.map(|text| parse(&text)).transpose()
}

/// The right side of `->`: a key (text) or a position (an integer).
fn step_at(array: &ArrayRef, row: usize) -> Result<Option<Step>> {
    if is_null(array, row) {
        return Ok(None);
    }
    if array.data_type().is_integer() {
        return Ok(Some(Step::Index(integer(&ScalarValue::try_from_array(array, row)?)?)));
    }
    Ok(text_at(array, row)?.map(Step::Key))
}

/// Row `row` as a text array: a list, or text in array form (`'{a,b}'`).
fn text_array(array: &ArrayRef, row: usize) -> Result<Option<Vec<Option<String>>>> {
    if is_null(array, row) {
        return Ok(None);
    }
    let list = match array.data_type() {
        DataType::List(_) => array.as_list::<i32>().value(row),
        _ => {
            let Some(text) = text_at(array, row)? else { return Ok(None) };
            let element = Arc::new(Field::new_list_field(DataType::Utf8, true));
            match super::array_literal(Some(&text), &DataType::List(element))? {
                ScalarValue::List(list) if !list.is_null(0) => list.value(0),
                _ => return Ok(None),
            }
        }
    };
    let list = cast(&list, &DataType::Utf8)?;
    Ok(Some(list.as_string::<i32>().iter().map(|s| s.map(str::to_owned)).collect()))
}

/// Row `row` of a column of any type as a json value, as `to_json`
/// converts it: json and jsonb as they are, numbers as numbers, dates and
/// timestamps in ISO form, arrays as arrays, anything else as its text.
fn to_json(array: &ArrayRef, field: &Field, row: usize) -> Result<Json> {
    if is_null(array, row) {
        return Ok(Json::Null);
    }
    if Kind::of(field).is_some() {
        let Some(text) = text_at(array, row)? else { return Ok(Json::Null) };
        return Ok(parse(&text)?.value);
    }
    let scalar = ScalarValue::try_from_array(array, row)?;
    let text = |value: &Value| cairn_tables::pg_text::value(value);
    Ok(match scalar {
        ScalarValue::Boolean(Some(b)) => Json::Bool(b),
        ScalarValue::Int8(Some(_))
        | ScalarValue::Int16(Some(_))
        | ScalarValue::Int32(Some(_))
        | ScalarValue::Int64(Some(_))
        | ScalarValue::UInt8(Some(_))
        | ScalarValue::UInt16(Some(_))
        | ScalarValue::UInt32(Some(_))
        | ScalarValue::UInt64(Some(_)) => Json::Number(scalar.to_string()),
        ScalarValue::Float32(Some(f)) => float_json(text(&Value::Float32(f))),
        ScalarValue::Float64(Some(f)) => float_json(text(&Value::Float64(f))),
        ScalarValue::Decimal128(Some(mantissa), _, scale) => {
            Json::Number(cairn_tables::pg_text::numeric(mantissa, u32::try_from(scale).unwrap_or(0)))
        }
        ScalarValue::Date32(Some(days)) => Json::String(text(&Value::Date(days))),
        ScalarValue::TimestampMicrosecond(Some(micros), tz) => iso_timestamp(&text(&Value::Timestamp(micros)), tz.is_some()),
        ScalarValue::TimestampNanosecond(Some(nanos), tz) => {
            iso_timestamp(&text(&Value::Timestamp(nanos / 1_000)), tz.is_some())
        }
        ScalarValue::TimestampMillisecond(Some(millis), tz) => {
            iso_timestamp(&text(&Value::Timestamp(millis * 1_000)), tz.is_some())
        }
        ScalarValue::TimestampSecond(Some(secs), tz) => {
            iso_timestamp(&text(&Value::Timestamp(secs * 1_000_000)), tz.is_some())
        }
        ScalarValue::List(list) => {
            let values = list.value(0);
            let element = Field::new("", values.data_type().clone(), true);
            Json::Array((0..values.len()).map(|i| to_json(&values, &element, i).map(Node::new)).collect::<Result<_>>()?)
        }
        ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) | ScalarValue::LargeUtf8(Some(s)) => Json::String(s),
        other => Json::String(text_at(&other.to_array()?, 0)?.unwrap_or_default()),
    })
}

/// A float as a JSON number, or a string where JSON has none (`"NaN"`,
/// `"Infinity"`), as PostgreSQL writes it.
fn float_json(text: String) -> Json {
    match text.parse::<f64>().is_ok_and(f64::is_finite) {
        true => Json::Number(text),
        false => Json::String(text),
    }
}

/// `2024-03-15 10:00:00` as JSON writes a timestamp: `2024-03-15T10:00:00`
/// (`+00:00` with a time zone: timestamptz is shown in UTC).
fn iso_timestamp(text: &str, zoned: bool) -> Json {
    let iso = text.replacen(' ', "T", 1);
    Json::String(match zoned {
        true => format!("{iso}+00:00"),
        false => iso,
    })
}
