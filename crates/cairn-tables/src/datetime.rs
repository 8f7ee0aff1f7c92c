//! Dates, times and timestamps read from text as PostgreSQL reads them
//! (with `DateStyle` ISO, MDY), for casts of text: `'2024-03-15 10:00'`
//! (no seconds), `2024-03-15T10:00:00Z`, `'March 15, 2024'`,
//! `'3/15/2024'`, `'20240315'`, `'10:00 PM'`, an offset (`+02`,
//! `-05:30`) or a zone name after the time, `epoch`, `now`, `today`,
//! `tomorrow`, `yesterday` (the current date is UTC's). Arrow's own parser wants the
//! seconds and knows none of the other forms.
//!
//! Written on chrono's calendar; the reading of PostgreSQL's forms is
//! here because no crate reads them.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone};

use cairn_types::{CairnError, Result};

/// A timestamp as written: its local date and time, and the offset from
/// UTC it gave (seconds east), if any.
struct Written {
    local: NaiveDateTime,
    offset: Option<Zone>,
}

enum Zone {
    Fixed(i32),
    Named(chrono_tz::Tz),
}

fn invalid(type_name: &str, text: &str) -> CairnError {
    CairnError::InvalidDatetimeFormat(format!("invalid input syntax for type {type_name}: \"{text}\""))
}

fn out_of_range(text: &str) -> CairnError {
    CairnError::DatetimeFieldOverflow(format!("date/time field value out of range: \"{text}\""))
}

/// Microseconds since 1970-01-01 00:00 of a `timestamp` (an offset in
/// the text is ignored, as PostgreSQL ignores it).
pub fn timestamp_micros(text: &str) -> Result<i64> {
    let written = read_timestamp(text, "timestamp")?;
    Ok(written.local.and_utc().timestamp_micros())
}

/// Microseconds since 1970-01-01 00:00 UTC of a `timestamptz`: the
/// offset the text gives, else the local time in `session_zone`.
pub fn timestamptz_micros(text: &str, session_zone: &str) -> Result<i64> {
    let written = read_timestamp(text, "timestamp with time zone")?;
    let zone = match written.offset {
        Some(zone) => zone,
        None => match session_zone.parse::<chrono_tz::Tz>() {
            Ok(tz) => Zone::Named(tz),
            Err(_) => Zone::Fixed(fixed_offset(session_zone).unwrap_or(0)),
        },
    };
    let offset_seconds = match zone {
        Zone::Fixed(seconds) => seconds,
        // A local time skipped by a change of offset reads as the later
        // offset's, an ambiguous one as the earlier, as PostgreSQL does.
        Zone::Named(tz) => match tz.offset_from_local_datetime(&written.local) {
            chrono::LocalResult::Single(offset) | chrono::LocalResult::Ambiguous(offset, _) => {
                offset.fix().local_minus_utc()
            }
            chrono::LocalResult::None => tz.offset_from_utc_datetime(&written.local).fix().local_minus_utc(),
        },
    };
    Ok(written.local.and_utc().timestamp_micros() - i64::from(offset_seconds) * 1_000_000)
}

/// Days since 1970-01-01 of a `date` (a time after it is ignored).
pub fn date_days(text: &str) -> Result<i32> {
    let written = read_timestamp(text, "date")?;
    let days = written.local.date().signed_duration_since(epoch_date()).num_days();
    i32::try_from(days).map_err(|_| out_of_range(text))
}

/// Microseconds since midnight of a `time`.
pub fn time_micros(text: &str) -> Result<i64> {
    let trimmed = text.trim();
    let (since_midnight, _) = read_time(trimmed, text, "time")?;
    Ok(since_midnight.num_microseconds().unwrap_or(0))
}

fn epoch_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN)
}

fn read_timestamp(text: &str, type_name: &str) -> Result<Written> {
    let trimmed = text.trim();
    // PostgreSQL's special values (its `infinity` has no Arrow value).
    let midnight = |days: i64| chrono::Utc::now().date_naive().and_time(NaiveTime::MIN) + Duration::days(days);
    match trimmed.to_ascii_lowercase().as_str() {
        "epoch" => return Ok(Written { local: epoch_date().and_time(NaiveTime::MIN), offset: Some(Zone::Fixed(0)) }),
        "now" => return Ok(Written { local: chrono::Utc::now().naive_utc(), offset: Some(Zone::Fixed(0)) }),
        "today" => return Ok(Written { local: midnight(0), offset: None }),
        "tomorrow" => return Ok(Written { local: midnight(1), offset: None }),
        "yesterday" => return Ok(Written { local: midnight(-1), offset: None }),
        _ => {}
    }
    // The time starts at the word holding the first colon.
    let (date_part, time_part) = match trimmed.find(':') {
        Some(colon) => {
            let start = trimmed[..colon].rfind([' ', 'T', 't']).map_or(0, |at| at + 1);
            (trimmed[..start].trim_end_matches(['T', 't']).trim(), &trimmed[start..])
        }
        None => (trimmed, ""),
    };
    let date = read_date(date_part, text, type_name)?;
    if time_part.is_empty() {
        return Ok(Written { local: date.and_time(NaiveTime::MIN), offset: None });
    }
    let (since_midnight, offset) = read_time(time_part, text, type_name)?;
    Ok(Written { local: date.and_time(NaiveTime::MIN) + since_midnight, offset })
}

fn read_date(part: &str, text: &str, type_name: &str) -> Result<NaiveDate> {
    let numbers: Vec<&str> = part.split(['-', '/', '.']).collect();
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let ymd = match numbers.as_slice() {
        [y, m, d] if all_digits(y) && all_digits(m) && all_digits(d) => match y.len() {
            // ISO (or y/m/d); else MDY, DateStyle's default.
            3.. => Some((y, m, d)),
            _ => Some((d, y, m)),
        },
        [digits] if digits.len() == 8 && all_digits(digits) => {
            return date(&digits[..4], &digits[4..6], &digits[6..], text)
        }
        _ => None,
    };
    if let Some((y, m, d)) = ymd {
        return date(y, m, d, text);
    }
    // Month names: `March 15, 2024`, `15-Mar-2024`, `Mar 15 2024`.
    let spaced = part.replace([',', '-'], " ");
    let spaced = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    for format in ["%B %d %Y", "%d %B %Y", "%Y %B %d"] {
        if let Ok(date) = NaiveDate::parse_from_str(&spaced, format) {
            return Ok(date);
        }
    }
    Err(invalid(type_name, text))
}

fn date(y: &str, m: &str, d: &str, text: &str) -> Result<NaiveDate> {
    let number = |s: &str| s.parse::<u32>().map_err(|_| out_of_range(text));
    let year = i32::try_from(number(y)?).map_err(|_| out_of_range(text))?;
    NaiveDate::from_ymd_opt(year, number(m)?, number(d)?).ok_or_else(|| out_of_range(text))
}

/// `HH:MM[:SS[.ffffff]]`, then `AM`/`PM` or a zone, if any: the time
/// since midnight (24:00:00 is a whole day) and the zone.
fn read_time(part: &str, text: &str, type_name: &str) -> Result<(Duration, Option<Zone>)> {
    let zone_at = part
        .char_indices()
        .skip(1)
        .find(|(_, c)| matches!(c, '+' | '-' | ' ') || c.is_ascii_alphabetic())
        .map_or(part.len(), |(at, _)| at);
    let (clock, rest) = part.split_at(zone_at);
    let mut fields = clock.split(':');
    let (Some(hours), Some(minutes)) = (fields.next(), fields.next()) else {
        return Err(invalid(type_name, text));
    };
    let seconds = fields.next().unwrap_or("0");
    if fields.next().is_some() {
        return Err(invalid(type_name, text));
    }
    let integer = |s: &str| match !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        true => s.parse::<u32>().map_err(|_| out_of_range(text)),
        false => Err(invalid(type_name, text)),
    };
    let (mut hours, minutes) = (integer(hours)?, integer(minutes)?);
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
    let whole = integer(whole)?;
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(type_name, text));
    }
    // Rounded to microseconds, as PostgreSQL keeps them.
    // The first seven digits, padded with zeros: six kept, the seventh
    // rounds.
    let digits: String = fraction.chars().chain(std::iter::repeat('0')).take(7).collect();
    let seventh = digits.as_bytes().get(6).map_or(0, |b| u32::from(b - b'0'));
    let fraction_micros = digits[..6].parse::<u32>().unwrap_or(0) + u32::from(seventh >= 5);
    let mut zone = None;
    for word in rest.split_whitespace() {
        match word.to_ascii_lowercase().as_str() {
            "am" if hours <= 12 => hours %= 12,
            "pm" if hours <= 12 => hours = hours % 12 + 12,
            "z" | "utc" | "gmt" | "zulu" => zone = Some(Zone::Fixed(0)),
            _ if word.starts_with(['+', '-']) => {
                zone = Some(Zone::Fixed(fixed_offset(word).ok_or_else(|| invalid(type_name, text))?))
            }
            _ => match word.parse::<chrono_tz::Tz>() {
                Ok(tz) => zone = Some(Zone::Named(tz)),
                Err(_) if word.contains('/') => {
                    return Err(CairnError::InvalidParameterValue(format!(
                        "time zone \"{}\" not recognized",
                        word.to_lowercase()
                    )))
                }
                Err(_) => return Err(invalid(type_name, text)),
            },
        }
    }
    // 24:00:00 is the end of the day, as in PostgreSQL.
    let end_of_day = hours == 24 && minutes == 0 && whole == 0 && fraction_micros == 0;
    if minutes > 59 || whole > 60 || (hours > 23 && !end_of_day) {
        return Err(out_of_range(text));
    }
    let time = NaiveTime::from_hms_opt(hours % 24, minutes, whole.min(59)).ok_or_else(|| out_of_range(text))?;
    let extra = Duration::microseconds(i64::from(fraction_micros))
        + Duration::seconds(i64::from(whole == 60))
        + Duration::hours(i64::from(end_of_day) * 24);
    Ok((time - NaiveTime::MIN + extra, zone))
}

/// `+02`, `-05:30`, `+0530`, `UTC+2` is not read: seconds east of UTC.
fn fixed_offset(text: &str) -> Option<i32> {
    let (sign, digits) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ if text.eq_ignore_ascii_case("utc") || text.eq_ignore_ascii_case("gmt") => return Some(0),
        _ => return None,
    };
    let (hours, minutes) = match digits.split_once(':') {
        Some((h, m)) => (h, m),
        None if digits.len() > 2 => digits.split_at(digits.len() - 2),
        None => (digits, "0"),
    };
    let hours: i32 = hours.parse().ok()?;
    let minutes: i32 = minutes.parse().ok()?;
    (hours <= 15 && minutes < 60).then_some(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> String {
        let micros = timestamp_micros(text).expect(text);
        chrono::DateTime::from_timestamp_micros(micros).expect("in range").naive_utc().to_string()
    }

    #[test]
    fn timestamps_read_in_postgresql_forms() {
        assert_eq!(at("2024-03-15 10:00"), "2024-03-15 10:00:00");
        assert_eq!(at("2024-03-15T10:20:30Z"), "2024-03-15 10:20:30");
        assert_eq!(at("2024-03-15 10:00+02"), "2024-03-15 10:00:00");
        assert_eq!(at("2024-03-15"), "2024-03-15 00:00:00");
        assert_eq!(at("March 15, 2024 10:00 PM"), "2024-03-15 22:00:00");
        assert_eq!(at("3/15/2024"), "2024-03-15 00:00:00");
        assert_eq!(at("20240315"), "2024-03-15 00:00:00");
        assert_eq!(at("15-Mar-2024"), "2024-03-15 00:00:00");
        assert_eq!(at("2024-03-15 10:00:00.123456789"), "2024-03-15 10:00:00.123457");
        assert_eq!(at("2024-03-15 24:00:00"), "2024-03-16 00:00:00");
        assert_eq!(at("epoch"), "1970-01-01 00:00:00");
    }

    #[test]
    fn zones_and_offsets_fix_the_instant() {
        let utc = |text: &str, zone: &str| {
            let micros = timestamptz_micros(text, zone).expect(text);
            chrono::DateTime::from_timestamp_micros(micros).expect("in range").naive_utc().to_string()
        };
        assert_eq!(utc("2024-03-15 10:00+02", "UTC"), "2024-03-15 08:00:00");
        assert_eq!(utc("2024-03-15 10:00:00-05:30", "UTC"), "2024-03-15 15:30:00");
        assert_eq!(utc("2024-03-15 10:00", "America/New_York"), "2024-03-15 14:00:00");
        assert_eq!(utc("2024-03-15 10:00 America/New_York", "UTC"), "2024-03-15 14:00:00");
    }

    #[test]
    fn bad_text_fails_as_postgresql_fails_it() {
        assert_eq!(timestamp_micros("nope").expect_err("nope").code().as_str(), "22007");
        assert_eq!(date_days("2024-02-30").expect_err("30 Feb").code().as_str(), "22008");
        assert_eq!(date_days("2024-13-45").expect_err("month 13").code().as_str(), "22008");
        assert_eq!(time_micros("25:00").expect_err("25h").code().as_str(), "22008");
        assert_eq!(time_micros("10:00 PM").expect("pm"), 22 * 3_600_000_000);
        assert_eq!(time_micros("10:20:30.5").expect("fraction"), (10 * 3600 + 20 * 60 + 30) * 1_000_000 + 500_000);
    }
}
