//! Tags that survive eviction. Redis evicts any key under memory pressure (`allkeys-lru`),
//! a tag's own key included, and a tag whose key is gone can no longer name its entries to
//! `delete_tags`. So each tag has a version, created with its key, and an entry joined to
//! tags is stored with the version each had when it joined: a read that finds a tag whose
//! version differs (the tag was invalidated, or its key evicted and made anew) or is gone
//! takes the entry as absent, and removes it. A tag's invalidation thus holds whatever
//! Redis evicted: `delete_tags` removes the entries it can name, and the others read as
//! misses.
//!
//! An entry with versions starts with a byte no other stored value starts with (`0x02`:
//! JSON text and the codec's frames never do, lease markers start with NUL), then the
//! number of tags, then per tag its name's length (two bytes, big-endian), the name, the
//! version's length (one byte) and the version; then the value as the codec wrote it.
//!
//! On one server, a cache that has met a tagged entry reads every key with one script that
//! checks the versions (`READ_TAGGED`): a tagged hit stays one round trip. Before that, and
//! on a cluster (where a tag lives in another slot than its entries), a read that finds a
//! tagged entry asks for its tags' versions in a second round trip.

use super::RedisStore;
use crate::error::BackendError;
use crate::outcome::Joined;

/// The first byte of an entry stored with tag versions.
const TAGGED: u8 = 0x02;

/// The field of a tag's hash that holds its version (its members' fields start with `:`).
const VERSION_FIELD: &str = "v";

/// `payload` stored with the versions of `joined`; as it is without tags.
pub(super) fn frame(joined: &Joined, payload: Vec<u8>) -> Vec<u8> {
    if joined.versions.is_empty() {
        return payload;
    }
    let mut bytes = Vec::with_capacity(payload.len() + 64);
    bytes.push(TAGGED);
    bytes.push(joined.versions.len().min(255) as u8);
    for (tag, version) in joined.versions.iter().take(255) {
        let tag = &tag.as_bytes()[..tag.len().min(u16::MAX.into())];
        bytes.extend_from_slice(&(tag.len() as u16).to_be_bytes());
        bytes.extend_from_slice(tag);
        let version = &version.as_bytes()[..version.len().min(255)];
        bytes.push(version.len() as u8);
        bytes.extend_from_slice(version);
    }
    bytes.extend_from_slice(&payload);
    bytes
}

/// An entry as read: its tags' names and versions, and the value the codec wrote.
pub(super) struct Tagged<'a> {
    pub(super) versions: Vec<(&'a [u8], &'a [u8])>,
    pub(super) payload: &'a [u8],
}

/// `bytes` split into versions and payload: `None` for an entry without tags, `Some(Err)`
/// for one whose header is cut short.
pub(super) fn split(bytes: &[u8]) -> Option<Result<Tagged<'_>, ()>> {
    let rest = bytes.strip_prefix(&[TAGGED])?;
    Some(parse(rest))
}

fn parse(bytes: &[u8]) -> Result<Tagged<'_>, ()> {
    let (&count, mut rest) = bytes.split_first().ok_or(())?;
    let mut versions = Vec::with_capacity(count.into());
    for _ in 0..count {
        let (length, after) = rest.split_first_chunk::<2>().ok_or(())?;
        let length = usize::from(u16::from_be_bytes(*length));
        let (tag, after) = after.split_at_checked(length).ok_or(())?;
        let (&size, after) = after.split_first().ok_or(())?;
        let (version, after) = after.split_at_checked(size.into()).ok_or(())?;
        versions.push((tag, version));
        rest = after;
    }
    Ok(Tagged {
        versions,
        payload: rest,
    })
}

impl RedisStore {
    /// Whether `tagged`, read at `key` (unprefixed) as `bytes`, still holds: every tag has
    /// the version it was stored with. An entry that does not is removed (only while it
    /// holds `bytes`), so that `exists` and `ttl` agree with reads. One round trip per
    /// hash slot the tags live in, and one more for the removal.
    pub(super) async fn still_tagged(
        &self,
        key: &str,
        bytes: &[u8],
        tagged: &Tagged<'_>,
    ) -> Result<bool, BackendError> {
        self.note_tags();
        let tag_keys: Vec<String> = tagged
            .versions
            .iter()
            .map(|(tag, _)| {
                self.key(&super::tags::tag_key(&String::from_utf8_lossy(tag)))
                    .into_owned()
            })
            .collect();
        let mut held = true;
        for (slot, group) in self.by_slot(tag_keys.iter().map(String::as_bytes)) {
            let mut pipe = redis::pipe();
            for tag in &group {
                pipe.cmd("HGET").arg(*tag).arg(VERSION_FIELD);
            }
            let pipe = &pipe;
            let versions: Vec<Option<Vec<u8>>> = self
                .call(slot.via(), |mut conn| async move {
                    pipe.query_async(&mut conn).await
                })
                .await
                .map_err(|failure| self.backend_error(failure))?;
            for (tag, version) in group.iter().zip(versions) {
                let position = tag_keys.iter().position(|key| key.as_bytes() == *tag);
                let expected = position.map(|at| tagged.versions[at].1);
                if version.as_deref() != expected {
                    held = false;
                }
            }
        }
        if !held {
            self.delete_if_equals(key, bytes).await?;
        }
        Ok(held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_frame_and_split_back() {
        let joined = Joined {
            versions: vec![
                ("user:1".into(), "v1".into()),
                ("posts".into(), "a-longer-version".into()),
            ],
            youngest: None,
        };
        let bytes = frame(&joined, b"{\"a\":1}".to_vec());
        let tagged = split(&bytes).unwrap().unwrap();
        assert_eq!(
            tagged.versions,
            [
                (&b"user:1"[..], &b"v1"[..]),
                (&b"posts"[..], &b"a-longer-version"[..])
            ]
        );
        assert_eq!(tagged.payload, b"{\"a\":1}");
        assert!(split(b"{\"a\":1}").is_none(), "JSON is never tagged");
        assert!(split(b"\x01\x01\x00").is_none(), "nor a codec frame");
        assert!(split(b"\0cached:lease:x").is_none(), "nor a lease");
        assert_eq!(
            frame(&Joined::default(), b"[]".to_vec()),
            b"[]",
            "no tags, no header"
        );
        for cut in 1..bytes.len() - 7 {
            assert!(split(&bytes[..cut]).unwrap().is_err(), "cut at {cut}");
        }
    }
}
