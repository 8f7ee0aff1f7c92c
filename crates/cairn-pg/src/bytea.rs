//! bytea's text input, as PostgreSQL reads it on every path: `'…'::bytea`
//! and text cast to bytea (an INSERT of a text literal into a bytea
//! column), text parameters, COPY. Arrow's cast of text to binary takes
//! the text's own bytes, so `'\x00ff'::bytea` was the six bytes of
//! `\x00ff` (and psycopg2, which sends bytes as such a literal, stored
//! the hex digits).

use std::sync::Arc;

use cairn_types::CairnError;
use datafusion::arrow::array::{Array, ArrayRef, BinaryArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

/// bytea's text forms: `\x` and hex digits (whitespace between pairs
/// allowed), or the escape format (`\\`, `\ooo`, other bytes as they are).
/// Errors as PostgreSQL words them.
pub fn parse(text: &str) -> Result<Vec<u8>, CairnError> {
    if let Some(hex) = text.strip_prefix("\\x") {
        return parse_hex(hex);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (b'\\', Some(b'\\')) => {
                out.push(b'\\');
                i += 2;
            }
            (b'\\', _) => {
                let octal = bytes
                    .get(i + 1..i + 4)
                    .filter(|digits| digits[0] <= b'3' && digits.iter().all(|d| (b'0'..=b'7').contains(d)))
                    .ok_or_else(|| CairnError::InvalidTextRepresentation("invalid input syntax for type bytea".into()))?;
                out.push(octal.iter().fold(0u8, |n, d| n * 8 + (d - b'0')));
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn parse_hex(hex: &str) -> Result<Vec<u8>, CairnError> {
    let digit = |c: char| {
        c.to_digit(16).ok_or_else(|| CairnError::InvalidParameterValue(format!("invalid hexadecimal digit: \"{c}\"")))
    };
    let mut out = Vec::with_capacity(hex.len() / 2);
    let mut chars = hex.chars().filter(|c| !c.is_ascii_whitespace());
    while let Some(high) = chars.next() {
        let high = digit(high)?;
        let low = chars
            .next()
            .ok_or_else(|| CairnError::InvalidParameterValue("invalid hexadecimal data: odd number of digits".into()))?;
        out.push((high * 16 + digit(low)?) as u8);
    }
    Ok(out)
}

/// What text cast to bytea is planned as (see `postgres::TextInput`).
pub fn bytea_in() -> ScalarUDF {
    ScalarUDF::from(ByteaIn { signature: Signature::any(1, Volatility::Immutable) })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ByteaIn {
    signature: Signature,
}

impl ScalarUDFImpl for ByteaIn {
    fn name(&self) -> &str {
        "bytea_in"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(text) = arrays.first() else {
            return datafusion::common::exec_err!("bytea_in takes one argument");
        };
        let text = cast(text, &DataType::Utf8)?;
        let text = text.as_any().downcast_ref::<datafusion::arrow::array::StringArray>();
        let Some(text) = text else { return datafusion::common::exec_err!("bytea_in reads text") };
        let bytes = (0..text.len())
            .map(|row| match text.is_null(row) {
                true => Ok(None),
                false => parse(text.value(row)).map(Some),
            })
            .collect::<Result<Vec<_>, CairnError>>()
            .map_err(cairn_tables::error::to_df)?;
        let result: ArrayRef = Arc::new(BinaryArray::from_iter(bytes));
        cairn_tables::functions::shaped_like(&args.args, result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_text_forms_read_as_postgresql_reads_them() {
        assert_eq!(parse("\\x00ff10").expect("hex"), [0, 255, 16]);
        assert_eq!(parse("\\xDE AD").expect("spaced hex"), [0xde, 0xad]);
        assert_eq!(parse("\\x").expect("empty"), Vec::<u8>::new());
        assert_eq!(parse("a\\\\b\\001").expect("escapes"), [b'a', b'\\', b'b', 1]);
        assert_eq!(parse("plain").expect("plain"), b"plain");
        assert_eq!(parse("\\xf").expect_err("odd").to_string(), "invalid hexadecimal data: odd number of digits");
        assert_eq!(parse("\\xzz").expect_err("digit").to_string(), "invalid hexadecimal digit: \"z\"");
        assert_eq!(parse("\\9").expect_err("escape").code().as_str(), "22P02");
        assert_eq!(parse("\\400").expect_err("past a byte").code().as_str(), "22P02");
    }
}
