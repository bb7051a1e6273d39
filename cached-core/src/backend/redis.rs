//! The Redis store: one server through a redis-rs `ConnectionManager`, or a Redis Cluster
//! through `cluster_async`, behind a circuit breaker.
//!
//! Values are encoded by the codec (JSON), keys carry the cache's `key_prefix`. Each method
//! is one command or one Lua script except `delete_pattern`, which walks `SCAN MATCH COUNT`
//! and unlinks each page's keys in one `UNLINK` (never `KEYS`, which blocks the server).
//! Loads claim their key with a lease (see `redis/lease.rs`), which the scripts that answer
//! for values treat as an absent key.

mod circuit;
mod cluster;
mod connection;
mod failure;
mod lease;
mod scripts;
mod settings;

use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, FromRedisValue, RedisResult, Value, cmd};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::LOG_TARGET;
use crate::codec;
use crate::error::BackendError;
use crate::glob;
use crate::key;
use crate::outcome::{Filled, Lookup, StoreError};
use crate::ttl::Ttl;

use circuit::{Breaker, Tripped};
use cluster::{Node, cluster_primaries};
use connection::{Conn, Connection};
use failure::{Failure, not_an_integer, overflowed, unreachable};

pub(crate) use settings::build;

/// Keys asked for per `SCAN` step: large enough to walk a big keyspace in few round trips,
/// small enough that each step stays short on the server.
const SCAN_COUNT: usize = 1000;

/// The longest TTL sent to Redis, in milliseconds (about 35,000 years): longer ones are
/// clamped, since Redis refuses expiry times past the end of its clock.
const MAX_TTL_MS: u128 = 1 << 50;

/// How loads claim keys: how long a lease lives, and how long a load waits for another
/// process's load of the same key before it loads by itself.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Leases {
    pub(crate) ttl: Duration,
    pub(crate) wait: Duration,
}

/// The store behind one Redis cache.
pub(crate) struct RedisStore {
    cache: String,
    prefix: String,
    connection: Connection,
    breaker: Breaker,
    response_timeout: Duration,
    leases: Leases,
}

impl RedisStore {
    fn key<'k>(&self, key: &'k str) -> Cow<'k, str> {
        key::prefixed(&self.prefix, key)
    }

    /// The value at `key`. A lease (a load in flight) is a miss; a key holding another
    /// Redis type (a list, a hash: written by another program) is undecodable, like a
    /// corrupt value, rather than an error.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Lookup<T>, BackendError> {
        let key = self.key(key);
        let key: &str = &key;
        let reply = self
            .call(|mut conn| async move {
                cmd("GET")
                    .arg(key)
                    .query_async::<Option<Vec<u8>>>(&mut conn)
                    .await
            })
            .await;
        match reply {
            Ok(Some(bytes)) if lease::is_lease(&bytes) => Ok(Lookup::Miss),
            Ok(bytes) => Ok(codec::lookup(bytes.as_deref())),
            Err(Failure::Redis(error)) if error.code() == Some("WRONGTYPE") => {
                Ok(Lookup::Undecodable(serde::de::Error::custom(
                    "the key holds a Redis data type other than a string",
                )))
            }
            Err(failure) => Err(self.backend_error(failure)),
        }
    }

    /// Whether the circuit refuses calls now.
    pub(crate) fn refuses(&self) -> bool {
        self.breaker.refuses()
    }

    /// The bytes of `value`, unless the circuit refuses calls: checked first, so that a
    /// write Redis would not get costs no serialization.
    fn encode<T: ?Sized + Serialize>(&self, value: &T) -> Result<Vec<u8>, StoreError> {
        if self.refuses() {
            return Err(StoreError::Backend(BackendError::Unavailable));
        }
        codec::encode(value).map_err(StoreError::Encode)
    }

    /// Stores `value` at `key` for `ttl` (`SET PX`), replacing a lease (whose load then
    /// does not store over this write).
    pub(crate) async fn set<T: ?Sized + Serialize>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let bytes = self.encode(value)?;
        self.query::<Value>(
            cmd("SET")
                .arg(&*self.key(key))
                .arg(bytes)
                .arg("PX")
                .arg(ttl_millis(ttl)),
        )
        .await
        .map(drop)
        .map_err(StoreError::Backend)
    }

    /// Stores `value` at `key` for `ttl` if the key is absent or only leased.
    pub(crate) async fn set_nx<T: ?Sized + Serialize>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let bytes = self.encode(value)?;
        let ttl = ttl_millis(ttl);
        self.script::<i64>(&scripts::SET_NX, key, |invocation| {
            invocation.arg(&bytes).arg(ttl);
        })
        .await
        .map(|stored| stored == 1)
        .map_err(StoreError::Backend)
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<bool, BackendError> {
        self.query::<u64>(cmd("UNLINK").arg(&*self.key(key)))
            .await
            .map(|removed| removed > 0)
    }

    /// One `UNLINK` for every key; on a cluster, redis-rs splits it by slot and sends the
    /// parts to their nodes concurrently.
    pub(crate) async fn delete_many(&self, keys: &[&str]) -> Result<usize, BackendError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let mut unlink = cmd("UNLINK");
        for key in keys {
            unlink.arg(&*self.key(key));
        }
        self.query::<usize>(&unlink).await
    }

    /// Unlinks every key matching `pattern` under the cache's prefix (escaped, so that only
    /// its literal text matches), walking each primary's keyspace with `SCAN`. What `SCAN`
    /// returns is matched again without the prefix: Redis matches the empty key only at the
    /// start of a key, so under a prefix `**` would take the key `""`, which it does not
    /// match on its own (nor on the memory backend).
    pub(crate) async fn delete_pattern(&self, pattern: &str) -> Result<usize, BackendError> {
        let unprefixed = glob::Pattern::new(pattern);
        let pattern = key::prefixed_pattern(&self.prefix, pattern);
        let mut removed = 0;
        for node in self.primaries().await? {
            removed += self.unlink_matching(&node, &pattern, &unprefixed).await?;
        }
        Ok(removed)
    }

    /// Removes the cache's keys: those under its prefix, or, without a prefix, every key of
    /// its database (`FLUSHDB ASYNC`, on every primary of a cluster).
    pub(crate) async fn clear(&self) -> Result<(), BackendError> {
        if self.prefix.is_empty() {
            return self
                .query::<Value>(cmd("FLUSHDB").arg("ASYNC"))
                .await
                .map(drop);
        }
        self.delete_pattern("*").await.map(drop)
    }

    pub(crate) async fn exists(&self, key: &str) -> Result<bool, BackendError> {
        self.script::<u64>(&scripts::EXISTS, key, |_| {})
            .await
            .map(|found| found > 0)
    }

    pub(crate) async fn ttl(&self, key: &str) -> Result<Ttl, BackendError> {
        let millis: i64 = self.script(&scripts::PTTL, key, |_| {}).await?;
        Ok(match millis {
            -1 => Ttl::NoExpiry,
            ms if ms < 0 => Ttl::Absent,
            ms => Ttl::Expires(Duration::from_millis(ms as u64)),
        })
    }

    /// `INCRBY`; a lease, or a counter held as a JSON string (`"41"`), goes through a script
    /// (see `INCR_QUOTED`). "Not an integer", overflow and a key of another Redis type are
    /// [`BackendError::NotAnInteger`].
    pub(crate) async fn incr(&self, key: &str, by: i64) -> Result<i64, BackendError> {
        let prefixed = self.key(key);
        let prefixed: &str = &prefixed;
        let plain = self
            .call(|mut conn| async move {
                cmd("INCRBY")
                    .arg(prefixed)
                    .arg(by)
                    .query_async::<i64>(&mut conn)
                    .await
            })
            .await;
        let result = match plain {
            Err(Failure::Redis(error)) if not_an_integer(&error) => {
                self.call(|mut conn| async move {
                    scripts::INCR_QUOTED
                        .key(prefixed)
                        .arg(by)
                        .invoke_async::<i64>(&mut conn)
                        .await
                })
                .await
            }
            other => other,
        };
        result.map_err(|failure| match failure {
            Failure::Redis(error) if not_an_integer(&error) || overflowed(&error) => {
                BackendError::NotAnInteger
            }
            other => self.backend_error(other),
        })
    }

    /// Deletes `key` only while it holds the lock token `token`, atomically (a Lua
    /// compare-and-delete).
    pub(crate) async fn delete_if_token(
        &self,
        key: &str,
        token: &str,
    ) -> Result<bool, BackendError> {
        let expected = codec::encode(token).map_err(BackendError::new)?;
        self.delete_if_equals(key, &expected).await
    }

    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, BackendError> {
        self.script::<i64>(&scripts::DELETE_IF_EQUALS, key, |invocation| {
            invocation.arg(expected);
        })
        .await
        .map(|deleted| deleted == 1)
    }

    /// Stores a load's `value` while `key` holds its lease `marker` (see `lease.rs`).
    pub(crate) async fn fill<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
        marker: &[u8],
    ) -> Result<Filled, StoreError> {
        let bytes = self.encode(value)?;
        let ttl = ttl_millis(ttl);
        let stored: i64 = self
            .script(&scripts::FILL, key, |invocation| {
                invocation.arg(marker).arg(&bytes).arg(ttl);
            })
            .await?;
        Ok(if stored == 1 {
            Filled::Stored
        } else {
            Filled::Lost
        })
    }

    /// Gives up a load's lease without storing; [`Filled::Lost`] when it had already gone.
    /// Another process's marker (`owned` false) is left to its load.
    pub(crate) async fn release(&self, key: &str, marker: &[u8], owned: bool) -> Filled {
        let held = if owned {
            self.delete_if_equals(key, marker).await
        } else {
            self.get_raw(key)
                .await
                .map(|bytes| bytes.as_deref() == Some(marker))
        };
        match held {
            Ok(true) | Err(_) => Filled::Kept,
            Ok(false) => Filled::Lost,
        }
    }

    /// The nodes to scan: the server itself, or one slot owned by each cluster primary.
    async fn primaries(&self) -> Result<Vec<Node>, BackendError> {
        if !self.connection.is_cluster() {
            return Ok(vec![Node::Server]);
        }
        let slots: Value = self.query(cmd("CLUSTER").arg("SLOTS")).await?;
        cluster_primaries(slots).map_err(BackendError::new)
    }

    async fn unlink_matching(
        &self,
        node: &Node,
        pattern: &str,
        unprefixed: &glob::Pattern<'_>,
    ) -> Result<usize, BackendError> {
        let mut cursor: u64 = 0;
        let mut removed = 0;
        loop {
            let mut scan = cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT);
            let (next, mut keys): (u64, Vec<Vec<u8>>) = self.query_on(node, scan).await?;
            keys.retain(|key| {
                key.strip_prefix(self.prefix.as_bytes())
                    .is_some_and(|rest| unprefixed.matches_bytes(rest))
            });
            if !keys.is_empty() {
                let mut unlink = cmd("UNLINK");
                for key in &keys {
                    unlink.arg(key.as_slice());
                }
                removed += self.query::<usize>(&unlink).await?;
            }
            if next == 0 {
                return Ok(removed);
            }
            cursor = next;
        }
    }

    async fn query_on<T: FromRedisValue>(
        &self,
        node: &Node,
        command: Cmd,
    ) -> Result<T, BackendError> {
        let slot = match node {
            Node::Server => return self.query(&command).await,
            Node::Slot(slot) => *slot,
        };
        self.call(|conn| async move {
            let reply = match conn {
                Conn::Cluster(mut cluster) => {
                    let route = Route::new(slot, SlotAddr::Master);
                    let routing =
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                    cluster.route_command(command, routing).await?
                }
                mut single => command.query_async(&mut single).await?,
            };
            Ok(redis::from_redis_value(reply)?)
        })
        .await
        .map_err(|failure| self.backend_error(failure))
    }

    /// Runs `script` on `key` (prefixed), with the arguments `args` adds.
    async fn script<T: FromRedisValue>(
        &self,
        script: &redis::Script,
        key: &str,
        args: impl FnOnce(&mut redis::ScriptInvocation<'_>),
    ) -> Result<T, BackendError> {
        let key = self.key(key);
        let mut invocation = script.key(&*key);
        args(&mut invocation);
        let invocation = &invocation;
        self.call(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await
            .map_err(|failure| self.backend_error(failure))
    }

    async fn query<T: FromRedisValue>(&self, command: &Cmd) -> Result<T, BackendError> {
        self.call(|mut conn| async move { command.query_async(&mut conn).await })
            .await
            .map_err(|failure| self.backend_error(failure))
    }

    /// Runs `op` on the connection unless the circuit is open, and tells the breaker how it
    /// went: an error reply is an answer (the server is up), a connection failure or a
    /// timeout is not.
    async fn call<T, F, Fut>(&self, op: F) -> Result<T, Failure>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let permit = self.breaker.admit().ok_or(Failure::Open)?;
        let conn = if permit.is_probe() {
            self.connection.renew()
        } else {
            self.connection.get()
        }
        .map_err(Failure::Setup)?;
        match op(conn).await {
            Ok(value) => {
                if permit.succeeded() {
                    tracing::info!(target: LOG_TARGET, cache = %self.cache, "Redis answers again; circuit closed");
                }
                Ok(value)
            }
            Err(error) if unreachable(&error) => {
                match permit.failed(error.is_timeout()) {
                    Tripped::Opened => {
                        tracing::error!(target: LOG_TARGET, cache = %self.cache, %error, "Redis unreachable; circuit opened, calls fail fast until a probe succeeds");
                    }
                    Tripped::Reopened => {
                        tracing::warn!(target: LOG_TARGET, cache = %self.cache, %error, "Redis still unreachable; circuit stays open");
                    }
                    Tripped::No => {}
                }
                Err(Failure::Redis(error))
            }
            Err(error) => {
                permit.succeeded();
                Err(Failure::Redis(error))
            }
        }
    }

    fn backend_error(&self, failure: Failure) -> BackendError {
        match failure {
            Failure::Open => BackendError::Unavailable,
            Failure::Setup(error) => error,
            Failure::Redis(error) if error.is_timeout() => {
                BackendError::Timeout(self.response_timeout)
            }
            Failure::Redis(error) => BackendError::new(error),
        }
    }
}

/// A TTL in whole milliseconds, rounded up so that a sub-millisecond TTL still expires
/// rather than being refused.
fn ttl_millis(ttl: Duration) -> u64 {
    ttl.as_nanos().div_ceil(1_000_000).clamp(1, MAX_TTL_MS) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_round_up_to_whole_milliseconds() {
        assert_eq!(ttl_millis(Duration::from_micros(10)), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1500)), 2);
        assert_eq!(ttl_millis(Duration::from_secs(300)), 300_000);
        assert_eq!(ttl_millis(Duration::MAX), MAX_TTL_MS as u64);
    }
}
