//! Dispatch from the cache API to the backend a cache was configured with: an enum, so that
//! the built-in backends are called directly, and `dyn Backend` only for custom ones. Each
//! backend encodes its own values and guards its own calls (the Redis circuit breaker).
//!
//! Besides the cache API, stores serve the load path (`cache/load.rs`): a load *claims* its
//! key before it runs (a second look, and on Redis a lease), then *fills* it only while its
//! claim holds, so that no load that began before an invalidation stores after it.

mod custom;
mod memory;

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backend::memory::ValueStore;
#[cfg(feature = "redis")]
use crate::backend::redis::RedisStore;
use crate::error::BackendError;
use crate::flight::Flight;
use crate::ttl::Ttl;

pub(crate) use crate::outcome::{Aged, Claim, Evicted, Filled, Joined, Lease, Lookup, StoreError};
pub(crate) use custom::CustomStore;

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

impl Store {
    pub(crate) async fn get<T>(&self, key: &str) -> Result<Lookup<T>, BackendError>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        match self {
            Store::Memory(store) => Ok(memory::get(store, key)),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.get(key).await,
            Store::Custom(custom) => custom.get(key).await,
        }
    }

    /// As [`get`](Store::get), with the entry's remaining lifetime and the lease a
    /// background refresh of it fills under.
    pub(crate) async fn get_aged<T>(&self, key: &str) -> Result<Aged<T>, BackendError>
    where
        T: DeserializeOwned + Clone + 'static,
    {
        match self {
            Store::Memory(store) => Ok(memory::get_aged(store, key)),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.get_aged(key).await,
            Store::Custom(custom) => custom.get_aged(key).await,
        }
    }

    /// Stores `value` at `key` for `ttl`, with the versions of the tags it `joined`.
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    pub(crate) async fn set<T>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
        joined: &Joined,
    ) -> Result<Evicted, StoreError>
    where
        T: ?Sized + Serialize + ToOwned,
        T::Owned: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        match self {
            Store::Memory(store) => Ok(memory::set(store, key, value, ttl)),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.set(key, value, ttl, joined).await.map(|()| 0),
            Store::Custom(custom) => custom.set(key, value, ttl).await.map(|()| 0),
        }
    }

    /// Stores `value` if `key` is absent: a claim, which the memory store never evicts while
    /// it lives, and of which it holds at most `max_size`.
    pub(crate) async fn set_nx<T>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<(bool, Evicted), StoreError>
    where
        T: ?Sized + Serialize + ToOwned,
        T::Owned: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        match self {
            Store::Memory(store) => memory::set_nx(store, key, value, ttl),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => Ok((redis.set_nx(key, value, ttl).await?, 0)),
            Store::Custom(custom) => Ok((custom.set_nx(key, value, ttl).await?, 0)),
        }
    }

    /// Takes the lock `key` with `token` if the key is absent: a pinned claim, stored as
    /// plain bytes whatever the cache's format, so that the release compares them.
    pub(crate) async fn lock(
        &self,
        key: &str,
        token: &str,
        ttl: Duration,
    ) -> Result<(bool, Evicted), StoreError> {
        match self {
            Store::Memory(store) => memory::set_nx(store, key, token, ttl),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => Ok((redis.lock(key, token, ttl).await?, 0)),
            Store::Custom(custom) => Ok((custom.lock(key, token, ttl).await?, 0)),
        }
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<bool, BackendError> {
        match self {
            Store::Memory(store) => Ok(store.remove(key)),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.delete(key).await,
            Store::Custom(custom) => custom.delete(key).await,
        }
    }

    pub(crate) async fn delete_many(&self, keys: &[&str]) -> Result<usize, BackendError> {
        match self {
            Store::Memory(store) => Ok(keys.iter().filter(|key| store.remove(**key)).count()),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.delete_many(keys).await,
            Store::Custom(custom) => custom.delete_many(keys).await,
        }
    }

    pub(crate) async fn delete_pattern(&self, pattern: &str) -> Result<usize, BackendError> {
        match self {
            Store::Memory(store) => Ok(store.remove_matching(pattern)),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.delete_pattern(pattern).await,
            Store::Custom(custom) => custom.delete_pattern(pattern).await,
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
            Store::Custom(custom) => custom.clear().await,
        }
    }

    pub(crate) async fn exists(&self, key: &str) -> Result<bool, BackendError> {
        match self {
            Store::Memory(store) => Ok(store.contains(key)),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.exists(key).await,
            Store::Custom(custom) => custom.exists(key).await,
        }
    }

    pub(crate) async fn ttl(&self, key: &str) -> Result<Ttl, BackendError> {
        match self {
            Store::Memory(store) => Ok(store.ttl(key)),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.ttl(key).await,
            Store::Custom(custom) => custom.ttl(key).await,
        }
    }

    /// Adds `by` to the integer at `key`; a missing key counts from 0 and does not expire,
    /// an existing key keeps its expiry (Redis' `INCRBY`).
    pub(crate) async fn incr(&self, key: &str, by: i64) -> Result<(i64, Evicted), BackendError> {
        match self {
            Store::Memory(store) => memory::incr(store, key, by),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => Ok((redis.incr(key, by).await?, 0)),
            Store::Custom(custom) => Ok((custom.incr(key, by).await?, 0)),
        }
    }

    /// Removes `key` if it holds the string `token`; returns whether it did.
    pub(crate) async fn delete_if_token(
        &self,
        key: &str,
        token: &str,
    ) -> Result<bool, BackendError> {
        match self {
            Store::Memory(store) => Ok(memory::release_token(store, key, token)),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.delete_if_token(key, token).await,
            Store::Custom(custom) => custom.delete_if_token(key, token).await,
        }
    }

    /// `delete_if_token` without waiting, on stores that can do it synchronously (so that a
    /// dropped lock guard releases at once).
    pub(crate) fn delete_if_token_now(&self, key: &str, token: &str) -> Option<bool> {
        match self {
            Store::Memory(store) => Some(memory::release_token(store, key, token)),
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

    /// The nodes whose circuit is open now (Redis only).
    pub(crate) fn open_circuits(&self) -> Vec<String> {
        match self {
            Store::Memory(_) | Store::Custom(_) => Vec::new(),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.open_circuits(),
        }
    }

    /// Whether a call made now would be refused at once (a Redis circuit is open).
    pub(crate) fn refuses(&self) -> bool {
        match self {
            Store::Memory(_) | Store::Custom(_) => false,
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.refuses(),
        }
    }

    /// A read answered without awaiting: the in-process store's answer, or a Redis near
    /// cache's copy; `None` when the store must be awaited.
    #[inline]
    pub(crate) fn get_now<T>(&self, key: &str) -> Option<Lookup<T>>
    where
        T: DeserializeOwned + Clone + 'static,
    {
        match self {
            Store::Memory(store) => Some(memory::get(store, key)),
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.near_hit(key).map(Lookup::Hit),
            Store::Custom(_) => None,
        }
    }

    /// Hits answered by a near cache (Redis only).
    pub(crate) fn near_hits(&self) -> u64 {
        match self {
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.near_hits(),
            Store::Memory(_) | Store::Custom(_) => 0,
        }
    }

    /// The in-process store, when this is one: it answers without awaiting.
    pub(crate) fn memory(&self) -> Option<&ValueStore> {
        match self {
            Store::Memory(store) => Some(store),
            #[cfg(feature = "redis")]
            Store::Redis(_) => None,
            Store::Custom(_) => None,
        }
    }

    /// The second look of a load at its key, and its claim: a value `accept` takes, or the
    /// lease to fill the key under. On Redis the lease takes the key's place while it is
    /// missing, and a key another process is loading is waited for (boundedly).
    pub(crate) async fn claim<T, S>(&self, key: &str, accept: impl Fn(T) -> Option<S>) -> Claim<S>
    where
        T: DeserializeOwned + Clone + 'static,
    {
        match self {
            Store::Memory(store) => match memory::get::<T>(store, key) {
                Lookup::Hit(value) => found_or_load(accept(value), Lease::Local),
                Lookup::Miss | Lookup::Undecodable(_) => Claim::Load(Lease::Local),
            },
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.claim(key, accept).await,
            Store::Custom(custom) => match custom.get::<T>(key).await {
                Ok(Lookup::Hit(value)) => found_or_load(accept(value), Lease::Local),
                _ => Claim::Load(Lease::Local),
            },
        }
    }

    /// Claims the background refresh of `key` across processes with `token` (on Redis; in
    /// one process the refresh's flight is the claim, so other stores grant it at once).
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    pub(crate) async fn claim_refresh(&self, key: &str, token: &str) -> Result<bool, BackendError> {
        match self {
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.claim_refresh(key, token).await,
            Store::Memory(_) | Store::Custom(_) => Ok(true),
        }
    }

    /// Gives back a claim [`claim_refresh`](Store::claim_refresh) granted.
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    pub(crate) async fn end_refresh(&self, key: &str, token: &str) {
        match self {
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.end_refresh(key, token).await,
            Store::Memory(_) | Store::Custom(_) => {}
        }
    }

    /// Stores a load's `value` at `key` for `ttl` while its claim holds: `lease` is intact
    /// and `flight` not detached, checked atomically with the write. Custom backends cannot
    /// check atomically; the cache serializes their fills with invalidations instead.
    #[allow(
        clippy::too_many_arguments,
        reason = "what a fill is: the key, value and lifetime, the claim and the tags it holds"
    )]
    pub(crate) async fn fill<T>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
        lease: &Lease,
        flight: &Flight,
        joined: &Joined,
    ) -> Result<(Filled, Evicted), StoreError>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    {
        match (self, lease) {
            #[cfg(feature = "redis")]
            (Store::Redis(_), _) if flight.is_detached() => {
                // Given back at once, so that the next load of the key need not wait for it.
                self.release(key, lease, flight).await;
                Ok((Filled::Lost, 0))
            }
            (_, _) if flight.is_detached() => Ok((Filled::Detached, 0)),
            (_, Lease::Denied) => Ok((Filled::Kept, 0)),
            (Store::Memory(store), _) => Ok(memory::fill(store, key, value, ttl, flight)),
            #[cfg(feature = "redis")]
            (Store::Redis(redis), Lease::Redis { marker, .. }) => {
                Ok((redis.fill(key, value, ttl, marker, joined).await?, 0))
            }
            #[cfg(feature = "redis")]
            (Store::Redis(_), Lease::Local) => Ok((Filled::Kept, 0)),
            (Store::Custom(custom), _) => custom
                .set(key, value, ttl)
                .await
                .map(|()| (Filled::Stored, 0)),
        }
    }

    /// Gives a claim up without storing: a Redis lease is removed so that other processes
    /// stop waiting for it. Returns [`Filled::Lost`] when the lease had already gone.
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    pub(crate) async fn release(&self, key: &str, lease: &Lease, flight: &Flight) -> Filled {
        match (self, lease) {
            #[cfg(feature = "redis")]
            (Store::Redis(redis), Lease::Redis { marker, owned }) => {
                redis.release(key, marker, *owned).await
            }
            _ if flight.is_detached() => Filled::Detached,
            _ => Filled::Kept,
        }
    }
}

fn found_or_load<S>(accepted: Option<S>, lease: Lease) -> Claim<S> {
    match accepted {
        Some(value) => Claim::Found(value),
        None => Claim::Load(lease),
    }
}
