//! Table rows in the `rows` keyspace.
//!
//! ```text
//! [ROW_KIND] [table id u64] [user id u64, user tables only] [primary key …] -> [version] postcard(StoredRow)
//! ```
//!
//! The user id right after the table id is what isolates user tables: every
//! read and write of a user table goes through one `(table, user)` prefix,
//! so no scan can reach another user's rows.

use cairn_types::{CairnError, Result, TableId, Timestamp, UserId, Value, ValueRef};
use serde::{Deserialize, Serialize};

use crate::key::KeyCodec;
use crate::value::decode_value;

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

    pub fn as_ref(&self) -> StoredRowRef<'_> {
        StoredRowRef { expires_at: self.expires_at, values: self.values.iter().map(Value::as_ref).collect() }
    }
}

/// A stored row decoded in place: its text borrows the encoded bytes.
/// Serialized as [`StoredRow`] is.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StoredRowRef<'a> {
    pub expires_at: Option<Timestamp>,
    #[serde(borrow)]
    pub values: Vec<ValueRef<'a>>,
}

impl StoredRowRef<'_> {
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// A row as a scan finds it, not yet decoded, so that the reader can
/// decode it in place ([`EncodedRow::decode`]) rather than copy it out.
pub struct EncodedRow {
    pub(crate) key: fjall::Slice,
    /// Where the primary key starts in `key`, after the partition prefix.
    pub(crate) primary_key_at: usize,
    pub(crate) value: fjall::Slice,
}

impl EncodedRow {
    /// The full row key (see [`row_key`]).
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The encoded primary key, as [`KeyRange`]s hold them.
    pub fn primary_key(&self) -> &[u8] {
        self.key.get(self.primary_key_at..).unwrap_or_default()
    }

    pub fn decode(&self) -> Result<StoredRowRef<'_>> {
        decode_value(&self.value)
    }

    /// The row's values one at a time, so that a reader can stop at the
    /// last column it needs and collects none of them.
    pub fn values(&self) -> Result<RowValues<'_>> {
        RowValues::new(&self.value)
    }

    pub fn to_row(&self) -> Result<StoredRow> {
        decode_value(&self.value)
    }
}

/// Which part of a table a statement works in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// A stored row read a value at a time: [`StoredRow`]'s encoding is its
/// expiry, the number of values, then each value (postcard, in serde's
/// order), so the values can be read in place as they come.
pub struct RowValues<'a> {
    pub expires_at: Option<Timestamp>,
    reader: postcard::Deserializer<'a, postcard::de_flavors::Slice<'a>>,
    remaining: u64,
}

impl<'a> RowValues<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Result<RowValues<'a>> {
        let mut reader = crate::value::postcard_reader(bytes)?;
        let expires_at = Option::<Timestamp>::deserialize(&mut reader).map_err(crate::value::corrupt)?;
        // A sequence's length is a varint, as a u64 is.
        let remaining = u64::deserialize(&mut reader).map_err(crate::value::corrupt)?;
        Ok(RowValues { expires_at, reader, remaining })
    }

    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

impl<'a> Iterator for RowValues<'a> {
    type Item = Result<ValueRef<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.remaining = self.remaining.checked_sub(1)?;
        let value = ValueRef::deserialize(&mut self.reader).map_err(crate::value::corrupt);
        if value.is_err() {
            // Nothing after a corrupt value can be read.
            self.remaining = 0;
        }
        Some(value)
    }
}

/// Up to `parts - 1` keys that cut the keys from `first` to `last` into
/// `parts` spans of about equal width, each strictly above `first`, at most
/// `last`, and increasing. Width is measured on the eight bytes after the
/// common prefix, as a number: even for sequential ids and random keys,
/// only approximate (never wrong) for others.
pub(crate) fn cut_points(first: &[u8], last: &[u8], parts: usize) -> Vec<Vec<u8>> {
    let common = first.iter().zip(last).take_while(|(a, b)| a == b).count();
    let word = |key: &[u8]| {
        let mut word = [0u8; 8];
        for (to, from) in word.iter_mut().zip(key.iter().skip(common)) {
            *to = *from;
        }
        u128::from(u64::from_be_bytes(word))
    };
    let (low, high) = (word(first), word(last));
    let parts_wide = u128::try_from(parts.max(1)).unwrap_or(1);
    let mut cuts: Vec<Vec<u8>> = Vec::new();
    for part in 1..parts_wide {
        let at = low + (high.saturating_sub(low)) * part / parts_wide;
        let mut cut = first[..common].to_vec();
        cut.extend_from_slice(&u64::try_from(at).unwrap_or(u64::MAX).to_be_bytes());
        // Trailing zeros cut at the same place among real keys.
        while cut.len() > common && cut.last() == Some(&0) {
            cut.pop();
        }
        if cut.as_slice() > first && cut.as_slice() <= last && cuts.last().is_none_or(|before| *before < cut) {
            cuts.push(cut);
        }
    }
    cuts
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

    fn any_scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Boolean),
            any::<i16>().prop_map(Value::Int16),
            any::<i32>().prop_map(Value::Int32),
            any::<i64>().prop_map(Value::Int64),
            any::<f32>().prop_map(Value::Float32),
            any::<f64>().prop_map(Value::Float64),
            (any::<i128>(), any::<i8>()).prop_map(|(mantissa, scale)| Value::Decimal { mantissa, scale }),
            any::<String>().prop_map(Value::Text),
            any::<Vec<u8>>().prop_map(Value::Bytes),
            any::<i32>().prop_map(Value::Date),
            any::<i64>().prop_map(Value::Time),
            any::<i64>().prop_map(Value::Timestamp),
            any::<i64>().prop_map(Value::TimestampTz),
            (any::<i32>(), any::<i32>(), any::<i64>()).prop_map(|(months, days, nanos)| Value::Interval { months, days, nanos }),
        ]
    }

    fn any_value() -> impl Strategy<Value = Value> {
        prop_oneof![4 => any_scalar(), 1 => proptest::collection::vec(any_scalar(), 0..4).prop_map(Value::Array)]
    }

    #[test]
    fn sequential_keys_are_cut_evenly() {
        let cuts = cut_points(&key(&[Value::Int64(1)]), &key(&[Value::Int64(1_000_001)]), 4);
        let at: Vec<Vec<u8>> = [250_001, 500_001, 750_001].iter().map(|&k| key(&[Value::Int64(k)])).collect();
        assert_eq!(cuts, at);
        assert!(cut_points(b"a", b"a", 4).is_empty(), "one key: nothing to cut");
        assert!(cut_points(b"ab", b"ab\x00\x00", 1).is_empty(), "one part: no cut");
    }

    proptest! {
        #[test]
        fn cuts_fall_inside_the_span_in_order(a: Vec<u8>, b: Vec<u8>, parts in 1usize..9) {
            let (first, last) = if a <= b { (a, b) } else { (b, a) };
            let cuts = cut_points(&first, &last, parts);
            prop_assert!(cuts.len() < parts.max(1));
            for cut in &cuts {
                prop_assert!(cut.as_slice() > first.as_slice() && cut.as_slice() <= last.as_slice());
            }
            prop_assert!(cuts.windows(2).all(|pair| pair[0] < pair[1]));
        }

        /// A row decoded in place is the row that was stored: `ValueRef`
        /// reads what `Value` writes, variant for variant.
        #[test]
        fn rows_decode_in_place_as_they_were_stored(
            values in proptest::collection::vec(any_value(), 0..6),
            expires_at in proptest::option::of(any::<i64>()),
        ) {
            let row = StoredRow { expires_at: expires_at.map(Timestamp), values };
            let bytes = crate::value::encode_value(&row).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let in_place: StoredRowRef<'_> = decode_value(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            // Compared by their encodings: NaN must come back bit for bit,
            // which `==` on floats cannot show.
            let encoded = |row: &StoredRowRef<'_>| {
                let owned = StoredRow { expires_at: row.expires_at, values: row.values.iter().map(ValueRef::to_value).collect() };
                crate::value::encode_value(&owned).map_err(|e| TestCaseError::fail(e.to_string()))
            };
            prop_assert_eq!(&encoded(&in_place)?, &bytes);
            let one_by_one = RowValues::new(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(one_by_one.expires_at, row.expires_at);
            let values = one_by_one.collect::<Result<Vec<_>>>().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&encoded(&StoredRowRef { expires_at: row.expires_at, values })?, &bytes);
            prop_assert_eq!(&encoded(&row.as_ref())?, &bytes);
        }

        #[test]
        fn garbage_rows_are_errors_not_panics(bytes: Vec<u8>) {
            if let Ok(values) = RowValues::new(&bytes) {
                let _ = values.count();
            }
        }

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
