//! The byte form of values for Redis and custom backends: JSON through `serde_json` (the
//! design's codec). The memory backend keeps values typed and never encodes them.
//!
//! A value JSON cannot hold is refused rather than changed: a NaN or an infinity (which
//! `serde_json` would write as `null`) makes [`encode`] fail, naming the type.

mod finite;

use std::io;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde::ser::Error as _;
use serde_json::ser::{CompactFormatter, Formatter};

use crate::outcome::Lookup;

/// The bytes stored for `value`; an error for a value whose JSON would not read back as it.
pub(crate) fn encode<T: ?Sized + Serialize>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(128);
    let mut formatter = NullSpy { nulls: false };
    value.serialize(&mut serde_json::Serializer::with_formatter(
        &mut bytes,
        &mut formatter,
    ))?;
    if formatter.nulls
        && let Err(error) = finite::check(value)
    {
        return Err(serde_json::Error::custom(format_args!(
            "{}: {error}",
            std::any::type_name::<T>()
        )));
    }
    Ok(bytes)
}

/// Compact JSON that notes whether it wrote a `null`, which a non-finite float becomes: only
/// then is the value probed for one.
struct NullSpy {
    nulls: bool,
}

impl Formatter for &mut NullSpy {
    fn write_null<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.nulls = true;
        CompactFormatter.write_null(writer)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Serialize + DeserializeOwned>(value: &T) -> T {
        match decode(&encode(value).unwrap()) {
            Lookup::Hit(value) => value,
            _ => panic!("does not decode"),
        }
    }

    #[test]
    fn non_finite_floats_are_refused_naming_the_type() {
        let error = encode(&Some(f64::NAN)).unwrap_err().to_string();
        assert!(error.contains("core::option::Option<f64>"), "{error}");
        assert!(error.contains("NaN"), "{error}");
        assert!(encode(&vec![1.0, f64::INFINITY]).is_err());
        assert_eq!(encode(&None::<f64>).unwrap(), b"null");
        assert_eq!(round_trip(&Some(0.5_f64)), Some(0.5));
    }

    #[test]
    fn floats_come_back_exactly() {
        for value in [
            -9.052201222054326e232,
            0.1,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ] {
            assert_eq!(round_trip(&value).to_bits(), value.to_bits(), "{value:e}");
        }
    }
}
