//! Arrow types to PostgreSQL types, and parameter values from the wire.

use arrow::datatypes::DataType;
use cairn_types::{CairnError, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use datafusion::common::ScalarValue;
use pgwire::api::portal::Portal;
use pgwire::api::Type;
use rust_decimal::Decimal;

/// The PostgreSQL type a column of this Arrow type is sent as. Must agree
/// with [`crate::encode`]: anything not listed here is sent as text.
pub fn pg_type(data_type: &DataType) -> Type {
    match data_type {
        DataType::Boolean => Type::BOOL,
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => Type::INT2,
        DataType::Int32 | DataType::UInt16 => Type::INT4,
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => Type::INT8,
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
        // Text, varchar, unknown and every type without a binary reader
        // here: read as text and let the statement cast it.
        _ => ScalarValue::Utf8(read!(String)),
    })
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
