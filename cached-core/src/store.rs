//! Dispatch from the cache API to the backend a cache was configured with: an enum, so that
//! the built-in backends are called directly, and `dyn Backend` only for custom ones.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backend::Backend;
use crate::backend::memory::{Action, Expiry, ValueStore};
#[cfg(feature = "redis")]
use crate::backend::redis::RedisStore;
use crate::error::BackendError;
use crate::key;
use crate::ttl::Ttl;
use crate::value::{self, erase};

/// The outcome of a read.
pub(crate) enum Lookup<T> {
    Hit(T),
    Miss,
    /// A value is stored but does not decode as the type asked for.
    Undecodable(serde_json::Error),
}

/// Why a store operation failed.
pub(crate) enum StoreError {
    Backend(BackendError),
    Encode(serde_json::Error),
}

impl From<BackendError> for StoreError {
    fn from(error: BackendError) -> Self {
        Self::Backend(error)
    }
}

/// What a write did besides storing: entries evicted to make room.
pub(crate) type Evicted = u64;

/// The store behind one cache.
#[allow(
    clippy::large_enum_variant,
    reason = "one per cache, behind its Arc; boxing would add a pointer chase to every hit"
)]
pub(crate) enum Store {
    Memory(ValueStore),
    #[cfg(feature = "redis")]
    Redis(RedisStore),
    Custom(CustomStore),
}

/// A registered custom backend, with the cache's key prefix.
pub(crate) struct CustomStore {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) prefix: String,
}

impl Store {
    pub(crate) async fn get<T>(&self, key: &str) -> Result<Lookup<T>, BackendError>
    where
        T: DeserializeOwned + Clone + 'static,
    {
        match self {
            Store::Memory(store) => Ok(store
                .get(key, |stored| match value::read::<T>(&**stored) {
                    Ok(value) => Lookup::Hit(value),
                    Err(error) => Lookup::Undecodable(error),
                })
                .unwrap_or(Lookup::Miss)),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.get(key).await,
            Store::Custom(custom) => {
                let bytes = custom
                    .backend
                    .get(&key::prefixed(&custom.prefix, key))
                    .await?;
                Ok(decode(bytes))
            }
        }
    }

    pub(crate) async fn set<T>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<Evicted, StoreError>
    where
        T: ?Sized + Serialize + ToOwned,
        T::Owned: Serialize + Send + Sync + 'static,
    {
        match self {
            Store::Memory(store) => Ok(store.set(key, erase(value.to_owned()), ttl)),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => {
                redis.check_available()?;
                let bytes = serde_json::to_vec(value).map_err(StoreError::Encode)?;
                redis.set(key, &bytes, ttl).await?;
                Ok(0)
            }
            Store::Custom(custom) => {
                let bytes = serde_json::to_vec(value).map_err(StoreError::Encode)?;
                let key = key::prefixed(&custom.prefix, key);
                custom.backend.set(&key, bytes, Some(ttl)).await?;
                Ok(0)
            }
        }
    }

    pub(crate) async fn set_nx<T>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<(bool, Evicted), StoreError>
    where
        T: ?Sized + Serialize + ToOwned,
        T::Owned: Serialize + Send + Sync + 'static,
    {
        match self {
            Store::Memory(store) => Ok(store.compute(key, |current| match current {
                Some(_) => (Action::Keep, false),
                None => (
                    Action::Put(erase(value.to_owned()), Expiry::After(ttl)),
                    true,
                ),
            })),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => {
                redis.check_available()?;
                let bytes = serde_json::to_vec(value).map_err(StoreError::Encode)?;
                Ok((redis.set_nx(key, &bytes, ttl).await?, 0))
            }
            Store::Custom(custom) => {
                let bytes = serde_json::to_vec(value).map_err(StoreError::Encode)?;
                let key = key::prefixed(&custom.prefix, key);
                Ok((custom.backend.set_nx(&key, bytes, Some(ttl)).await?, 0))
            }
        }
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<bool, BackendError> {
        match self {
            Store::Memory(store) => Ok(store.remove(key)),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.delete(key).await,
            Store::Custom(custom) => {
                custom
                    .backend
                    .delete(&key::prefixed(&custom.prefix, key))
                    .await
            }
        }
    }

    pub(crate) async fn delete_many(&self, keys: &[&str]) -> Result<usize, BackendError> {
        match self {
            Store::Memory(store) => Ok(keys.iter().filter(|key| store.remove(**key)).count()),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.delete_many(keys).await,
            Store::Custom(custom) => {
                let keys: Vec<String> = keys
                    .iter()
                    .map(|key| key::prefixed(&custom.prefix, key).into_owned())
                    .collect();
                custom.backend.delete_many(&keys).await
            }
        }
    }

    pub(crate) async fn delete_pattern(&self, pattern: &str) -> Result<usize, BackendError> {
        match self {
            Store::Memory(store) => Ok(store.remove_matching(pattern)),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.delete_pattern(pattern).await,
            Store::Custom(custom) => {
                let pattern = key::prefixed_pattern(&custom.prefix, pattern);
                custom.backend.delete_pattern(&pattern).await
            }
        }
    }

    /// Removes every key of this cache. On Redis and custom backends with a `key_prefix`,
    /// only the keys under the prefix; on Redis without one, the whole database.
    pub(crate) async fn clear(&self) -> Result<(), BackendError> {
        match self {
            Store::Memory(store) => {
                store.clear();
                Ok(())
            }
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.clear().await,
            Store::Custom(custom) if custom.prefix.is_empty() => custom.backend.clear().await,
            Store::Custom(custom) => {
                let pattern = key::prefixed_pattern(&custom.prefix, "*");
                custom.backend.delete_pattern(&pattern).await.map(drop)
            }
        }
    }

    pub(crate) async fn exists(&self, key: &str) -> Result<bool, BackendError> {
        match self {
            Store::Memory(store) => Ok(store.contains(key)),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.exists(key).await,
            Store::Custom(custom) => {
                custom
                    .backend
                    .exists(&key::prefixed(&custom.prefix, key))
                    .await
            }
        }
    }

    pub(crate) async fn ttl(&self, key: &str) -> Result<Ttl, BackendError> {
        match self {
            Store::Memory(store) => Ok(store.ttl(key)),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.ttl(key).await,
            Store::Custom(custom) => {
                custom
                    .backend
                    .ttl(&key::prefixed(&custom.prefix, key))
                    .await
            }
        }
    }

    /// Adds `by` to the integer at `key`; a missing key counts from 0 and does not expire,
    /// an existing key keeps its expiry (Redis' `INCRBY`).
    pub(crate) async fn incr(&self, key: &str, by: i64) -> Result<(i64, Evicted), BackendError> {
        match self {
            Store::Memory(store) => {
                let (result, evicted) = store.compute(key, |current| {
                    let start = match current {
                        Some(current) => value::read_integer(&**current.value),
                        None => Some(0),
                    };
                    match start.and_then(|n| n.checked_add(by)) {
                        Some(next) => (Action::Put(erase(next), Expiry::Unchanged), Ok(next)),
                        None => (Action::Keep, Err(BackendError::NotAnInteger)),
                    }
                });
                result.map(|next| (next, evicted))
            }
            #[cfg(feature = "redis")]
            Store::Redis(redis) => Ok((redis.incr(key, by).await?, 0)),
            Store::Custom(custom) => Ok((
                custom
                    .backend
                    .incr(&key::prefixed(&custom.prefix, key), by)
                    .await?,
                0,
            )),
        }
    }

    /// Removes `key` if it holds the string `token`; returns whether it did.
    pub(crate) async fn delete_if_token(
        &self,
        key: &str,
        token: &str,
    ) -> Result<bool, BackendError> {
        match self {
            Store::Memory(store) => Ok(release_token(store, key, token)),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => {
                let expected = serde_json::to_vec(token).expect("a string always serializes");
                redis.delete_if_equals(key, &expected).await
            }
            Store::Custom(custom) => {
                let expected = serde_json::to_vec(token).expect("a string always serializes");
                let key = key::prefixed(&custom.prefix, key);
                custom.backend.delete_if_equals(&key, &expected).await
            }
        }
    }

    /// `delete_if_token` without waiting, on stores that can do it synchronously (so that a
    /// dropped lock guard releases at once).
    pub(crate) fn delete_if_token_now(&self, key: &str, token: &str) -> Option<bool> {
        match self {
            Store::Memory(store) => Some(release_token(store, key, token)),
            #[cfg(feature = "redis")]
            Store::Redis(_) => None,
            Store::Custom(_) => None,
        }
    }

    /// The number of entries held, where the store can tell cheaply.
    pub(crate) fn len(&self) -> Option<usize> {
        match self {
            Store::Memory(store) => Some(store.len()),
            #[cfg(feature = "redis")]
            Store::Redis(_) => None,
            Store::Custom(_) => None,
        }
    }
}

fn release_token(store: &ValueStore, key: &str, token: &str) -> bool {
    store
        .compute(key, |current| {
            let held = current
                .and_then(|c| c.value.as_any().downcast_ref::<String>())
                .is_some_and(|held| held == token);
            if held {
                (Action::Remove, true)
            } else {
                (Action::Keep, false)
            }
        })
        .0
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: Option<Vec<u8>>) -> Lookup<T> {
    match bytes {
        None => Lookup::Miss,
        Some(bytes) => match serde_json::from_slice(&bytes) {
            Ok(value) => Lookup::Hit(value),
            Err(error) => Lookup::Undecodable(error),
        },
    }
}
