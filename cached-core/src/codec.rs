//! The byte form of values for Redis and custom backends: JSON through `serde_json` (the
//! design's codec). The memory backend keeps values typed and never encodes them.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::outcome::Lookup;

/// The bytes stored for `value`.
pub(crate) fn encode<T: ?Sized + Serialize>(value: &T) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(value)
}

/// `bytes` read as a `T`; bytes that do not decode are [`Lookup::Undecodable`].
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Lookup<T> {
    match serde_json::from_slice(bytes) {
        Ok(value) => Lookup::Hit(value),
        Err(error) => Lookup::Undecodable(error),
    }
}

/// A value read from a byte store: absent, or decoded.
pub(crate) fn lookup<T: DeserializeOwned>(bytes: Option<&[u8]>) -> Lookup<T> {
    bytes.map_or(Lookup::Miss, decode)
}
