//! Values: postcard behind an explicit format-version byte, so that a later
//! format can be read side by side with this one.

use cairn_types::{CairnError, Result};
use serde::{Deserialize, Serialize};

/// The format of a stored value, as its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ValueFormat {
    /// postcard, serde's data model, fields in declaration order.
    PostcardV1 = 1,
}

impl TryFrom<u8> for ValueFormat {
    type Error = CairnError;

    fn try_from(byte: u8) -> Result<Self> {
        match byte {
            1 => Ok(ValueFormat::PostcardV1),
            other => Err(CairnError::Storage(format!("unknown value format {other}"))),
        }
    }
}

pub fn encode_value<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    encode_value_into(value, Vec::new())
}

/// [`encode_value`] into `out`, which it clears first (to reuse a buffer).
pub(crate) fn encode_value_into<T: Serialize>(value: &T, mut out: Vec<u8>) -> Result<Vec<u8>> {
    out.clear();
    out.push(ValueFormat::PostcardV1 as u8);
    postcard::to_extend(value, out).map_err(|e| CairnError::Internal(format!("cannot encode value: {e}")))
}

/// Decodes a value; text in it may borrow `bytes` (see [`cairn_types::ValueRef`]).
pub fn decode_value<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T> {
    T::deserialize(&mut postcard_reader(bytes)?).map_err(corrupt)
}

/// A postcard reader over a stored value's body, for decoding it a piece
/// at a time (see [`crate::RowValues`]).
pub(crate) fn postcard_reader(bytes: &[u8]) -> Result<postcard::Deserializer<'_, postcard::de_flavors::Slice<'_>>> {
    let (&format, body) = bytes
        .split_first()
        .ok_or_else(|| CairnError::Storage("empty value".into()))?;
    match ValueFormat::try_from(format)? {
        ValueFormat::PostcardV1 => Ok(postcard::Deserializer::from_bytes(body)),
    }
}

pub(crate) fn corrupt(error: postcard::Error) -> CairnError {
    CairnError::Storage(format!("corrupt value: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_types::{Role, Timestamp, User, UserId};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn users_round_trip(id: u64, name: String, email: Option<String>, at: i64, deleted: Option<i64>) {
            let user = User {
                id: UserId(id),
                username: name,
                password_hash: "$scrypt$...".into(),
                role: Role::Service,
                email,
                created_at: Timestamp(at),
                updated_at: Timestamp(at),
                deleted_at: deleted.map(Timestamp),
            };
            let bytes = encode_value(&user).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(bytes[0], 1);
            let back: User = decode_value(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back, user);
        }

        #[test]
        fn garbage_is_an_error_not_a_panic(bytes: Vec<u8>) {
            let _ = decode_value::<User>(&bytes);
        }
    }

    #[test]
    fn unknown_format_is_refused() {
        assert!(decode_value::<u32>(&[9, 1]).is_err());
        assert!(decode_value::<u32>(&[]).is_err());
    }
}
