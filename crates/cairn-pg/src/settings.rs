//! Session parameters: what `SET`, `SHOW` and `RESET` read and write, with
//! the defaults PostgreSQL clients expect to find.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cairn_types::{CairnError, Result};

/// How a parameter may be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mutability {
    Settable,
    ReadOnly,
}

/// A built-in parameter: its canonical name, default, whether the server
/// reports changes to the client (ParameterStatus), and whether it may be set.
struct Builtin {
    name: &'static str,
    default: &'static str,
    reported: bool,
    mutability: Mutability,
    description: &'static str,
}

const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "application_name",
        default: "",
        reported: true,
        mutability: Mutability::Settable,
        description: "Sets the application name to be reported in statistics and logs.",
    },
    Builtin {
        name: "bytea_output",
        default: "hex",
        reported: false,
        mutability: Mutability::Settable,
        description: "Sets the output format for bytea.",
    },
    Builtin {
        name: "client_encoding",
        default: "UTF8",
        reported: true,
        mutability: Mutability::Settable,
        description: "Sets the client's character set encoding (UTF8 only).",
    },
    Builtin {
        name: "default_table_access_method",
        default: "heap",
        reported: false,
        mutability: Mutability::ReadOnly,
        description: "Shows the access method tables are created with (CairnDB has one).",
    },
    Builtin {
        name: "DateStyle",
        default: "ISO, MDY",
        reported: true,
        mutability: Mutability::Settable,
        description: "Sets the display format for date and time values.",
    },
    Builtin {
        name: "default_transaction_isolation",
        default: "serializable",
        reported: false,
        mutability: Mutability::Settable,
        description: "Sets the transaction isolation level of each new transaction.",
    },
    Builtin {
        name: "extra_float_digits",
        default: "1",
        reported: false,
        mutability: Mutability::Settable,
        description: "Sets the number of digits displayed for floating-point values.",
    },
    Builtin {
        name: "idle_in_transaction_session_timeout",
        default: "0",
        reported: false,
        mutability: Mutability::Settable,
        description: "Accepted for compatibility.",
    },
    Builtin {
        name: "integer_datetimes",
        default: "on",
        reported: true,
        mutability: Mutability::ReadOnly,
        description: "Shows whether datetimes are integer based.",
    },
    Builtin {
        name: "IntervalStyle",
        default: "postgres",
        reported: true,
        mutability: Mutability::Settable,
        description: "Sets the display format for interval values.",
    },
    Builtin {
        name: "is_superuser",
        default: "off",
        reported: true,
        mutability: Mutability::ReadOnly,
        description: "Shows whether the current user is a superuser (CairnDB's system role).",
    },
    Builtin {
        name: "lock_timeout",
        default: "0",
        reported: false,
        mutability: Mutability::Settable,
        description: "Accepted for compatibility.",
    },
    Builtin {
        name: "max_identifier_length",
        default: "63",
        reported: false,
        mutability: Mutability::ReadOnly,
        description: "Shows the maximum identifier length.",
    },
    Builtin {
        name: "search_path",
        default: "\"$user\", public",
        reported: false,
        mutability: Mutability::Settable,
        description: "Sets the namespace search order for names that are not qualified.",
    },
    Builtin {
        name: "server_encoding",
        default: "UTF8",
        reported: true,
        mutability: Mutability::ReadOnly,
        description: "Shows the server (database) character set encoding.",
    },
    Builtin {
        name: "server_version",
        default: cairn_tables::functions::PG_SERVER_VERSION,
        reported: true,
        mutability: Mutability::ReadOnly,
        description: "Shows the PostgreSQL version CairnDB is compatible with.",
    },
    Builtin {
        name: "server_version_num",
        default: cairn_tables::functions::PG_SERVER_VERSION_NUM,
        reported: false,
        mutability: Mutability::ReadOnly,
        description: "Shows the PostgreSQL version CairnDB is compatible with, as a number.",
    },
    Builtin {
        name: "session_authorization",
        default: "",
        reported: true,
        mutability: Mutability::ReadOnly,
        description: "Shows the session user name.",
    },
    Builtin {
        name: "standard_conforming_strings",
        default: "on",
        reported: true,
        mutability: Mutability::Settable,
        description: "Causes '...' strings to treat backslashes literally.",
    },
    Builtin {
        name: "statement_timeout",
        default: "0",
        reported: false,
        mutability: Mutability::Settable,
        description: "Sets the maximum allowed duration of any statement (0 disables).",
    },
    Builtin {
        name: "TimeZone",
        default: "UTC",
        reported: true,
        mutability: Mutability::Settable,
        description: "Sets the time zone for displaying and interpreting time stamps.",
    },
    Builtin {
        name: "transaction_isolation",
        default: "serializable",
        reported: false,
        mutability: Mutability::Settable,
        description: "Sets the current transaction's isolation level.",
    },
];

fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name.eq_ignore_ascii_case(name))
}

/// One session's parameters. Keys are lower-case; values are kept as text,
/// as PostgreSQL does.
#[derive(Debug, Clone)]
pub struct Settings {
    values: BTreeMap<String, String>,
    /// Names these values: see [`Settings::generation`].
    generation: u64,
}

/// The next [`Settings::generation`], shared by all sessions so that a
/// number is never given to two different sets of values.
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

fn next_generation() -> u64 {
    NEXT_GENERATION.fetch_add(1, Ordering::Relaxed)
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            values: BUILTINS
                .iter()
                .map(|b| (b.name.to_ascii_lowercase(), b.default.to_owned()))
                .collect(),
            generation: next_generation(),
        }
    }
}

/// A parameter change that the client should be told about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedChange {
    pub name: &'static str,
    pub value: String,
}

impl Settings {
    /// The defaults, with the parameters that describe the session's user.
    pub fn for_user(username: &str, superuser: bool) -> Settings {
        let mut settings = Settings::default();
        settings.values.insert("is_superuser".into(), if superuser { "on" } else { "off" }.into());
        settings.values.insert("session_authorization".into(), username.to_owned());
        settings.generation = next_generation();
        settings
    }

    /// A number that changes whenever any value does, and is the same only
    /// for the same values (a copy restored at ROLLBACK keeps its number),
    /// so that what is derived from the values can be kept until it moves.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn get(&self, name: &str) -> Result<&str> {
        // Names are stored lowercase; most callers already ask that way.
        let value = match name.bytes().any(|b| b.is_ascii_uppercase()) {
            true => self.values.get(&name.to_ascii_lowercase()),
            false => self.values.get(name),
        };
        value.map(String::as_str).ok_or_else(|| unrecognized(name))
    }

    /// Sets `name` to `value` (`None`: back to the default). Custom
    /// parameters with a dot in the name (`myapp.tenant`) are accepted, as
    /// in PostgreSQL.
    pub fn set(&mut self, name: &str, value: Option<String>) -> Result<Option<ReportedChange>> {
        // Even a failed set leaves a new number: harmless, and simpler than
        // tracking which paths changed a value.
        self.generation = next_generation();
        let key = name.to_ascii_lowercase();
        let Some(builtin) = builtin(name) else {
            if !key.contains('.') {
                return Err(unrecognized(name));
            }
            match value {
                Some(value) => self.values.insert(key, value),
                None => self.values.remove(&key),
            };
            return Ok(None);
        };
        if builtin.mutability == Mutability::ReadOnly {
            return Err(CairnError::InvalidParameterValue(format!(
                "parameter \"{}\" cannot be changed",
                builtin.name
            )));
        }
        let value = match value {
            Some(value) => validate(builtin.name, value)?,
            None => builtin.default.to_owned(),
        };
        self.values.insert(key, value.clone());
        Ok(builtin.reported.then_some(ReportedChange {
            name: builtin.name,
            value,
        }))
    }

    /// Every parameter with its value and description, for `SHOW ALL`.
    pub fn all(&self) -> Vec<(String, String, String)> {
        self.values
            .iter()
            .map(|(key, value)| {
                let (name, description) = match builtin(key) {
                    Some(b) => (b.name.to_owned(), b.description.to_owned()),
                    None => (key.clone(), String::new()),
                };
                (name, value.clone(), description)
            })
            .collect()
    }

    /// The canonical spelling of a parameter name (`timezone` → `TimeZone`).
    pub fn canonical_name(name: &str) -> String {
        builtin(name).map_or_else(|| name.to_ascii_lowercase(), |b| b.name.to_owned())
    }

    /// The names in `search_path`, in order.
    pub fn search_path(&self) -> Vec<String> {
        self.values
            .get("search_path")
            .map(|path| {
                path.split(',')
                    .map(|part| part.trim().trim_matches('"').to_owned())
                    .filter(|part| !part.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `statement_timeout`, or `None` when it is 0 (disabled).
    pub fn statement_timeout(&self) -> Option<Duration> {
        let value = self.values.get("statement_timeout")?;
        parse_duration_ms(value)
            .ok()
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
    }
}

fn unrecognized(name: &str) -> CairnError {
    CairnError::UndefinedObject(format!("unrecognized configuration parameter \"{name}\""))
}

fn invalid(name: &str, value: &str, hint: &str) -> CairnError {
    CairnError::InvalidParameterValue(format!(
        "invalid value for parameter \"{name}\": \"{value}\"{hint}"
    ))
}

/// Checks and normalises a value for a built-in parameter.
fn validate(name: &'static str, value: String) -> Result<String> {
    match name {
        "client_encoding" => {
            // As PostgreSQL's clean_encoding_name: only letters and digits
            // count (asyncpg sends `'utf-8'`, quotes included).
            let normalized: String = value
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_ascii_uppercase();
            if normalized == "UTF8" || normalized == "UNICODE" {
                Ok("UTF8".into())
            } else {
                Err(invalid(name, &value, ": CairnDB speaks UTF8 only"))
            }
        }
        "statement_timeout" | "lock_timeout" | "idle_in_transaction_session_timeout" => {
            let ms = parse_duration_ms(&value).map_err(|_| invalid(name, &value, ""))?;
            Ok(ms.to_string())
        }
        "TimeZone" => {
            if ["utc", "gmt", "z", "zulu"].contains(&value.to_ascii_lowercase().as_str()) {
                return Ok("UTC".into());
            }
            match value.parse::<datafusion::arrow::array::timezone::Tz>() {
                Ok(_) => Ok(value),
                Err(_) => Err(invalid(name, &value, ": expected an IANA zone name such as Europe/Paris, or an offset such as +02:00")),
            }
        }
        "extra_float_digits" => match value.trim().parse::<i32>() {
            Ok(digits) if (-15..=3).contains(&digits) => Ok(digits.to_string()),
            _ => Err(invalid(name, &value, ": must be an integer from -15 to 3")),
        },
        // Every transaction is serializable; SQL lets a database run a
        // transaction at a stricter level than asked, never a weaker one.
        "transaction_isolation" | "default_transaction_isolation" => {
            match value
                .to_ascii_lowercase()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .as_str()
            {
                "serializable" | "repeatable read" | "read committed" | "read uncommitted" => {
                    Ok("serializable".into())
                }
                _ => Err(invalid(name, &value, "")),
            }
        }
        "standard_conforming_strings" => match value.to_ascii_lowercase().as_str() {
            "on" | "true" | "1" | "yes" => Ok("on".into()),
            _ => Err(invalid(name, &value, ": CairnDB supports only on")),
        },
        _ => Ok(value),
    }
}

/// Reads a duration as PostgreSQL does for time parameters: a bare number
/// is milliseconds; units ms, s, min, h, d may follow.
fn parse_duration_ms(value: &str) -> std::result::Result<u64, ()> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().map_err(|_| ())?;
    let factor = match unit.trim() {
        "" | "ms" => 1.0,
        "s" => 1_000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return Err(()),
    };
    let ms = number * factor;
    if ms.is_finite() && ms >= 0.0 && ms <= u64::MAX as f64 {
        Ok(ms.round() as u64)
    } else {
        Err(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_case_insensitive_names() {
        let settings = Settings::default();
        assert_eq!(settings.get("timezone").ok(), Some("UTC"));
        assert_eq!(settings.get("DATESTYLE").ok(), Some("ISO, MDY"));
        assert_eq!(Settings::canonical_name("timezone"), "TimeZone");
        assert_eq!(
            settings.get("nope").expect_err("unknown").code().as_str(),
            "42704"
        );
    }

    #[test]
    fn a_generation_names_one_set_of_values() {
        let mut settings = Settings::default();
        let at_begin = settings.clone();
        assert_eq!(at_begin.generation(), settings.generation());
        settings.set("DateStyle", Some("German".into())).expect("set");
        let changed = settings.generation();
        assert_ne!(changed, at_begin.generation());
        // ROLLBACK restores the copy, and with it the copy's number; the
        // next change must not take a number already seen.
        settings = at_begin.clone();
        assert_eq!(settings.generation(), at_begin.generation());
        settings.set("DateStyle", Some("SQL".into())).expect("set");
        assert_ne!(settings.generation(), changed);
        assert_ne!(settings.generation(), at_begin.generation());
        assert_ne!(Settings::default().generation(), Settings::default().generation());
    }

    #[test]
    fn set_validates_reports_and_resets() {
        let mut settings = Settings::default();
        let change = settings
            .set("application_name", Some("psql".into()))
            .expect("set");
        assert_eq!(
            change,
            Some(ReportedChange {
                name: "application_name",
                value: "psql".into()
            })
        );
        assert_eq!(
            settings
                .set("extra_float_digits", Some("3".into()))
                .expect("set"),
            None
        );
        assert!(settings
            .set("client_encoding", Some("LATIN1".into()))
            .is_err());
        assert_eq!(
            settings
                .set("client_encoding", Some("utf-8".into()))
                .ok()
                .flatten()
                .map(|c| c.value),
            Some("UTF8".into())
        );
        assert_eq!(
            settings
                .set("client_encoding", Some("'utf-8'".into()))
                .ok()
                .flatten()
                .map(|c| c.value),
            Some("UTF8".into())
        );
        assert!(settings.set("server_version", Some("1".into())).is_err());
        settings
            .set("statement_timeout", Some("2s".into()))
            .expect("timeout");
        assert_eq!(settings.statement_timeout(), Some(Duration::from_secs(2)));
        settings.set("statement_timeout", None).expect("reset");
        assert_eq!(settings.statement_timeout(), None);
        assert!(settings
            .set("statement_timeout", Some("soon".into()))
            .is_err());
        settings
            .set("myapp.tenant", Some("42".into()))
            .expect("custom");
        settings
            .set("TimeZone", Some("Europe/Paris".into()))
            .expect("zone name");
        settings
            .set("TimeZone", Some("+02:00".into()))
            .expect("offset");
        settings.set("timezone", Some("utc".into())).expect("utc");
        assert_eq!(settings.get("TimeZone").ok(), Some("UTC"));
        assert!(settings
            .set("TimeZone", Some("Mars/Olympus".into()))
            .is_err());
        assert_eq!(settings.get("myapp.tenant").ok(), Some("42"));
    }

    #[test]
    fn search_path_splits_and_unquotes() {
        let mut settings = Settings::default();
        settings
            .set("search_path", Some("app, \"Other\"".into()))
            .expect("set");
        assert_eq!(settings.search_path(), ["app", "Other"]);
    }
}
