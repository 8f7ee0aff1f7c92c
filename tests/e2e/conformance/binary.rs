//! A value's binary wire form written as PostgreSQL writes its text form,
//! so that one recorded expectation checks both. Written here from
//! PostgreSQL's formats rather than taken from the server's encoder, so a
//! server bug cannot agree with itself; the replay against PostgreSQL
//! (`CAIRN_SQL_ORACLE`) checks these functions against PostgreSQL's own
//! text output. A type without a function here fails its record loudly.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone};
use tokio_postgres::types::{FromSql, Kind, Type};

/// One column's raw binary value (`None` for NULL) with its type.
pub struct Raw {
    pub ty: Type,
    pub bytes: Option<Vec<u8>>,
}

impl<'a> FromSql<'a> for Raw {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Raw, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw { ty: ty.clone(), bytes: Some(raw.to_vec()) })
    }

    fn from_sql_null(ty: &Type) -> Result<Raw, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw { ty: ty.clone(), bytes: None })
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

type Decoded = Result<String, String>;

/// The text PostgreSQL would send for this binary value, in a session
/// whose `TimeZone` is `zone`.
pub fn text(ty: &Type, bytes: &[u8], zone: chrono_tz::Tz) -> Decoded {
    if let Kind::Array(element) = ty.kind() {
        return array(element, bytes, zone);
    }
    let mut reader = Reader(bytes);
    let text = match *ty {
        Type::BOOL => (if reader.u8()? != 0 { "t" } else { "f" }).to_owned(),
        Type::INT2 => reader.i16()?.to_string(),
        Type::INT4 => reader.i32()?.to_string(),
        Type::INT8 => reader.i64()?.to_string(),
        Type::OID => reader.u32()?.to_string(),
        Type::FLOAT4 => {
            let value = f32::from_bits(reader.u32()?);
            float(value.into(), format!("{value:e}"), 6)
        }
        Type::FLOAT8 => {
            let value = f64::from_bits(reader.u64()?);
            float(value, format!("{value:e}"), 15)
        }
        Type::NUMERIC => numeric(&mut reader)?,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::JSON => utf8(reader.rest())?,
        Type::CHAR => utf8(reader.rest())?,
        Type::JSONB => match reader.u8()? {
            1 => utf8(reader.rest())?,
            version => return Err(format!("jsonb version {version}")),
        },
        Type::BYTEA => {
            let hex: String = reader.rest().iter().map(|b| format!("{b:02x}")).collect();
            format!("\\x{hex}")
        }
        Type::UUID => {
            let id = uuid::Uuid::from_slice(reader.rest()).map_err(|e| e.to_string())?;
            id.hyphenated().to_string()
        }
        Type::DATE => match reader.i32()? {
            i32::MAX => "infinity".to_owned(),
            i32::MIN => "-infinity".to_owned(),
            days => (epoch().date() + Duration::days(days.into())).format("%Y-%m-%d").to_string(),
        },
        Type::TIME => time_of_day(reader.i64()?),
        Type::TIMESTAMP => timestamp(reader.i64()?, ""),
        Type::TIMESTAMPTZ => timestamptz(reader.i64()?, zone),
        Type::INTERVAL => {
            let micros = reader.i64()?;
            let days = reader.i32()?;
            let months = reader.i32()?;
            interval(months, days, micros)
        }
        Type::REGTYPE => type_name(reader.u32()?)?,
        Type::RECORD => record(&mut reader, zone)?,
        _ => return Err(format!("no binary decoder for type {}", ty.name())),
    };
    reader.end()?;
    Ok(text)
}

/// PostgreSQL's shortest round-trip float text: fixed notation for
/// decimal exponents from -4 up to (not including) 15 for float8, 6 for
/// float4, else `d.ddde+XX` (printf's `%g` thresholds).
fn float(value: f64, scientific: String, precision: i32) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    // Rust's `{:e}` is the shortest round-trip digits: `-1.2345e-7`.
    let (mantissa, exponent) = scientific.split_once('e').expect("{:e} has an exponent");
    let exponent: i32 = exponent.parse().expect("exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if exponent < -4 || exponent >= precision {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}{fraction}e{exponent_sign}{:02}", exponent.abs());
    }
    let point = exponent + 1;
    if point <= 0 {
        return format!("{sign}0.{}{digits}", "0".repeat((-point) as usize));
    }
    let point = point as usize;
    if digits.len() <= point {
        return format!("{sign}{digits}{}", "0".repeat(point - digits.len()));
    }
    format!("{sign}{}.{}", &digits[..point], &digits[point..])
}

/// Base-10000 digits with a weight, a sign and a display scale.
fn numeric(reader: &mut Reader) -> Decoded {
    let count = reader.i16()?;
    let weight = i32::from(reader.i16()?);
    let sign = reader.u16()?;
    let scale = usize::from(reader.u16()?);
    match sign {
        0xC000 => return Ok("NaN".to_owned()),
        0xD000 => return Ok("Infinity".to_owned()),
        0xF000 => return Ok("-Infinity".to_owned()),
        _ => {}
    }
    let groups: Vec<i16> = (0..count).map(|_| reader.i16()).collect::<Result<_, _>>()?;
    let group = |index: i32| usize::try_from(index).ok().and_then(|i| groups.get(i)).copied().unwrap_or(0);
    // The first group carries no leading zeros; a value below 1 reads `0.`.
    let mut integer = if weight < 0 { "0".to_owned() } else { group(0).to_string() };
    for index in 1..=weight {
        integer.push_str(&format!("{:04}", group(index)));
    }
    let mut fraction = String::new();
    let mut index = weight + 1;
    while fraction.len() < scale {
        fraction.push_str(&format!("{:04}", group(index)));
        index += 1;
    }
    fraction.truncate(scale);
    let sign = if sign == 0x4000 { "-" } else { "" };
    Ok(match scale {
        0 => format!("{sign}{integer}"),
        _ => format!("{sign}{integer}.{fraction}"),
    })
}

fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("2000-01-01").and_time(NaiveTime::MIN)
}

/// `.ffffff` without trailing zeros, or nothing.
fn fraction(micros: i64) -> String {
    match micros {
        0 => String::new(),
        _ => format!(".{micros:06}").trim_end_matches('0').to_owned(),
    }
}

fn time_of_day(micros: i64) -> String {
    let seconds = micros / 1_000_000;
    format!("{:02}:{:02}:{:02}{}", seconds / 3600, seconds / 60 % 60, seconds % 60, fraction(micros % 1_000_000))
}

fn timestamp(micros: i64, zone: &str) -> String {
    match micros {
        i64::MAX => return "infinity".to_owned(),
        i64::MIN => return "-infinity".to_owned(),
        _ => {}
    }
    let at = epoch() + Duration::microseconds(micros);
    let micros = i64::from(at.and_utc().timestamp_subsec_micros());
    format!("{}{}{zone}", at.format("%Y-%m-%d %H:%M:%S"), fraction(micros))
}

/// An instant in the session's time zone, with the offset as PostgreSQL
/// writes it (`+00`, `-04`, `+05:30`).
fn timestamptz(micros: i64, zone: chrono_tz::Tz) -> String {
    if micros == i64::MAX || micros == i64::MIN {
        return timestamp(micros, "");
    }
    let utc = epoch() + Duration::microseconds(micros);
    let local = zone.from_utc_datetime(&utc);
    let offset = local.offset().fix().local_minus_utc();
    let sign = if offset < 0 { '-' } else { '+' };
    let (hours, minutes) = (offset.abs() / 3600, offset.abs() / 60 % 60);
    let offset = match minutes {
        0 => format!("{sign}{hours:02}"),
        _ => format!("{sign}{hours:02}:{minutes:02}"),
    };
    let local = local.naive_local();
    format!("{}{}{offset}", local.format("%Y-%m-%d %H:%M:%S"), fraction(i64::from(local.and_utc().timestamp_subsec_micros())))
}

/// PostgreSQL's `IntervalStyle = postgres` output: a field after a
/// negative one carries its sign even when positive.
fn interval(months: i32, days: i32, micros: i64) -> String {
    let mut parts = Vec::new();
    let mut after_negative = false;
    for (value, unit) in [(months / 12, "year"), (months % 12, "mon"), (days, "day")] {
        if value != 0 {
            let sign = if after_negative && value > 0 { "+" } else { "" };
            parts.push(format!("{sign}{value} {unit}{}", if value != 1 { "s" } else { "" }));
            after_negative = value < 0;
        }
    }
    if micros != 0 || parts.is_empty() {
        let sign = if micros < 0 { "-" } else if after_negative { "+" } else { "" };
        parts.push(format!("{sign}{}", time_of_day(micros.abs())));
    }
    parts.join(" ")
}

/// `regtype` output for the types scripts ask `pg_typeof` about.
fn type_name(oid: u32) -> Decoded {
    let ty = Type::from_oid(oid).ok_or_else(|| format!("regtype of unknown oid {oid}"))?;
    let base = |ty: &Type| -> Option<&'static str> {
        Some(match *ty {
            Type::BOOL => "boolean",
            Type::INT2 => "smallint",
            Type::INT4 => "integer",
            Type::INT8 => "bigint",
            Type::FLOAT4 => "real",
            Type::FLOAT8 => "double precision",
            Type::NUMERIC => "numeric",
            Type::TEXT => "text",
            Type::VARCHAR => "character varying",
            Type::BPCHAR => "character",
            Type::BYTEA => "bytea",
            Type::DATE => "date",
            Type::TIME => "time without time zone",
            Type::TIMESTAMP => "timestamp without time zone",
            Type::TIMESTAMPTZ => "timestamp with time zone",
            Type::INTERVAL => "interval",
            Type::UUID => "uuid",
            Type::JSON => "json",
            Type::JSONB => "jsonb",
            Type::UNKNOWN => "unknown",
            Type::OID => "oid",
            Type::NAME => "name",
            Type::REGTYPE => "regtype",
            Type::RECORD => "record",
            _ => return None,
        })
    };
    match ty.kind() {
        Kind::Array(element) => base(element).map(|name| format!("{name}[]")),
        _ => base(&ty).map(str::to_owned),
    }
    .ok_or_else(|| format!("no regtype name for {}", ty.name()))
}

/// `(a,b)`: each field in its own type, quoted where PostgreSQL quotes.
fn record(reader: &mut Reader, zone: chrono_tz::Tz) -> Decoded {
    let count = reader.i32()?;
    let mut fields = Vec::new();
    for _ in 0..count {
        let oid = reader.u32()?;
        let ty = Type::from_oid(oid).ok_or_else(|| format!("record field of unknown type {oid}"))?;
        let length = reader.i32()?;
        fields.push(match usize::try_from(length) {
            Err(_) => String::new(),
            Ok(length) => {
                let text = text(&ty, reader.take(length)?, zone)?;
                let special = text.is_empty()
                    || text.chars().any(|c| matches!(c, '(' | ')' | ',' | '"' | '\\') || c.is_ascii_whitespace());
                match special {
                    true => format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\"\"")),
                    false => text,
                }
            }
        });
    }
    Ok(format!("({})", fields.join(",")))
}

/// `{…}` with PostgreSQL's quoting; nested for more than one dimension.
fn array(element: &Type, bytes: &[u8], zone: chrono_tz::Tz) -> Decoded {
    let mut reader = Reader(bytes);
    let dimensions = reader.i32()?;
    let _has_nulls = reader.i32()?;
    let _element_oid = reader.u32()?;
    if dimensions == 0 {
        return Ok("{}".to_owned());
    }
    let mut lengths = Vec::new();
    let mut bounds = String::new();
    for _ in 0..dimensions {
        let length = usize::try_from(reader.i32()?).map_err(|e| e.to_string())?;
        let lower = reader.i32()?;
        if lower != 1 {
            bounds.push_str(&format!("[{lower}:{}]", lower + length as i32 - 1));
        }
        lengths.push(length);
    }
    let total: usize = lengths.iter().product();
    let mut items = Vec::with_capacity(total);
    for _ in 0..total {
        let length = reader.i32()?;
        items.push(match usize::try_from(length) {
            Err(_) => "NULL".to_owned(),
            Ok(length) => quote_element(text(element, reader.take(length)?, zone)?),
        });
    }
    reader.end()?;
    let prefix = if bounds.is_empty() { String::new() } else { format!("{bounds}=") };
    Ok(format!("{prefix}{}", nest(&items, &lengths)))
}

fn nest(items: &[String], lengths: &[usize]) -> String {
    match lengths {
        [] | [_] => format!("{{{}}}", items.join(",")),
        [first, rest @ ..] => {
            let size = items.len() / first.max(&1);
            let inner: Vec<String> = items.chunks(size.max(1)).map(|chunk| nest(chunk, rest)).collect();
            format!("{{{}}}", inner.join(","))
        }
    }
}

fn quote_element(text: String) -> String {
    let special = text.is_empty()
        || text.eq_ignore_ascii_case("null")
        || text.chars().any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_ascii_whitespace());
    if !special {
        return text;
    }
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

fn utf8(bytes: &[u8]) -> Decoded {
    String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string())
}

/// Big-endian reads over a value, each failing on a short value.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(format!("value ends after {} bytes, {n} more expected", self.0.len()));
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }

    fn i16(&mut self) -> Result<i16, String> {
        self.array().map(i16::from_be_bytes)
    }

    fn u16(&mut self) -> Result<u16, String> {
        self.array().map(u16::from_be_bytes)
    }

    fn i32(&mut self) -> Result<i32, String> {
        self.array().map(i32::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, String> {
        self.array().map(u32::from_be_bytes)
    }

    fn i64(&mut self) -> Result<i64, String> {
        self.array().map(i64::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64, String> {
        self.array().map(u64::from_be_bytes)
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }

    fn end(&self) -> Result<(), String> {
        match self.0.len() {
            0 => Ok(()),
            n => Err(format!("{n} bytes left over")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_read_as_postgresql_writes_them() {
        let f8 = |v: f64| float(v, format!("{v:e}"), 15);
        assert_eq!(f8(1.0), "1");
        assert_eq!(f8(1e100), "1e+100");
        assert_eq!(f8(0.1), "0.1");
        assert_eq!(f8(-0.0001), "-0.0001");
        assert_eq!(f8(0.00001), "1e-05");
        assert_eq!(f8(123456789012345.0), "123456789012345");
        assert_eq!(f8(1e15), "1e+15");
        assert_eq!(f8(1.5e-7), "1.5e-07");
        assert_eq!(f8(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn intervals_read_as_postgresql_writes_them() {
        assert_eq!(interval(0, 2, 0), "2 days");
        assert_eq!(interval(14, -1, 3_600_000_000), "1 year 2 mons -1 days +01:00:00");
        assert_eq!(interval(0, 0, 0), "00:00:00");
        assert_eq!(interval(0, 0, -1_500_000), "-00:00:01.5");
    }
}
