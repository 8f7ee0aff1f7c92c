//! A SQL value as rows store it.

use serde::{Deserialize, Serialize};

/// One column value of a stored row. Which variant a column holds follows
/// from its [`crate::DataType`]; `Null` fits every column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Boolean(bool),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    /// `mantissa * 10^-scale`.
    Decimal { mantissa: i128, scale: i8 },
    Text(String),
    Bytes(Vec<u8>),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// Microseconds since the epoch, no time zone.
    Timestamp(i64),
    /// Microseconds since the epoch, UTC.
    TimestampTz(i64),
    /// PostgreSQL's three independent parts: months, days, and time.
    Interval { months: i32, days: i32, nanos: i64 },
    /// A one-dimensional array; elements are values of the element type or NULL.
    Array(Vec<Value>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}
