//! PostgreSQL's binary COPY format: a signature header, then per row a
//! field count and length-prefixed fields, then a trailer of -1.
//!
//! Only the framing lives here. A field's bytes are the type's binary
//! send/receive form, the same as a binary parameter or result column, so
//! the wire layer (which owns those codecs) decodes them: `finish` takes
//! its decoder.

use std::sync::Arc;

use cairn_types::{CairnError, Result};
use datafusion::arrow::array::{new_empty_array, ArrayRef, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::common::ScalarValue;

use super::reader::with_context;

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// Flags bit 16: every row starts with an OID (tables WITH OIDS).
const HAS_OIDS: u32 = 1 << 16;
const TRAILER: i16 = -1;

/// Reads one field's binary form (`None` is NULL) as the column `field`
/// describes.
pub type FieldDecoder = dyn Fn(Option<&[u8]>, &Field) -> Result<ScalarValue> + Send + Sync;

/// Appends the file header.
pub fn write_header(out: &mut Vec<u8>) {
    out.extend_from_slice(SIGNATURE);
    out.extend_from_slice(&0u32.to_be_bytes()); // flags
    out.extend_from_slice(&0u32.to_be_bytes()); // header extension length
}

/// Appends one row: its field count, then each field's length and bytes
/// (-1 for NULL).
pub fn write_tuple<'a>(fields: impl IntoIterator<Item = Option<&'a [u8]>>, out: &mut Vec<u8>) {
    let count_at = out.len();
    out.extend_from_slice(&[0, 0]);
    let mut count: i16 = 0;
    for field in fields {
        count = count.saturating_add(1);
        match field {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(bytes) => {
                out.extend_from_slice(&i32::try_from(bytes.len()).unwrap_or(i32::MAX).to_be_bytes());
                out.extend_from_slice(bytes);
            }
        }
    }
    out[count_at..count_at + 2].copy_from_slice(&count.to_be_bytes());
}

/// Appends the end-of-data marker.
pub fn write_trailer(out: &mut Vec<u8>) {
    out.extend_from_slice(&TRAILER.to_be_bytes());
}

/// Collects binary COPY data as the client streams it (split anywhere);
/// [`BinaryReader::finish`] parses and types it.
pub struct BinaryReader {
    /// The table, for error messages.
    table: String,
    data: Vec<u8>,
}

/// Reads the data front to back; every read past the end is the same error.
struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let (taken, rest) = self
            .data
            .split_at_checked(n)
            .ok_or_else(|| CairnError::BadCopyFileFormat("unexpected EOF in COPY data".into()))?;
        self.data = rest;
        Ok(taken)
    }

    fn i16(&mut self) -> Result<i16> {
        Ok(i16::from_be_bytes([self.take(1)?[0], self.take(1)?[0]]))
    }

    fn i32(&mut self) -> Result<i32> {
        let bytes = self.take(4)?;
        Ok(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }
}

impl BinaryReader {
    pub fn new(table: String) -> BinaryReader {
        BinaryReader { table, data: Vec::new() }
    }

    pub fn feed(&mut self, data: &[u8]) {
        self.data.extend_from_slice(data);
    }

    /// Parses everything received into one batch with a column per
    /// `fields` entry (named and typed as it is), or the first error with
    /// the row it is in (counted from 1, as PostgreSQL's "line").
    pub fn finish(self, fields: &[Field], decode: &FieldDecoder) -> Result<RecordBatch> {
        let mut cursor = Cursor { data: &self.data };
        let header = |error: CairnError| with_context(error, &self.table, 0, None);
        if cursor.take(SIGNATURE.len()).ok() != Some(&SIGNATURE[..]) {
            return Err(header(CairnError::BadCopyFileFormat("COPY file signature not recognized".into())));
        }
        let flags = cursor.i32().map_err(header)? as u32;
        if flags & HAS_OIDS != 0 {
            return Err(header(CairnError::BadCopyFileFormat("COPY data with OIDs is not supported".into())));
        }
        let extension = cursor.i32().map_err(header)?;
        cursor.take(usize::try_from(extension).unwrap_or(usize::MAX)).map_err(header)?;

        let mut columns: Vec<Vec<ScalarValue>> = fields.iter().map(|_| Vec::new()).collect();
        let mut row: u64 = 0;
        loop {
            row += 1;
            let at_row = |error: CairnError, column: Option<&str>| with_context(error, &self.table, row, column);
            let count = cursor.i16().map_err(|e| at_row(e, None))?;
            if count == TRAILER {
                break;
            }
            if usize::try_from(count).ok() != Some(fields.len()) {
                let error = format!("row field count is {count}, expected {}", fields.len());
                return Err(at_row(CairnError::BadCopyFileFormat(error), None));
            }
            for (field, values) in fields.iter().zip(&mut columns) {
                let length = cursor.i32().map_err(|e| at_row(e, Some(field.name())))?;
                let bytes = match usize::try_from(length) {
                    Ok(length) => Some(cursor.take(length).map_err(|e| at_row(e, Some(field.name())))?),
                    Err(_) if length == -1 => None,
                    Err(_) => {
                        let error = CairnError::BadCopyFileFormat(format!("invalid field size {length}"));
                        return Err(at_row(error, Some(field.name())));
                    }
                };
                values.push(decode(bytes, field).map_err(|e| at_row(e, Some(field.name())))?);
            }
        }
        let arrays = fields
            .iter()
            .zip(columns)
            .map(|(field, values)| column(field, values))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let schema = Schema::new(fields.iter().map(|f| Field::new(f.name(), f.data_type().clone(), true)).collect::<Vec<_>>());
        RecordBatch::try_new(Arc::new(schema), arrays).map_err(|e| CairnError::Internal(e.to_string()))
    }
}

/// One column's decoded values as an array of the column's type (the
/// decoder may give a wider one: numeric as decimal(38, s)).
fn column(field: &Field, values: Vec<ScalarValue>) -> Result<ArrayRef> {
    if values.is_empty() {
        return Ok(new_empty_array(field.data_type()));
    }
    let bad = |e: datafusion::error::DataFusionError| {
        CairnError::InvalidBinaryRepresentation(format!("column \"{}\": {e}", field.name()))
    };
    let array = ScalarValue::iter_to_array(values).map_err(bad)?;
    match array.data_type() == field.data_type() {
        true => Ok(array),
        false => cast(&array, field.data_type()).map_err(|e| bad(e.into())),
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, Int32Type};

    use super::*;

    /// A stand-in for the wire layer's decoder: int4 and text only.
    fn decode(bytes: Option<&[u8]>, field: &Field) -> Result<ScalarValue> {
        Ok(match field.data_type() {
            DataType::Int32 => ScalarValue::Int32(bytes.map(|b| i32::from_be_bytes(b.try_into().expect("4 bytes")))),
            _ => ScalarValue::Utf8(bytes.map(|b| String::from_utf8_lossy(b).into_owned())),
        })
    }

    fn fields() -> Vec<Field> {
        vec![Field::new("id", DataType::Int32, false), Field::new("body", DataType::Utf8, true)]
    }

    fn encoded(rows: &[(i32, Option<&str>)]) -> Vec<u8> {
        let mut out = Vec::new();
        write_header(&mut out);
        for (id, body) in rows {
            let id = id.to_be_bytes();
            write_tuple([Some(&id[..]), body.map(str::as_bytes)], &mut out);
        }
        write_trailer(&mut out);
        out
    }

    #[test]
    fn reads_what_it_writes_in_chunks_split_anywhere() {
        let data = encoded(&[(1, Some("one")), (2, None), (3, Some(""))]);
        let mut reader = BinaryReader::new("t".into());
        for chunk in data.chunks(3) {
            reader.feed(chunk);
        }
        let batch = reader.finish(&fields(), &decode).expect("parses");
        let ids: Vec<i32> = batch.column(0).as_primitive::<Int32Type>().values().to_vec();
        assert_eq!(ids, [1, 2, 3]);
        let bodies = batch.column(1).as_string::<i32>();
        assert_eq!((bodies.value(0), bodies.is_null(1), bodies.value(2)), ("one", true, ""));
    }

    #[test]
    fn no_rows_is_an_empty_batch() {
        let mut reader = BinaryReader::new("t".into());
        reader.feed(&encoded(&[]));
        assert_eq!(reader.finish(&fields(), &decode).expect("parses").num_rows(), 0);
    }

    #[test]
    fn malformed_data_is_22p04_with_its_row() {
        let failure = |data: &[u8]| {
            let mut reader = BinaryReader::new("t".into());
            reader.feed(data);
            reader.finish(&fields(), &decode).expect_err("malformed")
        };
        let error = failure(b"not a copy file at all");
        assert_eq!(error.code().as_str(), "22P04");
        assert!(error.to_string().contains("signature"), "{error}");

        let mut truncated = encoded(&[(1, Some("one")), (2, Some("two"))]);
        truncated.truncate(truncated.len() - 5);
        let error = failure(&truncated);
        assert!(error.to_string().contains("unexpected EOF"), "{error}");
        assert!(error.to_string().contains("line 2"), "{error}");

        let mut wrong_width = Vec::new();
        write_header(&mut wrong_width);
        write_tuple([Some(&[0u8, 0, 0, 1][..])], &mut wrong_width);
        let error = failure(&wrong_width);
        assert!(error.to_string().contains("row field count is 1, expected 2"), "{error}");
    }
}
