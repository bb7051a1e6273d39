//! The tags a response entry joins, so that the entries of a URL, every variant of them, are
//! removed in proportion to their number and never by a scan of the keyspace
//! ([`Cache::delete_tags`], see `cache/tags.rs`): the tag of its base key (what an unsafe
//! request and [`invalidate`](super::invalidate) remove), and, under a default key, the tag
//! of its path on every host (what [`invalidate_path`](super::invalidate_path) removes).
//!
//! A key joins its tags before the load that fills it, as a `#[cached]` key does, so that an
//! invalidation that comes while the load runs removes its claim and the load stores
//! nothing (invalidation wins). A membership lasts at least as long as its entry: the key
//! joins for the route's lifetime and the revalidation window before the load, and again
//! for longer before a fill that keeps the entry longer.
//!
//! Tag names: the base key itself (`http:GET:example.com:/posts`, `http:post:42`), and
//! `http:path>` followed by the escaped path, which no base key can equal (a base key never
//! contains `>`).
//!
//! Sits on `freshness.rs`, `key.rs`, `settings.rs` and the cache's tags.

use std::time::Duration;

use super::freshness::REVALIDATION_WINDOW;
use super::key::{self, PREFIX};
use super::settings::{Config, KeyRule};
use crate::{Cache, LOG_TARGET};

/// The tag of the entries whose base key is `base`.
pub(crate) fn of_base(base: &str) -> String {
    key::shorten(base.to_owned())
}

/// The tag of the entries stored under a default key for `path`, on every host.
pub(crate) fn of_path(path: &str) -> String {
    let mut tag = String::from(PREFIX);
    tag.push_str("path>");
    key::push_path(&mut tag, path);
    key::shorten(tag)
}

/// The tags of one request's entries, and how long its key joined them before its load.
pub(crate) struct UrlTags<'a> {
    cache: &'a Cache,
    names: Vec<String>,
    joined_for: Duration,
}

impl<'a> UrlTags<'a> {
    /// The tags of the entries of a request for `path` whose base key is `base`.
    pub(crate) fn of(config: &'a Config, base: &str, path: &str) -> Self {
        let mut names = vec![of_base(base)];
        if matches!(config.key, KeyRule::Default) {
            names.push(of_path(path));
        }
        Self {
            cache: &config.cache,
            names,
            joined_for: config.route_ttl().saturating_add(REVALIDATION_WINDOW),
        }
    }

    /// Joins `key` to the tags before its load; `false` (logged, counted) when the store
    /// could not be asked, and then nothing may be stored for the request.
    pub(crate) async fn join(&self, key: &str) -> bool {
        self.join_for(key, self.joined_for).await
    }

    /// Makes `key`'s memberships last `ttl` before it is written for that long: joins it
    /// again unless it `joined` before its load for at least as long. `false` as for
    /// [`join`](Self::join).
    pub(crate) async fn cover(&self, key: &str, ttl: Duration, joined: bool) -> bool {
        if joined && ttl <= self.joined_for {
            return true;
        }
        self.join_for(key, ttl).await
    }

    async fn join_for(&self, key: &str, ttl: Duration) -> bool {
        match self.cache.add_tags(key, &self.names, Some(ttl)).await {
            Ok(()) => true,
            Err(error) => {
                self.cache.count_error();
                tracing::warn!(target: LOG_TARGET, cache = %self.cache.name(), %key, %error, "the response's key could not join the tags of its URL; it is not stored");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_tags_are_apart_from_base_tags() {
        assert_eq!(of_path("/a b/c"), "http:path>/a%20b/c");
        assert_eq!(of_base("http:GET:h:/a"), "http:GET:h:/a");
        assert!(of_base(&format!("http:{}", "x".repeat(400))).len() <= key::MAX_KEY_LEN);
    }
}
