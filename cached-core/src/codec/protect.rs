//! Protection at rest: XChaCha20-Poly1305 encryption (RustCrypto), or a keyed blake3 MAC
//! for values that must stay readable. Both bind a value to the Redis key it is stored under
//! and to its frame header, so that a value copied to another key, or a header changed,
//! does not authenticate.

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::keys::{Key, KeyId, ValueKeys};

/// The length of an XChaCha20 nonce.
pub(super) const NONCE_LEN: usize = 24;
/// The length of a blake3 MAC.
pub(super) const TAG_LEN: usize = 32;

/// What is authenticated beside the payload: the header, then the key it is stored under.
fn associated(header: &[u8], key: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(header.len() + 8 + key.len());
    data.extend_from_slice(header);
    data.extend_from_slice(&(key.len() as u64).to_le_bytes());
    data.extend_from_slice(key);
    data
}

/// Encrypts `payload` with the current key; returns the key's id, the nonce and the
/// ciphertext (with its tag).
pub(super) fn encrypt(
    keys: &ValueKeys,
    header: &[u8],
    key: &[u8],
    payload: &[u8],
) -> (KeyId, [u8; NONCE_LEN], Vec<u8>) {
    let current = keys.current();
    let cipher = XChaCha20Poly1305::new(&current.secret.into());
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let aad = associated(header, key);
    let sealed = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: payload,
                aad: &aad,
            },
        )
        .expect("XChaCha20-Poly1305 encrypts any payload that fits in memory");
    (current.id, nonce.into(), sealed)
}

/// The payload of a value encrypted with the key named `id`; `None` when no such key is
/// known or the value does not authenticate.
pub(super) fn decrypt(
    keys: &ValueKeys,
    id: KeyId,
    nonce: &[u8; NONCE_LEN],
    header: &[u8],
    key: &[u8],
    sealed: &[u8],
) -> Option<Vec<u8>> {
    let Key { secret, .. } = keys.find(id)?;
    let cipher = XChaCha20Poly1305::new(&(*secret).into());
    let aad = associated(header, key);
    cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: &aad,
            },
        )
        .ok()
}

/// The MAC of `payload` under the current key, and that key's id.
pub(super) fn sign(
    keys: &ValueKeys,
    header: &[u8],
    key: &[u8],
    payload: &[u8],
) -> (KeyId, [u8; TAG_LEN]) {
    let current = keys.current();
    (current.id, mac(&current.secret, header, key, payload))
}

/// Whether `tag` is the MAC of `payload` under the key named `id`.
pub(super) fn verify(
    keys: &ValueKeys,
    id: KeyId,
    tag: &[u8; TAG_LEN],
    header: &[u8],
    key: &[u8],
    payload: &[u8],
) -> bool {
    keys.find(id).is_some_and(|found| {
        let expected = blake3::Hash::from(mac(&found.secret, header, key, payload));
        // blake3's `Hash` compares in constant time.
        expected == blake3::Hash::from(*tag)
    })
}

fn mac(secret: &[u8; 32], header: &[u8], key: &[u8], payload: &[u8]) -> [u8; TAG_LEN] {
    let mut hasher = blake3::Hasher::new_keyed(secret);
    hasher.update(&associated(header, key));
    hasher.update(payload);
    *hasher.finalize().as_bytes()
}
