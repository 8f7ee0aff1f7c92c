//! `COPY … FROM STDIN` and `COPY … TO STDOUT`, in PostgreSQL's text, CSV
//! and binary formats.
//!
//! - [`parse_copy`] reads the statement (sqlparser's AST, both the modern
//!   `WITH (FORMAT csv, HEADER true)` and the pre-9.0 `CSV HEADER` forms);
//! - [`reader::RecordReader`] turns the bytes a client streams in into
//!   text fields per column, remembering the line each row started on;
//! - [`binary::BinaryReader`] does the same for the binary format;
//! - [`write_row`] formats one result row as a line of output (or a
//!   binary tuple).
//!
//! Only STDIN and STDOUT: a client must never make the server read or
//! write its own files or run programs.

pub mod binary;
pub mod reader;

use cairn_types::{CairnError, Result};
use crate::ddl::{ident_name, qualified_name};
use datafusion::sql::sqlparser::ast::{
    self, CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource as AstSource, CopyTarget,
    Statement as AstStatement,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFormat {
    Text,
    Csv,
    /// Each value in its type's binary form; none of the text options apply.
    Binary,
}

/// How rows are laid out as lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyOptions {
    pub format: CopyFormat,
    pub delimiter: u8,
    /// The text that stands for NULL (unquoted, in CSV).
    pub null: String,
    /// A first line of column names: skipped on input, written on output.
    pub header: bool,
    /// CSV only.
    pub quote: u8,
    /// CSV only: the byte that escapes a quote inside a quoted field.
    pub escape: u8,
}

impl CopyOptions {
    fn new(format: CopyFormat) -> CopyOptions {
        match format {
            CopyFormat::Text | CopyFormat::Binary => CopyOptions {
                format,
                delimiter: b'\t',
                null: "\\N".into(),
                header: false,
                quote: b'"',
                escape: b'"',
            },
            CopyFormat::Csv => CopyOptions {
                format,
                delimiter: b',',
                null: String::new(),
                header: false,
                quote: b'"',
                escape: b'"',
            },
        }
    }
}

/// What a COPY reads from or writes to, on the server's side.
#[derive(Debug, Clone, PartialEq)]
pub enum CopySource {
    /// `[ns.]table [(columns)]`; no columns means all, in table order.
    Table { namespace: Option<String>, name: String, columns: Vec<String> },
    /// `(query)`, TO only.
    Query(Box<ast::Query>),
}

/// A parsed COPY statement.
#[derive(Debug, Clone, PartialEq)]
pub struct CopySpec {
    /// True for `FROM STDIN` (rows come in), false for `TO STDOUT`.
    pub from_client: bool,
    pub source: CopySource,
    pub options: CopyOptions,
}

fn single_byte(option: &str, c: char) -> Result<u8> {
    u8::try_from(c).ok().filter(u8::is_ascii).ok_or_else(|| {
        CairnError::FeatureNotSupported(format!("COPY {option} must be a single one-byte character"))
    })
}

/// Reads a COPY statement.
pub fn parse_copy(statement: AstStatement) -> Result<CopySpec> {
    let AstStatement::Copy { source, to, target, options, legacy_options, values: _ } = statement else {
        return Err(CairnError::Syntax("expected a COPY statement".into()));
    };
    match (&target, to) {
        (CopyTarget::Stdin, false) | (CopyTarget::Stdout, true) => {}
        (CopyTarget::File { .. } | CopyTarget::Program { .. }, _) => {
            return Err(CairnError::InsufficientPrivilege(
                "COPY to or from a file or program on the server is not allowed; use STDIN/STDOUT (psql: \\copy)"
                    .into(),
            ))
        }
        _ => return Err(CairnError::Syntax(format!("COPY {} {target} is not valid", if to { "TO" } else { "FROM" }))),
    }
    let source = match source {
        AstSource::Table { table_name, columns } => {
            let (namespace, name) = qualified_name(&table_name)?;
            let columns = columns.iter().map(ident_name).collect();
            CopySource::Table { namespace, name, columns }
        }
        AstSource::Query(_) if !to => {
            return Err(CairnError::Syntax("COPY FROM needs a table, not a query".into()));
        }
        AstSource::Query(query) => CopySource::Query(query),
    };
    Ok(CopySpec { from_client: !to, source, options: copy_options(&options, &legacy_options)? })
}

fn copy_options(options: &[CopyOption], legacy: &[CopyLegacyOption]) -> Result<CopyOptions> {
    let unsupported = |what: String| CairnError::FeatureNotSupported(format!("COPY option {what} is not supported"));
    let format = options
        .iter()
        .find_map(|option| match option {
            CopyOption::Format(name) => Some(name.value.to_lowercase()),
            _ => None,
        })
        .or_else(|| {
            legacy.iter().find_map(|option| match option {
                CopyLegacyOption::Csv(_) => Some("csv".to_owned()),
                CopyLegacyOption::Binary => Some("binary".to_owned()),
                _ => None,
            })
        });
    let format = match format.as_deref() {
        None | Some("text") => CopyFormat::Text,
        Some("csv") => CopyFormat::Csv,
        Some("binary") => CopyFormat::Binary,
        Some(other) => return Err(CairnError::InvalidParameterValue(format!("COPY format \"{other}\" not recognized"))),
    };
    let mut copy = CopyOptions::new(format);
    let mut escape = None;
    for option in options {
        match option {
            CopyOption::Format(_) | CopyOption::Freeze(_) => {}
            CopyOption::Delimiter(c) => copy.delimiter = single_byte("delimiter", *c)?,
            CopyOption::Null(null) => copy.null = null.clone(),
            CopyOption::Header(header) => copy.header = *header,
            CopyOption::Quote(c) => copy.quote = single_byte("quote", *c)?,
            CopyOption::Escape(c) => escape = Some(single_byte("escape", *c)?),
            CopyOption::Encoding(encoding) if encoding.eq_ignore_ascii_case("utf8") || encoding.eq_ignore_ascii_case("utf-8") => {}
            other => return Err(unsupported(other.to_string())),
        }
    }
    for option in legacy {
        match option {
            CopyLegacyOption::Binary => {}
            CopyLegacyOption::Delimiter(c) => copy.delimiter = single_byte("delimiter", *c)?,
            CopyLegacyOption::Null(null) => copy.null = null.clone(),
            CopyLegacyOption::Csv(csv) => {
                for option in csv {
                    match option {
                        CopyLegacyCsvOption::Header => copy.header = true,
                        CopyLegacyCsvOption::Quote(c) => copy.quote = single_byte("quote", *c)?,
                        CopyLegacyCsvOption::Escape(c) => escape = Some(single_byte("escape", *c)?),
                        other => return Err(unsupported(other.to_string())),
                    }
                }
            }
            CopyLegacyOption::Header => copy.header = true,
            other => return Err(unsupported(other.to_string())),
        }
    }
    // As PostgreSQL: ESCAPE defaults to QUOTE.
    copy.escape = escape.unwrap_or(copy.quote);
    if copy.format == CopyFormat::Binary && copy != CopyOptions::new(CopyFormat::Binary) {
        return Err(CairnError::Syntax(
            "cannot specify DELIMITER, NULL, HEADER, QUOTE or ESCAPE in BINARY mode".into(),
        ));
    }
    if copy.delimiter == b'\n' || copy.delimiter == b'\r' || (copy.format == CopyFormat::Text && copy.delimiter == b'\\') {
        return Err(CairnError::InvalidParameterValue("COPY delimiter cannot be newline, carriage return or backslash".into()));
    }
    if copy.format == CopyFormat::Csv && copy.delimiter == copy.quote {
        return Err(CairnError::InvalidParameterValue("COPY delimiter and quote must be different".into()));
    }
    Ok(copy)
}

/// Appends what comes before the rows to `out`: the header line (column
/// names) if asked for, or the binary format's file header.
pub fn write_header<'a>(options: &CopyOptions, names: impl IntoIterator<Item = &'a str>, out: &mut Vec<u8>) {
    match options.format {
        CopyFormat::Binary => binary::write_header(out),
        _ if options.header => write_row(options, names.into_iter().map(|name| Some(name.as_bytes())), out),
        _ => {}
    }
}

/// Appends what comes after the rows to `out` (the binary trailer).
pub fn write_trailer(options: &CopyOptions, out: &mut Vec<u8>) {
    if options.format == CopyFormat::Binary {
        binary::write_trailer(out);
    }
}

/// Appends one row as a line to `out`. Each field is the value's text
/// form (binary form, for FORMAT binary), exactly as a query result sends
/// it; `None` is NULL.
pub fn write_row<'a>(options: &CopyOptions, fields: impl IntoIterator<Item = Option<&'a [u8]>>, out: &mut Vec<u8>) {
    let text_escaped = match options.format {
        CopyFormat::Binary => return binary::write_tuple(fields, out),
        CopyFormat::Text => true,
        CopyFormat::Csv => false,
    };
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(options.delimiter);
        }
        match field {
            None => out.extend_from_slice(options.null.as_bytes()),
            Some(text) if text_escaped => {
                for &byte in text {
                    match byte {
                        b'\\' => out.extend_from_slice(b"\\\\"),
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b'\r' => out.extend_from_slice(b"\\r"),
                        b'\t' => out.extend_from_slice(b"\\t"),
                        byte if byte == options.delimiter => out.extend_from_slice(&[b'\\', byte]),
                        byte => out.push(byte),
                    }
                }
            }
            Some(text) => {
                let special = |&b: &u8| b == options.delimiter || b == options.quote || b == b'\n' || b == b'\r';
                // An empty string is quoted so it reads back as '' and not NULL.
                let quoted = text.iter().any(special) || text == options.null.as_bytes() || text == b"\\.";
                if quoted {
                    out.push(options.quote);
                    for &byte in text {
                        if byte == options.quote || byte == options.escape {
                            out.push(options.escape);
                        }
                        out.push(byte);
                    }
                    out.push(options.quote);
                } else {
                    out.extend_from_slice(text);
                }
            }
        }
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, columns: &[&str]) -> CopySource {
        CopySource::Table { namespace: None, name: name.into(), columns: columns.iter().map(|c| c.to_string()).collect() }
    }

    /// A COPY statement read as the session reads it.
    fn parse_copy(sql: &str) -> Result<CopySpec> {
        match crate::statement::parse_statements(sql)?.pop() {
            Some(crate::statement::Statement::Copy(spec)) => Ok(spec),
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn statements() {
        let spec = parse_copy("COPY t FROM STDIN").expect("succeeds");
        assert!(spec.from_client);
        assert_eq!(spec.source, table("t", &[]));
        assert_eq!(spec.options, CopyOptions::new(CopyFormat::Text));

        let spec = parse_copy("COPY app.\"Prod\" (a, \"B\") FROM STDIN WITH (FORMAT csv, HEADER true, DELIMITER ';', NULL 'n')").expect("succeeds");
        assert_eq!(
            spec.source,
            CopySource::Table { namespace: Some("app".into()), name: "Prod".into(), columns: vec!["a".into(), "B".into()] }
        );
        assert_eq!(spec.options.format, CopyFormat::Csv);
        assert!(spec.options.header);
        assert_eq!(spec.options.delimiter, b';');
        assert_eq!(spec.options.null, "n");

        let spec = parse_copy("COPY t TO STDOUT WITH CSV HEADER").expect("succeeds");
        assert!(!spec.from_client);
        assert_eq!(spec.options.format, CopyFormat::Csv);
        assert!(spec.options.header);

        let spec = parse_copy("COPY (SELECT 1 AS x) TO STDOUT").expect("succeeds");
        assert!(matches!(spec.source, CopySource::Query(q) if q.to_string() == "SELECT 1 AS x"));
    }

    #[test]
    fn server_files_are_refused_and_binary_takes_no_text_options() {
        assert_eq!(parse_copy("COPY t FROM '/etc/passwd'").expect_err("fails").code().as_str(), "42501");
        assert_eq!(parse_copy("COPY t TO '/tmp/x'").expect_err("fails").code().as_str(), "42501");
        assert_eq!(parse_copy("COPY t FROM STDIN (FORMAT binary)").expect("binary").options.format, CopyFormat::Binary);
        assert_eq!(parse_copy("COPY t TO STDOUT BINARY").expect("legacy binary").options.format, CopyFormat::Binary);
        let error = parse_copy("COPY t FROM STDIN (FORMAT binary, HEADER true)").expect_err("fails");
        assert_eq!(error.code().as_str(), "42601");
        assert_eq!(parse_copy("COPY t TO STDIN").expect_err("fails").code().as_str(), "42601");
    }

    fn line(options: &CopyOptions, fields: &[Option<&str>]) -> String {
        let mut out = Vec::new();
        write_row(options, fields.iter().map(|f| f.map(str::as_bytes)), &mut out);
        String::from_utf8(out).expect("succeeds")
    }

    #[test]
    fn text_rows_escape_what_would_split_them() {
        let text = CopyOptions::new(CopyFormat::Text);
        assert_eq!(line(&text, &[Some("a\tb"), None, Some("x\\y\nz")]), "a\\tb\t\\N\tx\\\\y\\nz\n");
    }

    #[test]
    fn csv_rows_quote_only_when_needed() {
        let csv = CopyOptions::new(CopyFormat::Csv);
        assert_eq!(line(&csv, &[Some("plain"), None, Some(""), Some("a,\"b\"")]), "plain,,\"\",\"a,\"\"b\"\"\"\n");
    }
}
