//! The tags of a `#[cached]` call (`tags = ["user:{user_id}"]`): rendered with the call's
//! arguments, and joined by the key before its value is loaded, so that a tag invalidation
//! that comes after reaches the load (see `cache/tags.rs`).
//!
//! A call whose tags cannot be rendered or joined runs uncached: its entry could not be
//! reached by them, and a value a tag invalidation cannot remove must not be stored.

use std::time::Duration;

use super::key::KeyResult;
use super::site::Site;
use crate::LOG_TARGET;
use crate::cache::Cache;
use crate::outcome::Joined;

/// The rendered tags of one call, as the expansion passes them.
pub type Tags = Vec<KeyResult>;

/// The tags rendered, or `None` (logged at `warn`, counted) when one cannot be.
pub(super) fn render(site: &Site, cache: &Cache, tags: Tags) -> Option<Vec<String>> {
    tags.into_iter()
        .map(|tag| match tag {
            Ok(tag) => Some(tag),
            Err(error) => {
                cache.count_error();
                tracing::warn!(target: LOG_TARGET, cache = %cache.name(), function = site.function(), %error, "a tag could not be rendered; the call runs uncached");
                None
            }
        })
        .collect()
}

/// Joins `key` to `tags` for `ttl` (the fill's; the cache's default when `None`) before its
/// load; `None` (logged at `warn`, counted) when the store could not be asked.
pub(super) async fn join(
    site: &Site,
    cache: &Cache,
    key: &str,
    tags: &[String],
    ttl: Option<Duration>,
) -> Option<Joined> {
    match cache.add_tags(key, tags, ttl).await {
        Ok(joined) => Some(joined),
        Err(error) => {
            cache.count_error();
            tracing::warn!(target: LOG_TARGET, cache = %cache.name(), function = site.function(), %key, %error, "the key could not join its tags; the call runs uncached");
            None
        }
    }
}
