//! Arrow types to PostgreSQL types, and parameter values from the wire.

use arrow::datatypes::{DataType, Field, IntervalUnit};
use cairn_sql::values::PG_TYPE_METADATA;
use cairn_types::{CairnError, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use datafusion::common::ScalarValue;
use pgwire::api::portal::Portal;
use pgwire::api::Type;
use rust_decimal::Decimal;

/// The PostgreSQL type a result column is sent as: what its field metadata
/// names (uuid, json, jsonb are text to Arrow), else what its Arrow type
/// maps to.
pub fn pg_type_of_field(field: &Field) -> Type {
    match field.metadata().get(PG_TYPE_METADATA).map(String::as_str) {
        Some("uuid") => Type::UUID,
        Some("json") => Type::JSON,
        Some("jsonb") => Type::JSONB,
        _ => pg_type(field.data_type()),
    }
}

/// The array type whose elements are `element`, where there is one.
fn array_of(element: &Type) -> Option<Type> {
    Some(match *element {
        Type::BOOL => Type::BOOL_ARRAY,
        Type::INT2 => Type::INT2_ARRAY,
        Type::INT4 => Type::INT4_ARRAY,
        Type::INT8 => Type::INT8_ARRAY,
        Type::FLOAT4 => Type::FLOAT4_ARRAY,
        Type::FLOAT8 => Type::FLOAT8_ARRAY,
        Type::TEXT => Type::TEXT_ARRAY,
        Type::NUMERIC => Type::NUMERIC_ARRAY,
        Type::DATE => Type::DATE_ARRAY,
        Type::TIMESTAMP => Type::TIMESTAMP_ARRAY,
        Type::TIMESTAMPTZ => Type::TIMESTAMPTZ_ARRAY,
        Type::BYTEA => Type::BYTEA_ARRAY,
        _ => return None,
    })
}

/// The PostgreSQL type a column of this Arrow type is sent as. Must agree
/// with [`crate::encode`]: anything not listed here is sent as text.
pub fn pg_type(data_type: &DataType) -> Type {
    match data_type {
        DataType::Interval(IntervalUnit::MonthDayNano) => Type::INTERVAL,
        DataType::List(element) | DataType::LargeList(element) => {
            array_of(&pg_type(element.data_type())).unwrap_or(Type::TEXT)
        }
        DataType::Boolean => Type::BOOL,
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => Type::INT2,
        DataType::Int32 | DataType::UInt16 => Type::INT4,
        // pg_catalog's OID columns are UInt32.
        DataType::UInt32 => Type::OID,
        DataType::Int64 | DataType::UInt64 => Type::INT8,
        DataType::Float16 | DataType::Float32 => Type::FLOAT4,
        DataType::Float64 => Type::FLOAT8,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => Type::BYTEA,
        DataType::Date32 | DataType::Date64 => Type::DATE,
        DataType::Time64(_) => Type::TIME,
        DataType::Timestamp(_, None) => Type::TIMESTAMP,
        DataType::Timestamp(_, Some(_)) => Type::TIMESTAMPTZ,
        DataType::Decimal128(_, scale) if (0..=28).contains(scale) => Type::NUMERIC,
        _ => Type::TEXT,
    }
}

fn bad_parameter(index: usize, error: impl std::fmt::Display) -> CairnError {
    CairnError::InvalidTextRepresentation(format!("invalid value for parameter ${}: {error}", index + 1))
}

/// Reads parameter `index` of `portal` as `pg` and returns it as a
/// ScalarValue (NULL stays a typed NULL).
pub fn decode_parameter<S: Clone>(portal: &Portal<S>, index: usize, pg: &Type) -> Result<ScalarValue> {
    macro_rules! read {
        ($t:ty) => {
            portal.parameter::<$t>(index, pg).map_err(|e| bad_parameter(index, e))?
        };
    }
    let micros = |dt: NaiveDateTime| dt.and_utc().timestamp_micros();
    Ok(match *pg {
        Type::BOOL => ScalarValue::Boolean(read!(bool)),
        Type::INT2 => ScalarValue::Int16(read!(i16)),
        Type::INT4 => ScalarValue::Int32(read!(i32)),
        Type::INT8 => ScalarValue::Int64(read!(i64)),
        Type::FLOAT4 => ScalarValue::Float32(read!(f32)),
        Type::FLOAT8 => ScalarValue::Float64(read!(f64)),
        Type::BYTEA => ScalarValue::Binary(read!(Vec<u8>)),
        Type::DATE => {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            ScalarValue::Date32(read!(NaiveDate).map(|d| (d - epoch).num_days() as i32))
        }
        Type::TIME => ScalarValue::Time64Microsecond(read!(NaiveTime).map(|t| {
            i64::from(chrono::Timelike::num_seconds_from_midnight(&t)) * 1_000_000
                + i64::from(chrono::Timelike::nanosecond(&t) / 1_000)
        })),
        Type::TIMESTAMP => ScalarValue::TimestampMicrosecond(read!(NaiveDateTime).map(micros), None),
        Type::TIMESTAMPTZ => ScalarValue::TimestampMicrosecond(
            read!(DateTime<chrono::FixedOffset>).map(|dt| dt.with_timezone(&Utc).timestamp_micros()),
            Some("UTC".into()),
        ),
        Type::NUMERIC => match read!(Decimal) {
            Some(d) => ScalarValue::Decimal128(Some(d.mantissa()), 38, d.scale() as i8),
            None => ScalarValue::Decimal128(None, 38, 0),
        },
        Type::UUID => ScalarValue::Utf8(raw(portal, index).map(|bytes| match portal.parameter_format.is_binary(index) {
            true => uuid::Uuid::from_slice(bytes).map(|u| u.hyphenated().to_string()).map_err(|e| bad_parameter(index, e)),
            false => Ok(String::from_utf8_lossy(bytes).into_owned()),
        }).transpose()?),
        // jsonb's binary form is a version byte, then the text.
        Type::JSONB if portal.parameter_format.is_binary(index) => {
            ScalarValue::Utf8(raw(portal, index).map(|bytes| String::from_utf8_lossy(bytes.get(1..).unwrap_or_default()).into_owned()))
        }
        Type::INTERVAL => match read!(pg_interval::Interval) {
            Some(i) => ScalarValue::IntervalMonthDayNano(Some(arrow::datatypes::IntervalMonthDayNano::new(
                i.months,
                i.days,
                i.microseconds.saturating_mul(1_000),
            ))),
            None => ScalarValue::IntervalMonthDayNano(None),
        },
        Type::BOOL_ARRAY => list(read!(Vec<Option<bool>>), ScalarValue::Boolean, &DataType::Boolean),
        Type::INT2_ARRAY => list(read!(Vec<Option<i16>>), ScalarValue::Int16, &DataType::Int16),
        Type::INT4_ARRAY => list(read!(Vec<Option<i32>>), ScalarValue::Int32, &DataType::Int32),
        Type::INT8_ARRAY => list(read!(Vec<Option<i64>>), ScalarValue::Int64, &DataType::Int64),
        Type::FLOAT4_ARRAY => list(read!(Vec<Option<f32>>), ScalarValue::Float32, &DataType::Float32),
        Type::FLOAT8_ARRAY => list(read!(Vec<Option<f64>>), ScalarValue::Float64, &DataType::Float64),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => list(read!(Vec<Option<String>>), ScalarValue::Utf8, &DataType::Utf8),
        // Text, varchar, json, unknown and every type without a binary
        // reader here: read as text and let the statement cast it.
        ref other if <String as postgres_types::FromSql>::accepts(other) => ScalarValue::Utf8(read!(String)),
        _ => ScalarValue::Utf8(
            raw(portal, index)
                .map(|bytes| String::from_utf8(bytes.to_vec()).map_err(|e| bad_parameter(index, e)))
                .transpose()?,
        ),
    })
}

/// A parameter's bytes as the client sent them.
fn raw<S>(portal: &Portal<S>, index: usize) -> Option<&[u8]> {
    portal.parameters.get(index).and_then(|p| p.as_deref())
}

/// An array parameter as a list scalar (NULL stays a typed NULL list).
fn list<T>(values: Option<Vec<Option<T>>>, scalar: fn(Option<T>) -> ScalarValue, element: &DataType) -> ScalarValue {
    match values {
        Some(values) => {
            let scalars: Vec<ScalarValue> = values.into_iter().map(scalar).collect();
            ScalarValue::List(ScalarValue::new_list_nullable(&scalars, element))
        }
        None => ScalarValue::try_from(DataType::List(std::sync::Arc::new(Field::new_list_field(element.clone(), true))))
            .unwrap_or(ScalarValue::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_types_map_to_their_postgres_types() {
        assert_eq!(pg_type(&DataType::Int64), Type::INT8);
        assert_eq!(pg_type(&DataType::Utf8View), Type::TEXT);
        assert_eq!(
            pg_type(&DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into()))),
            Type::TIMESTAMPTZ
        );
        assert_eq!(pg_type(&DataType::Decimal128(12, 2)), Type::NUMERIC);
        assert_eq!(pg_type(&DataType::Decimal128(12, -2)), Type::TEXT);
    }
}
