//! Whether a value reads back as it was written. A codec can accept a value that it cannot
//! give back: postcard is not self-describing, so untagged and internally tagged enums,
//! `flatten` and `skip_serializing_if` do not read back; in JSON a field skipped when empty
//! and without `default` is missing on the way back; an untagged enum may read back as
//! another of its variants. So the codec reads every payload it writes back as the value's
//! owned type and compares the two, and `set` refuses what does not come back equal.
//!
//! The comparison is of serializations: the payload written against the one the value read
//! back writes. They differ for values whose serialization is not deterministic (a
//! `HashMap` or `HashSet` iterates in a different order in each instance); those are
//! compared as trees whose maps and sequences are ordered first.

use std::fmt::{self, Display};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Codec;

/// A value that does not read back as it was written.
#[derive(Debug)]
pub(crate) struct NotExact(String);

impl Display for NotExact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `Ok` when `payload`, written by `codec` for `value`, reads back as an equal value.
pub(crate) fn check<T>(codec: Codec, value: &T, payload: &[u8]) -> Result<(), NotExact>
where
    T: ?Sized + Serialize + ToOwned,
    T::Owned: Serialize + DeserializeOwned,
{
    let back: T::Owned = codec.read(payload).map_err(|error| {
        NotExact(format!(
            "it does not read back in {codec:?} ({error}); {}",
            advice(codec)
        ))
    })?;
    if codec.write(&back).is_ok_and(|again| again == payload) {
        return Ok(());
    }
    match (canonical(value), canonical(&back)) {
        (Some(written), Some(read)) if written == read => Ok(()),
        _ => Err(NotExact(format!(
            "it reads back in {codec:?} as another value; {}",
            advice(codec)
        ))),
    }
}

fn advice(codec: Codec) -> &'static str {
    match codec {
        Codec::Postcard => {
            "postcard is not self-describing: use JSON or MessagePack for untagged or \
             internally tagged enums, `flatten` and `skip_serializing_if`"
        }
        Codec::Json | Codec::MessagePack => {
            "give skipped fields `#[serde(default)]`, and untagged enum variants shapes no \
             earlier variant accepts"
        }
    }
}

/// `value` as a tree in which map entries and sequence items are in a fixed order; `None`
/// when it has no such tree (a map with keys other than strings, numbers or booleans).
fn canonical<T: ?Sized + Serialize>(value: &T) -> Option<Value> {
    serde_json::to_value(value).ok().map(ordered)
}

fn ordered(value: Value) -> Value {
    match value {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.into_iter().map(ordered).collect();
            items.sort_by_cached_key(Value::to_string);
            Value::Array(items)
        }
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, ordered(v))).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use serde::Deserialize;

    use super::*;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(untagged)]
    enum Ambiguous {
        Short { id: u8 },
        Long { id: u8, name: String },
    }

    fn exact<T>(codec: Codec, value: &T) -> Result<(), NotExact>
    where
        T: Serialize + DeserializeOwned + Clone,
    {
        check(codec, value, &codec.write(value).unwrap())
    }

    #[test]
    fn a_value_read_back_as_another_variant_is_not_exact() {
        let long = Ambiguous::Long {
            id: 1,
            name: "a".into(),
        };
        for codec in [Codec::Json, Codec::MessagePack] {
            let error = exact(codec, &long).unwrap_err().to_string();
            assert!(error.contains("another value"), "{error}");
            assert!(exact(codec, &Ambiguous::Short { id: 1 }).is_ok());
        }
        assert!(
            exact(Codec::Postcard, &long).is_err(),
            "postcard cannot read it"
        );
    }

    #[test]
    fn hash_maps_and_sets_compare_whatever_their_order() {
        let map: HashMap<String, u32> = (0..50).map(|i| (format!("k{i}"), i)).collect();
        let set: HashSet<u64> = (0..50).collect();
        for codec in [Codec::Json, Codec::MessagePack, Codec::Postcard] {
            assert!(exact(codec, &map).is_ok(), "{codec:?}");
            assert!(exact(codec, &set).is_ok(), "{codec:?}");
        }
    }
}
