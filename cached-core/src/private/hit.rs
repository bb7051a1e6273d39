//! The start of a `#[cached]` call: a memory lookup answered without cloning the cache's
//! handle or awaiting (a hit returns before any future is built); otherwise the lookup
//! that awaits the store.

use serde::de::DeserializeOwned;

use super::key::{KeyResult, recycle};
use super::site::Site;
use crate::cache::Cache;
use crate::registry;

/// How a `#[cached]` call goes on.
pub(crate) enum Start<T> {
    /// The value was cached.
    Hit(T),
    /// Run the body and store its result under the key.
    Load(Cache, String),
    /// Run the body without the cache (not configured, or the key could not be rendered).
    Uncached,
}

/// A call that [`hit_now`] could not answer, handed on to `start`.
pub struct Pending(Looked);

enum Looked {
    /// The store answered at once and had no usable value (counted and logged).
    Missed(Cache, String),
    /// The store was not looked at: it must be awaited, or there is no cache or no key.
    Not(KeyResult),
}

/// How the call goes on after [`hit_now`]: a load when the store already missed, else a
/// lookup that awaits the store; failures lead to [`Start::Uncached`] or to a load, logged
/// and counted as [`Cache::lookup`] does.
pub(crate) async fn start<T>(site: &'static Site, pending: Pending) -> Start<T>
where
    T: DeserializeOwned + Clone + Send + Sync + 'static,
{
    match pending.0 {
        Looked::Missed(cache, key) => Start::Load(cache, key),
        Looked::Not(key) => {
            let Some((cache, key)) = site.prepare(key) else {
                return Start::Uncached;
            };
            match cache.lookup::<T>(&key).await {
                Some(value) => Start::Hit(value),
                None => Start::Load(cache, key),
            }
        }
    }
}

/// The lookup of a `#[cached]` call before it builds any future: answered here, counted
/// and logged, when the site's cache can answer at once (memory), so that a hit returns
/// early and a miss goes straight to the load; otherwise handed on for `start`.
#[inline]
pub fn hit_now<T>(site: &'static Site, key: KeyResult) -> Result<T, Pending>
where
    T: DeserializeOwned + Clone + Send + Sync + 'static,
{
    let Ok(rendered) = &key else {
        return Err(Pending(Looked::Not(key)));
    };
    let lookup = registry::with_cache(site.cache_name(), |cache| {
        let cache = cache?;
        let value = cache.lookup_now::<T>(rendered)?;
        Some(value.ok_or_else(|| cache.clone()))
    });
    match lookup {
        Some(Ok(value)) => {
            if let Ok(key) = key {
                recycle(key);
            }
            Ok(value)
        }
        Some(Err(cache)) => Err(Pending(Looked::Missed(cache, key.unwrap_or_default()))),
        None => Err(Pending(Looked::Not(key))),
    }
}
