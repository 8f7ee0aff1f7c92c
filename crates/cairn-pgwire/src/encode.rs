//! Result rows: Arrow batches to DataRow messages, in text or binary per
//! column as the client asked.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryViewArray, BooleanArray, Date32Array, Decimal128Array,
    Float16Array, Float32Array, Float64Array, GenericBinaryArray, GenericStringArray, Int16Array,
    Int32Array, Int64Array, Int8Array, RecordBatch, StringViewArray, UInt16Array, UInt32Array,
    UInt64Array, UInt8Array,
};
use arrow::array::{GenericListArray, IntervalMonthDayNanoArray};
use arrow::datatypes::{DataType, IntervalUnit, SchemaRef, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions as ArrowFormatOptions};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use pgwire::api::portal::Format;
use pgwire::api::results::{DataRowEncoder, FieldInfo};
use pgwire::api::Type;
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::data::DataRow;
use pgwire::types::format::FormatOptions;
use pgwire::types::ToSqlText;
use postgres_types::ToSql;
use postgres_types::Kind;

use std::panic::AssertUnwindSafe;

use cairn_types::CairnError;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::{FutureExt, StreamExt};

use crate::handler::panicked;
use crate::types::pg_type_of_field;
use crate::wire_values::{list_values, PgChar, PgFloat, PgInteger, PgJsonb, PgNumeric, PgTemporal, PgTimestamp, PgUuid};

/// `array` as the number type its RowDescription announced. A plan whose
/// types changed after Describe (an integer where a bigint was announced)
/// must not put four bytes where the client reads eight: the values are
/// cast (checked) to the announced type.
fn as_announced<'a>(array: &'a ArrayRef, field: &FieldInfo) -> PgWireResult<std::borrow::Cow<'a, ArrayRef>> {
    let announced = match *field.datatype() {
        Type::INT2 => DataType::Int16,
        Type::INT4 => DataType::Int32,
        Type::INT8 => DataType::Int64,
        Type::FLOAT4 => DataType::Float32,
        Type::FLOAT8 => DataType::Float64,
        _ => return Ok(std::borrow::Cow::Borrowed(array)),
    };
    let sent_as_is = matches!(
        (array.data_type(), &announced),
        (DataType::Int8 | DataType::UInt8 | DataType::Int16, DataType::Int16)
            | (DataType::UInt16 | DataType::Int32, DataType::Int32)
            | (DataType::Int64 | DataType::UInt64, DataType::Int64)
            | (DataType::Float16 | DataType::Float32, DataType::Float32)
            | (DataType::Float64, DataType::Float64)
            | (DataType::Null, _)
    );
    if sent_as_is {
        return Ok(std::borrow::Cow::Borrowed(array));
    }
    let options = arrow::compute::CastOptions { safe: false, ..Default::default() };
    arrow::compute::cast_with_options(array, &announced, &options)
        .map(std::borrow::Cow::Owned)
        .map_err(|e| PgWireError::ApiError(format!("a result column is not the {} its description announced: {e}", field.datatype()).into()))
}

/// Row descriptions for a result schema, each column in the format the
/// client asked for.
pub fn fields(schema: &SchemaRef, format: &Format, options: &Arc<FormatOptions>) -> Vec<FieldInfo> {
    schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let name = cairn_sql::postgres::client_column_name(field.name()).to_owned();
            let (table, column) = source_of(field);
            FieldInfo::new(
                name,
                table,
                column,
                pg_type_of_field(field),
                format.format_for(i),
            )
            .with_format_options(Arc::clone(options))
        })
        .collect()
}

/// The table OID and column number of a result column that is a plain
/// reference to a table's column, as RowDescription carries them.
fn source_of(field: &arrow::datatypes::Field) -> (Option<i32>, Option<i16>) {
    use cairn_tables::values::{SOURCE_COLUMN_METADATA, SOURCE_TABLE_METADATA};
    let metadata = field.metadata();
    let table = metadata.get(SOURCE_TABLE_METADATA).and_then(|id| id.parse().ok());
    let column = metadata.get(SOURCE_COLUMN_METADATA).and_then(|n| n.parse().ok());
    match (table, column) {
        (Some(table), Some(column)) => {
            let oid = cairn_pg::pg_catalog::oid::table(cairn_types::TableId(table));
            (Some(oid as i32), Some(column))
        }
        _ => (None, None),
    }
}

/// One column of a batch, downcast once per batch rather than per value.
enum Column<'a> {
    Null,
    Bool(&'a BooleanArray),
    I8(&'a Int8Array),
    I16(&'a Int16Array),
    I32(&'a Int32Array),
    I64(&'a Int64Array),
    U8(&'a UInt8Array),
    U16(&'a UInt16Array),
    U32(&'a UInt32Array),
    U64(&'a UInt64Array),
    F16(&'a Float16Array),
    F32(&'a Float32Array),
    F64(&'a Float64Array),
    Str(&'a GenericStringArray<i32>),
    LargeStr(&'a GenericStringArray<i64>),
    StrView(&'a StringViewArray),
    Bin(&'a GenericBinaryArray<i32>),
    LargeBin(&'a GenericBinaryArray<i64>),
    BinView(&'a BinaryViewArray),
    Date(&'a Date32Array),
    /// Microseconds since the epoch after unit conversion; `tz` says timestamptz.
    Timestamp {
        array: &'a ArrayRef,
        unit: TimeUnit,
        tz: bool,
    },
    Time {
        array: &'a ArrayRef,
        unit: TimeUnit,
    },
    Decimal {
        array: &'a Decimal128Array,
        scale: u32,
    },
    /// Text that is a uuid or jsonb to the client (different binary forms).
    Uuid(&'a ArrayRef),
    Jsonb(&'a ArrayRef),
    /// Text that is a one-byte `"char"` to the client (pg_catalog's kinds).
    Char(&'a ArrayRef),
    Interval(&'a IntervalMonthDayNanoArray),
    List(&'a GenericListArray<i32>),
    Text(ArrayFormatter<'a>),
}

impl<'a> Column<'a> {
    fn new(
        array: &'a ArrayRef,
        field: &FieldInfo,
        options: &'a ArrowFormatOptions<'a>,
    ) -> PgWireResult<Column<'a>> {
        match *field.datatype() {
            Type::UUID => return Ok(Column::Uuid(array)),
            Type::JSONB => return Ok(Column::Jsonb(array)),
            Type::CHAR => return Ok(Column::Char(array)),
            _ => {}
        }
        Ok(match array.data_type() {
            DataType::Interval(IntervalUnit::MonthDayNano) => {
                Column::Interval(array.as_primitive())
            }
            DataType::List(_) if matches!(field.datatype().kind(), Kind::Array(_)) => {
                Column::List(array.as_list())
            }
            DataType::Null => Column::Null,
            DataType::Boolean => Column::Bool(array.as_boolean()),
            DataType::Int8 => Column::I8(array.as_primitive()),
            DataType::Int16 => Column::I16(array.as_primitive()),
            DataType::Int32 => Column::I32(array.as_primitive()),
            DataType::Int64 => Column::I64(array.as_primitive()),
            DataType::UInt8 => Column::U8(array.as_primitive()),
            DataType::UInt16 => Column::U16(array.as_primitive()),
            DataType::UInt32 => Column::U32(array.as_primitive()),
            DataType::UInt64 => Column::U64(array.as_primitive()),
            DataType::Float16 => Column::F16(array.as_primitive()),
            DataType::Float32 => Column::F32(array.as_primitive()),
            DataType::Float64 => Column::F64(array.as_primitive()),
            DataType::Utf8 => Column::Str(array.as_string()),
            DataType::LargeUtf8 => Column::LargeStr(array.as_string()),
            DataType::Utf8View => Column::StrView(array.as_string_view()),
            DataType::Binary => Column::Bin(array.as_binary()),
            DataType::LargeBinary => Column::LargeBin(array.as_binary()),
            DataType::BinaryView => Column::BinView(array.as_binary_view()),
            DataType::Date32 => Column::Date(array.as_primitive()),
            DataType::Timestamp(unit, tz) => Column::Timestamp {
                array,
                unit: *unit,
                tz: tz.is_some(),
            },
            DataType::Time64(unit) => Column::Time { array, unit: *unit },
            DataType::Decimal128(_, scale) if *scale >= 0 => Column::Decimal {
                array: array.as_primitive(),
                scale: *scale as u32,
            },
            _ => Column::Text(
                ArrayFormatter::try_new(array.as_ref(), options)
                    .map_err(|e| PgWireError::ApiError(Box::new(e)))?,
            ),
        })
    }

    fn encode(&self, row: usize, encoder: &mut DataRowEncoder, field: &FieldInfo) -> PgWireResult<()> {
        macro_rules! put {
            ($array:expr) => {{
                let array = $array;
                if array.is_null(row) {
                    put_field(encoder, field, &None::<i8>)
                } else {
                    put_field(encoder, field, &array.value(row))
                }
            }};
            ($array:expr, $convert:expr) => {{
                let array = $array;
                if array.is_null(row) {
                    put_field(encoder, field, &None::<i8>)
                } else {
                    put_field(encoder, field, &$convert(array.value(row)))
                }
            }};
        }
        match self {
            Column::Null => put_field(encoder, field, &None::<i8>),
            Column::Bool(a) => put!(a, |v: bool| v),
            Column::I8(a) => put!(a, |v: i8| PgInteger(i16::from(v))),
            Column::I16(a) => put!(a, PgInteger),
            Column::I32(a) => put!(a, PgInteger),
            Column::I64(a) => put!(a, PgInteger),
            Column::U8(a) => put!(a, |v: u8| PgInteger(i16::from(v))),
            Column::U16(a) => put!(a, |v: u16| PgInteger(i32::from(v))),
            Column::U32(a) => put!(a, |v: u32| v),
            Column::U64(a) => {
                if a.is_null(row) {
                    put_field(encoder, field, &None::<i8>)
                } else {
                    let value = i64::try_from(a.value(row)).map_err(|_| {
                        PgWireError::ApiError("unsigned value out of range for bigint".into())
                    })?;
                    put_field(encoder, field, &PgInteger(value))
                }
            }
            Column::F16(a) => put!(a, |v: half::f16| PgFloat(f32::from(v))),
            Column::F32(a) => put!(a, PgFloat),
            Column::F64(a) => put!(a, PgFloat),
            Column::Str(a) => put!(a),
            Column::LargeStr(a) => put!(a),
            Column::StrView(a) => put!(a),
            Column::Bin(a) => put!(a),
            Column::LargeBin(a) => put!(a),
            Column::BinView(a) => put!(a),
            Column::Date(a) => put!(a, |v: i32| {
                NaiveDate::from_ymd_opt(1970, 1, 1)
                    .and_then(|epoch| {
                        epoch.checked_add_signed(chrono::Duration::days(i64::from(v)))
                    })
                    .unwrap_or_default()
            }),
            Column::Timestamp { array, unit, tz } => {
                if array.is_null(row) {
                    return put_field(encoder, field, &None::<i8>);
                }
                let raw = timestamp_raw(array, *unit, row);
                let naive = to_naive(raw, *unit)
                    .ok_or_else(|| PgWireError::ApiError("timestamp out of range".into()))?;
                if *tz {
                    put_field(encoder, field, &PgTemporal(DateTime::<Utc>::from_naive_utc_and_offset(naive, Utc)))
                } else {
                    put_field(encoder, field, &PgTimestamp(naive))
                }
            }
            Column::Time { array, unit } => {
                if array.is_null(row) {
                    return put_field(encoder, field, &None::<i8>);
                }
                let raw = time_raw(array, *unit, row);
                let nanos = match unit {
                    TimeUnit::Microsecond => raw.saturating_mul(1_000),
                    _ => raw,
                };
                let time = NaiveTime::from_num_seconds_from_midnight_opt(
                    (nanos / 1_000_000_000) as u32,
                    (nanos % 1_000_000_000) as u32,
                )
                .ok_or_else(|| PgWireError::ApiError("time out of range".into()))?;
                put_field(encoder, field, &PgTemporal(time))
            }
            Column::Decimal { array, scale } => put!(array, |value: i128| PgNumeric { value, scale: *scale }),
            Column::Uuid(array) => match text_at(array, row)? {
                None => put_field(encoder, field, &None::<i8>),
                Some(text) => put_field(encoder, field, &PgUuid::parse(text)?),
            },
            Column::Jsonb(array) => match text_at(array, row)? {
                None => put_field(encoder, field, &None::<i8>),
                Some(text) => put_field(encoder, field, &PgJsonb(text)),
            },
            Column::Char(array) => match text_at(array, row)? {
                None => put_field(encoder, field, &None::<i8>),
                Some(text) => put_field(encoder, field, &PgChar(text.bytes().next().unwrap_or(0))),
            },
            Column::Interval(a) => put!(a, |v: arrow::datatypes::IntervalMonthDayNano| {
                pg_interval::Interval::new(v.months, v.days, v.nanoseconds / 1_000)
            }),
            Column::List(a) => {
                if a.is_null(row) {
                    put_field(encoder, field, &None::<i8>)
                } else {
                    list_values(&a.value(row), encoder)
                }
            }
            // NULLs of text-rendered columns are handled by the caller,
            // which has the array.
            Column::Text(formatter) => put_field(encoder, field, &formatter.value(row).to_string()),
        }
    }
}

/// Row `row` of a string column of any Arrow string type.
fn text_at(array: &ArrayRef, row: usize) -> PgWireResult<Option<&str>> {
    if array.is_null(row) {
        return Ok(None);
    }
    Ok(Some(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(row),
        DataType::LargeUtf8 => array.as_string::<i64>().value(row),
        DataType::Utf8View => array.as_string_view().value(row),
        other => {
            return Err(PgWireError::ApiError(
                format!("a {other} column cannot be sent as text").into(),
            ))
        }
    }))
}

fn timestamp_raw(array: &ArrayRef, unit: TimeUnit, row: usize) -> i64 {
    use arrow::datatypes::*;
    match unit {
        TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row),
        TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(row),
        TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(row),
        TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(row),
    }
}

fn time_raw(array: &ArrayRef, unit: TimeUnit, row: usize) -> i64 {
    use arrow::datatypes::*;
    match unit {
        TimeUnit::Nanosecond => array.as_primitive::<Time64NanosecondType>().value(row),
        _ => array.as_primitive::<Time64MicrosecondType>().value(row),
    }
}

fn to_naive(raw: i64, unit: TimeUnit) -> Option<NaiveDateTime> {
    let dt = match unit {
        TimeUnit::Second => DateTime::from_timestamp(raw, 0),
        TimeUnit::Millisecond => DateTime::from_timestamp_millis(raw),
        TimeUnit::Microsecond => DateTime::from_timestamp_micros(raw),
        TimeUnit::Nanosecond => Some(DateTime::from_timestamp_nanos(raw)),
    };
    dt.map(|dt| dt.naive_utc())
}

/// Encodes every row of `batch`.
/// A panic while encoding (a value no encoder expected) is the
/// statement's XX000, never the connection's end.
pub fn encode_batch(
    batch: &RecordBatch,
    fields: &Arc<Vec<FieldInfo>>,
) -> PgWireResult<Vec<DataRow>> {
    std::panic::catch_unwind(AssertUnwindSafe(|| encode_rows(batch, fields)))
        .unwrap_or_else(|_| Err(crate::errors::to_pg(&panicked())))
}

fn encode_rows(batch: &RecordBatch, fields: &Arc<Vec<FieldInfo>>) -> PgWireResult<Vec<DataRow>> {
    let options = ArrowFormatOptions::default().with_null("");
    let arrays = batch
        .columns()
        .iter()
        .zip(fields.iter())
        .map(|(array, field)| as_announced(array, field))
        .collect::<PgWireResult<Vec<_>>>()?;
    let columns = arrays
        .iter()
        .zip(fields.iter())
        .map(|(array, field)| Column::new(array, field, &options))
        .collect::<PgWireResult<Vec<_>>>()?;
    let mut encoder = DataRowEncoder::new(Arc::clone(fields));
    let mut rows = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        for ((column, array), field) in columns.iter().zip(&arrays).zip(fields.iter()) {
            if matches!(column, Column::Text(_)) && array.is_null(row) {
                put_field(&mut encoder, field, &None::<i8>)?;
            } else {
                column.encode(row, &mut encoder, field)?;
            }
        }
        rows.push(encoder.take_row());
    }
    Ok(rows)
}

/// Encodes one value of `field`'s column. `DataRowEncoder::encode_field`
/// clones the field's type and its options' `Arc` for every value, which
/// showed in the profile of a 20-row feed; this borrows them.
fn put_field<T: ToSql + ToSqlText>(encoder: &mut DataRowEncoder, field: &FieldInfo, value: &T) -> PgWireResult<()> {
    encoder.encode_field_with_type_and_format(value, field.datatype(), field.format(), field.format_options())
}

/// The next batch of a statement's results, encoded as rows for `fields`;
/// `None` at the end. An error in the plan, or a panic in it, is the
/// statement's error.
pub async fn next_rows(
    stream: &mut SendableRecordBatchStream,
    fields: &Arc<Vec<FieldInfo>>,
) -> Option<Result<Vec<DataRow>, CairnError>> {
    let batch = match AssertUnwindSafe(stream.next()).catch_unwind().await {
        Ok(None) => return None,
        Ok(Some(Ok(batch))) => batch,
        Ok(Some(Err(error))) => return Some(Err(cairn_sql::error::from_df(error))),
        Err(_) => return Some(Err(panicked())),
    };
    Some(encode_batch(&batch, fields).map_err(|e| CairnError::Internal(e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Array, Int64Array};
    use pgwire::api::results::FieldFormat;

    #[test]
    fn a_column_goes_out_as_the_type_its_description_announced() {
        let announced = FieldInfo::new("n".into(), None, None, Type::INT8, FieldFormat::Binary);
        let int4: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), None, Some(-7)]));
        let sent = as_announced(&int4, &announced).expect("casts");
        assert_eq!(sent.as_any().downcast_ref::<Int64Array>(), Some(&Int64Array::from(vec![Some(1), None, Some(-7)])));
        let int8: ArrayRef = Arc::new(Int64Array::from(vec![i64::MAX]));
        let narrower = FieldInfo::new("n".into(), None, None, Type::INT4, FieldFormat::Binary);
        assert!(as_announced(&int8, &narrower).is_err(), "a value that does not fit is an error, not a wrapped value");
        assert!(matches!(as_announced(&int8, &announced).expect("as is"), std::borrow::Cow::Borrowed(_)));
    }

    #[tokio::test]
    async fn a_panic_in_a_plan_is_the_statements_xx000() {
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![arrow::datatypes::Field::new("n", DataType::Int64, true)]));
        let panicking = futures::stream::once(async { panic!("a bug in an operator") });
        let mut stream: SendableRecordBatchStream =
            Box::pin(datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(schema, panicking));
        let fields = Arc::new(vec![FieldInfo::new("n".into(), None, None, Type::INT8, FieldFormat::Text)]);
        let error = next_rows(&mut stream, &fields).await.expect("an answer").expect_err("an error");
        assert_eq!(error.code().as_str(), "XX000");
    }
}
