//! Reading and writing response entries: the lookup that follows a `Vary` marker to the
//! variant a request selects, counted as one hit or one miss, and writes that never fail.

use std::sync::Arc;
use std::time::Duration;

use ::http::HeaderMap;

use super::entry::{Entry, StoredResponse};
use super::key;
use crate::cache::{Cache, LOG_TARGET};
use crate::store::Lookup;

/// What a lookup found for a request.
pub(crate) enum Found {
    /// A stored response the request selects.
    Hit(Arc<StoredResponse>),
    /// Nothing usable; the key under which the response for this request belongs.
    Miss(String),
}

/// The entry `headers` select under `primary`, following a `Vary` marker to its variant.
/// Counted in the cache's statistics as one hit or one miss.
pub(crate) async fn find(cache: &Cache, primary: &str, headers: &HeaderMap) -> Found {
    let (key, entry) = match fetch(cache, primary).await {
        Some(Entry::Vary(names)) => {
            let secondary = key::secondary(primary, &names, headers);
            let entry = fetch(cache, &secondary).await;
            (secondary, entry)
        }
        entry => (primary.to_owned(), entry),
    };
    let stats = &cache.inner.stats;
    match selected(entry, headers) {
        Some(response) => {
            stats.hits.incr();
            tracing::debug!(target: LOG_TARGET, "Cache HIT: {key}");
            Found::Hit(response)
        }
        None => {
            stats.misses.incr();
            tracing::debug!(target: LOG_TARGET, "Cache MISS: {key}");
            Found::Miss(key)
        }
    }
}

/// The response stored at `key` if `headers` select it, without counting a lookup: the
/// second look of a single-flight leader, in case a load finished just before its turn.
pub(crate) async fn recheck(
    cache: &Cache,
    key: &str,
    headers: &HeaderMap,
) -> Option<Arc<StoredResponse>> {
    selected(fetch(cache, key).await, headers)
}

/// The response in `entry`, if it is one that `headers` select.
fn selected(entry: Option<Entry>, headers: &HeaderMap) -> Option<Arc<StoredResponse>> {
    match entry? {
        Entry::Response(response) if response.selected_by(headers) => Some(response),
        Entry::Response(_) | Entry::Vary(_) => None,
    }
}

/// Stores `entry` at `key`; a failure is logged at `warn` and counted, never returned.
pub(crate) async fn store(cache: &Cache, key: &str, entry: &Entry, ttl: Duration) {
    cache.store_quietly(key, entry, Some(ttl)).await;
}

/// The entry at `key`; a backend error or an undecodable value is logged at `warn`, counted
/// as an error, and read as nothing.
async fn fetch(cache: &Cache, key: &str) -> Option<Entry> {
    let errors = &cache.inner.stats.errors;
    match cache.inner.store.get::<Entry>(key).await {
        Ok(Lookup::Hit(entry)) => Some(entry),
        Ok(Lookup::Miss) => None,
        Ok(Lookup::Undecodable(error)) => {
            errors.incr();
            tracing::warn!(target: LOG_TARGET, cache = %cache.name(), %key, %error, "cached response does not decode; treated as a miss");
            None
        }
        Err(error) => {
            errors.incr();
            tracing::warn!(target: LOG_TARGET, cache = %cache.name(), %key, %error, "cache read failed; treated as a miss");
            None
        }
    }
}
