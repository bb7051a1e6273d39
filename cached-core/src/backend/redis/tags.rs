//! Tags on Redis: each tag is a hash in a key of its own (so that it lives in one hash slot on
//! a cluster) holding the keys it names and its version, kept at least as long as the
//! entries it names.
//!
//! A load adds its key to its tags before it claims the key, and `delete_tags` takes a tag
//! whole (read and removed in one script) and unlinks its keys. So a tag invalidation
//! reaches every load that began before it (its lease goes with the key), and costs work in
//! proportion to the keys the tag names, never a scan of the keyspace. Entries are stored
//! with their tags' versions (see `versions.rs`), so that a tag whose key Redis evicted, and
//! which therefore names nothing, still invalidates them.

use std::time::Duration;

use super::{RedisStore, scripts, ttl_millis};
use crate::error::BackendError;
use crate::outcome::Joined;
use crate::token::new_token;

/// What every tag's key starts with (after the cache's prefix): a NUL byte, as for lease
/// markers, so that no key the application renders collides with it.
pub(super) const TAG_PREFIX: &str = "\0cached:tag:";

impl RedisStore {
    /// Adds `key` to each of `tags`, each kept for at least `ttl`: one script per hash slot
    /// the tags live in (one in all on a single server). Returns the version of each tag,
    /// which the entry is stored with, and the age of the youngest.
    pub(crate) async fn tag(
        &self,
        key: &str,
        tags: &[String],
        ttl: Duration,
    ) -> Result<Joined, BackendError> {
        let ttl = ttl_millis(ttl);
        let version = new_token();
        let keys: Vec<String> = tags
            .iter()
            .map(|tag| self.key(&tag_key(tag)).into_owned())
            .collect();
        let mut joined = Joined::default();
        for (slot, group) in self.by_slot(keys.iter().map(|key| key.as_bytes())) {
            let replies = match self.join(slot, &group, key, ttl, &version).await {
                Err(error) if group.len() > 1 && super::is_split(&error) => {
                    // The slot is being migrated with the tags split between two nodes:
                    // each tag alone goes to the node that holds it.
                    let mut replies = Vec::with_capacity(group.len());
                    for tag in &group {
                        replies.extend(self.join(slot, &[*tag], key, ttl, &version).await?);
                    }
                    replies
                }
                other => other?,
            };
            for (tag_key, (version, age)) in group.iter().zip(replies) {
                let at = keys.iter().position(|key| key.as_bytes() == *tag_key);
                let tag = at.map_or_else(String::new, |at| tags[at].clone());
                joined.versions.push((tag, version));
                let age = Duration::from_micros(age);
                joined.youngest = Some(joined.youngest.map_or(age, |young| young.min(age)));
            }
        }
        Ok(joined)
    }

    /// Adds `key` to the tags `keys` (prefixed, one hash slot): one `TAG` script; each tag's
    /// version (`version` for a tag it creates) and age in microseconds.
    async fn join(
        &self,
        slot: super::Slot,
        keys: &[&[u8]],
        key: &str,
        ttl: u64,
        version: &str,
    ) -> Result<Vec<(String, u64)>, BackendError> {
        let mut invocation = scripts::TAG.prepare_invoke();
        for tag in keys {
            invocation.key(*tag);
        }
        invocation.arg(key).arg(ttl).arg(version);
        let invocation = &invocation;
        self.call(slot.via(), |mut conn| async move {
            invocation
                .invoke_async::<Vec<(String, u64)>>(&mut conn)
                .await
        })
        .await
        .map_err(|failure| self.backend_error(failure))
    }

    /// The keys `tag` names, the tag replaced by a tombstone as they are read (see
    /// `TAKE_TAG`).
    pub(crate) async fn take_tag(&self, tag: &str) -> Result<Vec<String>, BackendError> {
        let version = new_token();
        let tombstone = ttl_millis(self.leases.ttl);
        self.script::<Vec<String>>(&scripts::TAKE_TAG, &tag_key(tag), |invocation| {
            invocation.arg(&version).arg(tombstone);
        })
        .await
    }
}

/// The key of `tag` (under the cache's prefix, as entries are).
pub(super) fn tag_key(tag: &str) -> String {
    let mut key = String::with_capacity(TAG_PREFIX.len() + tag.len());
    key.push_str(TAG_PREFIX);
    key.push_str(tag);
    key
}

#[cfg(test)]
mod tests {
    #[test]
    fn tag_sets_are_bookkeeping_that_patterns_leave_alone() {
        assert!(
            super::TAG_PREFIX
                .as_bytes()
                .starts_with(super::super::INTERNAL)
        );
    }
}
