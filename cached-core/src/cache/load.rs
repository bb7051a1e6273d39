//! The load path: what every cached read does on a miss, for `#[cached]`, `get_or_set`,
//! `try_get_or_set` and the HTTP layer alike.
//!
//! After the caller's own lookup missed (counted there): join the key's flight (one load per
//! key in this process); its leader claims the key (a second look, in case a load finished
//! meanwhile, and on Redis a lease), runs the load, and fills the key only while its claim
//! holds, so that no load that began before an invalidation stores after it; then the
//! result goes to the callers that waited.
//!
//! A caller that waited on a load whose lease was lost (an invalidation came while it ran,
//! perhaps in another process, perhaps before this caller arrived) does not take its value:
//! it waits on the next load, which began after it arrived. So does a caller that joined
//! after the leader's second look was sent, for a value that look found (see `flight.rs`).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Cache;
use crate::LOG_TARGET;
use crate::error::BackendError;
use crate::flight::{Flight, Flights, Outcome, Phase};
use crate::store::{Claim, Filled, Joined, Lease, StoreError};

/// What a load gave one caller.
pub(crate) enum Flown<S, O> {
    /// This caller ran the load: its own result.
    Own(O),
    /// Another caller's load, or a value found on the second look.
    Shared(S),
}

impl<T, E> Flown<T, Result<T, E>> {
    /// The caller's result: its own load's, or the `Ok` value another caller's load shared.
    fn into_result(self) -> Result<T, E> {
        match self {
            Flown::Own(result) => result,
            Flown::Shared(value) => Ok(value),
        }
    }
}

impl<T> Flown<T, T> {
    /// The value, whoever loaded it.
    pub(crate) fn into_inner(self) -> T {
        match self {
            Flown::Own(value) | Flown::Shared(value) => value,
        }
    }
}

/// What a load produced: the result for the caller that ran it, how the waiting callers'
/// share is made from it, and how its fill went.
pub(crate) struct Loaded<S, O> {
    own: O,
    share: Share<S, O>,
    filled: Filled,
}

/// What the waiting callers get: made only if some caller waits, so that a load nobody
/// waited for clones nothing.
enum Share<S, O> {
    /// This, already made.
    #[cfg(feature = "http")]
    Made(Option<S>),
    /// Made from the loading caller's result.
    From(fn(&O) -> Option<S>),
}

#[cfg(feature = "http")]
impl<S, O> Loaded<S, O> {
    /// `own` for the loading caller, `share` for those that waited.
    pub(crate) fn new(own: O, share: Option<S>, filled: Filled) -> Self {
        Self {
            own,
            share: Share::Made(share),
            filled,
        }
    }

    /// A result for the loading caller alone; each waiting caller loads by itself.
    pub(crate) fn alone(own: O, filled: Filled) -> Self {
        Self::new(own, None, filled)
    }
}

impl<S: Clone> Loaded<S, S> {
    /// One value for every caller.
    pub(crate) fn shared(value: S, filled: Filled) -> Self {
        Self {
            own: value,
            share: Share::From(|value| Some(value.clone())),
            filled,
        }
    }
}

impl<T: Clone, E> Loaded<T, Result<T, E>> {
    /// A result whose `Ok` value every caller gets; an `Err` is the loading caller's alone.
    pub(crate) fn ok(result: Result<T, E>, filled: Filled) -> Self {
        Self {
            own: result,
            share: Share::From(|result| result.as_ref().ok().cloned()),
            filled,
        }
    }
}

/// How a load fills its key: for how long (the cache's default when `None`); for an entry
/// kept past its freshness (`stale_if_error`), over what: the claim its read gave, so that
/// the old value stays readable (here and in other processes) until the new one replaces
/// it, and stays if the load fails; and with the versions of the tags the key joined.
pub(crate) struct Fill {
    pub(crate) ttl: Option<Duration>,
    pub(crate) over: Option<Lease>,
    pub(crate) joined: Joined,
}

impl From<Option<Duration>> for Fill {
    fn from(ttl: Option<Duration>) -> Self {
        Self {
            ttl,
            over: None,
            joined: Joined::default(),
        }
    }
}

/// The right of a load's leader to fill its key, consumed by [`fill`](Ticket::fill) or
/// [`skip`](Ticket::skip): the only ways to produce the [`Filled`] a [`Loaded`] needs.
pub(crate) struct Ticket<'a> {
    cache: &'a Cache,
    key: &'a str,
    flight: Arc<Flight>,
    lease: Lease,
    joined: Joined,
}

impl<'a> Ticket<'a> {
    /// The right to fill `key` under `lease` for the load that `flight` stands for.
    pub(super) fn new(cache: &'a Cache, key: &'a str, flight: Arc<Flight>, lease: Lease) -> Self {
        Self {
            cache,
            key,
            flight,
            lease,
            joined: Joined::default(),
        }
    }

    /// This ticket, filling with the versions of the tags the key `joined`.
    pub(crate) fn with_tags(mut self, joined: Joined) -> Self {
        self.joined = joined;
        self
    }

    /// The key this load fills.
    #[cfg(feature = "http")]
    pub(crate) fn key(&self) -> &str {
        self.key
    }

    /// Stores `value` for `ttl` (the cache's default when `None`) unless an invalidation or
    /// a newer write came since the load began. A failure is logged and counted, never
    /// returned.
    pub(crate) async fn fill<T>(self, value: &T, ttl: Option<Duration>) -> Filled
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let cache = self.cache;
        let ttl = ttl.unwrap_or(cache.inner.default_ttl);
        if ttl.is_zero() {
            return self.skip().await;
        }
        self.flight.advance(Phase::Closed);
        let barrier = match &cache.inner.barrier {
            Some(barrier) => Some(barrier.fill(self.key).await),
            None => None,
        };
        let filled = cache
            .inner
            .store
            .fill(
                self.key,
                value,
                ttl,
                &self.lease,
                &self.flight,
                &self.joined,
            )
            .await;
        match filled {
            Ok((Filled::Stored, evicted)) => {
                drop(barrier);
                cache.count_set(self.key, ttl, evicted);
                Filled::Stored
            }
            Ok((filled, _)) => {
                drop(barrier);
                tracing::debug!(target: LOG_TARGET, cache = %cache.inner.name, key = %self.key, ?filled, "loaded value not stored: the key was invalidated or written while it loaded");
                filled
            }
            Err(error) => {
                cache.write_failed(self.key, error);
                drop(barrier);
                self.skip().await
            }
        }
    }

    /// [`fill`](Ticket::fill) when `keep` accepts `value`, else [`skip`](Ticket::skip).
    pub(crate) async fn fill_if<T>(
        self,
        value: &T,
        ttl: Option<Duration>,
        keep: impl FnOnce(&T) -> bool,
    ) -> Filled
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    {
        if keep(value) {
            self.fill(value, ttl).await
        } else {
            self.skip().await
        }
    }

    /// Gives up storing (the value is an error, or the condition refused it).
    pub(crate) async fn skip(self) -> Filled {
        self.flight.advance(Phase::Closed);
        self.cache
            .inner
            .store
            .release(self.key, &self.lease, &self.flight)
            .await
    }
}

/// A caller's place in a flight; leaving a flight nobody else holds forgets it.
struct Member<'a> {
    flights: &'a Flights,
    key: &'a str,
    flight: Arc<Flight>,
}

impl Drop for Member<'_> {
    fn drop(&mut self) {
        self.flights.leave(self.key, &self.flight);
    }
}

/// The shapes of load the cache API and `#[cached]` share: a value, a `Result` whose
/// `Err` stays with its caller, and a `Result` whose `Err` is shared too. `keep` decides
/// whether a value (an `Ok` value) is stored.
impl Cache {
    /// Loads a value every caller gets.
    pub(crate) async fn load_value<T, F, Fut>(
        &self,
        key: &str,
        fill: impl Into<Fill>,
        keep: impl FnOnce(&T) -> bool,
        load: F,
    ) -> T
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let Fill { ttl, over, joined } = fill.into();
        self.load(key, Some::<T>, over, joined, |ticket| async move {
            let value = load().await;
            let filled = ticket.fill_if(&value, ttl, keep).await;
            Loaded::shared(value, filled)
        })
        .await
        .into_inner()
    }

    /// Loads a `Result`: an `Ok` value goes to every caller, an `Err` to its caller alone
    /// (each waiting caller then loads by itself).
    pub(crate) async fn load_ok<T, E, F, Fut>(
        &self,
        key: &str,
        fill: impl Into<Fill>,
        keep: impl FnOnce(&T) -> bool,
        load: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let Fill { ttl, over, joined } = fill.into();
        let flown = self
            .load(key, Some::<T>, over, joined, |ticket| async move {
                match load().await {
                    Ok(value) => {
                        let filled = ticket.fill_if(&value, ttl, keep).await;
                        Loaded::ok(Ok(value), filled)
                    }
                    Err(error) => Loaded::ok(Err(error), ticket.skip().await),
                }
            })
            .await;
        flown.into_result()
    }

    /// Loads a `Result` whose `Ok` value names its own tags (`tags_of`: an entity's, `None`
    /// when they cannot be rendered): they are joined after the load, before the fill. A
    /// tag invalidation that ran during the load could not reach the key, which had not
    /// joined it yet, but it removed the tag: a tag younger than the load (or one that
    /// cannot be joined) leaves the value unstored, so that invalidation still wins. The
    /// first load after a tag is created, or invalidated, is therefore returned unstored.
    pub(crate) async fn load_ok_tagged_after<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        tags_of: impl FnOnce(&T) -> Option<Vec<String>>,
        load: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let flown = self
            .load(key, Some::<T>, None, Joined::default(), |ticket| async move {
                let started = Instant::now();
                let value = match load().await {
                    Ok(value) => value,
                    Err(error) => return Loaded::ok(Err(error), ticket.skip().await),
                };
                let joined = match tags_of(&value) {
                    Some(tags) => self.add_tags(key, &tags, ttl).await.map_err(|error| {
                        self.inner.stats.errors.incr();
                        tracing::warn!(target: LOG_TARGET, cache = %self.inner.name, %key, %error, "the loaded value could not join its tags; not stored");
                    }),
                    None => Err(()),
                };
                // The load's time is taken after the join returns: it errs toward not
                // storing. (A Redis tag's age is told by the server's clock alone.)
                let filled = match joined {
                    Ok(joined) if joined.youngest.is_none_or(|age| age >= started.elapsed()) => {
                        ticket.with_tags(joined).fill(&value, ttl).await
                    }
                    Ok(_) => {
                        tracing::debug!(target: LOG_TARGET, cache = %self.inner.name, %key, "loaded value not stored: one of its tags is younger than the load (invalidated, or new, meanwhile)");
                        ticket.skip().await
                    }
                    Err(()) => ticket.skip().await,
                };
                Loaded::ok(Ok(value), filled)
            })
            .await;
        flown.into_result()
    }

    /// Loads a `Result` every caller gets, `Err` included (never stored).
    pub(crate) async fn load_result<T, E, F, Fut>(
        &self,
        key: &str,
        fill: impl Into<Fill>,
        keep: impl FnOnce(&T) -> bool,
        load: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        E: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let Fill { ttl, over, joined } = fill.into();
        self.load(
            key,
            |value: T| Some(Ok(value)),
            over,
            joined,
            |ticket| async move {
                let result = load().await;
                let filled = match &result {
                    Ok(value) => ticket.fill_if(value, ttl, keep).await,
                    Err(_) => ticket.skip().await,
                };
                Loaded::shared(result, filled)
            },
        )
        .await
        .into_inner()
    }
}

impl Cache {
    /// Loads `key` after a miss: one load per key among concurrent callers, filled only
    /// while no invalidation came (see the module documentation). `accept` reads a value
    /// found on the second look (`None` to load anyway); `over`, when given, is the claim
    /// to fill under instead of a second look (see [`Fill`]); `tags`, the versions of the
    /// tags the key joined before the load; `run` loads with a [`Ticket`].
    pub(crate) async fn load<'a, T, S, O, R, Fut>(
        &'a self,
        key: &'a str,
        accept: impl Fn(T) -> Option<S>,
        mut over: Option<Lease>,
        tags: Joined,
        run: R,
    ) -> Flown<S, O>
    where
        T: DeserializeOwned + Clone + 'static,
        S: Clone + Send + Sync + 'static,
        R: FnOnce(Ticket<'a>) -> Fut,
        Fut: Future<Output = Loaded<S, O>>,
    {
        let mut run = Some(run);
        let mut own = None;
        let mut waited = false;
        loop {
            let (flight, joined) = self.inner.flights.join::<S>(key);
            let member = Member {
                flights: &self.inner.flights,
                key,
                flight,
            };
            let outcome = member
                .flight
                .cell::<S>()
                .get_or_init(|| {
                    self.lead(
                        key,
                        &member.flight,
                        &accept,
                        (over.take(), tags.clone()),
                        &mut run,
                        &mut own,
                    )
                })
                .await;
            if let Some(own) = own.take() {
                return Flown::Own(own);
            }
            let outcome = outcome.clone();
            drop(member);
            match outcome {
                Outcome::Sure(value) => return Flown::Shared(value),
                Outcome::Found(value) if joined == Phase::Open || waited => {
                    return Flown::Shared(value);
                }
                Outcome::Unsure(value) if waited => return Flown::Shared(value),
                Outcome::Found(_) | Outcome::Unsure(_) | Outcome::Each => waited = true,
            }
        }
    }

    /// The leader's part of a flight: claim, load, fill; the flight is retired before its
    /// outcome is published, so that a caller arriving afterwards starts afresh.
    async fn lead<'a, T, S, O, R, Fut>(
        &'a self,
        key: &'a str,
        flight: &Arc<Flight>,
        accept: &impl Fn(T) -> Option<S>,
        (over, joined): (Option<Lease>, Joined),
        run: &mut Option<R>,
        own: &mut Option<O>,
    ) -> Outcome<S>
    where
        T: DeserializeOwned + Clone + 'static,
        R: FnOnce(Ticket<'a>) -> Fut,
        Fut: Future<Output = Loaded<S, O>>,
    {
        flight.advance(Phase::Looking);
        let claim = if self.unconfirmed(key) {
            Claim::Load(Lease::Denied)
        } else if let Some(over) = over {
            Claim::Load(over)
        } else {
            self.inner.store.claim::<T, S>(key, accept).await
        };
        let lease = match claim {
            Claim::Found(value) => {
                flight.advance(Phase::Closed);
                self.inner.flights.retire(key, flight);
                return Outcome::Found(value);
            }
            Claim::Load(lease) => lease,
            Claim::Failed(error) => {
                // Counted; logged at `debug`, since the read before it or the circuit
                // breaker has reported the failure already.
                self.inner.stats.errors.incr();
                tracing::debug!(target: LOG_TARGET, cache = %self.inner.name, %key, %error, "cache claim failed; the loaded value will not be stored");
                Lease::Denied
            }
        };
        let run = run.take().expect("a caller leads at most one load");
        let ticket = Ticket {
            cache: self,
            key,
            flight: Arc::clone(flight),
            lease,
            joined,
        };
        let loaded = run(ticket).await;
        self.inner.flights.retire(key, flight);
        // Retired, so nobody joins any more: whoever else holds the flight waits on it.
        let waited = Arc::strong_count(flight) > 1;
        let share = match loaded.share {
            _ if !waited => None,
            #[cfg(feature = "http")]
            Share::Made(share) => share,
            Share::From(make) => make(&loaded.own),
        };
        *own = Some(loaded.own);
        match (share, loaded.filled) {
            (None, _) => Outcome::Each,
            (Some(value), Filled::Lost) => Outcome::Unsure(value),
            (Some(value), Filled::Stored | Filled::Kept | Filled::Detached) => Outcome::Sure(value),
        }
    }

    /// Logs and counts a failed write of a value nobody asked to store explicitly.
    fn write_failed(&self, key: &str, error: StoreError) {
        self.inner.stats.errors.incr();
        match error {
            StoreError::Backend(BackendError::Unavailable) => {
                tracing::debug!(target: LOG_TARGET, cache = %self.inner.name, %key, "cache write skipped: the backend is unavailable");
            }
            StoreError::Backend(error) => {
                tracing::warn!(target: LOG_TARGET, cache = %self.inner.name, %key, %error, "cache write failed; the value was not stored");
            }
            StoreError::Encode(error) => {
                tracing::warn!(target: LOG_TARGET, cache = %self.inner.name, %key, %error, "cache write failed: the value does not serialize; it was not stored");
            }
        }
    }
}
