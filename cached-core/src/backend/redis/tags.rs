//! Tags on Redis: each tag is a set of the keys it names, in a key of its own (so that it
//! lives in one hash slot on a cluster), kept at least as long as the entries it names.
//!
//! A load adds its key to its tags' sets before it claims the key, and `delete_tags` takes a
//! tag's set whole (read and removed in one script) and unlinks its keys. So a tag
//! invalidation reaches every load that began before it (its lease goes with the key), and
//! costs work in proportion to the keys the tag names, never a scan of the keyspace.

use std::time::Duration;

use super::{RedisStore, scripts, ttl_millis};
use crate::error::BackendError;

/// What every tag's set key starts with (after the cache's prefix): a NUL byte, as for
/// lease markers, so that no key the application renders collides with it.
const TAG_PREFIX: &str = "\0cached:tag:";

impl RedisStore {
    /// Adds `key` to the set of each of `tags`, each kept for at least `ttl`: one script per
    /// hash slot the sets live in (one in all on a single server).
    pub(crate) async fn tag(
        &self,
        key: &str,
        tags: &[String],
        ttl: Duration,
    ) -> Result<(), BackendError> {
        let ttl = ttl_millis(ttl);
        let sets: Vec<String> = tags
            .iter()
            .map(|tag| self.key(&tag_key(tag)).into_owned())
            .collect();
        for (slot, group) in self.by_slot(sets.iter().map(|set| set.as_bytes())) {
            let joined = self.join(slot, &group, key, ttl).await;
            match joined {
                Err(error) if group.len() > 1 && super::is_split(&error) => {
                    // The slot is being migrated with the sets split between two nodes:
                    // each set alone goes to the node that holds it.
                    for set in &group {
                        self.join(slot, &[*set], key, ttl).await?;
                    }
                }
                other => other?,
            }
        }
        Ok(())
    }

    /// Adds `key` to the tag sets `sets` (prefixed, one hash slot): one `TAG` script.
    async fn join(
        &self,
        slot: super::Slot,
        sets: &[&[u8]],
        key: &str,
        ttl: u64,
    ) -> Result<(), BackendError> {
        let mut invocation = scripts::TAG.prepare_invoke();
        for set in sets {
            invocation.key(*set);
        }
        invocation.arg(key).arg(ttl);
        let invocation = &invocation;
        self.call(slot.via(), |mut conn| async move {
            invocation.invoke_async::<i64>(&mut conn).await
        })
        .await
        .map(drop)
        .map_err(|failure| self.backend_error(failure))
    }

    /// The keys `tag` names, its set removed with them read.
    pub(crate) async fn take_tag(&self, tag: &str) -> Result<Vec<String>, BackendError> {
        self.script::<Vec<String>>(&scripts::TAKE_TAG, &tag_key(tag), |_| {})
            .await
    }
}

/// The key of `tag`'s set (under the cache's prefix, as entries are).
fn tag_key(tag: &str) -> String {
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
