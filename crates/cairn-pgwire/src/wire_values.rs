//! Values whose wire forms postgres-types and pgwire do not write from what
//! Arrow holds: uuid, jsonb and `"char"` (text to Arrow, each with its own
//! binary form), and arrays (encoded per element type).

use std::error::Error;

use arrow::array::{Array, ArrayRef, AsArray};
use bytes::{BufMut, BytesMut};
use chrono::{DateTime, NaiveDate, Utc};
use pgwire::api::results::DataRowEncoder;
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::types::format::FormatOptions;
use pgwire::types::ToSqlText;
use postgres_types::{to_sql_checked, IsNull, ToSql, Type};
use rust_decimal::Decimal;

type BoxError = Box<dyn Error + Sync + Send>;

/// A uuid: 16 bytes in binary, its hyphenated form in text.
#[derive(Debug)]
pub struct PgUuid(uuid::Uuid);

impl PgUuid {
    pub fn parse(text: &str) -> PgWireResult<PgUuid> {
        uuid::Uuid::try_parse(text)
            .map(PgUuid)
            .map_err(|e| PgWireError::ApiError(format!("stored uuid \"{text}\" does not parse: {e}").into()))
    }
}

impl ToSql for PgUuid {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        out.put_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::UUID
    }

    to_sql_checked!();
}

impl ToSqlText for PgUuid {
    fn to_sql_text(&self, _ty: &Type, out: &mut BytesMut, _options: &FormatOptions) -> Result<IsNull, BoxError> {
        out.put_slice(self.0.hyphenated().to_string().as_bytes());
        Ok(IsNull::No)
    }
}

/// jsonb: its text after a version byte in binary, the text alone in text.
#[derive(Debug)]
pub struct PgJsonb<'a>(pub &'a str);

impl ToSql for PgJsonb<'_> {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        out.put_u8(1);
        out.put_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB
    }

    to_sql_checked!();
}

impl ToSqlText for PgJsonb<'_> {
    fn to_sql_text(&self, _ty: &Type, out: &mut BytesMut, _options: &FormatOptions) -> Result<IsNull, BoxError> {
        out.put_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }
}

/// `"char"`: one byte in binary; in text, that byte (none for 0).
#[derive(Debug)]
pub struct PgChar(pub u8);

impl ToSql for PgChar {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        out.put_u8(self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::CHAR
    }

    to_sql_checked!();
}

impl ToSqlText for PgChar {
    fn to_sql_text(&self, _ty: &Type, out: &mut BytesMut, _options: &FormatOptions) -> Result<IsNull, BoxError> {
        if self.0 != 0 {
            out.put_u8(self.0);
        }
        Ok(IsNull::No)
    }
}

fn collect<T>(array: &ArrayRef, value: impl Fn(usize) -> T) -> Vec<Option<T>> {
    (0..array.len()).map(|i| (!array.is_null(i)).then(|| value(i))).collect()
}

/// Encodes one array value (the elements of one row of a list column)
/// into the row being built; pgwire writes the text form (with
/// PostgreSQL's quoting) and postgres-types the binary one.
pub fn list_values(elements: &ArrayRef, encoder: &mut DataRowEncoder) -> PgWireResult<()> {
    use arrow::datatypes::*;
    let a = elements;
    match a.data_type() {
        DataType::Boolean => encoder.encode_field(&collect(a, |i| a.as_boolean().value(i))),
        DataType::Int16 => encoder.encode_field(&collect(a, |i| a.as_primitive::<Int16Type>().value(i))),
        DataType::Int32 => encoder.encode_field(&collect(a, |i| a.as_primitive::<Int32Type>().value(i))),
        DataType::Int64 => encoder.encode_field(&collect(a, |i| a.as_primitive::<Int64Type>().value(i))),
        DataType::Float32 => encoder.encode_field(&collect(a, |i| a.as_primitive::<Float32Type>().value(i))),
        DataType::Float64 => encoder.encode_field(&collect(a, |i| a.as_primitive::<Float64Type>().value(i))),
        DataType::Utf8 => encoder.encode_field(&collect(a, |i| a.as_string::<i32>().value(i).to_owned())),
        DataType::LargeUtf8 => encoder.encode_field(&collect(a, |i| a.as_string::<i64>().value(i).to_owned())),
        DataType::Utf8View => encoder.encode_field(&collect(a, |i| a.as_string_view().value(i).to_owned())),
        DataType::Binary => encoder.encode_field(&collect(a, |i| a.as_binary::<i32>().value(i).to_vec())),
        DataType::Date32 => encoder.encode_field(&collect(a, |i| {
            NaiveDate::from_ymd_opt(1970, 1, 1)
                .and_then(|epoch| epoch.checked_add_signed(chrono::Duration::days(i64::from(a.as_primitive::<Date32Type>().value(i)))))
                .unwrap_or_default()
        })),
        DataType::Timestamp(TimeUnit::Microsecond, None) => encoder.encode_field(&collect(a, |i| {
            DateTime::from_timestamp_micros(a.as_primitive::<TimestampMicrosecondType>().value(i))
                .map(|dt| dt.naive_utc())
                .unwrap_or_default()
        })),
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => encoder.encode_field(&collect(a, |i| {
            DateTime::<Utc>::from_timestamp_micros(a.as_primitive::<TimestampMicrosecondType>().value(i)).unwrap_or_default()
        })),
        DataType::Decimal128(_, scale) if (0..=28).contains(scale) => encoder.encode_field(&collect(a, |i| {
            Decimal::from_i128_with_scale(a.as_primitive::<Decimal128Type>().value(i), *scale as u32)
        })),
        other => Err(PgWireError::ApiError(format!("arrays of {other} cannot be sent yet").into())),
    }
}
