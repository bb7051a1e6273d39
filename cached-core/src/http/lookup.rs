//! Reading and writing response entries: the lookup that follows a `Vary` marker to the
//! variant a request selects and may be answered with, counted as one hit or one miss, and
//! writes that never fail.

use std::sync::Arc;
use std::time::Duration;

use ::http::HeaderMap;

use super::credentials::Credentials;
use super::entry::{Entry, Standing, StoredResponse, now_millis};
use super::key;
use crate::cache::Cache;

/// What a lookup found for a request.
pub(crate) enum Found {
    /// A fresh stored response the request selects.
    Hit(Arc<StoredResponse>),
    /// A stored response the request selects, no longer fresh for it; and its key.
    Stale(Arc<StoredResponse>, Standing, String),
    /// Nothing usable; the key under which the response for this request belongs.
    Miss(String),
}

/// The entry `headers` select under `primary`, following a `Vary` marker to its variant,
/// if a request with `credentials` may be answered with it. Counted in the cache's
/// statistics as one hit (when fresh for a request accepting ages up to `max_age`) or one
/// miss.
pub(crate) async fn find(
    cache: &Cache,
    primary: &str,
    headers: &HeaderMap,
    credentials: &Credentials,
    max_age: Option<u64>,
) -> Found {
    let (key, entry) = match cache.read::<Entry>(primary).await {
        Some(Entry::Vary(names)) => {
            let secondary = key::secondary(primary, &names, headers);
            let entry = cache.read::<Entry>(&secondary).await;
            (secondary, entry)
        }
        entry => (primary.to_owned(), entry),
    };
    let response = entry.and_then(|entry| selected(entry, headers, credentials));
    let standing = response
        .as_ref()
        .map(|response| response.standing(now_millis(), max_age));
    cache.count_lookup(&key, standing == Some(Standing::Fresh));
    match (response, standing) {
        (Some(response), Some(Standing::Fresh)) => Found::Hit(response),
        (Some(response), Some(standing)) => Found::Stale(response, standing, key),
        _ => Found::Miss(key),
    }
}

/// The response in `entry`, if it may answer a request with `headers` and `credentials`
/// and is fresh for a request accepting ages up to `max_age`: what a load may take from a
/// second look instead of calling the inner service.
pub(crate) fn fresh(
    entry: Entry,
    headers: &HeaderMap,
    credentials: &Credentials,
    max_age: Option<u64>,
) -> Option<Arc<StoredResponse>> {
    selected(entry, headers, credentials)
        .filter(|r| r.standing(now_millis(), max_age) == Standing::Fresh)
}

/// The response in `entry`, if it may answer a request with `headers` and `credentials`.
fn selected(
    entry: Entry,
    headers: &HeaderMap,
    credentials: &Credentials,
) -> Option<Arc<StoredResponse>> {
    match entry {
        Entry::Response(response) if answers(&response, headers, credentials) => Some(response),
        Entry::Response(_) | Entry::Vary(_) => None,
    }
}

/// Whether `stored` may answer a request with `headers` and `credentials`: the request
/// selects it among the variants of its `Vary`, and the response may be shared with it.
pub(crate) fn answers(
    stored: &StoredResponse,
    headers: &HeaderMap,
    credentials: &Credentials,
) -> bool {
    stored.selected_by(headers) && credentials.allow(&stored.headers)
}

/// Stores `entry` at `key`, joined to `tags`, outside any load (a refresh the request
/// asked for, or a variant written beside its marker); a failure is logged and counted,
/// never returned: `false` when nothing was stored.
pub(crate) async fn store(
    cache: &Cache,
    key: &str,
    entry: &Entry,
    ttl: Duration,
    tags: &[String],
) -> bool {
    cache.set_quietly(key, entry, Some(ttl), tags).await
}
