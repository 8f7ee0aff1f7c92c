//! Column types and values between CairnDB rows and Arrow arrays.

use std::sync::Arc;

use cairn_types::{CairnError, DataType, Result, TableDef, Value, ValueRef};
use std::collections::HashMap;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder,
    Float32Builder, Float64Builder, Int16Builder, Int32Builder, Int64Builder,
    IntervalMonthDayNanoBuilder, ListArray, StringBuilder, Time64MicrosecondBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{
    DataType as ArrowType, Date32Type, Decimal128Type, Field, FieldRef, Float32Type, Float64Type, Int16Type,
    Int32Type, Int64Type, IntervalMonthDayNano, IntervalMonthDayNanoType, IntervalUnit, Time64MicrosecondType,
    Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
};

/// Field metadata naming the PostgreSQL type of a column whose Arrow type
/// does not say it (uuid, json and jsonb are text to Arrow). The wire layer
/// reads it to send the right type OID.
pub const PG_TYPE_METADATA: &str = "cairn.pg_type";

/// The Arrow field of a column: its type, and metadata where Arrow's type
/// alone would lose the SQL type.
pub fn column_field(name: &str, data_type: &DataType) -> Result<Field> {
    let field = Field::new(name, arrow_type(data_type)?, true);
    Ok(match data_type {
        DataType::Uuid | DataType::Json | DataType::Jsonb => field.with_metadata(HashMap::from([(
            PG_TYPE_METADATA.to_owned(),
            data_type.sql_name(),
        )])),
        _ => field,
    })
}

/// The largest precision Arrow's 128-bit decimals hold.
pub const MAX_NUMERIC_PRECISION: u8 = 38;

/// The Arrow type a column of this SQL type is read and written as.
pub fn arrow_type(data_type: &DataType) -> Result<ArrowType> {
    Ok(match data_type {
        DataType::Boolean => ArrowType::Boolean,
        DataType::SmallInt => ArrowType::Int16,
        DataType::Int => ArrowType::Int32,
        DataType::BigInt => ArrowType::Int64,
        DataType::Real => ArrowType::Float32,
        DataType::Double => ArrowType::Float64,
        DataType::Numeric { precision, scale } => ArrowType::Decimal128(*precision, *scale),
        DataType::Text | DataType::Varchar { .. } => ArrowType::Utf8,
        DataType::Bytea => ArrowType::Binary,
        DataType::Date => ArrowType::Date32,
        DataType::Time => ArrowType::Time64(TimeUnit::Microsecond),
        DataType::Timestamp => ArrowType::Timestamp(TimeUnit::Microsecond, None),
        DataType::TimestampTz => ArrowType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        DataType::Uuid | DataType::Json | DataType::Jsonb => ArrowType::Utf8,
        DataType::Interval => ArrowType::Interval(IntervalUnit::MonthDayNano),
        DataType::Array(element) => match **element {
            DataType::Array(_) => return Err(unsupported(data_type)),
            _ => ArrowType::List(Arc::new(Field::new_list_field(arrow_type(element)?, true))),
        },
    })
}

fn unsupported(data_type: &DataType) -> CairnError {
    CairnError::FeatureNotSupported(format!(
        "columns of type {} are not supported yet",
        data_type.sql_name()
    ))
}

fn invalid(data_type: &DataType, text: &str) -> CairnError {
    CairnError::InvalidTextRepresentation(format!(
        "invalid input syntax for type {}: \"{text}\"",
        data_type.sql_name()
    ))
}

/// Text as a value of a text-stored type ([`text_input`]).
fn text_value(data_type: &DataType, text: &str) -> Result<Value> {
    text_input(data_type, text).map(Value::Text)
}

/// Text read as a value of a text-stored type, in the form it is kept:
/// uuids in their canonical form, JSON checked. The one reading of such
/// text, for stored values and for casts (`'…'::uuid`) alike.
pub fn text_input(data_type: &DataType, text: &str) -> Result<String> {
    match data_type {
        DataType::Uuid => uuid_input(text).map(|uuid| uuid.hyphenated().to_string()).ok_or_else(|| invalid(data_type, text)),
        // json is kept as written, jsonb in its normal form.
        DataType::Json => crate::json::Json::parse(text).map(|_| text.to_owned()),
        DataType::Jsonb => crate::json::Json::parse_jsonb(text).map(|json| json.jsonb_text()),
        _ => Ok(text.to_owned()),
    }
}

/// A uuid as PostgreSQL's `uuid_in` reads it: 32 hex digits, in either
/// case, optionally in braces, with a hyphen allowed after any group of
/// four (`{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}`); no spaces. The uuid
/// crate's parser takes only the standard groupings.
fn uuid_input(text: &str) -> Option<uuid::Uuid> {
    let inner = match text.strip_prefix('{') {
        Some(braced) => braced.strip_suffix('}')?,
        None => text,
    };
    let mut chars = inner.chars().peekable();
    let mut bytes = [0u8; 16];
    for (i, byte) in bytes.iter_mut().enumerate() {
        let high = chars.next()?.to_digit(16)?;
        let low = chars.next()?.to_digit(16)?;
        *byte = u8::try_from(high * 16 + low).ok()?;
        if i % 2 == 1 && i < 15 && chars.peek() == Some(&'-') {
            chars.next();
        }
    }
    chars.next().is_none().then(|| uuid::Uuid::from_bytes(bytes))
}

fn corrupt(column: &str) -> CairnError {
    CairnError::Storage(format!("stored value does not fit the type of column \"{column}\""))
}

/// Builds the Arrow array of column `index` for `rows`. A row shorter than
/// the table (written before a column was added) reads NULL there.
pub fn build_column(
    name: &str,
    data_type: &DataType,
    rows: &[Vec<Value>],
    index: usize,
) -> Result<ArrayRef> {
    let mut builder = ColumnBuilder::new(name, data_type, rows.len())?;
    for row in rows {
        builder.append(&row.get(index).map_or(ValueRef::Null, Value::as_ref))?;
    }
    builder.finish()
}

/// Appends stored values of one column to an Arrow array of the column's
/// type, without copying them into [`Value`]s first.
pub struct ColumnBuilder<'n> {
    /// The column's name, for errors.
    name: &'n str,
    builder: Builder<'n>,
}

enum Builder<'n> {
    Boolean(BooleanBuilder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Decimal { builder: Decimal128Builder, scale: i8 },
    Text(StringBuilder),
    Bytes(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    TimestampTz(TimestampMicrosecondBuilder),
    Interval(IntervalMonthDayNanoBuilder),
    /// The elements of every row as one column, cut into lists at the end.
    Array { field: FieldRef, elements: Box<ColumnBuilder<'n>>, lengths: Vec<usize>, valid: Vec<bool> },
}

impl<'n> ColumnBuilder<'n> {
    pub fn new(name: &'n str, data_type: &DataType, capacity: usize) -> Result<ColumnBuilder<'n>> {
        let builder = match data_type {
            DataType::Boolean => Builder::Boolean(BooleanBuilder::with_capacity(capacity)),
            DataType::SmallInt => Builder::Int16(Int16Builder::with_capacity(capacity)),
            DataType::Int => Builder::Int32(Int32Builder::with_capacity(capacity)),
            DataType::BigInt => Builder::Int64(Int64Builder::with_capacity(capacity)),
            DataType::Real => Builder::Float32(Float32Builder::with_capacity(capacity)),
            DataType::Double => Builder::Float64(Float64Builder::with_capacity(capacity)),
            DataType::Numeric { precision, scale } => Builder::Decimal {
                builder: Decimal128Builder::with_capacity(capacity)
                    .with_precision_and_scale(*precision, *scale)
                    .map_err(|e| CairnError::Internal(e.to_string()))?,
                scale: *scale,
            },
            DataType::Text | DataType::Varchar { .. } | DataType::Uuid | DataType::Json | DataType::Jsonb => {
                Builder::Text(StringBuilder::with_capacity(capacity, capacity * 16))
            }
            DataType::Bytea => Builder::Bytes(BinaryBuilder::with_capacity(capacity, capacity * 16)),
            DataType::Date => Builder::Date(Date32Builder::with_capacity(capacity)),
            DataType::Time => Builder::Time(Time64MicrosecondBuilder::with_capacity(capacity)),
            DataType::Timestamp => Builder::Timestamp(TimestampMicrosecondBuilder::with_capacity(capacity)),
            DataType::TimestampTz => {
                Builder::TimestampTz(TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"))
            }
            DataType::Interval => Builder::Interval(IntervalMonthDayNanoBuilder::with_capacity(capacity)),
            DataType::Array(element) => {
                let ArrowType::List(field) = arrow_type(data_type)? else {
                    return Err(CairnError::Internal("array column is not a list".into()));
                };
                Builder::Array {
                    field,
                    elements: Box::new(ColumnBuilder::new(name, element, capacity)?),
                    lengths: Vec::with_capacity(capacity),
                    valid: Vec::with_capacity(capacity),
                }
            }
        };
        Ok(ColumnBuilder { name, builder })
    }

    /// Appends one value; a value of another type than the column's is
    /// an error (the stored row does not fit the table).
    pub fn append(&mut self, value: &ValueRef<'_>) -> Result<()> {
        macro_rules! append {
            ($builder:expr, $variant:ident) => {
                match value {
                    ValueRef::Null => $builder.append_null(),
                    ValueRef::$variant(v) => $builder.append_value(*v),
                    _ => return Err(corrupt(self.name)),
                }
            };
        }
        match &mut self.builder {
            Builder::Boolean(builder) => append!(builder, Boolean),
            Builder::Int16(builder) => append!(builder, Int16),
            Builder::Int32(builder) => append!(builder, Int32),
            Builder::Int64(builder) => append!(builder, Int64),
            Builder::Float32(builder) => append!(builder, Float32),
            Builder::Float64(builder) => append!(builder, Float64),
            Builder::Text(builder) => append!(builder, Text),
            Builder::Bytes(builder) => append!(builder, Bytes),
            Builder::Date(builder) => append!(builder, Date),
            Builder::Time(builder) => append!(builder, Time),
            Builder::Timestamp(builder) => append!(builder, Timestamp),
            Builder::TimestampTz(builder) => append!(builder, TimestampTz),
            Builder::Decimal { builder, scale } => match value {
                ValueRef::Null => builder.append_null(),
                ValueRef::Decimal { mantissa, scale: stored } if stored == scale => builder.append_value(*mantissa),
                _ => return Err(corrupt(self.name)),
            },
            Builder::Interval(builder) => match value {
                ValueRef::Null => builder.append_null(),
                ValueRef::Interval { months, days, nanos } => {
                    builder.append_value(IntervalMonthDayNano::new(*months, *days, *nanos))
                }
                _ => return Err(corrupt(self.name)),
            },
            Builder::Array { elements, lengths, valid, .. } => match value {
                ValueRef::Null => {
                    lengths.push(0);
                    valid.push(false);
                }
                ValueRef::Array(values) => {
                    for element in values {
                        elements.append(element)?;
                    }
                    lengths.push(values.len());
                    valid.push(true);
                }
                _ => return Err(corrupt(self.name)),
            },
        }
        Ok(())
    }

    /// The array of the values appended so far; the builder starts again
    /// empty.
    pub fn finish(&mut self) -> Result<ArrayRef> {
        Ok(match &mut self.builder {
            Builder::Boolean(builder) => Arc::new(builder.finish()),
            Builder::Int16(builder) => Arc::new(builder.finish()),
            Builder::Int32(builder) => Arc::new(builder.finish()),
            Builder::Int64(builder) => Arc::new(builder.finish()),
            Builder::Float32(builder) => Arc::new(builder.finish()),
            Builder::Float64(builder) => Arc::new(builder.finish()),
            Builder::Decimal { builder, .. } => Arc::new(builder.finish()),
            Builder::Text(builder) => Arc::new(builder.finish()),
            Builder::Bytes(builder) => Arc::new(builder.finish()),
            Builder::Date(builder) => Arc::new(builder.finish()),
            Builder::Time(builder) => Arc::new(builder.finish()),
            Builder::Timestamp(builder) => Arc::new(builder.finish()),
            Builder::TimestampTz(builder) => Arc::new(builder.finish()),
            Builder::Interval(builder) => Arc::new(builder.finish()),
            Builder::Array { field, elements, lengths, valid } => {
                let child = elements.finish()?;
                let offsets = OffsetBuffer::from_lengths(std::mem::take(lengths));
                let nulls = NullBuffer::from(std::mem::take(valid));
                Arc::new(
                    ListArray::try_new(Arc::clone(field), offsets, child, Some(nulls))
                        .map_err(|e| CairnError::Internal(e.to_string()))?,
                )
            }
        })
    }
}

/// Reads row `row` of `array`, a column of SQL type `data_type`.
pub fn read_value(array: &ArrayRef, data_type: &DataType, row: usize) -> Result<Value> {
    if array.is_null(row) {
        return Ok(Value::Null);
    }
    let mismatch = || {
        CairnError::DatatypeMismatch(format!(
            "value of type {} does not fit a column of type {}",
            array.data_type(),
            data_type.sql_name()
        ))
    };
    Ok(match (data_type, array.data_type()) {
        (DataType::Boolean, ArrowType::Boolean) => Value::Boolean(array.as_boolean().value(row)),
        (DataType::SmallInt, ArrowType::Int16) => Value::Int16(array.as_primitive::<Int16Type>().value(row)),
        (DataType::Int, ArrowType::Int32) => Value::Int32(array.as_primitive::<Int32Type>().value(row)),
        (DataType::BigInt, ArrowType::Int64) => Value::Int64(array.as_primitive::<Int64Type>().value(row)),
        (DataType::Real, ArrowType::Float32) => Value::Float32(array.as_primitive::<Float32Type>().value(row)),
        (DataType::Double, ArrowType::Float64) => Value::Float64(array.as_primitive::<Float64Type>().value(row)),
        (DataType::Text | DataType::Varchar { .. } | DataType::Uuid | DataType::Json | DataType::Jsonb, ArrowType::Utf8) => {
            text_value(data_type, array.as_string::<i32>().value(row))?
        }
        (DataType::Text | DataType::Varchar { .. } | DataType::Uuid | DataType::Json | DataType::Jsonb, ArrowType::LargeUtf8) => {
            text_value(data_type, array.as_string::<i64>().value(row))?
        }
        (DataType::Text | DataType::Varchar { .. } | DataType::Uuid | DataType::Json | DataType::Jsonb, ArrowType::Utf8View) => {
            text_value(data_type, array.as_string_view().value(row))?
        }
        (DataType::Interval, ArrowType::Interval(IntervalUnit::MonthDayNano)) => {
            let value = array.as_primitive::<IntervalMonthDayNanoType>().value(row);
            Value::Interval { months: value.months, days: value.days, nanos: value.nanoseconds }
        }
        (DataType::Array(element), ArrowType::List(_)) => {
            let values = array.as_list::<i32>().value(row);
            Value::Array((0..values.len()).map(|i| read_value(&values, element, i)).collect::<Result<_>>()?)
        }
        (DataType::Array(element), ArrowType::LargeList(_)) => {
            let values = array.as_list::<i64>().value(row);
            Value::Array((0..values.len()).map(|i| read_value(&values, element, i)).collect::<Result<_>>()?)
        }
        (DataType::Bytea, ArrowType::Binary) => Value::Bytes(array.as_binary::<i32>().value(row).to_vec()),
        (DataType::Bytea, ArrowType::BinaryView) => Value::Bytes(array.as_binary_view().value(row).to_vec()),
        (DataType::Date, ArrowType::Date32) => Value::Date(array.as_primitive::<Date32Type>().value(row)),
        (DataType::Time, ArrowType::Time64(TimeUnit::Microsecond)) => {
            Value::Time(array.as_primitive::<Time64MicrosecondType>().value(row))
        }
        (DataType::Timestamp, ArrowType::Timestamp(TimeUnit::Microsecond, _)) => {
            Value::Timestamp(array.as_primitive::<TimestampMicrosecondType>().value(row))
        }
        (DataType::TimestampTz, ArrowType::Timestamp(TimeUnit::Microsecond, _)) => {
            Value::TimestampTz(array.as_primitive::<TimestampMicrosecondType>().value(row))
        }
        (DataType::Numeric { scale, .. }, ArrowType::Decimal128(_, array_scale)) if scale == array_scale => {
            Value::Decimal { mantissa: array.as_primitive::<Decimal128Type>().value(row), scale: *scale }
        }
        _ => return Err(mismatch()),
    })
}

/// Field metadata naming the table (its id) and the column (its number,
/// from 1) a column of a scan comes from. DataFusion keeps a field's
/// metadata through plain column references, so a result column that is
/// one still says where it comes from, and RowDescription tells the
/// client (pgJDBC's `getTableName`, ORMs' column mapping).
pub const SOURCE_TABLE_METADATA: &str = "cairn.source_table";
pub const SOURCE_COLUMN_METADATA: &str = "cairn.source_column";

/// The Arrow schema of a table definition. Every field is nullable as far
/// as DataFusion knows: NOT NULL is enforced by the write path (`tables`), which can name
/// the column and answer 23502 (DataFusion's own check cannot).
pub fn table_schema(def: &TableDef) -> cairn_types::Result<SchemaRef> {
    let fields = def
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let field = column_field(&c.name, &c.data_type)?;
            let mut metadata = field.metadata().clone();
            metadata.insert(SOURCE_TABLE_METADATA.to_owned(), def.id.0.to_string());
            metadata.insert(SOURCE_COLUMN_METADATA.to_owned(), (i + 1).to_string());
            Ok(field.with_metadata(metadata))
        })
        .collect::<cairn_types::Result<Vec<_>>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_read_as_postgresql_reads_them() {
        let canonical = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        for accepted in [
            canonical,
            "A0EEBC999C0B4EF8BB6D6BB9BD380A11",
            "{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}",
            "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
        ] {
            assert_eq!(text_input(&DataType::Uuid, accepted).expect(accepted), canonical);
        }
        for refused in [" a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc999c0b4ef8bb6d6bb9bd380a11-", "-a0eebc999c0b4ef8bb6d6bb9bd380a11", "a0e-ebc99-9c0b4ef8bb6d6bb9bd380a11", "{a0eebc999c0b4ef8bb6d6bb9bd380a11", "1", ""] {
            assert_eq!(text_input(&DataType::Uuid, refused).expect_err(refused).code().as_str(), "22P02");
        }
    }

    #[test]
    fn values_round_trip_through_arrow() {
        let cases = [
            (DataType::Boolean, Value::Boolean(true)),
            (DataType::SmallInt, Value::Int16(-3)),
            (DataType::Int, Value::Int32(7)),
            (DataType::BigInt, Value::Int64(i64::MIN)),
            (DataType::Real, Value::Float32(1.5)),
            (DataType::Double, Value::Float64(-2.25)),
            (DataType::Numeric { precision: 12, scale: 2 }, Value::Decimal { mantissa: 999, scale: 2 }),
            (DataType::Text, Value::Text("héllo".into())),
            (DataType::Varchar { max_len: Some(3) }, Value::Text("abc".into())),
            (DataType::Bytea, Value::Bytes(vec![0, 1, 255])),
            (DataType::Date, Value::Date(19_000)),
            (DataType::Time, Value::Time(3_600_000_000)),
            (DataType::Timestamp, Value::Timestamp(1_700_000_000_000_000)),
            (DataType::TimestampTz, Value::TimestampTz(1_700_000_000_000_000)),
            (DataType::Uuid, Value::Text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into())),
            (DataType::Jsonb, Value::Text("{\"a\": [1, 2]}".into())),
            (DataType::Interval, Value::Interval { months: 14, days: 3, nanos: 4_000_000_000 }),
            (
                DataType::Array(Box::new(DataType::Text)),
                Value::Array(vec![Value::Text("x".into()), Value::Null, Value::Text("y,z".into())]),
            ),
            (DataType::Array(Box::new(DataType::Int)), Value::Array(vec![])),
        ];
        for (data_type, value) in cases {
            let rows = vec![vec![value.clone()], vec![Value::Null], vec![]];
            let array = build_column("c", &data_type, &rows, 0).expect("build");
            assert_eq!(array.data_type(), &arrow_type(&data_type).expect("type"));
            assert_eq!(read_value(&array, &data_type, 0).expect("read"), value);
            assert_eq!(read_value(&array, &data_type, 1).expect("read"), Value::Null);
            assert_eq!(read_value(&array, &data_type, 2).expect("read"), Value::Null, "short rows read NULL");
        }
    }

    #[test]
    fn unsupported_types_and_mismatches_are_errors() {
        let nested = DataType::Array(Box::new(DataType::Array(Box::new(DataType::Int))));
        assert_eq!(arrow_type(&nested).expect_err("nested").code().as_str(), "0A000");
        let rows = vec![vec![Value::Text("not-a-uuid".into())]];
        let array = build_column("c", &DataType::Text, &rows, 0).expect("build");
        assert_eq!(read_value(&array, &DataType::Uuid, 0).expect_err("uuid").code().as_str(), "22P02");
        assert_eq!(read_value(&array, &DataType::Json, 0).expect_err("json").code().as_str(), "22P02");
        let rows = vec![vec![Value::Text("x".into())]];
        assert!(build_column("c", &DataType::BigInt, &rows, 0).is_err());
        let array = build_column("c", &DataType::Text, &rows, 0).expect("build");
        assert!(read_value(&array, &DataType::BigInt, 0).is_err());
    }
}
