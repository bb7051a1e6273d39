//! The secret keys that protect values at rest: one to write with, any number of older ones
//! still accepted for reading, so that keys rotate without a flush. Each value names the key
//! it was written with by a 4-byte id derived from the key (never the key itself), and no
//! key is ever logged: [`ValueKeys`] prints only the ids.

use std::fmt;

/// A key's id, as written in the values it protects.
pub(crate) type KeyId = [u8; 4];

/// One 256-bit key and its id.
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) id: KeyId,
    pub(crate) secret: [u8; 32],
}

impl Key {
    fn new(secret: [u8; 32]) -> Self {
        let derived = blake3::derive_key("cached-core value key id", &secret);
        Self {
            id: [derived[0], derived[1], derived[2], derived[3]],
            secret,
        }
    }
}

/// The keys of a cache whose values are encrypted or authenticated: the current key writes,
/// it and the previous ones read.
///
/// # Example
///
/// ```
/// use cached_core::codec::ValueKeys;
///
/// let keys = ValueKeys::from_hex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
///     .unwrap()
///     .with_previous([7_u8; 32]);
/// assert_eq!(keys.ids().len(), 2);
/// // Keys are never printed:
/// assert!(!format!("{keys:?}").contains("0011"));
/// ```
#[derive(Clone)]
pub struct ValueKeys {
    current: Key,
    previous: Vec<Key>,
}

impl fmt::Debug for ValueKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValueKeys")
            .field("ids", &self.ids())
            .finish_non_exhaustive()
    }
}

/// Why key material was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

impl ValueKeys {
    /// Keys writing (and reading) with `current`, 32 random bytes.
    pub fn new(current: [u8; 32]) -> Self {
        Self {
            current: Key::new(current),
            previous: Vec::new(),
        }
    }

    /// Also reads values written with `previous` (a key being rotated out).
    pub fn with_previous(mut self, previous: [u8; 32]) -> Self {
        self.previous.push(Key::new(previous));
        self
    }

    /// Keys from text: 64 hexadecimal digits, or 32 bytes in base64 (as `openssl rand
    /// -base64 32` prints them).
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        parse_key(text).map(Self::new)
    }

    /// Keys from 64 hexadecimal digits.
    pub fn from_hex(hex: &str) -> Result<Self, KeyError> {
        Self::from_text(hex)
    }

    /// The key held by the environment variable `name` (see [`from_text`](Self::from_text)).
    pub fn from_env(name: &str) -> Result<Self, KeyError> {
        parse_key(&env_key(name)?).map(Self::new)
    }

    /// Also reads values written with the key held by the environment variable `name`.
    pub fn with_previous_env(self, name: &str) -> Result<Self, KeyError> {
        Ok(self.with_previous(parse_key(&env_key(name)?)?))
    }

    /// The ids of the keys, the current one first: what values name, never the keys.
    pub fn ids(&self) -> Vec<String> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .map(|key| key.id.iter().map(|b| format!("{b:02x}")).collect())
            .collect()
    }

    pub(crate) fn current(&self) -> &Key {
        &self.current
    }

    /// The key a value names by `id`.
    pub(crate) fn find(&self, id: KeyId) -> Option<&Key> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == id)
    }
}

fn env_key(name: &str) -> Result<String, KeyError> {
    std::env::var(name)
        .map_err(|_| KeyError(format!("the environment variable `{name}` holds no key")))
}

fn parse_key(text: &str) -> Result<[u8; 32], KeyError> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| KeyError("not hexadecimal".to_owned()))?
    } else {
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text).map_err(|_| {
            KeyError(
                "a key is 64 hexadecimal digits or 32 bytes in base64 (openssl rand -base64 32)"
                    .to_owned(),
            )
        })?
    };
    bytes
        .try_into()
        .map_err(|bytes: Vec<u8>| KeyError(format!("a key is 32 bytes, not {}", bytes.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_from_hex_and_base64_and_named_by_id_only() {
        let hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
        let from_hex = ValueKeys::from_text(hex).unwrap();
        let from_base64 =
            ValueKeys::from_text("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
        assert_eq!(from_hex.current().secret, from_base64.current().secret);
        assert_eq!(from_hex.ids(), from_base64.ids());
        assert!(ValueKeys::from_text("short").is_err());
        assert!(ValueKeys::from_text(&"0".repeat(62)).is_err());
        let rotated = ValueKeys::new([9; 32]).with_previous([1; 32]);
        let old = Key::new([1; 32]);
        assert_eq!(rotated.find(old.id).unwrap().secret, [1; 32]);
        assert!(rotated.find([0; 4]).is_none() || Key::new([9; 32]).id == [0; 4]);
        assert!(!format!("{rotated:?}").contains("9, 9"));
    }
}
