//! Values in PostgreSQL's text output, where CairnDB writes them itself:
//! the wire encoder's floats and numerics, and the values an error's
//! DETAIL names (`Key (t)=(2024-01-02 03:04:05) already exists.`).

use arrow::temporal_conversions::{date32_to_datetime, timestamp_us_to_datetime};
use cairn_types::Value;

/// A float as PostgreSQL writes it: the shortest digits that read back as
/// the same value (as Rust's `{:e}` gives them), in fixed notation for
/// decimal exponents from -4 up to the type's precision (15 digits for
/// float8, 6 for float4: printf's `%g` rule, which PostgreSQL follows),
/// else as `1e+100`; and `Infinity`, `-Infinity`, `NaN`. `scientific` is
/// the value's `{:e}` form (of the f32 for a float4).
pub fn float(value: f64, scientific: &str, precision: i32) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(unsigned) => ("-", unsigned),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if exponent < -4 || exponent >= precision {
        let (first, rest) = digits.split_at(1);
        let point = if rest.is_empty() { "" } else { "." };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}{point}{rest}e{exponent_sign}{:02}", exponent.unsigned_abs());
    }
    // Digits before the point: the exponent plus one (none below 1).
    let point = exponent + 1;
    if point <= 0 {
        return format!("{sign}0.{}{digits}", "0".repeat(point.unsigned_abs() as usize));
    }
    let point = point as usize;
    if digits.len() <= point {
        return format!("{sign}{digits}{}", "0".repeat(point - digits.len()));
    }
    format!("{sign}{}.{}", &digits[..point], &digits[point..])
}

/// `mantissa × 10^-scale` with exactly `scale` fraction digits.
pub fn numeric(mantissa: i128, scale: u32) -> String {
    let (integer, fraction) = numeric_digits(mantissa, scale);
    let sign = if mantissa < 0 { "-" } else { "" };
    match fraction.is_empty() {
        true => format!("{sign}{integer}"),
        false => format!("{sign}{integer}.{fraction}"),
    }
}

/// The absolute value's integer and fraction digits, the fraction exactly
/// `scale` long.
pub fn numeric_digits(mantissa: i128, scale: u32) -> (String, String) {
    let scale = scale as usize;
    let mut digits = mantissa.unsigned_abs().to_string();
    if digits.len() <= scale {
        digits.insert_str(0, &"0".repeat(scale + 1 - digits.len()));
    }
    let fraction = digits.split_off(digits.len() - scale);
    (digits, fraction)
}

/// A stored value as PostgreSQL writes it in an error's DETAIL (`null`
/// for NULL, as in `Failing row contains (null, 3).`; timestamps with
/// time zone in UTC).
pub fn value(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Boolean(v) => (if *v { "t" } else { "f" }).into(),
        Value::Int16(v) => v.to_string(),
        Value::Int32(v) => v.to_string(),
        Value::Int64(v) => v.to_string(),
        Value::Float32(v) => float(f64::from(*v), &format!("{v:e}"), 6),
        Value::Float64(v) => float(*v, &format!("{v:e}"), 15),
        Value::Decimal { mantissa, scale } => numeric(*mantissa, u32::try_from(*scale).unwrap_or(0)),
        Value::Text(text) => text.clone(),
        Value::Bytes(bytes) => format!("\\x{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        Value::Date(days) => date32_to_datetime(*days).map_or_else(|| days.to_string(), |d| d.format("%Y-%m-%d").to_string()),
        Value::Time(micros) => time_of_day(*micros),
        Value::Timestamp(micros) => timestamp(*micros),
        Value::TimestampTz(micros) => format!("{}+00", timestamp(*micros)),
        Value::Interval { months, days, nanos } => interval(*months, *days, nanos / 1_000),
        Value::Array(elements) => {
            let elements: Vec<String> = elements
                .iter()
                .map(|element| match element {
                    Value::Null => "NULL".into(),
                    // A sub-array of a multidimensional array is not quoted.
                    Value::Array(_) => self::value(element),
                    other => quote_element(self::value(other)),
                })
                .collect();
            format!("{{{}}}", elements.join(","))
        }
    }
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

fn timestamp(micros: i64) -> String {
    match timestamp_us_to_datetime(micros) {
        Some(at) => format!("{}{}", at.format("%Y-%m-%d %H:%M:%S"), fraction(micros.rem_euclid(1_000_000))),
        None => micros.to_string(),
    }
}

/// `IntervalStyle = postgres`: a field after a negative one carries its
/// sign even when positive.
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

fn quote_element(text: String) -> String {
    let special = text.is_empty()
        || text.eq_ignore_ascii_case("null")
        || text.chars().any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_ascii_whitespace());
    match special {
        true => format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"")),
        false => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_written_as_postgres_writes_them() {
        let f8 = |v: f64| float(v, &format!("{v:e}"), 15);
        let cases: [(f64, &str); 12] = [
            (1.0, "1"),
            (0.1, "0.1"),
            (-0.0, "-0"),
            (1e100, "1e+100"),
            (1e-100, "1e-100"),
            (123456789012345.0, "123456789012345"),
            (1e15, "1e+15"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (f64::INFINITY, "Infinity"),
            (f64::NAN, "NaN"),
        ];
        for (value, text) in cases {
            assert_eq!(f8(value), text, "{value:e}");
        }
        let f4 = |v: f32| float(f64::from(v), &format!("{v:e}"), 6);
        assert_eq!(f4(0.1), "0.1");
        assert_eq!(f4(1e6), "1e+06");
        assert_eq!(f4(123456.0), "123456");
    }

    #[test]
    fn numerics_keep_their_scale_and_all_38_digits() {
        assert_eq!(numeric(150, 2), "1.50");
        assert_eq!(numeric(-5, 1), "-0.5");
        assert_eq!(numeric(7, 3), "0.007");
        assert_eq!(numeric(0, 0), "0");
        assert_eq!(numeric(i128::MAX / 10, 0), (i128::MAX / 10).to_string());
    }

    #[test]
    fn detail_values_read_as_postgres_writes_them() {
        assert_eq!(value(&Value::Timestamp(1_704_164_645_000_000)), "2024-01-02 03:04:05");
        assert_eq!(value(&Value::TimestampTz(1_704_164_645_500_000)), "2024-01-02 03:04:05.5+00");
        assert_eq!(value(&Value::Date(19_724)), "2024-01-02");
        assert_eq!(value(&Value::Time(37_230_000_000)), "10:20:30");
        assert_eq!(value(&Value::Decimal { mantissa: 150, scale: 2 }), "1.50");
        assert_eq!(value(&Value::Bytes(vec![1, 2])), "\\x0102");
        assert_eq!(value(&Value::Boolean(true)), "t");
        assert_eq!(value(&Value::Interval { months: 14, days: -1, nanos: 3_600_000_000_000 }), "1 year 2 mons -1 days +01:00:00");
        assert_eq!(value(&Value::Array(vec![Value::Text("a b".into()), Value::Null])), "{\"a b\",NULL}");
        assert_eq!(value(&Value::Null), "null");
    }
}
