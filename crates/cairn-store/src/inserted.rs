//! The row keys one write batch has inserted, so that a second insert of
//! the same key in the batch fails as a duplicate.
//!
//! A bulk load (COPY, INSERT … SELECT) usually arrives in key order. While
//! it does, the keys are kept as a sorted run: a key greater than the last
//! one is new without hashing it, which was a tenth of a large COPY's
//! write. The first key out of order moves the run into a hash set.

use std::collections::HashSet;

#[derive(Debug)]
pub(crate) enum InsertedKeys {
    /// Every key so far, in strictly ascending order.
    Ascending(Vec<Vec<u8>>),
    /// foldhash: SipHash over a million keys was a tenth of a large COPY.
    Hashed(HashSet<Vec<u8>, foldhash::fast::RandomState>),
}

impl Default for InsertedKeys {
    fn default() -> Self {
        InsertedKeys::Ascending(Vec::new())
    }
}

impl InsertedKeys {
    pub(crate) fn contains(&self, key: &[u8]) -> bool {
        match self {
            InsertedKeys::Ascending(keys) => match keys.last() {
                Some(last) if key > last.as_slice() => false,
                _ => keys.binary_search_by(|k| k.as_slice().cmp(key)).is_ok(),
            },
            InsertedKeys::Hashed(keys) => keys.contains(key),
        }
    }

    /// Adds `key`, which the caller has checked is not in the set.
    pub(crate) fn insert(&mut self, key: &[u8]) {
        match self {
            InsertedKeys::Ascending(keys) if keys.last().is_none_or(|last| key > last.as_slice()) => {
                keys.push(key.to_vec());
            }
            InsertedKeys::Ascending(keys) => {
                let mut hashed: HashSet<Vec<u8>, foldhash::fast::RandomState> =
                    HashSet::with_capacity_and_hasher(keys.len() + 1, Default::default());
                hashed.extend(std::mem::take(keys));
                hashed.insert(key.to_vec());
                *self = InsertedKeys::Hashed(hashed);
            }
            InsertedKeys::Hashed(keys) => {
                keys.insert(key.to_vec());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn ascending_keys_stay_a_run_and_the_first_out_of_order_hashes() {
        let mut keys = InsertedKeys::default();
        for key in [b"a".as_slice(), b"b", b"c"] {
            assert!(!keys.contains(key));
            keys.insert(key);
        }
        assert!(matches!(keys, InsertedKeys::Ascending(_)));
        assert!(keys.contains(b"b"), "a key inside the run is found by search");
        assert!(!keys.contains(b"bb"));
        keys.insert(b"bb");
        assert!(matches!(keys, InsertedKeys::Hashed(_)));
        for key in [b"a".as_slice(), b"b", b"bb", b"c"] {
            assert!(keys.contains(key));
        }
    }

    proptest! {
        /// Whatever the order, it answers as a plain set of the keys would;
        /// the keys come sorted up to `sorted`, as a bulk load's do, then in
        /// any order.
        #[test]
        fn answers_as_a_set_does(
            mut ops in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..4), 0..64),
            sorted in 0usize..64,
        ) {
            let sorted = sorted.min(ops.len());
            ops[..sorted].sort();
            let mut keys = InsertedKeys::default();
            let mut model = HashSet::new();
            for key in ops {
                prop_assert_eq!(keys.contains(&key), model.contains(&key));
                if model.insert(key.clone()) {
                    keys.insert(&key);
                }
            }
            for key in &model {
                prop_assert!(keys.contains(key));
            }
        }
    }
}
