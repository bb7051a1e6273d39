//! Leases: how a load on Redis keeps its value from being stored after an invalidation, in
//! any process (the "stale set" of the memcache leases paper, NSDI '13), and how processes
//! that miss the same key together run one load.
//!
//! A load that misses *claims* its key: a script stores a lease marker (a prefix no encoded
//! value starts with, then a token unique to this load) in the key's place, for `lease_ttl`.
//! The load's value is stored by a compare-and-set on that marker (`FILL`). Anything that
//! removes or writes the key (`delete`, `delete_pattern`, `clear`, `set`, in this process or
//! another) removes the marker with it, so a load that began before that invalidation
//! cannot store afterwards. Keeping the marker in the key itself (rather than beside it)
//! means every deletion, patterns and `FLUSHDB` included, reaches it, and that it shares the
//! key's hash slot on a cluster.
//!
//! A load that finds another's marker waits for that load's value (polling, with backoff,
//! for at most `lease_wait`), then loads by itself: it stores through the marker it saw, so
//! whichever of the two finishes first stores, and only while no invalidation came between.

use std::time::{Duration, Instant};

use redis::cmd;
use serde::de::DeserializeOwned;

use super::RedisStore;
use super::call::Via;
use super::scripts;
use crate::error::BackendError;
use crate::outcome::{Claim, Lease, Lookup};
use crate::token::new_token;

/// What every lease marker starts with: a NUL byte, so that no JSON value (nor any UTF-8
/// text a person would store) starts with it.
pub(super) const PREFIX: &[u8] = b"\0cached:lease:";

/// How many times a load claims a key holding values it cannot use (changing under it)
/// before it gives up storing.
const MAX_CLAIMS: u32 = 4;

/// The longest pause between two looks at a key another process is loading.
const MAX_POLL: Duration = Duration::from_millis(20);

/// Whether `bytes`, read from a key, are a lease marker rather than a value.
pub(super) fn is_lease(bytes: &[u8]) -> bool {
    bytes.starts_with(PREFIX)
}

/// A new lease marker, unique to one load.
fn new_marker() -> Vec<u8> {
    let mut marker = PREFIX.to_vec();
    marker.extend_from_slice(new_token().as_bytes());
    marker
}

/// What a look at the key found.
enum Seen<S> {
    /// A value the caller takes.
    Found(S),
    /// Nothing: claim it.
    Empty,
    /// A value the caller cannot use: claim over exactly these bytes.
    Unusable(Vec<u8>),
    /// Another load's marker.
    Leased(Vec<u8>),
}

impl RedisStore {
    /// The second look of a load at `key` and its claim (see the module documentation).
    /// Fails open: when Redis cannot be asked, the load runs without a lease and its value
    /// is not stored.
    pub(crate) async fn claim<T, S>(&self, key: &str, accept: impl Fn(T) -> Option<S>) -> Claim<S>
    where
        T: DeserializeOwned,
    {
        if self
            .circuits
            .for_key(self.key(key).as_bytes())
            .breaker
            .refuses()
        {
            return Claim::Failed(BackendError::Unavailable);
        }
        let marker = new_marker();
        let deadline = Instant::now().checked_add(self.leases.wait);
        let mut seen = Seen::Empty;
        let mut claims = 0;
        let mut backoff = Duration::from_millis(1);
        loop {
            seen = match seen {
                Seen::Found(value) => return Claim::Found(value),
                Seen::Empty | Seen::Unusable(_) if claims == MAX_CLAIMS => {
                    return Claim::Load(Lease::Denied);
                }
                Seen::Empty | Seen::Unusable(_) => {
                    claims += 1;
                    let unusable = match &seen {
                        Seen::Unusable(bytes) => Some(bytes.as_slice()),
                        _ => None,
                    };
                    match self.claim_once(key, &marker, unusable).await {
                        Ok(None) => {
                            return Claim::Load(Lease::Redis {
                                marker,
                                owned: true,
                            });
                        }
                        Ok(Some(bytes)) => match self.look(key, bytes, &accept).await {
                            Ok(seen) => seen,
                            Err(error) => return Claim::Failed(error),
                        },
                        Err(error) => return Claim::Failed(error),
                    }
                }
                Seen::Leased(other) => {
                    let now = Instant::now();
                    let left = deadline.map_or(Duration::MAX, |d| d.saturating_duration_since(now));
                    if left.is_zero() {
                        return Claim::Load(Lease::Redis {
                            marker: other,
                            owned: false,
                        });
                    }
                    tokio::time::sleep(backoff.min(left)).await;
                    backoff = (backoff * 2).min(MAX_POLL);
                    match self.get_raw(key).await {
                        Ok(None) => Seen::Empty,
                        Ok(Some(bytes)) => match self.look(key, bytes, &accept).await {
                            Ok(seen) => seen,
                            Err(error) => return Claim::Failed(error),
                        },
                        Err(error) => return Claim::Failed(error),
                    }
                }
            };
        }
    }

    /// One `CLAIM`: `None` when the lease was taken, or what the key holds instead.
    async fn claim_once(
        &self,
        key: &str,
        marker: &[u8],
        unusable: Option<&[u8]>,
    ) -> Result<Option<Vec<u8>>, BackendError> {
        let key = self.key(key);
        let key: &str = &key;
        let lease_ms = super::ttl_millis(self.leases.ttl);
        self.call(Via::Key(key), |mut conn| async move {
            let mut invocation = scripts::CLAIM.key(key);
            invocation.arg(marker).arg(lease_ms);
            if let Some(unusable) = unusable {
                invocation.arg(unusable);
            }
            invocation.invoke_async::<Option<Vec<u8>>>(&mut conn).await
        })
        .await
        .map_err(|failure| self.backend_error(failure))
    }

    /// The bytes at `key`, markers included.
    pub(super) async fn get_raw(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        let key = self.key(key);
        let key: &str = &key;
        self.call(Via::Key(key), |mut conn| async move {
            cmd("GET")
                .arg(key)
                .query_async::<Option<Vec<u8>>>(&mut conn)
                .await
        })
        .await
        .map_err(|failure| self.backend_error(failure))
    }
}

impl RedisStore {
    /// What `bytes` read from `key` mean to a load that accepts values through `accept`.
    async fn look<T: DeserializeOwned, S>(
        &self,
        key: &str,
        bytes: Vec<u8>,
        accept: &impl Fn(T) -> Option<S>,
    ) -> Result<Seen<S>, BackendError> {
        if is_lease(&bytes) {
            return Ok(Seen::Leased(bytes));
        }
        let full = self.key(key);
        Ok(match self.decode::<T>(key, &full, &bytes, false).await? {
            Lookup::Hit(value) => match accept(value) {
                Some(accepted) => Seen::Found(accepted),
                None => Seen::Unusable(bytes),
            },
            Lookup::Miss | Lookup::Undecodable(_) => Seen::Unusable(bytes),
        })
    }
}
