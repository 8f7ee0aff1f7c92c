//! Arrow types to PostgreSQL types, and parameter values from the wire.

use arrow::datatypes::{DataType, Field};
use cairn_pg::pg_catalog::types::oid_of_arrow;
use cairn_sql::values::PG_TYPE_METADATA;
use cairn_types::{CairnError, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use datafusion::common::ScalarValue;
use pgwire::api::portal::Portal;
use pgwire::api::Type;
use rust_decimal::Decimal;

/// The PostgreSQL type a result column is sent as (see
/// [`cairn_pg::pg_catalog::types::oid_of_arrow`]).
pub fn pg_type_of_field(field: &Field) -> Type {
    let named = field.metadata().get(PG_TYPE_METADATA).map(String::as_str);
    Type::from_oid(oid_of_arrow(field.data_type(), named)).unwrap_or(Type::TEXT)
}

fn bad_parameter(index: usize, error: impl std::fmt::Display) -> CairnError {
    CairnError::InvalidTextRepresentation(format!("invalid value for parameter ${}: {error}", index + 1))
}

/// Reads parameter `index` of `portal` as `pg` and returns it as a
/// ScalarValue (NULL stays a typed NULL).
pub fn decode_parameter<S: Clone>(portal: &Portal<S>, index: usize, pg: &Type) -> Result<ScalarValue> {
    let value = WireValue {
        bytes: portal.parameters.get(index).and_then(|p| p.as_deref()),
        binary: portal.parameter_format.is_binary(index),
    };
    decode_value(value, pg).map_err(|e| bad_parameter(index, e))
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

/// One value as a client sent it: a parameter, or a field of binary COPY.
#[derive(Clone, Copy)]
pub struct WireValue<'a> {
    /// `None` is NULL.
    pub bytes: Option<&'a [u8]>,
    pub binary: bool,
}

/// Parameters are read with the default options, as pgwire's own reader
/// does; built once, since building them costs four allocations.
static DEFAULT_FORMAT: std::sync::LazyLock<pgwire::types::format::FormatOptions> =
    std::sync::LazyLock::new(Default::default);

impl<'a> WireValue<'a> {
    /// As pgwire's `Portal::parameter`: binary through postgres-types,
    /// text through pgwire's text readers.
    fn read<T>(self, pg: &Type) -> std::result::Result<Option<T>, BoxError>
    where
        T: postgres_types::FromSqlOwned + pgwire::types::FromSqlText<'a>,
    {
        if !<T as postgres_types::FromSql>::accepts(pg) {
            return Err(format!("cannot read a value of type {}", pg.name()).into());
        }
        match self.bytes {
            None => Ok(None),
            Some(bytes) if self.binary => T::from_sql(pg, bytes).map(Some),
            Some(bytes) => T::from_sql_text(pg, bytes, &DEFAULT_FORMAT).map(Some),
        }
    }
}

/// Reads `value` as `pg` and returns it as a ScalarValue (NULL stays a
/// typed NULL).
pub fn decode_value(value: WireValue<'_>, pg: &Type) -> std::result::Result<ScalarValue, BoxError> {
    let micros = |dt: NaiveDateTime| dt.and_utc().timestamp_micros();
    let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec());
    Ok(match *pg {
        Type::BOOL => ScalarValue::Boolean(value.read(pg)?),
        Type::INT2 => ScalarValue::Int16(value.read(pg)?),
        Type::INT4 => ScalarValue::Int32(value.read(pg)?),
        Type::INT8 => ScalarValue::Int64(value.read(pg)?),
        Type::OID => ScalarValue::UInt32(value.read(pg)?),
        Type::FLOAT4 => ScalarValue::Float32(value.read(pg)?),
        Type::FLOAT8 => ScalarValue::Float64(value.read(pg)?),
        // In text, both of bytea's forms (pgwire's reader takes hex only).
        Type::BYTEA => match (value.binary, value.bytes) {
            (false, Some(bytes)) => ScalarValue::Binary(Some(cairn_pg::bytea::parse(&text(bytes)?)?)),
            _ => ScalarValue::Binary(value.read(pg)?),
        },
        Type::DATE => {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            ScalarValue::Date32(value.read::<NaiveDate>(pg)?.map(|d| (d - epoch).num_days() as i32))
        }
        Type::TIME => ScalarValue::Time64Microsecond(value.read::<NaiveTime>(pg)?.map(|t| {
            i64::from(chrono::Timelike::num_seconds_from_midnight(&t)) * 1_000_000
                + i64::from(chrono::Timelike::nanosecond(&t) / 1_000)
        })),
        Type::TIMESTAMP => ScalarValue::TimestampMicrosecond(value.read::<NaiveDateTime>(pg)?.map(micros), None),
        Type::TIMESTAMPTZ => ScalarValue::TimestampMicrosecond(
            value.read::<DateTime<chrono::FixedOffset>>(pg)?.map(|dt| dt.with_timezone(&Utc).timestamp_micros()),
            Some("UTC".into()),
        ),
        Type::NUMERIC => match value.read::<Decimal>(pg)? {
            Some(d) => ScalarValue::Decimal128(Some(d.mantissa()), 38, d.scale() as i8),
            None => ScalarValue::Decimal128(None, 38, 0),
        },
        Type::UUID => ScalarValue::Utf8(
            value
                .bytes
                .map(|bytes| match value.binary {
                    true => uuid::Uuid::from_slice(bytes).map(|u| u.hyphenated().to_string()).map_err(BoxError::from),
                    false => text(bytes).map_err(BoxError::from),
                })
                .transpose()?,
        ),
        // jsonb's binary form is a version byte, then the text.
        Type::JSONB if value.binary => {
            ScalarValue::Utf8(value.bytes.map(|bytes| text(bytes.get(1..).unwrap_or_default())).transpose()?)
        }
        Type::INTERVAL => match value.read::<pg_interval::Interval>(pg)? {
            Some(i) => ScalarValue::IntervalMonthDayNano(Some(arrow::datatypes::IntervalMonthDayNano::new(
                i.months,
                i.days,
                i.microseconds.saturating_mul(1_000),
            ))),
            None => ScalarValue::IntervalMonthDayNano(None),
        },
        Type::BOOL_ARRAY => list(value.read(pg)?, ScalarValue::Boolean, &DataType::Boolean),
        Type::INT2_ARRAY => list(value.read(pg)?, ScalarValue::Int16, &DataType::Int16),
        Type::INT4_ARRAY => list(value.read(pg)?, ScalarValue::Int32, &DataType::Int32),
        Type::INT8_ARRAY => list(value.read(pg)?, ScalarValue::Int64, &DataType::Int64),
        Type::FLOAT4_ARRAY => list(value.read(pg)?, ScalarValue::Float32, &DataType::Float32),
        Type::FLOAT8_ARRAY => list(value.read(pg)?, ScalarValue::Float64, &DataType::Float64),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => list(value.read(pg)?, ScalarValue::Utf8, &DataType::Utf8),
        // Text, varchar, json, unknown and every type without a binary
        // reader here: read as text and let the statement cast it.
        ref other if <String as postgres_types::FromSql>::accepts(other) => ScalarValue::Utf8(value.read(pg)?),
        _ => ScalarValue::Utf8(value.bytes.map(text).transpose()?),
    })
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

    fn pg_type(data_type: &DataType) -> Type {
        pg_type_of_field(&Field::new("c", data_type.clone(), true))
    }

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
