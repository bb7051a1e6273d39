//! The start of a `#[cached]` call: a hit answered without cloning the cache's handle or
//! awaiting, when the store can answer at once (memory); otherwise the handle for a load.

use serde::de::DeserializeOwned;

use super::key::{KeyResult, recycle};
use super::site::Site;
use crate::cache::Cache;
use crate::registry;
use crate::store::{Lookup, Store};
use crate::value;

/// How a `#[cached]` call goes on.
pub(crate) enum Start<T> {
    /// The value was cached.
    Hit(T),
    /// Run the body and store its result under the key.
    Load(Cache, String),
    /// Run the body without the cache (not configured, or the key could not be rendered).
    Uncached,
}

/// Looks `key` up in the site's cache; every failure leads to [`Start::Uncached`] or to a
/// load, logged and counted as [`Cache::lookup`] does.
pub(crate) async fn start<T>(site: &'static Site, key: KeyResult) -> Start<T>
where
    T: DeserializeOwned + Clone + Send + Sync + 'static,
{
    let now = registry::with_cache(site.cache_name(), |cache| {
        let cache = cache?;
        let key = key.as_ref().ok()?;
        Some(match cache.lookup_now::<T>(key) {
            Some(Some(value)) => Now::Hit(value),
            Some(None) => Now::Miss(cache.clone()),
            None => Now::Later,
        })
    });
    match now {
        Some(Now::Hit(value)) => {
            if let Ok(key) = key {
                recycle(key);
            }
            Start::Hit(value)
        }
        Some(Now::Miss(cache)) => Start::Load(cache, key.unwrap_or_default()),
        Some(Now::Later) | None => {
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

/// A hit answered before the call builds any future: the value when the site's cache can
/// answer at once (memory) and holds a live value of type `T` at the key; otherwise the key
/// back, for [`start`], which looks again and counts what it finds. Only a hit is counted
/// here.
#[inline]
pub fn hit_now<T>(site: &'static Site, key: KeyResult) -> Result<T, KeyResult>
where
    T: DeserializeOwned + Clone + Send + Sync + 'static,
{
    let Ok(rendered) = &key else {
        return Err(key);
    };
    match registry::with_cache(site.cache_name(), |cache| cache?.hit_now(rendered)) {
        Some(value) => {
            if let Ok(key) = key {
                recycle(key);
            }
            Ok(value)
        }
        None => Err(key),
    }
}

enum Now<T> {
    Hit(T),
    Miss(Cache),
    Later,
}

impl Cache {
    /// The value at `key` when the store answers at once and has a live value of type `T`;
    /// a hit is counted and logged, nothing else is.
    #[inline]
    fn hit_now<T>(&self, key: &str) -> Option<T>
    where
        T: DeserializeOwned + Clone + 'static,
    {
        let Store::Memory(store) = &self.inner.store else {
            return None;
        };
        let value = store.get(key, |stored| value::read::<T>(&**stored).ok())??;
        Some(self.count_lookup(key, Lookup::Hit(value)))?
    }

    /// A lookup answered without awaiting, counted and logged as [`Cache::lookup`]; `None`
    /// when the store cannot answer at once.
    fn lookup_now<T>(&self, key: &str) -> Option<Option<T>>
    where
        T: DeserializeOwned + Clone + 'static,
    {
        match &self.inner.store {
            Store::Memory(store) => {
                let lookup = store
                    .get(key, |stored| match value::read::<T>(&**stored) {
                        Ok(value) => Lookup::Hit(value),
                        Err(error) => Lookup::Undecodable(error),
                    })
                    .unwrap_or(Lookup::Miss);
                Some(self.count_lookup(key, lookup))
            }
            _ => None,
        }
    }
}
