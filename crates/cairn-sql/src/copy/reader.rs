//! COPY input: bytes as the client streams them (split anywhere) into
//! rows of text fields, then into one typed Arrow batch.
//!
//! Written by hand rather than with the `csv` crate: PostgreSQL's CSV
//! tells an unquoted empty field (NULL) from a quoted one (`""`, the empty
//! string), which that crate does not report, and its text format has its
//! own backslash escapes.

use std::sync::Arc;

use cairn_types::{CairnError, DataType, Result};
use datafusion::arrow::array::{Array, ArrayRef, BinaryArray, RecordBatch, StringArray, StringBuilder};
use datafusion::arrow::compute::{cast_with_options, CastOptions};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::common::ScalarValue;

use super::{CopyFormat, CopyOptions};
use cairn_tables::values::arrow_type;

/// Parses COPY data into one text column per target column.
pub struct RecordReader {
    options: CopyOptions,
    /// The table, for error messages.
    table: String,
    columns: Vec<String>,
    /// Bytes received but not yet part of a complete record.
    pending: Vec<u8>,
    /// How far `pending` was scanned for the record's end.
    scanned: Scanned,
    /// The line the next record starts on (1-based).
    line: u64,
    header_pending: bool,
    /// `\.` was seen: the rest is ignored.
    ended: bool,
    fields: Vec<StringBuilder>,
    /// The line each row started on, for errors found after parsing.
    row_lines: Vec<u64>,
    /// The first error; everything after it is ignored.
    error: Option<CairnError>,
    /// The fields of the record being read, reused from one to the next:
    /// an allocation per field was a third of reading a large COPY.
    record_fields: Fields,
}

/// From how many rows the columns are parsed on a thread each.
const PARSE_IN_PARALLEL_AT_LEAST: usize = 16 * 1024;

/// How much of the record being received was scanned for its end, and
/// whether that much ends inside CSV quotes.
#[derive(Default, Clone, Copy)]
struct Scanned {
    bytes: usize,
    quoted: bool,
}

/// One record's fields, unquoted and unescaped, end to end in `bytes`.
#[derive(Default)]
struct Fields {
    bytes: Vec<u8>,
    /// Each field's range in `bytes`; `None` is NULL.
    spans: Vec<Option<std::ops::Range<usize>>>,
}

impl Fields {
    fn clear(&mut self) {
        self.bytes.clear();
        self.spans.clear();
    }

    /// Ends the field that started at `start` in `bytes`.
    fn end_field(&mut self, start: usize, is_null: bool) {
        self.spans.push((!is_null).then_some(start..self.bytes.len()));
    }
}

impl RecordReader {
    pub fn new(options: CopyOptions, table: String, columns: Vec<String>) -> RecordReader {
        let fields = columns.iter().map(|_| StringBuilder::new()).collect();
        RecordReader {
            header_pending: options.header,
            options,
            table,
            columns,
            pending: Vec::new(),
            scanned: Scanned::default(),
            line: 1,
            ended: false,
            fields,
            row_lines: Vec::new(),
            error: None,
            record_fields: Fields::default(),
        }
    }

    /// Takes the next chunk of data. Errors are kept for [`finish`]
    /// (the client goes on sending until CopyDone either way).
    ///
    /// [`finish`]: RecordReader::finish
    pub fn feed(&mut self, data: &[u8]) {
        if self.error.is_some() || self.ended {
            return;
        }
        let mut pending = std::mem::take(&mut self.pending);
        pending.extend_from_slice(data);
        let mut start = 0;
        while !self.ended && self.error.is_none() {
            let Some(end) = self.record_end(&pending[start..], false) else { break };
            self.record(&pending[start..start + end]);
            start += end;
        }
        pending.drain(..start);
        self.pending = pending;
    }

    /// Rows read so far.
    pub fn rows(&self) -> usize {
        self.row_lines.len()
    }

    /// Ends the input (CopyDone) and returns the rows as one batch typed as
    /// `types` (one per column), or the first error, with its line.
    pub fn finish(mut self, types: &[DataType]) -> Result<RecordBatch> {
        if self.error.is_none() && !self.ended && !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            match self.record_end(&rest, true) {
                Some(end) => self.record(&rest[..end]),
                None => {
                    let line = self.line;
                    self.fail(line, CairnError::BadCopyFileFormat("unterminated CSV quoted field".into()));
                }
            }
        }
        if let Some(error) = self.error {
            return Err(error);
        }
        let texts: Vec<StringArray> = self.fields.iter_mut().map(StringBuilder::finish).collect();
        // A column per thread: parsing a million numbers takes a while.
        let parsed: Vec<_> = match self.row_lines.len() < PARSE_IN_PARALLEL_AT_LEAST {
            true => texts.iter().zip(types).map(|(text, data_type)| typed(text, data_type)).collect(),
            false => std::thread::scope(|scope| {
                let handles: Vec<_> =
                    texts.iter().zip(types).map(|(text, data_type)| scope.spawn(move || typed(text, data_type))).collect();
                handles
                    .into_iter()
                    .map(|handle| handle.join().unwrap_or_else(|_| Err((0, CairnError::Internal("parsing COPY data panicked".into())))))
                    .collect()
            }),
        };
        let mut fields = Vec::with_capacity(types.len());
        let mut arrays = Vec::with_capacity(types.len());
        for (name, array) in self.columns.iter().zip(parsed) {
            let array = array.map_err(|(row, error)| {
                let line = self.row_lines.get(row).copied().unwrap_or_default();
                with_context(error, &self.table, line, Some(name))
            })?;
            fields.push(Field::new(name, array.data_type().clone(), true));
            arrays.push(array);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| CairnError::Internal(e.to_string()))
    }

    fn fail(&mut self, line: u64, error: CairnError) {
        self.error = Some(with_context(error, &self.table, line, None));
    }

    /// Where the first record in `data` ends (after its newline), if it is
    /// complete; at `eof`, whatever is left is the last record. Resumes
    /// where the previous call on the same record stopped, so a record that
    /// arrives in many chunks is scanned once, not once per chunk (a 500 MB
    /// line was quadratic).
    fn record_end(&mut self, data: &[u8], eof: bool) -> Option<usize> {
        let Scanned { bytes: from, quoted } = std::mem::take(&mut self.scanned);
        let (end, scanned) = match self.options.format {
            // Binary data never reaches a RecordReader (BinaryReader reads it).
            CopyFormat::Text | CopyFormat::Binary => match data[from..].iter().position(|&b| b == b'\n') {
                Some(newline) => (Some(from + newline + 1), Scanned::default()),
                None => (eof.then_some(data.len()), Scanned { bytes: data.len(), quoted: false }),
            },
            CopyFormat::Csv => csv_record_end(&self.options, data, Scanned { bytes: from, quoted }, eof),
        };
        self.scanned = scanned;
        end
    }

    /// Takes one complete record (with its newline, if any).
    fn record(&mut self, record: &[u8]) {
        let line = self.line;
        self.line += 1 + record.iter().filter(|&&b| b == b'\n').count() as u64 - u64::from(record.ends_with(b"\n"));
        let mut content = record.strip_suffix(b"\n").unwrap_or(record);
        content = content.strip_suffix(b"\r").unwrap_or(content);
        if content == b"\\." {
            self.ended = true;
            return;
        }
        if std::mem::take(&mut self.header_pending) {
            return;
        }
        let mut fields = std::mem::take(&mut self.record_fields);
        fields.clear();
        match self.options.format {
            CopyFormat::Text | CopyFormat::Binary => text_fields(&self.options, content, &mut fields),
            CopyFormat::Csv => csv_fields(&self.options, content, &mut fields),
        }
        if let Err(error) = self.append(&fields) {
            self.fail(line, error);
        } else {
            self.row_lines.push(line);
        }
        self.record_fields = fields;
    }

    /// Appends one record's fields to the columns.
    fn append(&mut self, fields: &Fields) -> Result<()> {
        let count = fields.spans.len();
        if count < self.columns.len() {
            let missing = &self.columns[count];
            return Err(CairnError::BadCopyFileFormat(format!("missing data for column \"{missing}\"")));
        }
        if count > self.columns.len() {
            return Err(CairnError::BadCopyFileFormat("extra data after last expected column".into()));
        }
        // The record at once, then that no character is split between two
        // fields: each field is then valid on its own. Checked before any
        // column takes a value, so a bad record leaves them the same length.
        let invalid = || CairnError::CharacterNotInRepertoire("invalid byte sequence for encoding \"UTF8\"".into());
        let text = std::str::from_utf8(&fields.bytes).map_err(|_| invalid())?;
        let whole_characters = fields.spans.iter().flatten().all(|span| text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
        if !whole_characters {
            return Err(invalid());
        }
        for (builder, span) in self.fields.iter_mut().zip(&fields.spans) {
            builder.append_option(span.clone().and_then(|span| text.get(span)));
        }
        Ok(())
    }
}

/// As [`RecordReader::record_end`] for CSV, starting at `from`: the end,
/// or how far the scan got (a quote or escape whose meaning depends on the
/// next byte, not yet received, is scanned again with it).
fn csv_record_end(options: &CopyOptions, data: &[u8], from: Scanned, eof: bool) -> (Option<usize>, Scanned) {
    let (quote, escape) = (options.quote, options.escape);
    let Scanned { bytes: mut i, mut quoted } = from;
    while i < data.len() {
        let byte = data[i];
        if quoted {
            let needs_next = !eof && i + 1 == data.len() && (byte == escape || byte == quote);
            if needs_next {
                return (None, Scanned { bytes: i, quoted });
            }
            if byte == escape && data.get(i + 1).is_some_and(|&next| next == quote || next == escape) {
                i += 1;
            } else if byte == quote {
                quoted = false;
            }
        } else if byte == quote {
            quoted = true;
        } else if byte == b'\n' {
            return (Some(i + 1), Scanned::default());
        }
        i += 1;
    }
    let end = (eof && !quoted).then_some(data.len());
    (end, Scanned { bytes: data.len(), quoted })
}

/// Text format: fields split on unescaped delimiters; the NULL string is
/// compared before escapes are undone, as PostgreSQL does.
fn text_fields(options: &CopyOptions, content: &[u8], fields: &mut Fields) {
    let delimiter = options.delimiter;
    let mut start = 0;
    let mut i = 0;
    loop {
        if i >= content.len() || content[i] == delimiter {
            let raw = &content[start..i.min(content.len())];
            let field_start = fields.bytes.len();
            let is_null = raw == options.null.as_bytes();
            if !is_null {
                unescape_into(raw, &mut fields.bytes);
            }
            fields.end_field(field_start, is_null);
            if i >= content.len() {
                return;
            }
            start = i + 1;
        } else if content[i] == b'\\' {
            i += 1;
        }
        i += 1;
    }
}

/// CSV: quotes may open and close anywhere in a field; only an unquoted
/// field equal to the NULL string is NULL.
fn csv_fields(options: &CopyOptions, content: &[u8], fields: &mut Fields) {
    let CopyOptions { delimiter, quote, escape, .. } = *options;
    let null = options.null.as_bytes();
    let mut field_start = fields.bytes.len();
    let end_field = |fields: &mut Fields, field_start: usize, was_quoted: bool| {
        let is_null = !was_quoted && &fields.bytes[field_start..] == null;
        if is_null {
            fields.bytes.truncate(field_start);
        }
        fields.end_field(field_start, is_null);
    };
    let (mut quoted, mut was_quoted) = (false, false);
    let mut i = 0;
    while i < content.len() {
        let byte = content[i];
        if quoted {
            if byte == escape && content.get(i + 1).is_some_and(|&next| next == quote || next == escape) {
                fields.bytes.push(content[i + 1]);
                i += 1;
            } else if byte == quote {
                quoted = false;
            } else {
                fields.bytes.push(byte);
            }
        } else if byte == quote {
            quoted = true;
            was_quoted = true;
        } else if byte == delimiter {
            end_field(fields, field_start, was_quoted);
            field_start = fields.bytes.len();
            was_quoted = false;
        } else {
            fields.bytes.push(byte);
        }
        i += 1;
    }
    end_field(fields, field_start, was_quoted);
}

/// Undoes the text format's backslash escapes, onto `out`.
fn unescape_into(raw: &[u8], out: &mut Vec<u8>) {
    if !raw.contains(&b'\\') {
        out.extend_from_slice(raw);
        return;
    }
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'\\' || i + 1 == raw.len() {
            out.push(raw[i]);
            i += 1;
            continue;
        }
        let next = raw[i + 1];
        i += 2;
        match next {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut value = u32::from(next - b'0');
                for _ in 0..2 {
                    match raw.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(value as u8);
            }
            b'x' if raw.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                let mut value = 0u8;
                for _ in 0..2 {
                    match raw.get(i).and_then(|d| (*d as char).to_digit(16)) {
                        Some(d) => {
                            value = value * 16 + d as u8;
                            i += 1;
                        }
                        None => break,
                    }
                }
                out.push(value);
            }
            other => out.push(other),
        }
    }
}

pub(super) fn with_context(error: CairnError, table: &str, line: u64, column: Option<&str>) -> CairnError {
    let context = match column {
        Some(column) => format!("COPY {table}, line {line}, column {column}"),
        None => format!("COPY {table}, line {line}"),
    };
    let message = format!("{error} ({context})");
    match error {
        CairnError::BadCopyFileFormat(_) => CairnError::BadCopyFileFormat(message),
        CairnError::CharacterNotInRepertoire(_) => CairnError::CharacterNotInRepertoire(message),
        CairnError::InvalidBinaryRepresentation(_) => CairnError::InvalidBinaryRepresentation(message),
        CairnError::InvalidDatetimeFormat(_) => CairnError::InvalidDatetimeFormat(message),
        CairnError::DatetimeFieldOverflow(_) => CairnError::DatetimeFieldOverflow(message),
        _ => CairnError::InvalidTextRepresentation(message),
    }
}

/// A column of text as the column's type; on a bad value, its row.
fn typed(text: &StringArray, data_type: &DataType) -> std::result::Result<ArrayRef, (usize, CairnError)> {
    let target = arrow_type(data_type).map_err(|e| (0, e))?;
    let bad = |row: usize| {
        let value = text.value(row);
        (row, CairnError::InvalidTextRepresentation(format!(
            "invalid input syntax for type {}: \"{value}\"",
            data_type.sql_name()
        )))
    };
    if *data_type == DataType::Interval {
        let mut intervals = Vec::with_capacity(text.len());
        for row in 0..text.len() {
            intervals.push(match text.is_null(row) {
                true => None,
                false => Some(cairn_pg::postgres::interval_literal(text.value(row)).ok_or_else(|| bad(row))?),
            });
        }
        return Ok(Arc::new(datafusion::arrow::array::IntervalMonthDayNanoArray::from(intervals)));
    }
    if let DataType::Array(_) = data_type {
        let mut lists = Vec::with_capacity(text.len());
        for row in 0..text.len() {
            let value = (!text.is_null(row)).then(|| text.value(row));
            let list = cairn_pg::postgres::array_literal(value, &target).map_err(|_| bad(row))?;
            lists.push(list.to_array().map_err(|e| (row, CairnError::Internal(e.to_string())))?);
        }
        if lists.is_empty() {
            return Ok(datafusion::arrow::array::new_empty_array(&target));
        }
        let refs: Vec<&dyn Array> = lists.iter().map(|a| a.as_ref()).collect();
        return datafusion::arrow::compute::concat(&refs).map_err(|e| (0, CairnError::Internal(e.to_string())));
    }
    if *data_type == DataType::Bytea {
        let mut bytes = Vec::with_capacity(text.len());
        for row in 0..text.len() {
            bytes.push(match text.is_null(row) {
                true => None,
                false => Some(cairn_pg::bytea::parse(text.value(row)).map_err(|_| bad(row))?),
            });
        }
        return Ok(Arc::new(BinaryArray::from_iter(bytes)));
    }
    // Dates and times in PostgreSQL's forms; uuid, json and jsonb checked
    // and kept in their form, as a cast of text reads them. (A timestamptz
    // without an offset is read as UTC.)
    let each = |read: &dyn Fn(&str) -> cairn_types::Result<ScalarValue>| {
        let values = (0..text.len())
            .map(|row| match text.is_null(row) {
                true => ScalarValue::try_from(&target).map_err(|e| (row, CairnError::Internal(e.to_string()))),
                false => read(text.value(row)).map_err(|error| (row, error)),
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        match values.is_empty() {
            true => Ok(datafusion::arrow::array::new_empty_array(&target)),
            false => ScalarValue::iter_to_array(values).map_err(|e| (0, CairnError::Internal(e.to_string()))),
        }
    };
    use cairn_tables::datetime;
    match data_type {
        DataType::Date => return each(&|t| Ok(ScalarValue::Date32(Some(datetime::date_days(t)?)))),
        DataType::Time => return each(&|t| Ok(ScalarValue::Time64Microsecond(Some(datetime::time_micros(t)?)))),
        DataType::Timestamp => {
            return each(&|t| Ok(ScalarValue::TimestampMicrosecond(Some(datetime::timestamp_micros(t)?), None)))
        }
        DataType::TimestampTz => {
            return each(&|t| {
                Ok(ScalarValue::TimestampMicrosecond(Some(datetime::timestamptz_micros(t, "UTC")?), Some("UTC".into())))
            })
        }
        DataType::Uuid | DataType::Json | DataType::Jsonb => {
            return each(&|t| Ok(ScalarValue::Utf8(Some(cairn_tables::values::text_input(data_type, t)?))))
        }
        _ => {}
    }
    if target == *text.data_type() {
        return Ok(Arc::new(text.clone()));
    }
    // Arrow's casts are the ones an INSERT of a text literal goes through.
    let options = CastOptions { safe: true, ..Default::default() };
    let typed = cast_with_options(text, &target, &options).map_err(|e| (0, CairnError::Internal(e.to_string())))?;
    match (0..text.len()).find(|&row| text.is_valid(row) && typed.is_null(row)) {
        Some(row) => Err(bad(row)),
        None => Ok(typed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int32Type;

    fn reader(format: CopyFormat, header: bool, columns: &[&str]) -> RecordReader {
        let mut options = CopyOptions::new(format);
        options.header = header;
        RecordReader::new(options, "t".into(), columns.iter().map(|c| c.to_string()).collect())
    }

    fn texts(batch: &RecordBatch, column: usize) -> Vec<Option<String>> {
        batch.column(column).as_string::<i32>().iter().map(|v| v.map(str::to_owned)).collect()
    }

    #[test]
    fn text_format_with_escapes_nulls_and_chunks_split_anywhere() {
        let data = b"1\ta\\tb\n2\t\\N\n3\tline\\nbreak\\\\\r\n\\.\nignored\n";
        for split in 0..data.len() {
            let mut reader = reader(CopyFormat::Text, false, &["k", "v"]);
            reader.feed(&data[..split]);
            reader.feed(&data[split..]);
            let batch = reader.finish(&[DataType::Int, DataType::Text]).expect("succeeds");
            assert_eq!(batch.column(0).as_primitive::<Int32Type>().values().to_vec(), vec![1, 2, 3]);
            assert_eq!(
                texts(&batch, 1),
                vec![Some("a\tb".into()), None, Some("line\nbreak\\".into())],
                "split at {split}"
            );
        }
    }

    #[test]
    fn csv_with_header_quotes_and_the_null_distinction() {
        let data = b"k,v\n1,\"a,\"\"b\"\"\"\n2,\n3,\"\"\n4,\"multi\nline\"\n5,last";
        for split in 0..data.len() {
            let mut reader = reader(CopyFormat::Csv, true, &["k", "v"]);
            reader.feed(&data[..split]);
            reader.feed(&data[split..]);
            let batch = reader.finish(&[DataType::Int, DataType::Text]).expect("succeeds");
            assert_eq!(
                texts(&batch, 1),
                vec![
                    Some("a,\"b\"".into()),
                    None,
                    Some(String::new()),
                    Some("multi\nline".into()),
                    Some("last".into())
                ],
                "split at {split}"
            );
        }
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let mut r = reader(CopyFormat::Csv, true, &["k", "v"]);
        r.feed(b"k,v\n1,a\n2,b\nx,c\n");
        let error = r.finish(&[DataType::Int, DataType::Text]).expect_err("fails");
        assert_eq!(error.code().as_str(), "22P02");
        assert!(error.to_string().contains("line 4, column k"), "{error}");
        assert!(error.to_string().contains("\"x\""), "{error}");

        let mut r = reader(CopyFormat::Text, false, &["k", "v"]);
        r.feed(b"1\ta\n2\n");
        let error = r.finish(&[DataType::Int, DataType::Text]).expect_err("fails");
        assert_eq!(error.code().as_str(), "22P04");
        assert!(error.to_string().contains("missing data for column \"v\""), "{error}");
        assert!(error.to_string().contains("line 2"), "{error}");

        let mut r = reader(CopyFormat::Text, false, &["k"]);
        r.feed(b"1\t2\n");
        assert!(r.finish(&[DataType::Int]).expect_err("fails").to_string().contains("extra data"));

        let mut r = reader(CopyFormat::Csv, false, &["k"]);
        r.feed(b"\"open\n");
        assert!(r.finish(&[DataType::Text]).expect_err("fails").to_string().contains("unterminated"));

        let mut r = reader(CopyFormat::Text, false, &["k"]);
        r.feed(b"\xff\n");
        assert_eq!(r.finish(&[DataType::Text]).expect_err("fails").code().as_str(), "22021");

        // "é" split between two fields: each half is invalid on its own,
        // though the record's bytes end to end are not.
        let mut r = reader(CopyFormat::Csv, false, &["k", "v"]);
        r.feed(b"\xc3\xa9,\xc3\xa9\na\xc3,\xa9b\n");
        let error = r.finish(&[DataType::Text, DataType::Text]).expect_err("fails");
        assert_eq!(error.code().as_str(), "22021");
        assert!(error.to_string().contains("line 2"), "{error}");
    }

    /// What a reader makes of `data` fed in chunks of the given sizes
    /// (the rest in one last chunk): the fields, or the error.
    fn read_in_chunks(options: &CopyOptions, data: &[u8], sizes: &[usize]) -> Result<Vec<Vec<Option<String>>>, String> {
        let mut reader = RecordReader::new(options.clone(), "t".into(), vec!["a".into(), "b".into()]);
        let mut rest = data;
        for &size in sizes {
            let (chunk, after) = rest.split_at(size.min(rest.len()));
            reader.feed(chunk);
            rest = after;
        }
        reader.feed(rest);
        let batch = reader.finish(&[DataType::Text, DataType::Text]).map_err(|e| e.to_string())?;
        Ok((0..2).map(|column| texts(&batch, column)).collect())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// However the client splits its data into CopyData messages, the
        /// rows (or the error) are the same: the scan resumed across chunks
        /// agrees with one over the whole input.
        #[test]
        fn chunking_does_not_change_what_is_read(
            data in proptest::collection::vec(proptest::sample::select(b"a,\"\"\\\\\n\t\r".to_vec()), 0..48),
            sizes in proptest::collection::vec(0usize..8, 0..16),
            format in proptest::sample::select(vec![CopyFormat::Text, CopyFormat::Csv]),
            backslash_escape in proptest::bool::ANY,
        ) {
            let mut options = CopyOptions::new(format);
            if backslash_escape {
                options.escape = b'\\';
            }
            proptest::prop_assert_eq!(read_in_chunks(&options, &data, &sizes), read_in_chunks(&options, &data, &[]));
        }
    }

    #[test]
    fn a_long_record_resumes_its_scan_where_the_last_chunk_ended() {
        // 8 MiB in 8 KiB chunks: rescanning the unfinished record on every
        // chunk would read 4 GiB. Each chunk moves the scan on by its own
        // length only.
        for format in [CopyFormat::Text, CopyFormat::Csv] {
            let mut r = RecordReader::new(CopyOptions::new(format), "t".into(), vec!["v".into()]);
            let chunk = vec![b'x'; 8 * 1024];
            for chunks in 1..=1024 {
                r.feed(&chunk);
                assert_eq!(r.scanned.bytes, chunks * chunk.len());
            }
            r.feed(b"\n");
            let batch = r.finish(&[DataType::Text]).expect("succeeds");
            assert_eq!(batch.column(0).as_string::<i32>().value(0).len(), 8 * 1024 * 1024);
        }
    }
}
