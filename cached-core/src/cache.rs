//! [`Cache`]: the handle to one named cache and every method of the cache API.
//!
//! Reads on a miss go through one load path (`cache/load.rs`); everything that removes or
//! writes keys goes through one invalidation step (`cache/invalidate.rs`), which detaches
//! the loads in flight for those keys so that none of them stores a value that began loading
//! before the invalidation.

mod barrier;
mod invalidate;
mod load;
mod lock_queues;
mod refresh;
mod tags;
mod unconfirmed;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::LOG_TARGET;
use crate::backend::memory::ValueStore;
use crate::error::{BackendError, Error, Result};
use crate::flight::Flights;
use crate::freshness::Freshness;
use crate::stats::{CacheStats, Stats};
use crate::store::{Lookup, Store, StoreError};
use crate::ttl::Ttl;

use barrier::Barrier;
use lock_queues::LockQueues;
use tags::TagIndex;
use unconfirmed::Unconfirmed;

pub(crate) use load::{Fill, Ticket};
#[cfg(feature = "http")]
pub(crate) use load::{Flown, Loaded};
pub(crate) use refresh::Fresh;

/// A handle to one named cache. Cloning is cheap (one reference count) and every clone
/// talks to the same store, counters and locks.
///
/// Get one with [`cache()`](crate::cache) (the cache named "default"),
/// [`get_cache`](crate::get_cache), or build a standalone one with [`Cache::new`].
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> cached_core::Result<()> {
/// use std::time::Duration;
///
/// let cache = cached_core::cache();
/// cache.set("greeting", "hello", None).await?;
/// let greeting: Option<String> = cache.get("greeting").await?;
/// assert_eq!(greeting.as_deref(), Some("hello"));
///
/// let visits = cache.incr("visits", 1).await?;
/// assert_eq!(visits, 1);
/// cache.set("session", &42_u64, Some(Duration::from_secs(60))).await?;
/// assert!(cache.exists("session").await?);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    backend: String,
    store: Store,
    default_ttl: Duration,
    stats: Stats,
    flights: Flights,
    locks: LockQueues,
    /// Custom backends only: serializes each fill with the invalidations of its key, which
    /// the other stores make atomic themselves.
    barrier: Option<Barrier>,
    /// Invalidations the store has not confirmed yet.
    unconfirmed: Unconfirmed,
    /// Memory and custom backends: the keys each tag names (Redis keeps them itself).
    tags: TagIndex,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("name", &self.inner.name)
            .field("backend", &self.inner.backend)
            .field("default_ttl", &self.inner.default_ttl)
            .finish_non_exhaustive()
    }
}

impl Cache {
    pub(crate) fn from_parts(
        name: &str,
        backend: &str,
        store: Store,
        default_ttl: Duration,
    ) -> Self {
        let barrier = matches!(store, Store::Custom(_)).then(Barrier::default);
        Self {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                backend: backend.to_owned(),
                store,
                default_ttl,
                stats: Stats::default(),
                flights: Flights::default(),
                locks: LockQueues::default(),
                barrier,
                unconfirmed: Unconfirmed::default(),
                tags: TagIndex::default(),
            }),
        }
    }

    /// The cache's name in the configuration.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The name of the backend the cache runs on (`"memory"`, `"redis"` or a custom name).
    pub fn backend(&self) -> &str {
        &self.inner.backend
    }

    /// The TTL of writes that do not give one.
    pub fn default_ttl(&self) -> Duration {
        self.inner.default_ttl
    }

    /// The value at `key`, or `None` when it is absent, expired, or does not decode as `T`
    /// (which is logged at `warn` and counted as an error).
    pub async fn get<T>(&self, key: &str) -> Result<Option<T>>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        self.replay_soon();
        if self.unconfirmed(key) {
            self.count_lookup(key, false);
            return Ok(None);
        }
        match self.inner.store.get::<T>(key).await {
            Ok(lookup) => {
                let value = self.decoded(key, lookup);
                self.count_lookup(key, value.is_some());
                Ok(value)
            }
            Err(error) => Err(self.backend_error("get", key, error)),
        }
    }

    /// The value at `key`, or `default` when there is none.
    pub async fn get_or<T>(&self, key: &str, default: T) -> Result<T>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        Ok(self.get(key).await?.unwrap_or(default))
    }

    /// Stores `value` at `key` for `ttl`, or for the cache's default TTL when `None`. A zero
    /// TTL removes the key, since the value would be expired at once.
    pub async fn set<T>(&self, key: &str, value: &T, ttl: Option<Duration>) -> Result<()>
    where
        T: ?Sized + Serialize + ToOwned,
        T::Owned: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        self.set_joining(key, value, ttl, &[]).await
    }

    /// [`set`](Cache::set), with `key` joined to `tags` first (an entity written through):
    /// a later [`delete_tags`](Cache::delete_tags) of one of them removes the entry.
    pub(crate) async fn set_joining<T>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
        tags: &[String],
    ) -> Result<()>
    where
        T: ?Sized + Serialize + ToOwned,
        T::Owned: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        let ttl = ttl.unwrap_or(self.inner.default_ttl);
        if ttl.is_zero() {
            return self.delete(key).await.map(drop);
        }
        let joined = self
            .add_tags(key, tags, Some(ttl))
            .await
            .map_err(|error| self.backend_error("set", key, error))?;
        let written = self
            .invalidating_key(key, self.inner.store.set(key, value, ttl, &joined))
            .await;
        match written {
            Ok(evicted) => {
                self.count_set(key, ttl, evicted);
                Ok(())
            }
            Err(error) => Err(self.store_error("set", key, error)),
        }
    }

    /// The value at `key`; on a miss, the value `loader` produces, stored for `ttl` (or the
    /// default TTL).
    ///
    /// # Concurrent calls on the same key
    ///
    /// Concurrent misses of one key in this process run `loader` once; the other callers
    /// wait for its value. On Redis, misses in several processes run one load too: a process
    /// that finds another's load in flight waits for its value (`lease_wait`, see
    /// [`CacheConfig::redis`](crate::CacheConfig::redis)), then loads by itself.
    ///
    /// # Invalidation wins
    ///
    /// Once an invalidation of `key` has returned (`delete`, `delete_many`, `delete_pattern`,
    /// `clear`, or a write: `set`, `set_nx`, `incr`; in this process or, on Redis, in any
    /// other), no call that starts afterwards gets a value whose load began before it, and no
    /// such load stores its value afterwards. The callers already waiting on such a load get
    /// its value.
    ///
    /// # Failures
    ///
    /// The cache never fails this call: a backend error on read is a miss and on write is
    /// skipped; both are logged at `warn` (at `debug` while a Redis circuit breaker refuses
    /// calls: it logs the outage once) and counted in [`stats`](Cache::stats).
    pub async fn get_or_set<T, F, Fut>(&self, key: &str, loader: F, ttl: Option<Duration>) -> T
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        if let Some(value) = self.lookup(key).await {
            return value;
        }
        self.load_value(key, ttl, |_| true, loader).await
    }

    /// As [`get_or_set`](Cache::get_or_set) with a fallible loader: an `Err` is returned to
    /// its caller and not stored; a waiting caller then runs its own loader.
    pub async fn try_get_or_set<T, E, F, Fut>(
        &self,
        key: &str,
        loader: F,
        ttl: Option<Duration>,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(value) = self.lookup(key).await {
            return Ok(value);
        }
        self.load_ok(key, ttl, |_| true, loader).await
    }

    /// As [`get_or_set`](Cache::get_or_set), with `freshness`: past its `ttl` the value is
    /// served within [`stale`](Freshness::stale) while one background call of `loader`
    /// refreshes it, and a hit within [`early_refresh`](Freshness::early_refresh) of the
    /// `ttl` refreshes it before it goes stale. The entry is stored for `ttl` plus
    /// [`kept_past_ttl`](Freshness::kept_past_ttl).
    ///
    /// `loader` runs in the background (on the current Tokio runtime) when it refreshes, so
    /// it owns what it uses (`'static`). A refresh is one per key in this process and, on
    /// Redis, across processes; it stores its value only while no invalidation or write of
    /// the key came since it read the entry (see [`get_or_set`](Cache::get_or_set)).
    ///
    /// ```
    /// # async fn run() {
    /// use std::time::Duration;
    /// use cached_core::{Cache, Freshness};
    ///
    /// let cache = cached_core::cache();
    /// let stale = Freshness::new().stale(Duration::from_secs(300));
    /// let feed: Vec<u64> = cache
    ///     .get_or_set_fresh("feed:42", || async { vec![1, 2, 3] }, Some(Duration::from_secs(60)), stale)
    ///     .await;
    /// assert_eq!(feed, [1, 2, 3]);
    /// # }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(run());
    /// ```
    pub async fn get_or_set_fresh<T, F, Fut>(
        &self,
        key: &str,
        loader: F,
        ttl: Option<Duration>,
        freshness: Freshness,
    ) -> T
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = T> + Send + 'static,
    {
        match self.lookup_fresh::<T>(key, &freshness, ttl).await {
            Fresh::Serve(value, refresh) => {
                if let Some(refresh) = refresh {
                    let load = loader();
                    refresh.spawn(async move { Some(load.await) });
                }
                value
            }
            Fresh::Load { fill, .. } => self.load_value(key, fill, |_| true, loader).await,
        }
    }

    /// As [`try_get_or_set`](Cache::try_get_or_set), with `freshness` as in
    /// [`get_or_set_fresh`](Cache::get_or_set_fresh); in addition, when `loader` fails and
    /// the entry is within [`stale_if_error`](Freshness::stale_if_error) past its `ttl`, the
    /// caller gets that value (logged at `warn`, counted in
    /// [`stale_on_error`](CacheStats::stale_on_error)). A background refresh that fails
    /// keeps the entry as it is.
    pub async fn try_get_or_set_fresh<T, E, F, Fut>(
        &self,
        key: &str,
        loader: F,
        ttl: Option<Duration>,
        freshness: Freshness,
    ) -> std::result::Result<T, E>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        E: Send + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
    {
        match self.lookup_fresh::<T>(key, &freshness, ttl).await {
            Fresh::Serve(value, refresh) => {
                if let Some(refresh) = refresh {
                    let load = loader();
                    refresh.spawn(async move { load.await.ok() });
                }
                Ok(value)
            }
            Fresh::Load { fill, fallback } => {
                let result = self.load_ok(key, fill, |_| true, loader).await;
                match (result, fallback) {
                    (Err(_), Some(fallback)) => Ok(self.serve_on_error(key, fallback)),
                    (result, _) => result,
                }
            }
        }
    }

    /// Removes `key`; returns whether it existed.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        let deleted = self
            .invalidating_key(key, self.inner.store.delete(key))
            .await;
        self.unconfirmed_keys(&[key], &deleted);
        match deleted {
            Ok(removed) => {
                self.count_deletes(key, usize::from(removed));
                Ok(removed)
            }
            Err(error) => Err(self.backend_error("delete", key, error)),
        }
    }

    /// Removes each of `keys`; returns how many existed.
    pub async fn delete_many<K: AsRef<str>>(&self, keys: &[K]) -> Result<usize> {
        let keys: Vec<&str> = keys.iter().map(AsRef::as_ref).collect();
        let deleted = self
            .invalidating_keys(&keys, self.inner.store.delete_many(&keys))
            .await;
        self.unconfirmed_keys(&keys, &deleted);
        match deleted {
            Ok(removed) => {
                self.count_deletes(&keys.join(" "), removed);
                Ok(removed)
            }
            Err(error) => Err(self.backend_error("delete_many", &keys.join(" "), error)),
        }
    }

    /// Removes every key matching the glob `pattern`, with Redis' rules: `*` any run of
    /// characters, `?` one character, `[abc]`/`[^a-z]` a class, `\` before any of them for
    /// the character itself. Returns how many keys were removed. On Redis, the cache's own
    /// bookkeeping (tag sets and refresh claims, keys starting with the NUL byte and
    /// `cached:` after the prefix, which no rendered key does) is never matched; `clear`
    /// removes it with everything else.
    pub async fn delete_pattern(&self, pattern: &str) -> Result<usize> {
        let deleted = self
            .invalidating_pattern(pattern, self.inner.store.delete_pattern(pattern))
            .await;
        self.unconfirmed_pattern(pattern, &deleted);
        match deleted {
            Ok(removed) => {
                self.count_deletes(pattern, removed);
                Ok(removed)
            }
            Err(error) => Err(self.backend_error("delete_pattern", pattern, error)),
        }
    }

    /// Removes every key of this cache.
    pub async fn clear(&self) -> Result<()> {
        let cleared = self.invalidating_all(self.inner.store.clear()).await;
        self.unconfirmed_clear(&cleared);
        cleared.map_err(|error| self.backend_error("clear", "*", error))?;
        self.clear_tags();
        tracing::debug!(target: LOG_TARGET, cache = %self.inner.name, "Cache CLEAR");
        Ok(())
    }

    /// Whether `key` holds a live value.
    pub async fn exists(&self, key: &str) -> Result<bool> {
        self.inner
            .store
            .exists(key)
            .await
            .map_err(|error| self.backend_error("exists", key, error))
    }

    /// The remaining lifetime of `key`: [`Ttl::Absent`], [`Ttl::NoExpiry`] or
    /// [`Ttl::Expires`].
    pub async fn ttl(&self, key: &str) -> Result<Ttl> {
        self.inner
            .store
            .ttl(key)
            .await
            .map_err(|error| self.backend_error("ttl", key, error))
    }

    /// Adds `by` to the integer at `key` and returns the result. A missing key starts at 0
    /// and does not expire; an existing key keeps its expiry. The value may be any integer
    /// type, or a string holding an integer in canonical decimal form (`"41"`, `"-7"`: no
    /// sign `+`, leading zero, `-0` or spaces, as Redis' `INCR` reads them), on every
    /// backend. Anything else, or a result that overflows `i64`, is [`Error::NotAnInteger`].
    ///
    /// # Counters in a bounded cache
    ///
    /// On a memory cache a counter is an entry like a cached value: each `incr` counts as a
    /// use, so a counter in steady use outlives colder entries when `max_size` forces
    /// evictions, but a cache whose working set outgrows `max_size` can still evict a
    /// counter that goes unused for a while, and it then counts from 0 again. On Redis a
    /// counter lives until it expires or Redis loses it (a restart without persistence, an
    /// eviction under `maxmemory`). Keep counters that must never lose a count in a store
    /// that keeps them.
    pub async fn incr(&self, key: &str, by: i64) -> Result<i64> {
        match self
            .invalidating_key(key, self.inner.store.incr(key, by))
            .await
        {
            Ok((value, evicted)) => {
                self.inner.stats.sets.incr();
                self.inner.stats.evictions.add(evicted);
                Ok(value)
            }
            Err(BackendError::NotAnInteger) => Err(Error::NotAnInteger {
                cache: self.inner.name.clone(),
                key: key.to_owned(),
            }),
            Err(error) => Err(self.backend_error("incr", key, error)),
        }
    }

    /// Subtracts `by` from the integer at `key`; see [`incr`](Cache::incr).
    pub async fn decr(&self, key: &str, by: i64) -> Result<i64> {
        match by.checked_neg() {
            Some(negated) => self.incr(key, negated).await,
            None => Err(Error::NotAnInteger {
                cache: self.inner.name.clone(),
                key: key.to_owned(),
            }),
        }
    }

    /// Stores `value` at `key` only if the key is absent; returns whether it did.
    ///
    /// The value is a claim (the seed's `set_nx("lock:task", ..)`, an idempotency key;
    /// [`lock`](Cache::lock) uses it too): a memory cache never evicts it while it lives, and
    /// holds it beside `max_size`, which bounds cached values.
    ///
    /// # Bounded claims
    ///
    /// A memory cache holds at most `max_size` live claims (set_nx values and locks
    /// together). One more is refused with an [`Error::Backend`] saying so, rather than
    /// evicting a claim (which would let a second holder in) or growing without bound;
    /// expired claims stop counting once reclaimed, within moments. Size `max_size` for the
    /// claims held at once (an idempotency key per request of the last day, say), or keep
    /// them on Redis, which holds as many as its memory does.
    pub async fn set_nx<T>(&self, key: &str, value: &T, ttl: Option<Duration>) -> Result<bool>
    where
        T: ?Sized + Serialize + ToOwned,
        T::Owned: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        let ttl = ttl.unwrap_or(self.inner.default_ttl);
        let written = self
            .invalidating_key(key, self.inner.store.set_nx(key, value, ttl))
            .await;
        match written {
            Ok((stored, evicted)) => {
                if stored {
                    self.count_set(key, ttl, evicted);
                }
                Ok(stored)
            }
            Err(error) => Err(self.store_error("set_nx", key, error)),
        }
    }

    /// The Redis nodes (`host:port`) whose circuit breaker is open now, refusing calls for
    /// the keys they serve; empty while every node answers, and on other backends. On a
    /// cluster each primary has its own circuit, so a failing node costs only its slots.
    pub fn open_circuits(&self) -> Vec<String> {
        self.inner.store.open_circuits()
    }

    /// This cache's counters.
    pub fn stats(&self) -> CacheStats {
        let mut stats = self.inner.stats.snapshot();
        stats.near_hits = self.inner.store.near_hits();
        stats
    }

    /// How many entries the cache holds, on backends that can tell without a scan (memory;
    /// `set_nx` claims and held locks included); `None` on others.
    pub fn entry_count(&self) -> Option<usize> {
        self.inner.store.len()
    }

    /// A read that never fails: misses, undecodable values and backend errors are all
    /// `None`, the last two logged at `warn` and counted. Counted as a hit or a miss.
    pub(crate) async fn lookup<T>(&self, key: &str) -> Option<T>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let value = self.read::<T>(key).await;
        self.count_lookup(key, value.is_some());
        value
    }

    /// A read that never fails and is not counted as a lookup: undecodable values and
    /// backend errors are `None`, logged and counted as errors.
    pub(crate) async fn read<T>(&self, key: &str) -> Option<T>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        self.replay_soon();
        if self.unconfirmed(key) {
            return None;
        }
        match self.inner.store.get::<T>(key).await {
            Ok(lookup) => self.decoded(key, lookup),
            Err(error) => {
                self.read_failed(key, &error);
                None
            }
        }
    }

    /// A lookup answered without awaiting, counted and logged as [`Cache::lookup`]; `None`
    /// when the store cannot answer at once (it is not in memory, nor in a near cache).
    #[inline]
    pub(crate) fn lookup_now<T>(&self, key: &str) -> Option<Option<T>>
    where
        T: DeserializeOwned + Clone + 'static,
    {
        if self.memory().is_none() && self.unconfirmed(key) {
            return None;
        }
        let lookup = self.inner.store.get_now(key)?;
        let value = self.decoded(key, lookup);
        self.count_lookup(key, value.is_some());
        Some(value)
    }

    /// The in-process store, when the cache is one.
    #[inline]
    fn memory(&self) -> Option<&ValueStore> {
        self.inner.store.memory()
    }

    /// The value of a read, an undecodable one logged at `warn` and counted as an error.
    #[inline]
    fn decoded<T>(&self, key: &str, lookup: Lookup<T>) -> Option<T> {
        match lookup {
            Lookup::Hit(value) => Some(value),
            Lookup::Miss => None,
            Lookup::Undecodable(error) => {
                self.inner.stats.errors.incr();
                tracing::warn!(target: LOG_TARGET, cache = %self.inner.name, %key, %error, "cached value does not decode; treated as a miss");
                None
            }
        }
    }

    /// Counts and logs one lookup of `key`.
    #[inline]
    pub(crate) fn count_lookup(&self, key: &str, hit: bool) {
        if hit {
            self.inner.stats.hits.incr();
            tracing::debug!(target: LOG_TARGET, "Cache HIT: {key}");
        } else {
            self.inner.stats.misses.incr();
            tracing::debug!(target: LOG_TARGET, "Cache MISS: {key}");
        }
    }

    /// Counts an error the caller survived (logged where it happened).
    pub(crate) fn count_error(&self) {
        self.inner.stats.errors.incr();
    }

    /// A write, joined to `tags` first, that never fails: an error is logged (at `debug`
    /// while the backend is known to be unavailable) and counted; `false` when nothing was
    /// stored.
    #[cfg(feature = "http")]
    pub(crate) async fn set_quietly<T>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
        tags: &[String],
    ) -> bool
    where
        T: ?Sized + Serialize + ToOwned,
        T::Owned: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        match self.set_joining(key, value, ttl, tags).await {
            Ok(()) => return true,
            Err(Error::Backend {
                source: BackendError::Unavailable,
                ..
            }) => {
                tracing::debug!(target: LOG_TARGET, cache = %self.inner.name, %key, "cache write skipped: the backend is unavailable");
            }
            Err(error) => {
                tracing::warn!(target: LOG_TARGET, cache = %self.inner.name, %key, %error, "cache write failed; the value was not stored");
            }
        }
        false
    }

    /// Removes `key`; a failure is logged (by `delete`) and counted, never returned.
    #[cfg(feature = "http")]
    pub(crate) async fn delete_quietly(&self, key: &str) {
        if let Err(error) = self.delete(key).await {
            tracing::warn!(target: LOG_TARGET, cache = %self.inner.name, %key, %error, "cache delete failed");
        }
    }

    /// The in-process waiters of this cache's locks.
    pub(crate) fn locks(&self) -> &LockQueues {
        &self.inner.locks
    }

    pub(crate) async fn try_take_lock(
        &self,
        name: &str,
        token: &str,
        timeout: Duration,
    ) -> Result<bool> {
        match self.inner.store.lock(name, token, timeout).await {
            Ok((taken, evicted)) => {
                self.inner.stats.evictions.add(evicted);
                Ok(taken)
            }
            Err(error) => Err(self.store_error("lock", name, error)),
        }
    }

    pub(crate) async fn release_lock(&self, name: &str, token: &str) -> Result<bool> {
        self.inner
            .store
            .delete_if_token(name, token)
            .await
            .map_err(|error| self.backend_error("unlock", name, error))
    }

    pub(crate) fn release_lock_now(&self, name: &str, token: &str) -> Option<bool> {
        self.inner.store.delete_if_token_now(name, token)
    }

    fn count_set(&self, key: &str, ttl: Duration, evicted: u64) {
        self.inner.stats.sets.incr();
        self.inner.stats.evictions.add(evicted);
        tracing::debug!(target: LOG_TARGET, "Cache SET: {key} (ttl={})", ttl.as_secs_f64());
    }

    fn count_deletes(&self, what: &str, removed: usize) {
        self.inner.stats.deletes.add(removed as u64);
        tracing::debug!(target: LOG_TARGET, "Cache DELETE: {what} ({removed} removed)");
    }

    fn backend_error(&self, operation: &str, key: &str, error: BackendError) -> Error {
        self.inner.stats.errors.incr();
        if let BackendError::Unsupported(operation) = error {
            return Error::Unsupported {
                cache: self.inner.name.clone(),
                backend: self.inner.backend.clone(),
                operation,
            };
        }
        tracing::debug!(target: LOG_TARGET, cache = %self.inner.name, operation, %key, %error, "cache operation failed");
        Error::Backend {
            cache: self.inner.name.clone(),
            source: error,
        }
    }

    fn store_error(&self, operation: &str, key: &str, error: StoreError) -> Error {
        match error {
            StoreError::Backend(error) => self.backend_error(operation, key, error),
            StoreError::Encode(source) => {
                self.inner.stats.errors.incr();
                Error::Encode {
                    cache: self.inner.name.clone(),
                    key: key.to_owned(),
                    source,
                }
            }
        }
    }
}
