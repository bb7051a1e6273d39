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
//! for longer before a fill that keeps the entry longer. An entry is stored with the
//! versions of the tags as its key joined them, so that a URL's invalidation holds even
//! when Redis evicted the URL's tag (see `backend/redis/versions.rs`).
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
use crate::cache::Ticket;
use crate::outcome::Joined;
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

    /// Joins `key` to the tags before its load: the versions its fill is stored with, or
    /// `None` (logged, counted) when the store could not be asked, and then nothing may be
    /// stored for the request.
    pub(crate) async fn join(&self, key: &str) -> Option<Joined> {
        self.join_for(key, self.joined_for).await
    }

    /// Makes the memberships of the load's own key last `ttl` before it is filled for that
    /// long: joins it again unless it joined before its load for at least as long.
    pub(crate) async fn cover(&self, key: &str, ttl: Duration) -> Covered {
        if ttl <= self.joined_for {
            return Covered::Already;
        }
        match self.join_for(key, ttl).await {
            Some(joined) => Covered::Again(joined),
            None => Covered::Failed,
        }
    }

    /// The tags' names, for a write outside the load that joins them itself.
    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    async fn join_for(&self, key: &str, ttl: Duration) -> Option<Joined> {
        match self.cache.add_tags(key, &self.names, Some(ttl)).await {
            Ok(joined) => Some(joined),
            Err(error) => {
                self.cache.count_error();
                tracing::warn!(target: LOG_TARGET, cache = %self.cache.name(), %key, %error, "the response's key could not join the tags of its URL; it is not stored");
                None
            }
        }
    }
}

/// What covering a load's key for a longer fill did.
pub(crate) enum Covered {
    /// Its join before the load lasts long enough: the fill keeps that join's versions.
    Already,
    /// It joined again: the fill is stored with these versions.
    Again(Joined),
    /// It could not join: nothing may be stored.
    Failed,
}

impl Covered {
    /// `ticket`, filling with the versions this cover gave; given back as `Err` when it
    /// failed, to be skipped.
    pub(crate) fn ticket<'a>(self, ticket: Ticket<'a>) -> Result<Ticket<'a>, Ticket<'a>> {
        match self {
            Covered::Already => Ok(ticket),
            Covered::Again(joined) => Ok(ticket.with_tags(joined)),
            Covered::Failed => Err(ticket),
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
