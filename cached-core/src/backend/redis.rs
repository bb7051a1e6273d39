//! The Redis store: one server through a redis-rs `ConnectionManager`, or a Redis Cluster
//! through one per primary, routed by the cache's own slot map (see `redis/connection.rs`),
//! each node behind a circuit breaker of its own (`redis/circuits.rs`).
//!
//! Values are encoded by the codec (JSON), keys carry the cache's `key_prefix`. Each method
//! is one command or one Lua script except `delete_pattern`, which walks `SCAN MATCH COUNT`
//! and unlinks each page's keys in one `UNLINK` (never `KEYS`, which blocks the server).
//! Loads claim their key with a lease (see `redis/lease.rs`), which the scripts that answer
//! for values treat as an absent key.

mod call;
mod circuit;
mod circuits;
mod cluster;
mod connection;
mod failure;
mod lease;
mod limit;
mod near;
mod refresh;
mod refusal;
mod scripts;
mod settings;
mod tags;
mod tracked;
mod versions;

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::{Value, cmd};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::{self, DecodeError, EncodeError, ValueFormat};
use crate::error::BackendError;
use crate::glob;
use crate::key;
use crate::outcome::{Filled, Joined, Lookup, StoreError};
use crate::ttl::Ttl;

use call::Via;
use circuits::Circuits;
use connection::Connections;
use failure::{Failure, not_an_integer, overflowed};
use limit::ValueLimit;
use near::Near;
use refusal::Refusals;

pub(crate) use settings::build;

/// Keys asked for per `SCAN` step: large enough to walk a big keyspace in few round trips,
/// small enough that each step stays short on the server.
const SCAN_COUNT: usize = 1000;

/// The longest TTL sent to Redis, in milliseconds (about 35,000 years): longer ones are
/// clamped, since Redis refuses expiry times past the end of its clock.
const MAX_TTL_MS: u128 = 1 << 50;

/// What the keys of the cache's own bookkeeping start with, after the cache's prefix (tag
/// sets, refresh claims): a NUL byte, which no rendered key contains (it is escaped).
const INTERNAL: &[u8] = b"\0cached:";

/// Whether a deletion by pattern takes the cache's bookkeeping keys too.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Internal {
    Kept,
    Removed,
}

/// How loads claim keys: how long a lease lives, and how long a load waits for another
/// process's load of the same key before it loads by itself.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Leases {
    pub(crate) ttl: Duration,
    pub(crate) wait: Duration,
}

/// The hash slot of a group of keys on a cluster; `None` on a single server.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Slot(Option<u16>);

impl Slot {
    /// Where a command on the group's keys goes.
    fn via(self) -> Via<'static> {
        match self.0 {
            Some(slot) => Via::Slot(slot),
            None => Via::Any,
        }
    }
}

/// The store behind one Redis cache.
pub(crate) struct RedisStore {
    cache: String,
    prefix: String,
    /// The in-process copies of what this cache reads (see `redis/near.rs`).
    near: Option<Arc<Near>>,
    connections: Connections,
    circuits: Circuits,
    response_timeout: Duration,
    leases: Leases,
    format: ValueFormat,
    /// The largest value a write sends (see `redis/limit.rs`).
    limit: Arc<ValueLimit>,
    /// The refusals logged so far (see `redis/refusal.rs`).
    refusals: Refusals,
    /// Whether an entry stored with tag versions was met: from then on, on one server,
    /// reads check versions in their own round trip (see `redis/versions.rs`).
    tags_seen: AtomicBool,
    /// What the keys of this cache's tags start with: its prefix, then the tag prefix.
    tag_keys: String,
}

impl RedisStore {
    fn key<'k>(&self, key: &'k str) -> Cow<'k, str> {
        key::prefixed(&self.prefix, key)
    }

    /// The value at `key`: the near cache's copy when it has one, else read from Redis (and,
    /// with a near cache, kept there). A lease (a load in flight) is a miss; a key holding
    /// another Redis type (a list, a hash: written by another program) is undecodable, like
    /// a corrupt value, rather than an error.
    pub(crate) async fn get<T>(&self, key: &str) -> Result<Lookup<T>, BackendError>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        if let Some(near) = &self.near {
            if let Some(value) = near.hit::<T>(key) {
                return Ok(Lookup::Hit(value));
            }
            if let Some(lookup) = self.get_tracked(near, key).await? {
                return Ok(lookup);
            }
        }
        self.get_untracked(key).await
    }

    /// The near cache's copy of `key`, read as `T`, without awaiting.
    #[inline]
    pub(crate) fn near_hit<T: Clone + 'static>(&self, key: &str) -> Option<T> {
        self.near.as_ref()?.hit(key)
    }

    /// Hits the near cache answered.
    pub(crate) fn near_hits(&self) -> u64 {
        self.near.as_ref().map_or(0, |near| near.hits())
    }

    /// Drops the near cache's copy of `key`, after a write of it here: the server's push
    /// would drop it too, but not before the write returns.
    fn forget(&self, key: &str) {
        if let Some(near) = &self.near {
            near.invalidate(key);
        }
    }

    async fn get_untracked<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Lookup<T>, BackendError> {
        let full = self.key(key);
        let full: &str = &full;
        let (reply, verified) = if self.reads_tagged() {
            (self.read_tagged(full).await.map(|(bytes, _)| bytes), true)
        } else {
            let reply = self
                .call(Via::Key(full), |mut conn| async move {
                    cmd("GET")
                        .arg(full)
                        .query_async::<Option<Vec<u8>>>(&mut conn)
                        .await
                })
                .await;
            (reply, false)
        };
        match reply {
            Ok(Some(bytes)) if lease::is_lease(&bytes) => Ok(Lookup::Miss),
            Ok(Some(bytes)) => self.decode(key, full, &bytes, verified).await,
            Ok(None) => Ok(Lookup::Miss),
            Err(Failure::Redis(error)) if error.code() == Some("WRONGTYPE") => {
                Ok(Lookup::Undecodable(DecodeError::new(
                    "the key holds a Redis data type other than a string",
                )))
            }
            Err(failure) => Err(self.backend_error(failure)),
        }
    }

    /// The value `bytes` (read at `key`, `full` with the prefix; not a lease) hold: for an
    /// entry stored with tag versions, once they are checked (`verified`: by the read
    /// itself), a miss when they no longer hold (see `redis/versions.rs`).
    async fn decode<T: DeserializeOwned>(
        &self,
        key: &str,
        full: &str,
        bytes: &[u8],
        verified: bool,
    ) -> Result<Lookup<T>, BackendError> {
        let payload = match versions::split(bytes) {
            None => bytes,
            Some(Err(())) => {
                return Ok(Lookup::Undecodable(DecodeError::new(
                    "an entry whose tag versions are cut short",
                )));
            }
            Some(Ok(tagged)) => {
                if !verified && !self.still_tagged(key, bytes, &tagged).await? {
                    return Ok(Lookup::Miss);
                }
                tagged.payload
            }
        };
        Ok(self.format.lookup(full.as_bytes(), Some(payload)))
    }

    /// Whether reads check tag versions in their own round trip: on one server, once an
    /// entry stored with them was met (a cluster keeps a tag in another slot than its
    /// entries, out of a script's reach).
    fn reads_tagged(&self) -> bool {
        self.tags_seen.load(Ordering::Relaxed)
            && !matches!(self.connections, Connections::Cluster(_))
    }

    /// Notes that this cache holds entries stored with tag versions.
    fn note_tags(&self) {
        if !self.tags_seen.load(Ordering::Relaxed) {
            self.tags_seen.store(true, Ordering::Relaxed);
        }
    }

    /// `GET` and `PTTL` of `full` (a prefixed key) by the script that checks tag versions
    /// and removes an entry whose tags no longer hold them (see `redis/versions.rs`).
    async fn read_tagged(&self, full: &str) -> Result<(Option<Vec<u8>>, i64), Failure> {
        let tags = &self.tag_keys;
        self.call(Via::Key(full), |mut conn| async move {
            scripts::READ_TAGGED
                .key(full)
                .arg(tags)
                .invoke_async(&mut conn)
                .await
        })
        .await
    }

    /// Whether calls are refused now as a whole (the server's circuit, or a cluster's while
    /// no slot map is known, is open).
    pub(crate) fn refuses(&self) -> bool {
        self.circuits.for_slot(None).breaker.refuses()
    }

    /// The nodes whose circuit is open now.
    pub(crate) fn open_circuits(&self) -> Vec<String> {
        self.circuits.open()
    }

    /// The bytes of `value` for `key`, stored with the versions of the tags it `joined`,
    /// unless the key's circuit refuses calls (checked first, so that a write Redis would
    /// not get costs no serialization) or they are more than the server takes.
    fn encode<T>(&self, key: &str, value: &T, joined: &Joined) -> Result<Vec<u8>, StoreError>
    where
        T: ?Sized + Serialize + ToOwned,
        T::Owned: Serialize + DeserializeOwned,
    {
        let key = self.key(key);
        if self.circuits.for_key(key.as_bytes()).breaker.refuses() {
            return Err(StoreError::Backend(BackendError::Unavailable));
        }
        let payload = self
            .format
            .encode(key.as_bytes(), value)
            .map_err(StoreError::Encode)?;
        let bytes = versions::frame(joined, payload);
        let limit = self.limit.bytes();
        if bytes.len() > limit {
            return Err(StoreError::Encode(EncodeError::new(format!(
                "{}: the value is {} bytes as stored, more than the {limit} bytes of {}",
                std::any::type_name::<T>(),
                bytes.len(),
                self.limit.source(),
            ))));
        }
        Ok(bytes)
    }

    /// Stores `value` at `key` for `ttl` (`SET PX`), replacing a lease (whose load then
    /// does not store over this write), with the versions of the tags it `joined`.
    pub(crate) async fn set<T>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
        joined: &Joined,
    ) -> Result<(), StoreError>
    where
        T: ?Sized + Serialize + ToOwned,
        T::Owned: Serialize + DeserializeOwned,
    {
        let bytes = self.encode(key, value, joined)?;
        let full = self.key(key);
        let written = self
            .query::<Value>(
                Via::Key(&full),
                cmd("SET")
                    .arg(&*full)
                    .arg(bytes)
                    .arg("PX")
                    .arg(ttl_millis(ttl)),
            )
            .await;
        self.forget(key);
        written.map(drop).map_err(StoreError::Backend)
    }

    /// Stores `value` at `key` for `ttl` if the key is absent or only leased.
    pub(crate) async fn set_nx<T>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<bool, StoreError>
    where
        T: ?Sized + Serialize + ToOwned,
        T::Owned: Serialize + DeserializeOwned,
    {
        let bytes = self.encode(key, value, &Joined::default())?;
        Ok(self.set_nx_bytes(key, &bytes, ttl).await?)
    }

    /// Takes the lock `key` with `token`, stored as plain bytes whatever the cache's format
    /// (see `codec::token`).
    pub(crate) async fn lock(
        &self,
        key: &str,
        token: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        Ok(self.set_nx_bytes(key, &codec::token(token), ttl).await?)
    }

    async fn set_nx_bytes(
        &self,
        key: &str,
        bytes: &[u8],
        ttl: Duration,
    ) -> Result<bool, BackendError> {
        let ttl = ttl_millis(ttl);
        let stored = self
            .script::<i64>(&scripts::SET_NX, key, |invocation| {
                invocation.arg(bytes).arg(ttl);
            })
            .await;
        self.forget(key);
        stored.map(|stored| stored == 1)
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<bool, BackendError> {
        let full = self.key(key);
        let removed = self
            .query::<u64>(Via::Key(&full), cmd("UNLINK").arg(&*full))
            .await;
        self.forget(key);
        removed.map(|removed| removed > 0)
    }

    /// One `UNLINK` for every key; on a cluster, one per hash slot (a command's keys must
    /// share one), skipping the primaries whose circuit is open, and
    /// [`BackendError::Partial`] naming them.
    pub(crate) async fn delete_many(&self, keys: &[&str]) -> Result<usize, BackendError> {
        let full: Vec<Cow<'_, str>> = keys.iter().map(|key| self.key(key)).collect();
        let removed = self.unlink(full.iter().map(|key| key.as_bytes())).await;
        for key in keys {
            self.forget(key);
        }
        removed
    }

    /// Unlinks `keys` (prefixed): see [`delete_many`](RedisStore::delete_many).
    async fn unlink<'k>(
        &self,
        keys: impl Iterator<Item = &'k [u8]>,
    ) -> Result<usize, BackendError> {
        let mut partial = Partial::default();
        for (slot, group) in self.by_slot(keys) {
            let mut unlink = cmd("UNLINK");
            for key in &group {
                unlink.arg(*key);
            }
            let mut result = self.query::<usize>(slot.via(), &unlink).await;
            if group.len() > 1 && result.as_ref().is_err_and(is_split) {
                // The slot is being migrated with its keys split between two nodes: each
                // key alone goes to the node that holds it.
                result = Ok(0);
                for key in &group {
                    let one = self
                        .query::<usize>(slot.via(), cmd("UNLINK").arg(*key))
                        .await;
                    result = result.and_then(|done| one.map(|one| done + one));
                }
            }
            partial.add(result, || self.circuits.for_slot(slot.0).node.clone())?;
        }
        partial.finish()
    }

    /// `keys` (prefixed) grouped by the hash slot they live in, for commands and scripts
    /// whose keys must share one on a cluster (a single group on one server).
    fn by_slot<'k>(&self, keys: impl Iterator<Item = &'k [u8]>) -> Vec<(Slot, Vec<&'k [u8]>)> {
        let cluster = matches!(self.connections, Connections::Cluster(_));
        let mut groups: Vec<(Slot, Vec<&[u8]>)> = Vec::new();
        for key in keys {
            let slot = Slot(cluster.then(|| cluster::slot(key)));
            match groups.iter_mut().find(|(held, _)| *held == slot) {
                Some((_, group)) => group.push(key),
                None => groups.push((slot, vec![key])),
            }
        }
        groups
    }

    /// Unlinks every key matching `pattern` under the cache's prefix (escaped, so that only
    /// its literal text matches), walking each primary's keyspace with `SCAN`. What `SCAN`
    /// returns is matched again without the prefix: Redis matches the empty key only at the
    /// start of a key, so under a prefix `**` would take the key `""`, which it does not
    /// match on its own (nor on the memory backend). A cluster primary whose circuit is open
    /// is skipped, and named in [`BackendError::Partial`].
    /// Removes the keys matching `pattern`, the cache's own bookkeeping (tag sets, refresh
    /// claims: keys under [`INTERNAL`]) excepted, so that a pattern over values never
    /// forgets which entries a tag names.
    pub(crate) async fn delete_pattern(&self, pattern: &str) -> Result<usize, BackendError> {
        self.delete_matching(pattern, Internal::Kept).await
    }

    /// Removes the keys matching `pattern` on every primary, then the near cache's copies of
    /// them (whatever Redis answered: a failed call may still have removed keys).
    async fn delete_matching(
        &self,
        pattern: &str,
        internal: Internal,
    ) -> Result<usize, BackendError> {
        let removed = self.unlink_everywhere(pattern, internal).await;
        if let Some(near) = &self.near {
            near.invalidate_matching(pattern);
        }
        removed
    }

    async fn unlink_everywhere(
        &self,
        pattern: &str,
        internal: Internal,
    ) -> Result<usize, BackendError> {
        let unprefixed = glob::Pattern::new(pattern);
        let prefixed = key::prefixed_pattern(&self.prefix, pattern);
        let mut partial = Partial::default();
        for (node, slot) in self.primaries() {
            let result = self
                .unlink_matching(slot, &prefixed, &unprefixed, internal)
                .await;
            partial.add(result, || node)?;
        }
        partial.finish()
    }

    /// Removes the cache's keys, its bookkeeping included: those under its prefix, or,
    /// without a prefix, every key of its database (`FLUSHDB ASYNC`, on every primary of a
    /// cluster).
    pub(crate) async fn clear(&self) -> Result<(), BackendError> {
        if !self.prefix.is_empty() {
            return self.delete_matching("*", Internal::Removed).await.map(drop);
        }
        let flushed = self.flush_everywhere().await;
        if let Some(near) = &self.near {
            near.reset();
        }
        flushed
    }

    /// `FLUSHDB ASYNC` on every primary.
    async fn flush_everywhere(&self) -> Result<(), BackendError> {
        let mut partial = Partial::default();
        for (node, slot) in self.primaries() {
            let result = self
                .query::<Value>(via(slot), cmd("FLUSHDB").arg("ASYNC"))
                .await;
            partial.add(result.map(|_| 0), || node)?;
        }
        partial.finish().map(drop)
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
        if self.format.is_protected() {
            // `INCRBY` keeps a bare integer, which a protected cache would refuse to read.
            return Err(BackendError::Unsupported(
                "incr on a cache whose values are protected",
            ));
        }
        let prefixed = self.key(key);
        let prefixed: &str = &prefixed;
        let plain = self
            .call(Via::Key(prefixed), |mut conn| async move {
                cmd("INCRBY")
                    .arg(prefixed)
                    .arg(by)
                    .query_async::<i64>(&mut conn)
                    .await
            })
            .await;
        let result = match plain {
            Err(Failure::Redis(error)) if not_an_integer(&error) => {
                self.call(Via::Key(prefixed), |mut conn| async move {
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
        self.forget(key);
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
        self.delete_if_equals(key, &codec::token(token)).await
    }

    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, BackendError> {
        let deleted = self
            .script::<i64>(&scripts::DELETE_IF_EQUALS, key, |invocation| {
                invocation.arg(expected);
            })
            .await;
        self.forget(key);
        deleted.map(|deleted| deleted == 1)
    }

    /// Stores a load's `value` while `key` holds its lease `marker` (see `lease.rs`), with
    /// the versions of the tags the load `joined`.
    pub(crate) async fn fill<T: Serialize + DeserializeOwned + Clone>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
        marker: &[u8],
        joined: &Joined,
    ) -> Result<Filled, StoreError> {
        let bytes = self.encode(key, value, joined)?;
        let ttl = ttl_millis(ttl);
        let stored = self
            .script::<i64>(&scripts::FILL, key, |invocation| {
                invocation.arg(marker).arg(&bytes).arg(ttl);
            })
            .await;
        self.forget(key);
        Ok(if stored? == 1 {
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

    /// The nodes to scan, by name: the server itself, or each cluster primary with a slot it
    /// serves (through which redis-rs routes to it).
    fn primaries(&self) -> Vec<(String, Option<u16>)> {
        match self.circuits.routes() {
            Some(routes) => routes
                .map
                .primaries()
                .into_iter()
                .map(|(node, slot)| (node.to_owned(), Some(slot)))
                .collect(),
            None => vec![(self.circuits.for_slot(None).node.clone(), None)],
        }
    }

    async fn unlink_matching(
        &self,
        slot: Option<u16>,
        pattern: &str,
        unprefixed: &glob::Pattern<'_>,
        internal: Internal,
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
            let (next, mut keys): (u64, Vec<Vec<u8>>) = self.query(via(slot), &scan).await?;
            keys.retain(|key| {
                key.strip_prefix(self.prefix.as_bytes())
                    .is_some_and(|rest| {
                        unprefixed.matches_bytes(rest)
                            && (internal == Internal::Removed || !rest.starts_with(INTERNAL))
                    })
            });
            if !keys.is_empty() {
                removed += self.unlink(keys.iter().map(Vec::as_slice)).await?;
            }
            if next == 0 {
                return Ok(removed);
            }
            cursor = next;
        }
    }
}

/// The route of a call to one node: through one of its slots on a cluster.
fn via(slot: Option<u16>) -> Via<'static> {
    slot.map_or(Via::Any, Via::Slot)
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

/// The outcome of a command sent to several nodes: what the reachable ones did, and which
/// could not be reached (their circuit was open, or they failed to answer).
#[derive(Default)]
struct Partial {
    done: usize,
    unreachable: Vec<String>,
}

impl Partial {
    /// Adds one node's result; an error other than the node being out of reach is returned
    /// at once.
    fn add(
        &mut self,
        result: Result<usize, BackendError>,
        node: impl FnOnce() -> String,
    ) -> Result<(), BackendError> {
        match result {
            Ok(done) => self.done += done,
            Err(BackendError::Unavailable | BackendError::Timeout(_)) => self.missed(node()),
            Err(BackendError::Failed(error)) if is_unreachable(&*error) => self.missed(node()),
            Err(error) => return Err(error),
        }
        Ok(())
    }

    fn missed(&mut self, node: String) {
        if !self.unreachable.contains(&node) {
            self.unreachable.push(node);
        }
    }

    fn finish(self) -> Result<usize, BackendError> {
        if self.unreachable.is_empty() {
            Ok(self.done)
        } else {
            Err(BackendError::Partial {
                done: self.done,
                unreachable: self.unreachable,
            })
        }
    }
}

/// Whether a command on several keys failed because their slot is being migrated, some
/// keys moved and some not yet (`TRYAGAIN`, or a redirection still unresolved once the
/// call's tries ran out): sent key by key, each goes to the node that holds it.
fn is_split(error: &BackendError) -> bool {
    use redis::ServerErrorKind::{Ask, Moved, TryAgain};
    matches!(error, BackendError::Failed(error) if error
    .downcast_ref::<redis::RedisError>()
    .is_some_and(|error| matches!(
        error.kind(),
        redis::ErrorKind::Server(TryAgain | Ask | Moved)
    )))
}

/// Whether a failure wraps a Redis error that means the node could not be reached.
fn is_unreachable(error: &(dyn std::error::Error + 'static)) -> bool {
    error
        .downcast_ref::<redis::RedisError>()
        .is_some_and(failure::unreachable)
}
