//! How values are stored outside the process (Redis, custom backends): the codec, optional
//! compression, optional encryption or authentication, and the frame that says which were
//! used. The memory backend keeps values typed and never encodes them.
//!
//! # What a stored value looks like
//!
//! - **JSON without compression or protection** (the default): the JSON text itself, readable
//!   in `redis-cli`.
//! - **Anything else**: a frame. Byte 0 is `0x01` (no JSON text starts with it), byte 1 the
//!   codec (`1` JSON, `2` MessagePack, `3` postcard), byte 2 the flags (`1` LZ4-compressed,
//!   `2` encrypted, `4` authenticated). An encrypted value goes on with the 4-byte id of its
//!   key, a 24-byte nonce, and the XChaCha20-Poly1305 ciphertext; an authenticated one with
//!   the key id, a 32-byte keyed-blake3 tag, and the payload; other frames with the payload.
//!   Encryption and the tag cover the header and the Redis key the value is stored under.
//!
//! A value written in another codec than the cache's, without the protection the cache
//! requires, or that fails authentication, is a miss (logged and counted), never served.
//!
//! # Exact round trips
//!
//! Every value accepted comes back equal to what was stored, or is refused by `set` with an
//! error naming its type: JSON cannot hold a NaN or an infinity, and neither JSON nor
//! MessagePack tells `Some(None)` (or `Some(())`) from `None`, so such values are refused in
//! those codecs (postcard keeps them all). A probe that writes nothing checks for them, run
//! only when the encoding wrote a null (JSON) or on a codec that needs it.

mod compress;
mod exact;
mod faithful;
mod keys;
mod protect;

use std::fmt;
use std::io;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::ser::{CompactFormatter, Formatter};

use crate::outcome::Lookup;

pub use keys::{KeyError, ValueKeys};

/// The first byte of a framed value.
const FRAME: u8 = 0x01;
/// The frame's flags.
const LZ4: u8 = 1;
const ENCRYPTED: u8 = 2;
const AUTHENTICATED: u8 = 4;

/// How values are serialized.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Codec {
    /// JSON (`serde_json`): readable in `redis-cli`; the default.
    #[default]
    Json,
    /// MessagePack (`rmp-serde`): compact, self-describing.
    MessagePack,
    /// postcard: the most compact; not self-describing, so types that need
    /// `deserialize_any` (untagged enums, `serde_json::Value`) cannot be read back.
    Postcard,
}

impl Codec {
    /// The codec named `name` in configuration: `json`, `msgpack` or `postcard`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "json" => Some(Codec::Json),
            "msgpack" | "messagepack" => Some(Codec::MessagePack),
            "postcard" => Some(Codec::Postcard),
            _ => None,
        }
    }

    /// The codec's bytes for `value`. MessagePack writes structs as maps (field names
    /// included), so that what reads through `deserialize_any` (untagged and internally
    /// tagged enums, `flatten`) and structs with skipped fields read back.
    fn write<T: ?Sized + Serialize>(self, value: &T) -> Result<Vec<u8>, String> {
        match self {
            Codec::Json => serde_json::to_vec(value).map_err(|e| e.to_string()),
            Codec::MessagePack => rmp_serde::to_vec_named(value).map_err(|e| e.to_string()),
            Codec::Postcard => postcard::to_allocvec(value).map_err(|e| e.to_string()),
        }
    }

    /// The value the codec's `bytes` hold.
    fn read<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, DecodeError> {
        match self {
            Codec::Json => serde_json::from_slice(bytes).map_err(DecodeError::new),
            Codec::MessagePack => rmp_serde::from_slice(bytes).map_err(DecodeError::new),
            Codec::Postcard => postcard::from_bytes(bytes).map_err(DecodeError::new),
        }
    }

    fn id(self) -> u8 {
        match self {
            Codec::Json => 1,
            Codec::MessagePack => 2,
            Codec::Postcard => 3,
        }
    }
}

/// Protection of values at rest.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum Protection {
    /// None: anyone who can read Redis reads the values, and can write them.
    #[default]
    None,
    /// XChaCha20-Poly1305 with these keys: unreadable and unforgeable without them.
    Encrypt(ValueKeys),
    /// A keyed blake3 MAC with these keys: readable, unforgeable without them.
    Authenticate(ValueKeys),
}

/// Why a value was not stored: it cannot be encoded, or would not read back as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError(String);

impl EncodeError {
    pub(crate) fn new(message: impl fmt::Display) -> Self {
        Self(message.to_string())
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EncodeError {}

/// Why stored bytes were not read as a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(String);

impl DecodeError {
    pub(crate) fn new(message: impl fmt::Display) -> Self {
        Self(message.to_string())
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

/// The form a cache stores its values in: a codec, compression above a size, protection.
/// Built from the cache's configuration; usable on its own to read or write values the way
/// a cache does.
///
/// # Example
///
/// ```
/// use cached_core::codec::{Codec, Protection, ValueFormat, ValueKeys};
///
/// let format = ValueFormat::new(Codec::MessagePack)
///     .compress_above(1024)
///     .protect(Protection::Encrypt(ValueKeys::new([7; 32])));
/// let bytes = format.encode(b"user:1", &vec!["Ada".to_string(); 3]).unwrap();
/// let back: Vec<String> = format.decode(b"user:1", &bytes).unwrap();
/// assert_eq!(back, ["Ada", "Ada", "Ada"]);
/// assert!(format.decode::<Vec<String>>(b"user:2", &bytes).is_err(), "bound to its key");
/// ```
#[derive(Clone, Debug, Default)]
pub struct ValueFormat {
    codec: Codec,
    compress_above: Option<usize>,
    protection: Protection,
}

impl ValueFormat {
    /// Values in `codec`, uncompressed and unprotected.
    pub fn new(codec: Codec) -> Self {
        Self {
            codec,
            ..Self::default()
        }
    }

    /// Compresses (LZ4) values whose encoding is longer than `bytes`.
    pub fn compress_above(mut self, bytes: usize) -> Self {
        self.compress_above = Some(bytes);
        self
    }

    /// Encrypts or authenticates every value.
    pub fn protect(mut self, protection: Protection) -> Self {
        self.protection = protection;
        self
    }

    /// Whether values are protected (then counters, stored as Redis integers, cannot be).
    pub fn is_protected(&self) -> bool {
        !matches!(self.protection, Protection::None)
    }

    /// The bytes stored for `value` under `key` (the key as stored, prefix included), or an
    /// error naming the value's type when the codec cannot write it, or could not read it
    /// back equal (read back as `T::Owned` and compared; see the module documentation).
    pub fn encode<T>(&self, key: &[u8], value: &T) -> Result<Vec<u8>, EncodeError>
    where
        T: ?Sized + Serialize + ToOwned,
        T::Owned: Serialize + DeserializeOwned,
    {
        let refuse = |error: &dyn fmt::Display| {
            EncodeError(format!("{}: {error}", std::any::type_name::<T>()))
        };
        let payload = match self.codec {
            Codec::Json => {
                let mut bytes = Vec::with_capacity(128);
                let mut formatter = NullSpy { nulls: false };
                value
                    .serialize(&mut serde_json::Serializer::with_formatter(
                        &mut bytes,
                        &mut formatter,
                    ))
                    .map_err(|e| refuse(&e))?;
                if formatter.nulls {
                    faithful::check(value, true).map_err(|e| refuse(&e))?;
                }
                bytes
            }
            Codec::MessagePack => {
                faithful::check(value, false).map_err(|e| refuse(&e))?;
                self.codec.write(value).map_err(|e| refuse(&e))?
            }
            Codec::Postcard => self.codec.write(value).map_err(|e| refuse(&e))?,
        };
        exact::check(self.codec, value, &payload).map_err(|e| refuse(&e))?;
        let compress = self
            .compress_above
            .is_some_and(|above| payload.len() > above);
        if self.codec == Codec::Json && !compress && !self.is_protected() {
            return Ok(payload);
        }
        let payload = if compress {
            compress::compress(&payload)
        } else {
            payload
        };
        let flags = (u8::from(compress) * LZ4)
            | match self.protection {
                Protection::None => 0,
                Protection::Encrypt(_) => ENCRYPTED,
                Protection::Authenticate(_) => AUTHENTICATED,
            };
        let mut header = vec![FRAME, self.codec.id(), flags];
        Ok(match &self.protection {
            Protection::None => {
                header.extend_from_slice(&payload);
                header
            }
            Protection::Encrypt(keys) => {
                header.extend_from_slice(&keys.current().id);
                let (_, nonce, sealed) = protect::encrypt(keys, &header, key, &payload);
                header.extend_from_slice(&nonce);
                header.extend_from_slice(&sealed);
                header
            }
            Protection::Authenticate(keys) => {
                header.extend_from_slice(&keys.current().id);
                let (_, tag) = protect::sign(keys, &header, key, &payload);
                header.extend_from_slice(&tag);
                header.extend_from_slice(&payload);
                header
            }
        })
    }

    /// The value stored as `bytes` under `key`.
    pub fn decode<T: DeserializeOwned>(&self, key: &[u8], bytes: &[u8]) -> Result<T, DecodeError> {
        let Some((&FRAME, framed)) = bytes.split_first() else {
            if self.codec != Codec::Json || self.is_protected() {
                return Err(DecodeError::new(
                    "the value is plain JSON, which this cache does not accept (it was written \
                     without the cache's codec or protection)",
                ));
            }
            return serde_json::from_slice(bytes).map_err(DecodeError::new);
        };
        let [codec, flags, rest @ ..] = framed else {
            return Err(DecodeError::new("a frame too short for its header"));
        };
        if *codec != self.codec.id() {
            return Err(DecodeError::new(format!(
                "the value was written in codec {codec}, not this cache's ({:?})",
                self.codec
            )));
        }
        let payload = self.unprotect(key, &bytes[..3], *flags, rest)?;
        let payload = if flags & LZ4 != 0 {
            compress::decompress(&payload).ok_or_else(|| DecodeError::new("a corrupt LZ4 block"))?
        } else {
            payload
        };
        self.codec.read(&payload)
    }

    /// The payload of a frame whose header is `head` (3 bytes) and whose rest is `rest`,
    /// checked against the cache's protection.
    fn unprotect(
        &self,
        key: &[u8],
        head: &[u8],
        flags: u8,
        rest: &[u8],
    ) -> Result<Vec<u8>, DecodeError> {
        let protected = flags & (ENCRYPTED | AUTHENTICATED);
        match (&self.protection, protected) {
            (Protection::None, 0) => Ok(rest.to_vec()),
            (Protection::None, _) => Err(DecodeError::new(
                "the value is protected, and this cache has no keys",
            )),
            (Protection::Encrypt(keys), ENCRYPTED) => {
                let (id, rest) = rest
                    .split_first_chunk::<4>()
                    .ok_or_else(|| DecodeError::new("a truncated encrypted value"))?;
                let (nonce, sealed) = rest
                    .split_first_chunk::<{ protect::NONCE_LEN }>()
                    .ok_or_else(|| DecodeError::new("a truncated encrypted value"))?;
                let header = [head, id].concat();
                protect::decrypt(keys, *id, nonce, &header, key, sealed).ok_or_else(|| {
                    DecodeError::new("the value does not decrypt with the cache's keys (tampered, moved from another key, or written with an unknown key)")
                })
            }
            (Protection::Authenticate(keys), AUTHENTICATED) => {
                let (id, rest) = rest
                    .split_first_chunk::<4>()
                    .ok_or_else(|| DecodeError::new("a truncated authenticated value"))?;
                let (tag, payload) = rest
                    .split_first_chunk::<{ protect::TAG_LEN }>()
                    .ok_or_else(|| DecodeError::new("a truncated authenticated value"))?;
                let header = [head, id].concat();
                if protect::verify(keys, *id, tag, &header, key, payload) {
                    Ok(payload.to_vec())
                } else {
                    Err(DecodeError::new(
                        "the value does not authenticate with the cache's keys (tampered, moved from another key, or written with an unknown key)",
                    ))
                }
            }
            (_, _) => Err(DecodeError::new(
                "the value lacks the protection this cache requires",
            )),
        }
    }

    /// [`decode`](Self::decode) as a read: absent, a value, or undecodable.
    pub(crate) fn lookup<T: DeserializeOwned>(
        &self,
        key: &[u8],
        bytes: Option<&[u8]>,
    ) -> Lookup<T> {
        match bytes {
            None => Lookup::Miss,
            Some(bytes) => match self.decode(key, bytes) {
                Ok(value) => Lookup::Hit(value),
                Err(error) => Lookup::Undecodable(error),
            },
        }
    }
}

/// The bytes of a lock's token: plain JSON whatever the cache's format, since a release
/// compares bytes (an encryption's random nonce would never compare equal) and a token
/// holds nothing secret.
pub(crate) fn token(token: &str) -> Vec<u8> {
    serde_json::to_vec(token).expect("a string always serializes")
}

/// Compact JSON that notes whether it wrote a `null`, which a non-finite float and a
/// `Some(None)` become: only then is the value probed for them.
struct NullSpy {
    nulls: bool,
}

impl Formatter for &mut NullSpy {
    fn write_null<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.nulls = true;
        CompactFormatter.write_null(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Serialize + DeserializeOwned + Clone>(format: &ValueFormat, value: &T) -> T {
        format
            .decode(b"k", &format.encode(b"k", value).unwrap())
            .unwrap()
    }

    fn formats() -> Vec<ValueFormat> {
        let keys = ValueKeys::new([3; 32]);
        let mut formats = Vec::new();
        for codec in [Codec::Json, Codec::MessagePack, Codec::Postcard] {
            for protection in [
                Protection::None,
                Protection::Encrypt(keys.clone()),
                Protection::Authenticate(keys.clone()),
            ] {
                formats.push(ValueFormat::new(codec).protect(protection.clone()));
                formats.push(
                    ValueFormat::new(codec)
                        .compress_above(8)
                        .protect(protection),
                );
            }
        }
        formats
    }

    #[test]
    fn every_format_round_trips_and_json_alone_stays_plain() {
        for format in formats() {
            let value = vec!["some text".repeat(5), String::new()];
            assert_eq!(round_trip(&format, &value), value, "{format:?}");
            assert_eq!(
                round_trip(&format, &-9.052201222054326e232_f64).to_bits(),
                (-9.052201222054326e232_f64).to_bits()
            );
        }
        assert_eq!(
            ValueFormat::default().encode(b"k", &[1, 2]).unwrap(),
            b"[1,2]"
        );
    }

    #[test]
    fn values_json_or_msgpack_cannot_hold_are_refused_naming_the_type() {
        let json = ValueFormat::new(Codec::Json);
        let msgpack = ValueFormat::new(Codec::MessagePack);
        let postcard = ValueFormat::new(Codec::Postcard);
        let error = json.encode(b"k", &Some(f64::NAN)).unwrap_err().to_string();
        assert!(
            error.contains("core::option::Option<f64>") && error.contains("NaN"),
            "{error}"
        );
        assert!(json.encode(b"k", &vec![1.0, f64::INFINITY]).is_err());
        assert!(
            round_trip(&msgpack, &f64::NAN).is_nan(),
            "MessagePack keeps NaN"
        );
        for format in [&json, &msgpack] {
            assert!(format.encode(b"k", &Some(None::<u8>)).is_err());
            assert!(format.encode(b"k", &Some(())).is_err());
            assert_eq!(round_trip(format, &Some(Some(1_u8))), Some(Some(1)));
            assert_eq!(round_trip(format, &None::<Option<u8>>), None);
        }
        assert_eq!(round_trip(&postcard, &Some(None::<u8>)), Some(None));
        assert_eq!(json.encode(b"k", &None::<f64>).unwrap(), b"null");
    }

    #[test]
    fn protected_values_are_bound_to_their_key_and_keys_rotate() {
        let old = ValueKeys::new([1; 32]);
        let rotated = ValueKeys::new([2; 32]).with_previous([1; 32]);
        for protect in [
            Protection::Encrypt as fn(ValueKeys) -> Protection,
            Protection::Authenticate,
        ] {
            let before = ValueFormat::new(Codec::Json).protect(protect(old.clone()));
            let after = ValueFormat::new(Codec::Json).protect(protect(rotated.clone()));
            let bytes = before.encode(b"user:1", "Ada").unwrap();
            assert_eq!(
                after.decode::<String>(b"user:1", &bytes).unwrap(),
                "Ada",
                "the old key reads"
            );
            assert!(
                after.decode::<String>(b"user:2", &bytes).is_err(),
                "moved to another key"
            );
            let mut tampered = bytes.clone();
            *tampered.last_mut().unwrap() ^= 1;
            assert!(after.decode::<String>(b"user:1", &tampered).is_err());
            let new = after.encode(b"user:1", "Ada").unwrap();
            assert!(
                before.decode::<String>(b"user:1", &new).is_err(),
                "written with the new key"
            );
            assert!(
                after.decode::<String>(b"user:1", b"\"Ada\"").is_err(),
                "plain JSON refused"
            );
            assert!(
                ValueFormat::default()
                    .decode::<String>(b"user:1", &new)
                    .is_err()
            );
        }
        let encrypted = ValueFormat::new(Codec::Json).protect(Protection::Encrypt(old.clone()));
        let bytes = encrypted.encode(b"k", "secret text").unwrap();
        assert!(!bytes.windows(6).any(|w| w == b"secret"), "unreadable");
        let authenticated = ValueFormat::new(Codec::Json).protect(Protection::Authenticate(old));
        let bytes = authenticated.encode(b"k", "readable text").unwrap();
        assert!(bytes.windows(8).any(|w| w == b"readable"), "readable");
    }

    #[test]
    fn values_in_another_codec_or_corrupt_are_errors_not_panics() {
        let msgpack = ValueFormat::new(Codec::MessagePack);
        let json = ValueFormat::new(Codec::Json);
        let bytes = msgpack.encode(b"k", &7_u32).unwrap();
        assert!(json.decode::<u32>(b"k", &bytes).is_err());
        assert!(msgpack.decode::<u32>(b"k", b"7").is_err());
        for garbage in [
            &b""[..],
            b"\x01",
            b"\x01\x02",
            b"\x01\x02\x01\xff\xff\xff\xff",
            b"\x01\x01\x02abc",
        ] {
            let _ = msgpack.decode::<u32>(b"k", garbage);
            let _ = json.decode::<u32>(b"k", garbage);
        }
    }
}
