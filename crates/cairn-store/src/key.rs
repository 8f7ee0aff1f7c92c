//! The order-preserving key codec.
//!
//! Keys are tuples of parts. Each part is encoded so that comparing the
//! encoded bytes with `memcmp` gives the same order as comparing the values,
//! and so that the encoding of a tuple's prefix is a byte prefix of the
//! tuple's encoding (which makes prefix scans possible).
//!
//! | type                 | encoding                                                        |
//! |----------------------|-----------------------------------------------------------------|
//! | `u8`..`u64`          | big-endian                                                      |
//! | `i8`..`i64`          | big-endian with the sign bit flipped                            |
//! | `bool`               | `0x00` false, `0x01` true                                       |
//! | `f32`, `f64`         | IEEE bits; negative: all bits flipped, else sign bit flipped (total order, as `total_cmp`) |
//! | `String`, `Vec<u8>`  | bytes with `0x00` escaped as `0x00 0xFF`, terminated by `0x00 0x00` |
//! | `Option<T>`          | `0x00` for `None` (NULL sorts first), `0x01` then `T`          |
//! | tuples               | the parts, one after another                                    |
//!
//! postcard, used for values, is *not* order preserving (varints, zigzag,
//! length prefixes), which is why keys have their own codec.

use cairn_types::{
    CairnError, JobId, JobStatus, LiveQueryId, NamespaceId, Result, Role, StorageId, TableId,
    Timestamp, UserId,
};

/// A type that can be part of a key. `decode_key(encode_key(x)) == x`, and
/// the byte order of encodings equals the value order.
pub trait KeyCodec: Sized {
    fn encode_key(&self, out: &mut Vec<u8>);

    /// Reads one value from the front of `input` and advances it.
    fn decode_key(input: &mut &[u8]) -> Result<Self>;

    /// The encoding of `self` alone.
    fn to_key_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_key(&mut out);
        out
    }

    /// Decodes a whole buffer, refusing trailing bytes.
    fn from_key_bytes(mut input: &[u8]) -> Result<Self> {
        let value = Self::decode_key(&mut input)?;
        if input.is_empty() {
            Ok(value)
        } else {
            Err(corrupt("trailing bytes after key"))
        }
    }
}

fn corrupt(what: &str) -> CairnError {
    CairnError::Storage(format!("corrupt key: {what}"))
}

fn take<const N: usize>(input: &mut &[u8]) -> Result<[u8; N]> {
    let (head, rest) = input
        .split_first_chunk::<N>()
        .ok_or_else(|| corrupt("truncated"))?;
    *input = rest;
    Ok(*head)
}

macro_rules! unsigned_key {
    ($($t:ty),*) => {$(
        impl KeyCodec for $t {
            fn encode_key(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }
            fn decode_key(input: &mut &[u8]) -> Result<Self> {
                Ok(<$t>::from_be_bytes(take(input)?))
            }
        }
    )*};
}
unsigned_key!(u8, u16, u32, u64);

macro_rules! signed_key {
    ($($t:ty => $u:ty),*) => {$(
        impl KeyCodec for $t {
            fn encode_key(&self, out: &mut Vec<u8>) {
                // Flipping the sign bit maps MIN..=MAX onto 0..=u::MAX in order.
                let flipped = (*self as $u) ^ (1 << (<$u>::BITS - 1));
                out.extend_from_slice(&flipped.to_be_bytes());
            }
            fn decode_key(input: &mut &[u8]) -> Result<Self> {
                let flipped = <$u>::from_be_bytes(take(input)?);
                Ok((flipped ^ (1 << (<$u>::BITS - 1))) as $t)
            }
        }
    )*};
}
signed_key!(i8 => u8, i16 => u16, i32 => u32, i64 => u64);

macro_rules! float_key {
    ($($t:ty => $u:ty),*) => {$(
        impl KeyCodec for $t {
            fn encode_key(&self, out: &mut Vec<u8>) {
                let bits = self.to_bits();
                let sign = 1 << (<$u>::BITS - 1);
                let ordered = if bits & sign != 0 { !bits } else { bits | sign };
                out.extend_from_slice(&ordered.to_be_bytes());
            }
            fn decode_key(input: &mut &[u8]) -> Result<Self> {
                let ordered = <$u>::from_be_bytes(take(input)?);
                let sign = 1 << (<$u>::BITS - 1);
                let bits = if ordered & sign != 0 { ordered & !sign } else { !ordered };
                Ok(<$t>::from_bits(bits))
            }
        }
    )*};
}
float_key!(f32 => u32, f64 => u64);

impl KeyCodec for bool {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self> {
        match take::<1>(input)? {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err(corrupt("bad bool")),
        }
    }
}

const ESCAPE: u8 = 0x00;
const ESCAPED_ZERO: u8 = 0xFF;
const TERMINATOR: u8 = 0x00;

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        if b == ESCAPE {
            out.extend_from_slice(&[ESCAPE, ESCAPED_ZERO]);
        } else {
            out.push(b);
        }
    }
    out.extend_from_slice(&[ESCAPE, TERMINATOR]);
}

fn decode_bytes(input: &mut &[u8]) -> Result<Vec<u8>> {
    let mut decoded = Vec::new();
    let mut rest = *input;
    loop {
        match rest {
            [ESCAPE, TERMINATOR, tail @ ..] => {
                *input = tail;
                return Ok(decoded);
            }
            [ESCAPE, ESCAPED_ZERO, tail @ ..] => {
                decoded.push(0);
                rest = tail;
            }
            [ESCAPE, ..] | [] => return Err(corrupt("unterminated or badly escaped bytes")),
            [b, tail @ ..] => {
                decoded.push(*b);
                rest = tail;
            }
        }
    }
}

impl KeyCodec for Vec<u8> {
    fn encode_key(&self, out: &mut Vec<u8>) {
        encode_bytes(self, out);
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self> {
        decode_bytes(input)
    }
}

impl KeyCodec for String {
    fn encode_key(&self, out: &mut Vec<u8>) {
        encode_bytes(self.as_bytes(), out);
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self> {
        String::from_utf8(decode_bytes(input)?).map_err(|_| corrupt("text is not UTF-8"))
    }
}

impl<T: KeyCodec> KeyCodec for Option<T> {
    fn encode_key(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0x00),
            Some(value) => {
                out.push(0x01);
                value.encode_key(out);
            }
        }
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self> {
        match take::<1>(input)? {
            [0x00] => Ok(None),
            [0x01] => Ok(Some(T::decode_key(input)?)),
            _ => Err(corrupt("bad NULL marker")),
        }
    }
}

impl KeyCodec for () {
    fn encode_key(&self, _out: &mut Vec<u8>) {}
    fn decode_key(_input: &mut &[u8]) -> Result<Self> {
        Ok(())
    }
}

macro_rules! tuple_key {
    ($($name:ident),+) => {
        impl<$($name: KeyCodec),+> KeyCodec for ($($name,)+) {
            #[allow(non_snake_case)]
            fn encode_key(&self, out: &mut Vec<u8>) {
                let ($($name,)+) = self;
                $($name.encode_key(out);)+
            }
            fn decode_key(input: &mut &[u8]) -> Result<Self> {
                Ok(($($name::decode_key(input)?,)+))
            }
        }
    };
}
tuple_key!(A);
tuple_key!(A, B);
tuple_key!(A, B, C);
tuple_key!(A, B, C, D);

macro_rules! newtype_key {
    ($($t:ident($inner:ty)),*) => {$(
        impl KeyCodec for $t {
            fn encode_key(&self, out: &mut Vec<u8>) {
                self.0.encode_key(out);
            }
            fn decode_key(input: &mut &[u8]) -> Result<Self> {
                Ok($t(<$inner>::decode_key(input)?))
            }
        }
    )*};
}
newtype_key!(
    NamespaceId(u64),
    TableId(u64),
    UserId(u64),
    JobId(u64),
    LiveQueryId(u64),
    StorageId(u64),
    Timestamp(i64)
);

/// Enums are keyed by an explicit byte each, never by declaration order
/// implied by a derive, so that reordering variants cannot change the disk.
macro_rules! enum_key {
    ($t:ident { $($variant:ident = $byte:literal),* $(,)? }) => {
        impl KeyCodec for $t {
            fn encode_key(&self, out: &mut Vec<u8>) {
                out.push(match self { $($t::$variant => $byte),* });
            }
            fn decode_key(input: &mut &[u8]) -> Result<Self> {
                match take::<1>(input)? {
                    $([$byte] => Ok($t::$variant),)*
                    _ => Err(corrupt(concat!("bad ", stringify!($t)))),
                }
            }
        }
    };
}
enum_key!(Role { User = 1, Service = 2, Dba = 3, System = 4 });
enum_key!(JobStatus { New = 1, Running = 2, Completed = 3, Failed = 4, Cancelled = 5 });

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Ordering;

    fn hex<K: KeyCodec>(value: &K) -> String {
        value.to_key_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn encodings_are_as_documented() {
        assert_eq!(hex(&0u8), "00");
        assert_eq!(hex(&258u16), "0102");
        assert_eq!(hex(&1u64), "0000000000000001");
        assert_eq!(hex(&i8::MIN), "00");
        assert_eq!(hex(&-1i8), "7f");
        assert_eq!(hex(&0i8), "80");
        assert_eq!(hex(&1i32), "80000001");
        assert_eq!(hex(&i64::MIN), "0000000000000000");
        assert_eq!(hex(&0.0f64), "8000000000000000");
        assert_eq!(hex(&-0.0f64), "7fffffffffffffff");
        assert_eq!(hex(&1.0f32), "bf800000");
        assert_eq!(hex(&false), "00");
        assert_eq!(hex(&true), "01");
        assert_eq!(hex(&String::new()), "0000");
        assert_eq!(hex(&"ab".to_string()), "61620000");
        assert_eq!(hex(&vec![0u8, 1]), "00ff010000");
        assert_eq!(hex(&None::<u8>), "00");
        assert_eq!(hex(&Some(7u8)), "0107");
        assert_eq!(hex(&(1u8, "a".to_string())), "01610000");
        assert_eq!(hex(&Role::Dba), "03");
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(u64::from_key_bytes(&[1, 2, 3]).is_err());
        assert!(String::from_key_bytes(&[0x61]).is_err());
        assert!(String::from_key_bytes(&[0x61, 0x00, 0x07]).is_err());
        assert!(String::from_key_bytes(&[0xc3, 0x28, 0x00, 0x00]).is_err());
        assert!(bool::from_key_bytes(&[2]).is_err());
        assert!(Option::<u8>::from_key_bytes(&[9, 1]).is_err());
        assert!(Role::from_key_bytes(&[0]).is_err());
        assert!(u8::from_key_bytes(&[1, 2]).is_err(), "trailing bytes are refused");
        assert!(<(u8, String)>::from_key_bytes(&[]).is_err());
    }

    fn assert_order_preserved<K: KeyCodec + std::fmt::Debug>(
        a: &K,
        b: &K,
        value_order: Ordering,
    ) -> std::result::Result<(), TestCaseError> {
        let (ea, eb) = (a.to_key_bytes(), b.to_key_bytes());
        prop_assert_eq!(ea.cmp(&eb), value_order, "{:?} vs {:?}", a, b);
        Ok(())
    }

    fn assert_round_trip<K: KeyCodec + std::fmt::Debug + PartialEq>(
        value: &K,
    ) -> std::result::Result<(), TestCaseError> {
        let decoded = K::from_key_bytes(&value.to_key_bytes());
        prop_assert_eq!(decoded.as_ref().ok(), Some(value));
        Ok(())
    }

    macro_rules! order_props {
        ($($name:ident: $t:ty),*) => {$(
            proptest! {
                #[test]
                fn $name(a: $t, b: $t) {
                    assert_order_preserved(&a, &b, a.cmp(&b))?;
                    assert_round_trip(&a)?;
                }
            }
        )*};
    }
    order_props!(
        order_u8: u8, order_u16: u16, order_u32: u32, order_u64: u64,
        order_i8: i8, order_i16: i16, order_i32: i32, order_i64: i64,
        order_bool: bool, order_text: String, order_bytes: Vec<u8>,
        order_nullable_int: Option<i64>, order_nullable_text: Option<String>,
        order_pair: (i32, String), order_triple: (Option<String>, Vec<u8>, i64)
    );

    proptest! {
        #[test]
        fn order_f64(a: f64, b: f64) {
            assert_order_preserved(&a, &b, a.total_cmp(&b))?;
            let decoded = f64::from_key_bytes(&a.to_key_bytes()).ok().map(f64::to_bits);
            prop_assert_eq!(decoded, Some(a.to_bits()));
        }

        #[test]
        fn order_f32(a: f32, b: f32) {
            assert_order_preserved(&a, &b, a.total_cmp(&b))?;
            let decoded = f32::from_key_bytes(&a.to_key_bytes()).ok().map(f32::to_bits);
            prop_assert_eq!(decoded, Some(a.to_bits()));
        }

        /// Text with many zero bytes, where escaping matters most.
        #[test]
        fn order_zero_heavy_bytes(a in prop::collection::vec(0u8..3, 0..8), b in prop::collection::vec(0u8..3, 0..8)) {
            assert_order_preserved(&a, &b, a.cmp(&b))?;
        }

        /// The encoding of a tuple's first part is a byte prefix of the whole
        /// tuple's encoding, so a prefix scan finds exactly the matching tuples.
        #[test]
        fn tuple_prefix_is_byte_prefix(a: String, b: Option<i64>, c: Vec<u8>) {
            let whole = (a.clone(), b, c).to_key_bytes();
            prop_assert!(whole.starts_with(&a.to_key_bytes()));
            prop_assert!(whole.starts_with(&(a, b).to_key_bytes()));
        }

        /// A different first part never shares the prefix, even when one text
        /// is a prefix of the other ("ab" vs "abc").
        #[test]
        fn distinct_text_prefix_does_not_match(a: String, b: String, tail: u64) {
            prop_assume!(a != b);
            let whole = (b, tail).to_key_bytes();
            prop_assert!(!whole.starts_with(&a.to_key_bytes()));
        }
    }
}
