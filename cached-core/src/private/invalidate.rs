//! The end of an `#[invalidates]` function, and of the `_invalidate` companions of
//! `#[cached]` functions: delete the keys and patterns rendered before the body ran.
//!
//! An invalidation that fails leaves stale values behind, so it is logged at `error` with
//! the keys, and counted in the cache's `errors`; it never fails the function.

use super::key::KeyResult;
use super::site::Site;
use crate::LOG_TARGET;
use crate::cache::Cache;
use crate::key::RenderError;

/// Whether a `Result` is `Ok`: an `#[invalidates]` function returning one invalidates only
/// after success.
pub fn is_ok<T, E>(result: &Result<T, E>) -> bool {
    result.is_ok()
}

/// The keys and patterns one call of an `#[invalidates]` function deletes.
pub struct Invalidation {
    site: &'static Site,
    keys: Vec<String>,
    patterns: Vec<String>,
    tags: Vec<String>,
    unrendered: Vec<RenderError>,
}

impl Invalidation {
    /// No keys yet, for the function at `site`.
    pub fn new(site: &'static Site) -> Self {
        Self {
            site,
            keys: Vec::new(),
            patterns: Vec::new(),
            tags: Vec::new(),
            unrendered: Vec::new(),
        }
    }

    /// A key to delete.
    pub fn key(&mut self, key: KeyResult) {
        match key {
            Ok(key) => self.keys.push(key),
            Err(error) => self.unrendered.push(error),
        }
    }

    /// A glob pattern whose matching keys are deleted.
    pub fn pattern(&mut self, pattern: KeyResult) {
        match pattern {
            Ok(pattern) => self.patterns.push(pattern),
            Err(error) => self.unrendered.push(error),
        }
    }

    /// A tag whose entries are deleted.
    pub fn tag(&mut self, tag: KeyResult) {
        match tag {
            Ok(tag) => self.tags.push(tag),
            Err(error) => self.unrendered.push(error),
        }
    }

    /// Deletes the keys (in one `delete_many`), each pattern's matches and the tags' entries.
    pub async fn run(self) {
        let site = self.site;
        let Some(cache) = site.cache() else {
            tracing::error!(target: LOG_TARGET, function = site.function(), cache = site.cache_name(), keys = ?self.keys, patterns = ?self.patterns, tags = ?self.tags, "cache invalidation skipped: the cache is not configured");
            return;
        };
        delete_all(
            &cache,
            site.function(),
            &self.keys,
            &self.patterns,
            &self.tags,
        )
        .await;
        for error in &self.unrendered {
            cache.count_error();
            tracing::error!(target: LOG_TARGET, function = site.function(), cache = %cache.name(), %error, "cache invalidation skipped a key that could not be rendered");
        }
    }
}

/// Deletes `keys` (in one `delete_many`), the entries of `tags` and each pattern's matches,
/// on behalf of `origin` (a function or an entity type, for logs). Failures are logged at
/// `error` (the cache counts them), never returned.
pub(crate) async fn delete_all(
    cache: &Cache,
    origin: &str,
    keys: &[String],
    patterns: &[String],
    tags: &[String],
) {
    if !keys.is_empty()
        && let Err(error) = cache.delete_many(keys).await
    {
        tracing::error!(target: LOG_TARGET, function = origin, cache = %cache.name(), ?keys, %error, "cache invalidation failed; the keys may hold stale values");
    }
    if !tags.is_empty()
        && let Err(error) = cache.delete_tags(tags).await
    {
        tracing::error!(target: LOG_TARGET, function = origin, cache = %cache.name(), ?tags, %error, "cache invalidation failed; entries under the tags may hold stale values");
    }
    for pattern in patterns {
        if let Err(error) = cache.delete_pattern(pattern).await {
            tracing::error!(target: LOG_TARGET, function = origin, cache = %cache.name(), %pattern, %error, "cache invalidation failed; keys matching the pattern may hold stale values");
        }
    }
}

/// Deletes one `#[cached]` function's entry; whether it existed. Failures are logged at
/// `error` and counted, and read as `false`.
pub async fn invalidate_entry(site: &'static Site, key: KeyResult) -> bool {
    let (Ok(key), Some(cache)) = (&key, site.cache()) else {
        let mut invalidation = Invalidation::new(site);
        invalidation.key(key);
        invalidation.run().await;
        return false;
    };
    match cache.delete(key).await {
        Ok(removed) => removed,
        Err(error) => {
            tracing::error!(target: LOG_TARGET, function = site.function(), cache = %cache.name(), %key, %error, "cache invalidation failed; the key may hold a stale value");
            false
        }
    }
}
