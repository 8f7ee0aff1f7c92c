//! Values whose wire forms postgres-types and pgwire do not write from what
//! Arrow holds: uuid, jsonb and `"char"` (text to Arrow, each with its own
//! binary form), and arrays (encoded per element type).

use std::error::Error;

use arrow::array::{Array, ArrayRef, AsArray};
use bytes::{BufMut, BytesMut};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
use pgwire::api::results::DataRowEncoder;
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::types::format::FormatOptions;
use pgwire::types::ToSqlText;
use postgres_types::{to_sql_checked, IsNull, ToSql, Type};
use cairn_tables::pg_text;

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

/// A timestamp, timestamptz or time: pgwire's forms, except that the
/// text form trims the fraction as PostgreSQL does (`12:00:00`,
/// `12:00:00.5`), where pgwire always writes six digits.
#[derive(Debug)]
pub struct PgTemporal<T>(pub T);

impl<T: ToSql> ToSql for PgTemporal<T> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        self.0.to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        T::accepts(ty)
    }

    to_sql_checked!();
}

impl<T: ToSqlText> ToSqlText for PgTemporal<T> {
    fn to_sql_text(&self, ty: &Type, out: &mut BytesMut, options: &FormatOptions) -> Result<IsNull, BoxError> {
        let start = out.len();
        let written = self.0.to_sql_text(ty, out, options)?;
        let text = &out[start..];
        // The fraction follows the seconds in every DateStyle: `:ss.ffffff`.
        let fraction = text.windows(10).position(|w| {
            w[0] == b':' && w[1..3].iter().all(u8::is_ascii_digit) && w[3] == b'.' && w[4..].iter().all(u8::is_ascii_digit)
        });
        if let Some(at) = fraction {
            let digits = start + at + 4;
            let kept = out[digits..digits + 6].iter().rposition(|&d| d != b'0').map_or(0, |last| last + 1);
            // Without any digit, the dot goes too.
            let cut_from = if kept == 0 { digits - 1 } else { digits + kept };
            let tail = out.split_off(digits + 6);
            out.truncate(cut_from);
            out.unsplit(tail);
        }
        Ok(written)
    }
}

/// A `timestamp`, written by hand in the ISO DateStyle (the default):
/// chrono's formatter parses its format string again for every value, which
/// made timestamps the costliest part of sending a row. Other DateStyles,
/// and years outside 1–9999, go through [`PgTemporal`].
#[derive(Debug)]
pub struct PgTimestamp(pub NaiveDateTime);

impl ToSql for PgTimestamp {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        self.0.to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        NaiveDateTime::accepts(ty)
    }

    to_sql_checked!();
}

impl ToSqlText for PgTimestamp {
    fn to_sql_text(&self, ty: &Type, out: &mut BytesMut, options: &FormatOptions) -> Result<IsNull, BoxError> {
        let at = self.0;
        let nanos = at.nanosecond();
        if !options.date_style.starts_with("ISO") || !(1..=9999).contains(&at.year()) || nanos >= 1_000_000_000 {
            return PgTemporal(at).to_sql_text(ty, out, options);
        }
        // Digit by digit: `write!` with padding was a tenth of a per-user
        // feed's CPU (20 rows, each with a timestamp).
        let year = at.year().unsigned_abs();
        let fields = [(year, 4, b'-'), (at.month(), 2, b'-'), (at.day(), 2, b' '), (at.hour(), 2, b':'), (at.minute(), 2, b':')];
        for (value, width, separator) in fields {
            put_padded(out, value, width);
            out.put_u8(separator);
        }
        put_padded(out, at.second(), 2);
        let micros = nanos / 1_000;
        if micros != 0 {
            out.put_u8(b'.');
            put_padded(out, micros, 6);
            // PostgreSQL trims the fraction's trailing zeros.
            let trimmed = out.len() - out.iter().rev().take_while(|&&b| b == b'0').count();
            out.truncate(trimmed);
        }
        Ok(IsNull::No)
    }
}

/// An integer: in text through `itoa`, since pgwire's `write!` was a
/// share of every result with a number in it.
#[derive(Debug)]
pub struct PgInteger<T>(pub T);

impl<T: ToSql + itoa::Integer> ToSql for PgInteger<T> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        self.0.to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        T::accepts(ty)
    }

    to_sql_checked!();
}

impl<T: itoa::Integer + std::fmt::Debug> ToSqlText for PgInteger<T> {
    fn to_sql_text(&self, _ty: &Type, out: &mut BytesMut, _options: &FormatOptions) -> Result<IsNull, BoxError> {
        out.put_slice(itoa::Buffer::new().format(self.0).as_bytes());
        Ok(IsNull::No)
    }
}

/// A float as PostgreSQL writes it (see [`pg_text::float`]).
#[derive(Debug)]
pub struct PgFloat<T>(pub T);

impl<T: ToSql> ToSql for PgFloat<T> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        self.0.to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        T::accepts(ty)
    }

    to_sql_checked!();
}

impl ToSqlText for PgFloat<f64> {
    fn to_sql_text(&self, _ty: &Type, out: &mut BytesMut, _options: &FormatOptions) -> Result<IsNull, BoxError> {
        out.put_slice(pg_text::float(self.0, &format!("{:e}", self.0), 15).as_bytes());
        Ok(IsNull::No)
    }
}

impl ToSqlText for PgFloat<f32> {
    fn to_sql_text(&self, _ty: &Type, out: &mut BytesMut, _options: &FormatOptions) -> Result<IsNull, BoxError> {
        out.put_slice(pg_text::float(f64::from(self.0), &format!("{:e}", self.0), 6).as_bytes());
        Ok(IsNull::No)
    }
}

/// A numeric as Arrow holds it (an integer and a scale), in any of
/// Decimal128's 38 digits: in text with exactly `scale` fraction digits,
/// in binary as PostgreSQL's base-10000 digits. (rust_decimal, which
/// postgres-types reads and writes numerics through, holds 28 digits and
/// panics past them.)
#[derive(Debug)]
pub struct PgNumeric {
    pub value: i128,
    pub scale: u32,
}

impl ToSql for PgNumeric {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let (integer, fraction) = pg_text::numeric_digits(self.value, self.scale);
        // Four digits to a group, aligned on the decimal point.
        let integer = format!("{}{integer}", "0".repeat((4 - integer.len() % 4) % 4));
        let fraction = format!("{fraction}{}", "0".repeat((4 - fraction.len() % 4) % 4));
        let mut groups: Vec<i16> = integer
            .as_bytes()
            .chunks(4)
            .chain(fraction.as_bytes().chunks(4))
            .map(|chunk| chunk.iter().fold(0i16, |n, digit| n * 10 + i16::from(digit - b'0')))
            .collect();
        let mut weight = (integer.len() / 4) as i16 - 1;
        let leading = groups.iter().take_while(|g| **g == 0).count();
        groups.drain(..leading);
        weight -= leading as i16;
        while groups.last() == Some(&0) {
            groups.pop();
        }
        if groups.is_empty() {
            weight = 0;
        }
        out.put_i16(groups.len() as i16);
        out.put_i16(weight);
        out.put_u16(if self.value < 0 { 0x4000 } else { 0 });
        out.put_u16(self.scale as u16);
        for group in groups {
            out.put_i16(group);
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }

    to_sql_checked!();
}

impl ToSqlText for PgNumeric {
    fn to_sql_text(&self, _ty: &Type, out: &mut BytesMut, _options: &FormatOptions) -> Result<IsNull, BoxError> {
        out.put_slice(pg_text::numeric(self.value, self.scale).as_bytes());
        Ok(IsNull::No)
    }
}

/// `value` in decimal, zero-padded to at least `width` digits.
fn put_padded(out: &mut BytesMut, value: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let mut first = digits.len();
    let mut rest = value;
    while rest > 0 {
        first -= 1;
        digits[first] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.put_slice(&digits[first.min(digits.len() - width.min(digits.len()))..]);
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
        DataType::Float32 => encoder.encode_field(&collect(a, |i| PgFloat(a.as_primitive::<Float32Type>().value(i)))),
        DataType::Float64 => encoder.encode_field(&collect(a, |i| PgFloat(a.as_primitive::<Float64Type>().value(i)))),
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
        DataType::Decimal128(_, scale) if *scale >= 0 => encoder.encode_field(&collect(a, |i| PgNumeric {
            value: a.as_primitive::<Decimal128Type>().value(i),
            scale: *scale as u32,
        })),
        other => Err(PgWireError::ApiError(format!("arrays of {other} cannot be sent yet").into())),
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDateTime;

    use super::*;

    fn text<T: ToSqlText>(value: T, ty: &Type, date_style: &str) -> String {
        let mut options = FormatOptions::default();
        options.date_style = date_style.to_owned();
        let mut out = BytesMut::new();
        PgTemporal(value).to_sql_text(ty, &mut out, &options).expect("formats");
        String::from_utf8(out.to_vec()).expect("utf-8")
    }

    fn plain<T: ToSqlText>(value: T) -> String {
        let mut out = BytesMut::new();
        value.to_sql_text(&Type::TEXT, &mut out, &FormatOptions::default()).expect("formats");
        String::from_utf8(out.to_vec()).expect("utf-8")
    }

    #[test]
    fn numerics_are_sent_in_postgres_binary_form() {
        assert_eq!(plain(PgNumeric { value: 150, scale: 2 }), "1.50");
        assert_eq!(plain(PgFloat(1e100)), "1e+100");
        let binary = |value: i128, scale: u32| {
            let mut out = BytesMut::new();
            PgNumeric { value, scale }.to_sql(&Type::NUMERIC, &mut out).expect("encodes");
            out.to_vec()
        };
        // 12345.6789: groups 1, 2345, 6789; weight 1; scale 4.
        assert_eq!(binary(123456789, 4), [0, 3, 0, 1, 0, 0, 0, 4, 0, 1, 0x09, 0x29, 0x1a, 0x85]);
        // -0.5: one group 5000 at weight -1.
        assert_eq!(binary(-5, 1), [0, 1, 0xff, 0xff, 0x40, 0, 0, 1, 0x13, 0x88]);
        // Zero: no groups.
        assert_eq!(binary(0, 2), [0, 0, 0, 0, 0, 0, 0, 2]);
    }

    #[test]
    fn fractions_are_trimmed_as_postgres_prints_them() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").expect("parses");
        assert_eq!(text(at("2026-01-01 12:00:00"), &Type::TIMESTAMP, "ISO, MDY"), "2026-01-01 12:00:00");
        assert_eq!(text(at("2026-01-01 12:00:00.5"), &Type::TIMESTAMP, "ISO, MDY"), "2026-01-01 12:00:00.5");
        assert_eq!(text(at("2026-01-01 12:00:00.000123"), &Type::TIMESTAMP, "ISO, MDY"), "2026-01-01 12:00:00.000123");
        assert_eq!(text(at("2026-01-01 12:00:00").and_utc(), &Type::TIMESTAMPTZ, "ISO, MDY"), "2026-01-01 12:00:00+00");
        assert_eq!(text(at("2026-11-22 07:08:09.25").time(), &Type::TIME, "ISO, MDY"), "07:08:09.25");
        assert_eq!(text(at("2026-11-22 07:08:09").and_utc(), &Type::TIMESTAMPTZ, "German, DMY"), "22.11.2026 07:08:09 UTC");
    }

    #[test]
    fn hand_written_timestamps_match_the_general_formatter() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").expect("parses");
        let hand = |value: NaiveDateTime, date_style: &str| {
            let mut options = FormatOptions::default();
            options.date_style = date_style.to_owned();
            let mut out = BytesMut::new();
            PgTimestamp(value).to_sql_text(&Type::TIMESTAMP, &mut out, &options).expect("formats");
            String::from_utf8(out.to_vec()).expect("utf-8")
        };
        let values = [
            "2026-01-01 12:00:00",
            "0001-02-03 04:05:06.000001",
            "0099-10-11 00:00:00.1",
            "1999-12-31 23:59:59.5",
            "2026-11-22 07:08:09.123450",
            "9999-12-31 23:59:59.999999",
            "2000-01-01 00:00:00.010000",
        ];
        for value in values {
            for style in ["ISO, MDY", "ISO, DMY", "German, DMY", "SQL, MDY"] {
                assert_eq!(hand(at(value), style), text(at(value), &Type::TIMESTAMP, style), "{value} in {style}");
            }
        }
        assert_eq!(hand(at("2026-11-22 07:08:09.123450"), "ISO, MDY"), "2026-11-22 07:08:09.12345");
    }
}
