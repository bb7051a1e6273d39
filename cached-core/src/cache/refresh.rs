//! Reads with [`Freshness`]: an entry within its `ttl` is served; one in the last
//! `early_refresh` of it, or past it within `stale`, is served while one background call
//! refreshes it; an older one is loaded again and served only if that load fails
//! (`stale_if_error`).
//!
//! A background refresh is one per key in this process (a flight of its own in the cache's
//! flights, so that an invalidation detaches it like any load) and, on Redis, one per key
//! across processes (a claim beside the key). It fills under the claim its read gave (on
//! Redis the bytes read, compared and set), so no refresh that began before an invalidation
//! stores after it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Cache, Fill, Ticket};
use crate::LOG_TARGET;
use crate::error::BackendError;
use crate::flight::{Flight, Outcome};
use crate::freshness::{Age, Freshness};
use crate::outcome::{Aged, Filled, Joined, Lease};
use crate::token::new_token;

/// What a read with [`Freshness`] tells its caller to do.
pub(crate) enum Fresh<T> {
    /// Serve this value; start `Refresh` in the background when there is one.
    Serve(T, Option<Refresh>),
    /// Load, filling as `fill` says; when the load fails, serve `fallback` if there is one.
    Load { fill: Fill, fallback: Option<T> },
}

/// A background refresh to start: the cache, the key, and the claim it fills under.
pub(crate) struct Refresh {
    cache: Cache,
    key: String,
    lease: Lease,
    stored_for: Duration,
    tags: Vec<String>,
}

/// The shared type of a refresh's flight: refreshes share nothing, and never meet the loads
/// of the key (which share values).
struct Refreshing;

impl Cache {
    /// Reads `key` as `freshness` sees it (counted as a hit or a miss; a stale hit is
    /// counted as one too). `ttl` is the entry's freshness (the cache's default when
    /// `None`).
    pub(crate) async fn lookup_fresh<T>(
        &self,
        key: &str,
        freshness: &Freshness,
        ttl: Option<Duration>,
    ) -> Fresh<T>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let stored_for = self.stored_for(freshness, ttl);
        let Some((value, left, lease)) = self.read_aged::<T>(key).await else {
            self.count_lookup(key, false);
            return Fresh::Load {
                fill: Some(stored_for).into(),
                fallback: None,
            };
        };
        let refresh = |lease| Refresh {
            cache: self.clone(),
            key: key.to_owned(),
            lease,
            stored_for,
            tags: Vec::new(),
        };
        match freshness.age(left) {
            Age::Fresh => {
                self.count_lookup(key, true);
                Fresh::Serve(value, None)
            }
            Age::RefreshSoon => {
                self.count_lookup(key, true);
                Fresh::Serve(value, Some(refresh(lease)))
            }
            Age::Stale => {
                self.count_lookup(key, true);
                self.inner.stats.stale_hits.incr();
                tracing::debug!(target: LOG_TARGET, cache = %self.inner.name, %key, "served past its ttl while it is refreshed");
                Fresh::Serve(value, Some(refresh(lease)))
            }
            Age::ErrorFallback => {
                self.count_lookup(key, false);
                let fill = Fill {
                    ttl: Some(stored_for),
                    over: Some(lease),
                    joined: Joined::default(),
                };
                Fresh::Load {
                    fill,
                    fallback: Some(value),
                }
            }
        }
    }

    /// How long an entry of freshness `ttl` is stored under `freshness`.
    fn stored_for(&self, freshness: &Freshness, ttl: Option<Duration>) -> Duration {
        freshness.stored_for(ttl.unwrap_or(self.inner.default_ttl))
    }

    /// The value a failed load is answered with (`stale_if_error`), logged and counted.
    pub(crate) fn serve_on_error<T>(&self, key: &str, fallback: T) -> T {
        self.inner.stats.stale_on_error.incr();
        tracing::warn!(target: LOG_TARGET, cache = %self.inner.name, %key, "the load failed; an older value is served (stale_if_error)");
        fallback
    }

    /// A read with the entry's remaining lifetime, failing as [`read`](Cache::read) does.
    async fn read_aged<T>(&self, key: &str) -> Option<(T, Option<Duration>, Lease)>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        self.replay_soon();
        if self.unconfirmed(key) {
            return None;
        }
        match self.inner.store.get_aged::<T>(key).await {
            Ok(Aged {
                lookup,
                left,
                lease,
            }) => {
                let value = self.decoded(key, lookup)?;
                Some((value, left, lease))
            }
            Err(error) => {
                self.read_failed(key, &error);
                None
            }
        }
    }
}

impl Refresh {
    /// The tags the refreshed entry joins again (for as long as it is stored anew).
    pub(crate) fn tagged(mut self, tags: Vec<String>) -> Self {
        self.tags = tags;
        self
    }

    /// Runs `load` in the background and fills the key with the value it gives (`None`: the
    /// load failed or its value is not to be stored), unless a refresh of the key is running
    /// already, here or (on Redis) in another process.
    pub(crate) fn spawn<T, Fut>(self, load: Fut)
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        Fut: Future<Output = Option<T>> + Send + 'static,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::debug!(target: LOG_TARGET, cache = %self.cache.inner.name, key = %self.key, "no Tokio runtime to refresh in; the entry is loaded again once it expires");
            return;
        };
        let (flight, _) = self.cache.inner.flights.join::<Refreshing>(&self.key);
        if flight.cell::<Refreshing>().set(Outcome::Each).is_err() {
            return;
        }
        let running = Running {
            cache: self.cache.clone(),
            key: self.key.clone(),
            flight,
        };
        runtime.spawn(self.run(running, load));
    }

    async fn run<T, Fut>(self, running: Running, load: Fut)
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        Fut: Future<Output = Option<T>> + Send + 'static,
    {
        let cache = &self.cache;
        let token = new_token();
        match cache.inner.store.claim_refresh(&self.key, &token).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => {
                cache.inner.stats.errors.incr();
                tracing::debug!(target: LOG_TARGET, cache = %cache.inner.name, key = %self.key, %error, "refresh not claimed; the entry is loaded again once it expires");
                return;
            }
        }
        let joined = match cache
            .add_tags(&self.key, &self.tags, Some(self.stored_for))
            .await
        {
            Ok(joined) => joined,
            Err(error) => {
                cache.inner.stats.errors.incr();
                tracing::warn!(target: LOG_TARGET, cache = %cache.inner.name, key = %self.key, %error, "the refreshed key could not join its tags; not refreshed");
                cache.inner.store.end_refresh(&self.key, &token).await;
                return;
            }
        };
        let ticket = Ticket::new(cache, &self.key, Arc::clone(&running.flight), self.lease)
            .with_tags(joined);
        let filled = match load.await {
            Some(value) => ticket.fill(&value, Some(self.stored_for)).await,
            None => {
                tracing::debug!(target: LOG_TARGET, cache = %cache.inner.name, key = %self.key, "background refresh produced nothing to store; the entry stays");
                ticket.skip().await
            }
        };
        if filled == Filled::Stored {
            cache.inner.stats.refreshes.incr();
        }
        cache.inner.store.end_refresh(&self.key, &token).await;
        drop(running);
    }
}

/// A refresh in flight: its flight leaves the map when it ends, however it ends (a dropped
/// runtime included), so that the key's next stale hit can refresh again.
struct Running {
    cache: Cache,
    key: String,
    flight: Arc<Flight>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.cache.inner.flights.retire(&self.key, &self.flight);
    }
}

impl Cache {
    /// Logs and counts a failed read, which the caller sees as a miss.
    pub(crate) fn read_failed(&self, key: &str, error: &BackendError) {
        self.inner.stats.errors.incr();
        if matches!(error, BackendError::Unavailable) {
            // The circuit breaker logged the outage once; one line per call would flood.
            tracing::debug!(target: LOG_TARGET, cache = %self.inner.name, %key, %error, "cache read skipped; treated as a miss");
        } else {
            tracing::warn!(target: LOG_TARGET, cache = %self.inner.name, %key, %error, "cache read failed; treated as a miss");
        }
    }
}
