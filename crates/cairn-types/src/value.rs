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

/// A stored value read in place: text and bytes borrow the encoded row
/// instead of being copied out of it. Scans decode rows as these.
///
/// Its variants are [`Value`]'s, in the same order with the same payloads,
/// so that it deserializes from what a `Value` serializes to (a property
/// test in `cairn-store` checks this for every variant).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub enum ValueRef<'a> {
    Null,
    Boolean(bool),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    Decimal { mantissa: i128, scale: i8 },
    Text(&'a str),
    Bytes(&'a [u8]),
    Date(i32),
    Time(i64),
    Timestamp(i64),
    TimestampTz(i64),
    Interval { months: i32, days: i32, nanos: i64 },
    Array(#[serde(borrow)] Vec<ValueRef<'a>>),
}

impl Value {
    /// This value as a [`ValueRef`] borrowing it.
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Boolean(v) => ValueRef::Boolean(*v),
            Value::Int16(v) => ValueRef::Int16(*v),
            Value::Int32(v) => ValueRef::Int32(*v),
            Value::Int64(v) => ValueRef::Int64(*v),
            Value::Float32(v) => ValueRef::Float32(*v),
            Value::Float64(v) => ValueRef::Float64(*v),
            Value::Decimal { mantissa, scale } => ValueRef::Decimal { mantissa: *mantissa, scale: *scale },
            Value::Text(v) => ValueRef::Text(v),
            Value::Bytes(v) => ValueRef::Bytes(v),
            Value::Date(v) => ValueRef::Date(*v),
            Value::Time(v) => ValueRef::Time(*v),
            Value::Timestamp(v) => ValueRef::Timestamp(*v),
            Value::TimestampTz(v) => ValueRef::TimestampTz(*v),
            Value::Interval { months, days, nanos } => ValueRef::Interval { months: *months, days: *days, nanos: *nanos },
            Value::Array(values) => ValueRef::Array(values.iter().map(Value::as_ref).collect()),
        }
    }
}

impl ValueRef<'_> {
    /// The value, owning its text and bytes.
    pub fn to_value(&self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Boolean(v) => Value::Boolean(*v),
            ValueRef::Int16(v) => Value::Int16(*v),
            ValueRef::Int32(v) => Value::Int32(*v),
            ValueRef::Int64(v) => Value::Int64(*v),
            ValueRef::Float32(v) => Value::Float32(*v),
            ValueRef::Float64(v) => Value::Float64(*v),
            ValueRef::Decimal { mantissa, scale } => Value::Decimal { mantissa: *mantissa, scale: *scale },
            ValueRef::Text(v) => Value::Text((*v).to_owned()),
            ValueRef::Bytes(v) => Value::Bytes(v.to_vec()),
            ValueRef::Date(v) => Value::Date(*v),
            ValueRef::Time(v) => Value::Time(*v),
            ValueRef::Timestamp(v) => Value::Timestamp(*v),
            ValueRef::TimestampTz(v) => Value::TimestampTz(*v),
            ValueRef::Interval { months, days, nanos } => Value::Interval { months: *months, days: *days, nanos: *nanos },
            ValueRef::Array(values) => Value::Array(values.iter().map(ValueRef::to_value).collect()),
        }
    }
}
