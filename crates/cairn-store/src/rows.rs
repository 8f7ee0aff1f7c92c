//! Table rows in the `rows` keyspace.
//!
//! ```text
//! [ROW_KIND] [table id u64] [user id u64, user tables only] [primary key …] -> [version] postcard(StoredRow)
//! ```
//!
//! The user id right after the table id is what isolates user tables: every
//! read and write of a user table goes through one `(table, user)` prefix,
//! so no scan can reach another user's rows.

use cairn_types::{CairnError, Result, TableId, Timestamp, UserId, Value};
use serde::{Deserialize, Serialize};

use crate::key::KeyCodec;

/// The first byte of every key in the rows keyspace.
pub(crate) const ROW_KIND: u8 = 1;

/// A row as stored: its column values and, for stream tables, when it
/// expires. An expired row is never returned, whether or not eviction has
/// removed it yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRow {
    pub expires_at: Option<Timestamp>,
    pub values: Vec<Value>,
}

impl StoredRow {
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// Which part of a table a statement works in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    /// Shared tables: one partition for everybody.
    Shared,
    /// User tables: each user's own rows.
    User(UserId),
}

/// The key prefix of every row of `table`, in every partition.
pub(crate) fn table_prefix(table: TableId) -> Vec<u8> {
    let mut out = vec![ROW_KIND];
    table.encode_key(&mut out);
    out
}

/// The key prefix of the rows of `table` in `partition`.
pub(crate) fn partition_prefix(table: TableId, partition: Partition) -> Vec<u8> {
    let mut out = table_prefix(table);
    if let Partition::User(user) = partition {
        user.encode_key(&mut out);
    }
    out
}

/// The full key of a row (or, with a partial key, the prefix of its rows).
pub fn row_key(table: TableId, partition: Partition, primary_key: &[u8]) -> Vec<u8> {
    let mut key = partition_prefix(table, partition);
    key.extend_from_slice(primary_key);
    key
}

/// The smallest byte string greater than every string starting with
/// `bytes`; `None` if there is none (empty, or all 0xFF).
pub fn successor(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut next = bytes.to_vec();
    while let Some(last) = next.pop() {
        if last < u8::MAX {
            next.push(last + 1);
            return Some(next);
        }
    }
    None
}

/// Encoded primary keys from `start` (inclusive) to `end` (exclusive;
/// `None`: to the end of the partition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    pub start: Vec<u8>,
    pub end: Option<Vec<u8>>,
}

impl KeyRange {
    pub fn all() -> KeyRange {
        KeyRange { start: Vec::new(), end: None }
    }

    /// Every key that starts with `prefix` (the leading key columns).
    pub fn prefix(prefix: &[u8]) -> KeyRange {
        KeyRange { start: prefix.to_vec(), end: successor(prefix) }
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        key >= self.start.as_slice() && self.end.as_deref().is_none_or(|end| key < end)
    }

    /// The full row keys this range covers in a partition: from, and up to
    /// (exclusive).
    pub fn row_keys(&self, table: TableId, partition: Partition) -> (Vec<u8>, Vec<u8>) {
        let start = row_key(table, partition, &self.start);
        let end = match &self.end {
            Some(end) => row_key(table, partition, end),
            // The partition prefix starts with ROW_KIND, so it has a successor.
            None => successor(&partition_prefix(table, partition)).unwrap_or_default(),
        };
        (start, end)
    }
}

/// Encodes primary-key values, in key order, so that byte order is value
/// order. NULL cannot be part of a primary key.
pub fn encode_primary_key(values: &[&Value]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for value in values {
        encode_key_value(value, &mut out)?;
    }
    Ok(out)
}

fn encode_key_value(value: &Value, out: &mut Vec<u8>) -> Result<()> {
    match value {
        Value::Null => {
            return Err(CairnError::Internal("NULL in a primary key".into()));
        }
        Value::Boolean(v) => v.encode_key(out),
        Value::Int16(v) => v.encode_key(out),
        Value::Int32(v) => v.encode_key(out),
        Value::Int64(v) => v.encode_key(out),
        // SQL equality: -0 equals 0, so both are one key.
        Value::Float32(v) => (if *v == 0.0 { 0.0f32 } else { *v }).encode_key(out),
        Value::Float64(v) => (if *v == 0.0 { 0.0f64 } else { *v }).encode_key(out),
        Value::Decimal { mantissa, scale } => {
            // Keyed at one fixed scale, so that 1.0 and 1.00 are one key
            // and byte order is value order.
            let widened = rescale(*mantissa, *scale, 18).ok_or_else(|| {
                CairnError::NumericValueOutOfRange("numeric key out of range".into())
            })?;
            let flipped = (widened as u128) ^ (1u128 << 127);
            out.extend_from_slice(&flipped.to_be_bytes());
        }
        Value::Text(v) => v.encode_key(out),
        Value::Bytes(v) => v.encode_key(out),
        Value::Date(v) => v.encode_key(out),
        Value::Time(v) | Value::Timestamp(v) | Value::TimestampTz(v) => v.encode_key(out),
        Value::Interval { .. } | Value::Array(_) => {
            return Err(CairnError::FeatureNotSupported("interval and array columns cannot be part of a primary key".into()))
        }
    }
    Ok(())
}

fn rescale(mantissa: i128, from: i8, to: i8) -> Option<i128> {
    let shift = u32::try_from(i32::from(to) - i32::from(from)).ok()?;
    mantissa.checked_mul(10i128.checked_pow(shift)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(values: &[Value]) -> Vec<u8> {
        let refs: Vec<&Value> = values.iter().collect();
        encode_primary_key(&refs).expect("encodes")
    }

    #[test]
    fn equal_sql_values_share_a_key() {
        assert_eq!(key(&[Value::Float64(-0.0)]), key(&[Value::Float64(0.0)]));
        assert_eq!(
            key(&[Value::Decimal { mantissa: 10, scale: 1 }]),
            key(&[Value::Decimal { mantissa: 100, scale: 2 }])
        );
        assert!(encode_primary_key(&[&Value::Null]).is_err());
    }

    #[test]
    fn key_ranges_cover_what_they_say() {
        assert_eq!(successor(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(successor(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(successor(&[0xFF]), None);
        let a = key(&[Value::Int64(5)]);
        let range = KeyRange::prefix(&a);
        assert!(range.contains(&key(&[Value::Int64(5), Value::Text("x".into())])));
        assert!(!range.contains(&key(&[Value::Int64(6)])));
        assert!(KeyRange::all().contains(&a));
        let (start, end) = KeyRange::all().row_keys(TableId(7), Partition::Shared);
        assert!(start < end && end.as_slice() <= table_prefix(TableId(8)).as_slice());
    }

    #[test]
    fn user_partitions_nest_inside_the_table_prefix() {
        let table = TableId(1000);
        let alice = partition_prefix(table, Partition::User(UserId(2)));
        assert!(alice.starts_with(&table_prefix(table)));
        assert!(!partition_prefix(table, Partition::User(UserId(3))).starts_with(&alice));
        assert!(!table_prefix(TableId(1001)).starts_with(&table_prefix(table)));
    }

    proptest! {
        #[test]
        fn composite_keys_order_like_their_values(a: i64, b: String, c: i64, d: String) {
            let left = key(&[Value::Int64(a), Value::Text(b.clone())]);
            let right = key(&[Value::Int64(c), Value::Text(d.clone())]);
            prop_assert_eq!(left.cmp(&right), (a, b).cmp(&(c, d)));
        }

        #[test]
        fn decimal_keys_order_like_their_values(a in -1_000_000i128..1_000_000, sa in 0i8..6, b in -1_000_000i128..1_000_000, sb in 0i8..6) {
            let left = key(&[Value::Decimal { mantissa: a, scale: sa }]);
            let right = key(&[Value::Decimal { mantissa: b, scale: sb }]);
            let scaled = |m: i128, s: i8| m * 10i128.pow(u32::try_from(18 - s).unwrap_or(0));
            prop_assert_eq!(left.cmp(&right), scaled(a, sa).cmp(&scaled(b, sb)));
        }
    }
}
