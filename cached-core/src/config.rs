//! Configuration of named caches: [`CacheSettings`] from TOML, JSON or code, and the
//! validation that reports every problem with the cache and the field it is in.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::codec::{Codec, KeyError, Protection, ValueFormat, ValueKeys};

/// The default TTL of a cache whose configuration sets none: five minutes, as in the
/// examples of the seed documentation. There is no "never expires" default on purpose.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// The named caches of a program, as a map from name to [`CacheConfig`].
///
/// # Example
///
/// ```
/// use cached_core::CacheSettings;
///
/// let settings = CacheSettings::from_toml(r#"
///     [default]
///     backend = "memory"
///     ttl = 300
///
///     [queries]
///     backend = "memory"
///     max_size = 1000
///     ttl = "1m"
/// "#)?;
/// cached_core::configure(settings)?;
/// # Ok::<(), cached_core::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct CacheSettings {
    caches: BTreeMap<String, CacheConfig>,
}

/// The configuration of one cache.
///
/// Fields the built-in backends do not know are kept in [`options`](CacheConfig::options)
/// for custom backends; for `memory` and `redis` they are reported as unknown fields.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CacheConfig {
    /// `"memory"` (the default), `"redis"`, or the name of a registered custom backend.
    pub backend: String,
    /// Where the store lives, for backends that need it (`redis://host:6379/0`).
    pub url: Option<String>,
    /// The TTL of writes that do not give one; [`DEFAULT_TTL`] when `None`.
    pub ttl: Option<Duration>,
    /// The most entries a memory cache holds.
    pub max_size: Option<usize>,
    /// Prepended to every key, so that caches can share a store.
    pub key_prefix: Option<String>,
    /// Redis Cluster: the URLs of some of the cluster's nodes (the others are discovered);
    /// set instead of `url`.
    pub nodes: Vec<String>,
    /// How long a Redis connection attempt may take before it counts as failed.
    pub connect_timeout: Option<Duration>,
    /// How long a Redis command may wait for its reply before it counts as failed.
    pub response_timeout: Option<Duration>,
    /// How many consecutive Redis failures open the circuit breaker (a timeout opens it at
    /// once).
    pub breaker_threshold: Option<u32>,
    /// How long an open circuit answers at once, before it lets one probe through.
    pub breaker_cooldown: Option<Duration>,
    /// How long a Redis load's lease lives (default 10 s): a load that outlives it does not
    /// store its value.
    pub lease_ttl: Option<Duration>,
    /// How long a Redis load waits for another process's load of the same key before it
    /// loads by itself (default 250 ms; zero never waits).
    pub lease_wait: Option<Duration>,
    /// Redis: the largest value, in bytes as stored, that a write sends; a larger one is
    /// refused before it is sent. Default: the server's own limit (`proto-max-bulk-len`,
    /// read when a connection is made; 512 MB when the server does not say).
    pub max_value_size: Option<usize>,
    /// How values are serialized in Redis or a custom backend (default JSON).
    pub codec: Option<Codec>,
    /// Compresses (LZ4) stored values whose encoding is longer than this many bytes.
    pub compress_above: Option<usize>,
    /// Encrypts stored values (XChaCha20-Poly1305) with these keys.
    pub encryption: Option<KeySource>,
    /// Authenticates stored values (keyed blake3) with these keys, leaving them readable.
    pub integrity: Option<KeySource>,
    /// Redis: an in-process copy of what the cache reads, invalidated by the server.
    pub near: Option<NearConfig>,
    /// Every other field, for custom backends.
    pub options: Map<String, Value>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self::memory()
    }
}

/// A near cache in front of a Redis cache: a bounded in-process copy of the values it reads,
/// which the server invalidates (see [`CacheConfig::redis`], "Near cache").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NearConfig {
    /// The most copies held (evicted as a memory cache evicts).
    pub max_size: usize,
    /// The longest a copy lives; `None`: as long as its key lives in Redis.
    pub ttl: Option<Duration>,
}

impl NearConfig {
    /// A near cache of at most `max_size` copies.
    pub fn new(max_size: usize) -> Self {
        Self {
            max_size,
            ttl: None,
        }
    }

    /// Bounds how long a copy lives, whatever its key's expiry in Redis.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

impl From<usize> for NearConfig {
    fn from(max_size: usize) -> Self {
        Self::new(max_size)
    }
}

impl CacheConfig {
    /// An in-process cache with the default bound and TTL.
    pub fn memory() -> Self {
        Self::backend("memory")
    }

    /// A cache on `backend` (a built-in or registered name) with default settings.
    pub fn backend(backend: &str) -> Self {
        Self {
            backend: backend.to_owned(),
            url: None,
            ttl: None,
            max_size: None,
            key_prefix: None,
            nodes: Vec::new(),
            connect_timeout: None,
            response_timeout: None,
            breaker_threshold: None,
            breaker_cooldown: None,
            lease_ttl: None,
            lease_wait: None,
            max_value_size: None,
            codec: None,
            compress_above: None,
            encryption: None,
            integrity: None,
            near: None,
            options: Map::new(),
        }
    }

    /// A Redis cache at `url`: `redis://[[user]:password@]host[:port][/db]`, `rediss://`
    /// (TLS, with the `tls` feature), or `unix:///path/to/redis.sock`.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// use cached_core::{Cache, CacheConfig, CacheSettings};
    ///
    /// // In code; nothing is contacted until the first call, so this works with Redis down.
    /// let config = CacheConfig::redis("redis://:secret@127.0.0.1:6379/0")
    ///     .with_key_prefix("myapp:")
    ///     .with_ttl(Duration::from_secs(300))
    ///     .with_response_timeout(Duration::from_millis(50));
    /// let cache = Cache::new("default", &config)?;
    /// assert_eq!(cache.backend(), "redis");
    ///
    /// // Or from configuration; timeouts are whole milliseconds or duration strings.
    /// let settings = CacheSettings::from_toml(r#"
    ///     [default]
    ///     backend = "redis"
    ///     url = "redis://127.0.0.1:6379/0"
    ///     ttl = 300
    ///     key_prefix = "myapp:"
    ///     connect_timeout = 250
    ///     response_timeout = "100ms"
    ///
    ///     [cluster]
    ///     backend = "redis"
    ///     nodes = ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"]
    /// "#)?;
    /// # let _ = settings;
    /// # Ok::<(), cached_core::ConfigError>(())
    /// ```
    ///
    /// # Redis caches
    ///
    /// - **Connection.** One multiplexed connection per cache (redis-rs
    ///   `MultiplexedConnection`), or on a cluster one per primary, made on first use and
    ///   remade when it breaks; no pool. Connections do their I/O on a thread of the
    ///   library's own (`cached-redis-io`), so they serve every tokio runtime of the process
    ///   and outlive each: a runtime that ends (a `#[tokio::test]` returning, a command-line
    ///   program's runtime per command) takes no connection, no call in flight and no
    ///   near-cache invalidation with it. Calls must come from within a tokio runtime, which
    ///   awaits and times out their replies.
    /// - **Refusals.** When Redis answers but refuses (`NOPERM`: the cache's user lacks
    ///   `+@scripting`, `+@keyspace` or, for a near cache, `+client|tracking`; `READONLY`: the
    ///   cache points at a replica; `OOM`: `maxmemory` reached under `noeviction`;
    ///   `MISCONF`: persistence failed), calls fail open and count an error each, and the
    ///   cause is logged at `warn` once per cache with the server's message and what to
    ///   change. Run a cache's Redis with `maxmemory-policy allkeys-lru` or `volatile-lru`.
    /// - **Value size.** A value larger than `max_value_size` (default: the server's
    ///   `proto-max-bulk-len`, read as each connection is made, 512 MB unless configured
    ///   otherwise) is refused by `set` with [`Error::Encode`](crate::Error::Encode) naming
    ///   both sizes, and a load's such value is returned uncached; nothing is sent, so no
    ///   other call on the connection fails with it and no lease is left behind.
    /// - **Timeouts.** `connect_timeout` (default 250 ms) bounds a connection attempt and
    ///   `response_timeout` (default 100 ms) a reply; a timed-out call fails with
    ///   [`BackendError::Timeout`](crate::BackendError::Timeout).
    /// - **Circuit breaker.** After `breaker_threshold` (default 3) consecutive failures
    ///   (refused or cut connections, a cluster that is down; not error replies), or after a
    ///   single timeout, calls fail at once with
    ///   [`BackendError::Unavailable`](crate::BackendError::Unavailable) for
    ///   `breaker_cooldown` (default 1 s); then one call probes Redis, and its success closes
    ///   the circuit. So a slow Redis costs a call at most one timeout (a `get_or_set` reads,
    ///   reads again and writes: only the first waits), a dead one costs microseconds, and
    ///   hits resume by themselves when it is back. `get_or_set` and `#[cached]` fail open: a
    ///   failed read is a miss, a failed write is skipped, both logged and counted.
    /// - **Values** are JSON, and read back exactly (floats included). A value JSON cannot
    ///   hold (a NaN or an infinity anywhere in it) is refused by `set` with
    ///   [`Error::Encode`](crate::Error::Encode) naming its type, rather than stored as
    ///   `null`. A value that does not decode as the type asked for (corrupt, written by
    ///   another program, or a Redis list or hash under the key) is a miss, logged at `warn`
    ///   with its key and counted as an error.
    /// - **Keys** carry `key_prefix`. `delete_pattern` applies its pattern under the prefix
    ///   (whose own glob characters are escaped) and walks the keyspace with `SCAN MATCH
    ///   COUNT`, unlinking each page's matches in one `UNLINK`; it never uses `KEYS`.
    /// - **`clear`** removes the keys under `key_prefix`. **Without a prefix it empties the
    ///   whole database** (`FLUSHDB ASYNC`, on every primary of a cluster), keys written by
    ///   other programs included: give caches that share a database a prefix.
    /// - **`incr`/`decr`** are `INCRBY`, exact over all of `i64`: they work on integers stored
    ///   with `set` (stored as JSON, `41` is an integer) and, through a small script, on
    ///   integers stored as strings in the canonical form `INCRBY` itself reads (`"41"`,
    ///   `"-7"`; not `" 41"`, `"+41"`, `"041"` or `"-0"`), as the memory backend does. A
    ///   missing key starts at 0 with no expiry; an existing key keeps its expiry.
    /// - **Cluster.** Give `nodes` instead of `url` (a few nodes suffice; the rest are
    ///   discovered from `CLUSTER SLOTS`, fetched on first use, when a node answers that a
    ///   slot moved, and every 250 ms while a node's circuit is open). Each primary has its
    ///   own circuit breaker and connection, so a dead or slow node fails its own slots open
    ///   while the others answer at full speed; after a failover its slots move to the
    ///   promoted replica and its fresh circuit. `delete_many`, `delete_pattern` and `clear`
    ///   skip a primary whose circuit is open and return
    ///   [`BackendError::Partial`](crate::BackendError::Partial) naming it (the invalidation
    ///   is then replayed later, see above); [`Cache::open_circuits`](crate::Cache::open_circuits)
    ///   names the nodes whose circuit is open. Redis itself refuses every command
    ///   (`CLUSTERDOWN`) from when it declares a primary failed until a replica takes over,
    ///   unless the cluster runs with `cluster-require-full-coverage no`, which a cache
    ///   cluster should. While slots migrate (`redis-cli --cluster reshard`), a key that
    ///   moved already is asked of the node importing it (`ASK`, then `ASKING`), and a
    ///   command on several keys split between the two nodes goes key by key, so callers
    ///   see no error. All nodes share one password and database 0.
    /// - **Invalidations during an outage.** A `delete`, `delete_many`, `delete_pattern` or
    ///   `clear` (or an `#[invalidates]`) that Redis does not confirm returns (or logs) its
    ///   error, and is remembered: until it is replayed, this process reads the keys it
    ///   covers as missing and stores no loads of them, so it never reads the value it
    ///   replaced, even from a Redis that comes back with its data. It is replayed once
    ///   Redis answers again (up to 100,000 keys are remembered). Other processes may read
    ///   those values until then.
    /// - **Leases.** A load on a miss (`get_or_set`, `#[cached]`, the HTTP layer) first puts
    ///   a lease in the key's place (for `lease_ttl`, default 10 s) and stores its value only
    ///   by a compare-and-set on that lease. Any deletion or write of the key, by any process
    ///   or `redis-cli`, removes the lease, so a load that began before an invalidation never
    ///   stores after it. A process that finds another's lease waits up to `lease_wait`
    ///   (default 250 ms) for that load's value, then loads by itself, so concurrent misses in
    ///   many processes run one load. Reads, `exists`, `ttl`, `set_nx` and `incr` treat a
    ///   lease as an absent key; `delete` and `delete_pattern` count it among the keys they
    ///   remove. A load slower than `lease_ttl` does not store its value.
    ///
    /// # Near cache
    ///
    /// [`with_near`](CacheConfig::with_near) (`near = { max_size = N, ttl = ".." }`) keeps a
    /// bounded in-process copy of the values the cache reads, typed, so that a near hit is a
    /// memory hit: a clone, no decoding, no round trip. Counted in
    /// [`CacheStats::near_hits`](crate::CacheStats::near_hits) (and in `hits`).
    ///
    /// - **Coherence.** The connections speak RESP3 and every read that fills the near cache
    ///   turns client tracking on (`CLIENT TRACKING ON NOLOOP`, pipelined with its `GET` and
    ///   `PTTL`), so the server pushes an invalidation when any client changes, deletes,
    ///   expires or flushes the key: another process, another cache, `redis-cli`, a Lua
    ///   script. The copy is dropped when that push arrives: one network hop after the write,
    ///   well under a millisecond on loopback (`BENCHMARKS.md`). Until then another process
    ///   may still be served the copy; this is the near cache's one window of staleness.
    /// - **Own writes.** `set`, `set_nx`, `incr`, `delete`, `delete_many`, `delete_pattern`,
    ///   `clear`, `delete_tags`, locks and loads drop the copies they touch before they
    ///   return. A read racing any invalidation never keeps the value it read: each read
    ///   notes the key's invalidation count before it is sent and keeps its value only if
    ///   the count has not moved.
    /// - **Lost connections.** A connection that closes, is replaced, times out or finds the
    ///   server unreachable, or whose tokio runtime ended, may have missed invalidations: the
    ///   near cache is emptied (all of it, on a cluster too) before the next read, which goes
    ///   to Redis, and the circuit breaker's fail-open rules apply as without a near cache.
    /// - **Tagged entries** (stored with their tags' versions, see
    ///   [`Cache::delete_tags`](crate::Cache::delete_tags)) are not kept: the keys of their
    ///   tags are not tracked, so a tag's invalidation or eviction would not reach a copy.
    /// - **Lifetime.** A copy lives no longer than its key's remaining TTL in Redis, nor than
    ///   the near `ttl` when one is set; past `max_size` copies are evicted as a memory cache
    ///   evicts. Reads with [`Freshness`](crate::Freshness) (`stale`, `early_refresh`) read
    ///   Redis, since their refresh compares the stored bytes.
    /// - **Cluster.** Tracking is on every primary's own connection, so a near cache works on
    ///   Redis Cluster as on one server.
    ///
    /// # Locks
    ///
    /// [`Cache::lock`](crate::Cache::lock) sets the lock's key with `SET NX PX` to a token
    /// unique to this acquisition and releases it with a Lua compare-and-delete, so a holder
    /// whose lock expired never releases the next holder's. Waiters poll with a bounded
    /// backoff until their deadline, then get [`Error::LockTimeout`](crate::Error::LockTimeout).
    /// It is an **efficiency lock** (stampede prevention), not a correctness lock: a holder
    /// that outlives its timeout (a long pause, a slow call) overlaps with the next holder,
    /// and a Redis failover can lose the key. Do not use it to protect data that must never
    /// be written by two processes at once.
    pub fn redis(url: &str) -> Self {
        Self::backend("redis").with_url(url)
    }

    /// A Redis Cluster cache, reached through some of its nodes' URLs.
    pub fn redis_cluster<S: AsRef<str>>(nodes: &[S]) -> Self {
        Self::backend("redis").with_nodes(nodes)
    }

    /// Sets the URL.
    pub fn with_url(mut self, url: &str) -> Self {
        self.url = Some(url.to_owned());
        self
    }

    /// Sets the default TTL.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Sets the bound of a memory cache.
    pub fn with_max_size(mut self, max_size: usize) -> Self {
        self.max_size = Some(max_size);
        self
    }

    /// Sets the key prefix.
    pub fn with_key_prefix(mut self, prefix: &str) -> Self {
        self.key_prefix = Some(prefix.to_owned());
        self
    }

    /// Sets the URLs of a Redis Cluster's nodes.
    pub fn with_nodes<S: AsRef<str>>(mut self, nodes: &[S]) -> Self {
        self.nodes = nodes.iter().map(|n| n.as_ref().to_owned()).collect();
        self
    }

    /// Sets the Redis connection timeout.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Sets the Redis response timeout.
    pub fn with_response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = Some(timeout);
        self
    }

    /// Sets how many consecutive failures open the circuit breaker, and how long it stays
    /// open before a probe.
    pub fn with_breaker(mut self, threshold: u32, cooldown: Duration) -> Self {
        self.breaker_threshold = Some(threshold);
        self.breaker_cooldown = Some(cooldown);
        self
    }

    /// Sets how long a Redis load's lease lives, and how long a load waits for another
    /// process's load of the same key before it loads by itself.
    pub fn with_leases(mut self, lease_ttl: Duration, lease_wait: Duration) -> Self {
        self.lease_ttl = Some(lease_ttl);
        self.lease_wait = Some(lease_wait);
        self
    }

    /// Refuses, before sending them, Redis writes of values larger than `bytes` as stored
    /// (see [`max_value_size`](CacheConfig::max_value_size)).
    pub fn with_max_value_size(mut self, bytes: usize) -> Self {
        self.max_value_size = Some(bytes);
        self
    }

    /// Sets the codec of stored values.
    pub fn with_codec(mut self, codec: Codec) -> Self {
        self.codec = Some(codec);
        self
    }

    /// Compresses stored values whose encoding is longer than `bytes`.
    pub fn with_compression(mut self, bytes: usize) -> Self {
        self.compress_above = Some(bytes);
        self
    }

    /// Encrypts stored values with `keys`.
    pub fn with_encryption(mut self, keys: ValueKeys) -> Self {
        self.encryption = Some(KeySource::Keys(keys));
        self
    }

    /// Authenticates stored values with `keys`.
    pub fn with_integrity(mut self, keys: ValueKeys) -> Self {
        self.integrity = Some(KeySource::Keys(keys));
        self
    }

    /// Keeps a near cache in front of this Redis cache: `10_000` for up to 10,000 copies,
    /// or a [`NearConfig`] that also bounds how long a copy lives.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cached_core::{CacheConfig, NearConfig};
    ///
    /// let plain = CacheConfig::redis("redis://127.0.0.1:6379/0").with_near(10_000);
    /// let bounded = CacheConfig::redis("redis://127.0.0.1:6379/0")
    ///     .with_near(NearConfig::new(10_000).with_ttl(Duration::from_secs(30)));
    /// # let _ = (plain, bounded);
    /// ```
    pub fn with_near(mut self, near: impl Into<NearConfig>) -> Self {
        self.near = Some(near.into());
        self
    }

    /// Sets a custom option.
    pub fn with_option(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.options.insert(name.to_owned(), value.into());
        self
    }

    /// The custom option `name`, deserialized as `T`; an error names the field.
    pub fn option<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, InvalidField> {
        self.options
            .get(name)
            .map(|value| T::deserialize(value).map_err(|error| InvalidField::new(name, error)))
            .transpose()
    }

    /// The format stored values take (codec, compression, protection), or the problems with
    /// those fields.
    pub(crate) fn value_format(&self) -> Result<ValueFormat, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let mut keys = |field: &str, source: &Option<KeySource>| {
            source.as_ref().and_then(|source| match source.keys() {
                Ok(keys) => Some(keys),
                Err(error) => {
                    problems.push((field.to_owned(), error.to_string()));
                    None
                }
            })
        };
        let encryption = keys("encryption", &self.encryption);
        let integrity = keys("integrity", &self.integrity);
        let protection = match (encryption, integrity) {
            (Some(_), Some(_)) => {
                problems.push((
                    "integrity".to_owned(),
                    "set encryption or integrity, not both (encryption authenticates too)"
                        .to_owned(),
                ));
                Protection::None
            }
            (Some(keys), None) => Protection::Encrypt(keys),
            (None, Some(keys)) => Protection::Authenticate(keys),
            (None, None) => Protection::None,
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut format = ValueFormat::new(self.codec.unwrap_or_default()).protect(protection);
        if let Some(bytes) = self.compress_above {
            format = format.compress_above(bytes);
        }
        Ok(format)
    }

    /// The default TTL in effect.
    pub fn effective_ttl(&self) -> Duration {
        self.ttl.unwrap_or(DEFAULT_TTL)
    }
}

impl CacheSettings {
    /// No caches yet; `"default"` is added as a memory cache by `configure` if none is given.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the cache `name`.
    pub fn with_cache(mut self, name: &str, config: CacheConfig) -> Self {
        self.caches.insert(name.to_owned(), config);
        self
    }

    /// The configuration of `name`.
    pub fn get(&self, name: &str) -> Option<&CacheConfig> {
        self.caches.get(name)
    }

    /// Every cache, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &CacheConfig)> {
        self.caches
            .iter()
            .map(|(name, config)| (name.as_str(), config))
    }

    /// Reads settings from TOML: one table per cache.
    #[cfg(feature = "toml")]
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let value: Value =
            toml::from_str(text).map_err(|error| ConfigError::document("TOML", error))?;
        Self::from_value(value)
    }

    /// Reads settings from JSON: one object per cache.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let value: Value =
            serde_json::from_str(text).map_err(|error| ConfigError::document("JSON", error))?;
        Self::from_value(value)
    }

    /// Reads settings from an already parsed document, reporting every field of the wrong
    /// type with its cache and field names.
    pub fn from_value(value: Value) -> Result<Self, ConfigError> {
        let Value::Object(caches) = value else {
            return Err(ConfigError::single(
                "",
                None,
                "the cache settings must be a table of named caches",
            ));
        };
        let mut problems = Vec::new();
        let mut settings = CacheSettings::new();
        for (name, fields) in caches {
            let Value::Object(fields) = fields else {
                problems.push(ConfigProblem::new(&name, None, "must be a table of fields"));
                continue;
            };
            let mut config = CacheConfig::memory();
            for (field, value) in fields {
                let parsed = match field.as_str() {
                    "backend" => string(&value).map(|s| config.backend = s),
                    "url" => string(&value).map(|s| config.url = Some(s)),
                    "ttl" => duration(&value).map(|d| config.ttl = Some(d)),
                    "max_size" => positive(&value).map(|n| config.max_size = Some(n)),
                    "key_prefix" => string(&value).map(|s| config.key_prefix = Some(s)),
                    "nodes" => strings(&value).map(|n| config.nodes = n),
                    "connect_timeout" => millis(&value).map(|d| config.connect_timeout = Some(d)),
                    "response_timeout" => millis(&value).map(|d| config.response_timeout = Some(d)),
                    "breaker_threshold" => positive(&value)
                        .and_then(|n| u32::try_from(n).map_err(|_| format!("{n} is too large")))
                        .map(|n| config.breaker_threshold = Some(n)),
                    "breaker_cooldown" => millis(&value).map(|d| config.breaker_cooldown = Some(d)),
                    "lease_ttl" => millis(&value).map(|d| config.lease_ttl = Some(d)),
                    "lease_wait" => millis_or_zero(&value).map(|d| config.lease_wait = Some(d)),
                    "max_value_size" => positive(&value).map(|n| config.max_value_size = Some(n)),
                    "codec" => string(&value).and_then(|name| {
                        Codec::from_name(&name)
                            .map(|c| config.codec = Some(c))
                            .ok_or_else(|| {
                                format!("unknown codec `{name}`; use json, msgpack or postcard")
                            })
                    }),
                    "compress_above" => {
                        non_negative(&value).map(|n| config.compress_above = Some(n))
                    }
                    "encryption" => key_source(&value).map(|k| config.encryption = Some(k)),
                    "integrity" => key_source(&value).map(|k| config.integrity = Some(k)),
                    "near" => match near(&value) {
                        Ok(near) => {
                            config.near = Some(near);
                            Ok(())
                        }
                        Err((inner, message)) => {
                            let field = match inner.as_str() {
                                "" => "near".to_owned(),
                                inner => format!("near.{inner}"),
                            };
                            problems.push(ConfigProblem::new(&name, Some(&field), message));
                            Ok(())
                        }
                    },
                    _ => {
                        config.options.insert(field.clone(), value);
                        Ok(())
                    }
                };
                if let Err(message) = parsed {
                    problems.push(ConfigProblem::new(&name, Some(&field), message));
                }
            }
            settings.caches.insert(name, config);
        }
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigError { problems })
        }
    }
}

impl<'de> Deserialize<'de> for CacheSettings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(value).map_err(serde::de::Error::custom)
    }
}

fn string(value: &Value) -> Result<String, String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("expected a string, found {}", kind(value)))
}

fn strings(value: &Value) -> Result<Vec<String>, String> {
    let Value::Array(items) = value else {
        return Err(format!(
            "expected an array of strings, found {}",
            kind(value)
        ));
    };
    items
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("expected an array of strings, found {} in it", kind(item)))
        })
        .collect()
}

fn non_negative(value: &Value) -> Result<usize, String> {
    match value.as_u64() {
        Some(n) => usize::try_from(n).map_err(|_| format!("{n} is too large")),
        None => Err(format!("expected a number of bytes, found {}", kind(value))),
    }
}

/// Keys named by environment variables: `{ key_env = "NAME", previous_key_envs = [..] }`.
fn key_source(value: &Value) -> Result<KeySource, String> {
    const SHAPE: &str =
        "expected a table such as { key_env = \"CACHE_KEY\", previous_key_envs = [\"OLD_KEY\"] }";
    let Value::Object(fields) = value else {
        return Err(SHAPE.to_owned());
    };
    let mut current = None;
    let mut previous = Vec::new();
    for (field, value) in fields {
        match field.as_str() {
            "key_env" => current = Some(string(value)?),
            "previous_key_envs" => previous = strings(value)?,
            other => return Err(format!("unknown field `{other}`; {SHAPE}")),
        }
    }
    let current = current.ok_or_else(|| format!("key_env is missing; {SHAPE}"))?;
    Ok(KeySource::Env { current, previous })
}

/// A near cache: `{ max_size = 10000, ttl = "30s" }` (`ttl` optional); an error names the
/// field within the table.
fn near(value: &Value) -> Result<NearConfig, (String, String)> {
    const SHAPE: &str = "expected a table such as { max_size = 10000, ttl = \"30s\" }";
    let Value::Object(fields) = value else {
        return Err((String::new(), format!("{SHAPE}, found {}", kind(value))));
    };
    let mut max_size = None;
    let mut ttl = None;
    for (field, value) in fields {
        match field.as_str() {
            "max_size" => max_size = Some(positive(value).map_err(|e| (field.clone(), e))?),
            "ttl" => ttl = Some(duration(value).map_err(|e| (field.clone(), e))?),
            _ => return Err((field.clone(), format!("unknown field; {SHAPE}"))),
        }
    }
    let max_size = max_size.ok_or_else(|| ("max_size".into(), format!("is missing; {SHAPE}")))?;
    Ok(NearConfig { max_size, ttl })
}

fn positive(value: &Value) -> Result<usize, String> {
    match value.as_i64() {
        Some(n) if n > 0 => usize::try_from(n).map_err(|_| format!("{n} is too large")),
        Some(n) => Err(format!("must be greater than zero, found {n}")),
        None => Err(format!(
            "expected a positive integer, found {}",
            kind(value)
        )),
    }
}

/// A TTL: whole seconds, or a duration string such as `"5m"`, `"1h30m"` or `"250ms"`.
fn duration(value: &Value) -> Result<Duration, String> {
    let parsed = match value {
        Value::Number(n) => match n.as_i64() {
            Some(secs) if secs > 0 => Duration::from_secs(secs as u64),
            Some(secs) => return Err(format!("must be greater than zero, found {secs}")),
            None => {
                return Err(format!(
                    "expected whole seconds or a duration string, found {n}"
                ));
            }
        },
        Value::String(text) => humantime::parse_duration(text).map_err(|error| {
            format!("`{text}` is not a duration ({error}); write e.g. 300, \"5m\" or \"1h30m\"")
        })?,
        other => {
            return Err(format!(
                "expected whole seconds or a duration string, found {}",
                kind(other)
            ));
        }
    };
    if parsed.is_zero() {
        return Err("must be greater than zero".to_owned());
    }
    Ok(parsed)
}

/// A timeout: whole milliseconds, or a duration string such as `"250ms"` or `"1s"`.
fn millis(value: &Value) -> Result<Duration, String> {
    match value {
        Value::Number(n) => match n.as_i64() {
            Some(ms) if ms > 0 => Ok(Duration::from_millis(ms as u64)),
            Some(ms) => Err(format!("must be greater than zero, found {ms}")),
            None => Err(format!(
                "expected whole milliseconds or a duration string, found {n}"
            )),
        },
        Value::String(_) => duration(value),
        other => Err(format!(
            "expected whole milliseconds or a duration string, found {}",
            kind(other)
        )),
    }
}

/// A wait that may be zero: whole milliseconds or a duration string.
fn millis_or_zero(value: &Value) -> Result<Duration, String> {
    match value {
        Value::Number(n) if n.as_i64() == Some(0) => Ok(Duration::ZERO),
        Value::String(text) if humantime::parse_duration(text).is_ok_and(|d| d.is_zero()) => {
            Ok(Duration::ZERO)
        }
        other => millis(other),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a table",
    }
}

/// Where the keys protecting a cache's values come from.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum KeySource {
    /// Environment variables, read when the configuration is installed: the current key's,
    /// and those of keys still accepted for reading.
    Env {
        /// The variable holding the key values are written with.
        current: String,
        /// Variables holding keys values are still read with.
        previous: Vec<String>,
    },
    /// Keys given in code.
    Keys(ValueKeys),
}

impl PartialEq for KeySource {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                KeySource::Env {
                    current: a,
                    previous: b,
                },
                KeySource::Env {
                    current: c,
                    previous: d,
                },
            ) => a == c && b == d,
            (KeySource::Keys(a), KeySource::Keys(b)) => a.ids() == b.ids(),
            _ => false,
        }
    }
}

impl KeySource {
    /// The keys.
    pub fn keys(&self) -> Result<ValueKeys, KeyError> {
        match self {
            KeySource::Keys(keys) => Ok(keys.clone()),
            KeySource::Env { current, previous } => previous
                .iter()
                .try_fold(ValueKeys::from_env(current)?, |keys, name| {
                    keys.with_previous_env(name)
                }),
        }
    }
}

/// A field a custom backend's factory rejects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidField {
    /// The field's name.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl InvalidField {
    /// A problem with `field`.
    pub fn new(field: &str, message: impl fmt::Display) -> Self {
        Self {
            field: field.to_owned(),
            message: message.to_string(),
        }
    }
}

/// One problem in the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigProblem {
    /// The cache it is in (empty for the document as a whole).
    pub cache: String,
    /// The field it is in, when it is in one.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ConfigProblem {
    pub(crate) fn new(cache: &str, field: Option<&str>, message: impl fmt::Display) -> Self {
        Self {
            cache: cache.to_owned(),
            field: field.map(str::to_owned),
            message: message.to_string(),
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.cache.as_str(), &self.field) {
            ("", _) => write!(f, "{}", self.message),
            (cache, None) => write!(f, "cache `{cache}`: {}", self.message),
            (cache, Some(field)) => write!(f, "cache `{cache}`, field `{field}`: {}", self.message),
        }
    }
}

/// Invalid configuration: every problem found, each naming its cache and field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    problems: Vec<ConfigProblem>,
}

impl ConfigError {
    pub(crate) fn new(problems: Vec<ConfigProblem>) -> Self {
        Self { problems }
    }

    pub(crate) fn single(cache: &str, field: Option<&str>, message: impl fmt::Display) -> Self {
        Self::new(vec![ConfigProblem::new(cache, field, message)])
    }

    fn document(format: &str, error: impl fmt::Display) -> Self {
        Self::single(
            "",
            None,
            format!("the cache settings are not valid {format}: {error}"),
        )
    }

    /// Every problem found.
    pub fn problems(&self) -> &[ConfigProblem] {
        &self.problems
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => write!(f, "invalid cache configuration: {one}"),
            many => {
                write!(f, "invalid cache configuration ({} problems):", many.len())?;
                for problem in many {
                    write!(f, "\n  - {problem}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_seconds_and_strings() {
        assert_eq!(duration(&Value::from(300)), Ok(Duration::from_secs(300)));
        assert_eq!(duration(&Value::from("5m")), Ok(Duration::from_secs(300)));
        assert_eq!(
            duration(&Value::from("1h30m")),
            Ok(Duration::from_secs(5400))
        );
        assert_eq!(
            duration(&Value::from("250ms")),
            Ok(Duration::from_millis(250))
        );
        assert!(duration(&Value::from(0)).is_err());
        assert!(duration(&Value::from(-5)).is_err());
        assert!(duration(&Value::from("0s")).is_err());
        assert!(duration(&Value::from("soon")).is_err());
        assert!(duration(&Value::from(1.5)).is_err());
    }

    #[test]
    fn timeouts_accept_milliseconds_and_strings() {
        assert_eq!(millis(&Value::from(250)), Ok(Duration::from_millis(250)));
        assert_eq!(millis(&Value::from("2s")), Ok(Duration::from_secs(2)));
        assert_eq!(millis(&Value::from("50ms")), Ok(Duration::from_millis(50)));
        assert!(millis(&Value::from(0)).is_err());
        assert!(millis(&Value::from("0ms")).is_err());
        assert!(millis(&Value::from(true)).is_err());
    }
}
