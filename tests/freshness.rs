//! Freshness without stampedes, with a real clock and a real Redis: within `stale` callers
//! are served while the body runs once in the background; a failing body is answered from
//! an entry within `stale_if_error`; under a steady load across expiries with
//! `early_refresh`, no caller waits for a load; and a refresh that began before an
//! invalidation never stores after it, in one process or two (gated cases, and series of
//! hundreds of races at random moments that must show zero stale values).
//!
//! Whether a caller waited is not timed: the loader knows whether it runs in a caller's task
//! (a task-local each caller sets) or in the background, and the tests that need it hold the
//! loader at a gate that opens only after every caller has returned.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cached_core::{
    Backend, BackendError, Cache, CacheConfig, CacheSettings, Freshness, Ttl, cached, configure,
    get_cache, register_backend,
};
use cached_tests::redis_server::{RedisCluster, RedisServer};
use tokio::sync::watch;

tokio::task_local! {
    /// Set in every caller's task: a load that sees it runs in the foreground.
    static CALLER: ();
}

/// How long the tests give anything they wait for (never reached when all is well).
const PATIENCE: Duration = Duration::from_secs(20);

/// The source behind a cached key: a version, how its loads ran, and a gate they pass.
struct Source {
    version: AtomicU64,
    loads: AtomicUsize,
    foreground: AtomicUsize,
    finished: AtomicUsize,
    failing: AtomicBool,
    pause: Duration,
    gate: watch::Sender<bool>,
}

impl Source {
    fn new(pause: Duration) -> Arc<Self> {
        Arc::new(Self {
            version: AtomicU64::new(1),
            loads: AtomicUsize::new(0),
            foreground: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            failing: AtomicBool::new(false),
            pause,
            gate: watch::channel(true).0,
        })
    }

    fn close(&self) {
        self.gate.send_replace(false);
    }

    fn open(&self) {
        self.gate.send_replace(true);
    }

    async fn load(self: Arc<Self>) -> Result<u64, String> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        if CALLER.try_with(|()| ()).is_ok() {
            self.foreground.fetch_add(1, Ordering::SeqCst);
        }
        let mut gate = self.gate.subscribe();
        gate.wait_for(|open| *open).await.unwrap();
        tokio::time::sleep(self.pause).await;
        let result = if self.failing.load(Ordering::SeqCst) {
            Err("the source is down".to_owned())
        } else {
            Ok(self.version.load(Ordering::SeqCst))
        };
        self.finished.fetch_add(1, Ordering::SeqCst);
        result
    }

    /// One caller's `get_or_set_fresh`, in a caller's task.
    async fn get(self: &Arc<Self>, cache: &Cache, key: &str, ttl: Duration, f: Freshness) -> u64 {
        let source = Arc::clone(self);
        let load = || async move { source.load().await.expect("this source does not fail") };
        CALLER
            .scope((), cache.get_or_set_fresh(key, load, Some(ttl), f))
            .await
    }

    /// One caller's `try_get_or_set_fresh`, in a caller's task.
    async fn try_get(
        self: &Arc<Self>,
        cache: &Cache,
        key: &str,
        ttl: Duration,
        f: Freshness,
    ) -> Result<u64, String> {
        let source = Arc::clone(self);
        CALLER
            .scope(
                (),
                cache.try_get_or_set_fresh(key, || source.load(), Some(ttl), f),
            )
            .await
    }
}

/// Waits until `done` holds, or fails the test after [`PATIENCE`].
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until `key` reads `expected` through `cache.get`.
async fn until_value(cache: &Cache, key: &str, expected: Option<u64>) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let value = cache.get::<u64>(key).await.unwrap();
        if value == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{key} reads {value:?}, never {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

const TTL: Duration = Duration::from_millis(300);

/// Past the `ttl` of an entry filled now.
async fn past_ttl() {
    tokio::time::sleep(TTL + Duration::from_millis(100)).await;
}

/// 64 callers of a stale entry are all served before the refresh may finish (it waits at a
/// closed gate), the body runs once for all of them, and the refreshed value follows.
async fn stale_callers_never_wait(cache: &Cache, key: &str) {
    let source = Source::new(Duration::ZERO);
    let stale = Freshness::new().stale(Duration::from_secs(60));
    assert_eq!(source.get(cache, key, TTL, stale).await, 1);
    past_ttl().await;
    source.version.store(2, Ordering::SeqCst);
    source.close();
    let before = cache.stats();
    let callers: Vec<_> = (0..64)
        .map(|_| {
            let (source, cache, key) = (Arc::clone(&source), cache.clone(), key.to_owned());
            tokio::spawn(async move { source.get(&cache, &key, TTL, stale).await })
        })
        .collect();
    let mut served = Vec::new();
    for caller in callers {
        let value = tokio::time::timeout(PATIENCE, caller)
            .await
            .expect("a caller waited for the refresh");
        served.push(value.unwrap());
    }
    assert!(served.iter().all(|v| *v == 1), "{served:?}");
    until("the refresh to start", || {
        source.loads.load(Ordering::SeqCst) == 2
    })
    .await;
    source.open();
    until_value(cache, key, Some(2)).await;
    assert_eq!(
        source.loads.load(Ordering::SeqCst),
        2,
        "one refresh for 64 callers"
    );
    assert_eq!(
        source.foreground.load(Ordering::SeqCst),
        1,
        "only the first fill was waited for"
    );
    let after = cache.stats();
    assert_eq!(after.stale_hits - before.stale_hits, 64);
    assert_eq!(after.refreshes - before.refreshes, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_serves_stale_while_one_refresh_runs() {
    stale_callers_never_wait(&cached_tests::memory_cache(1_000), "stale").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_serves_stale_while_one_refresh_runs() {
    let server = RedisServer::start();
    stale_callers_never_wait(&server.cache("fresh:"), "stale").await;
    assert_eq!(
        server.cli(&["--scan"]).trim(),
        "fresh:stale",
        "the refresh claim is given back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_serves_stale_while_one_refresh_runs() {
    let cluster = RedisCluster::start();
    let cache = cluster.cache("");
    for key in ["stale:a", "stale:b", "stale:c"] {
        stale_callers_never_wait(&cache, key).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_backend_serves_stale_while_one_refresh_runs() {
    register_backend("fresh-expiring-map", |_| Ok(ExpiringMap::default()));
    let cache = Cache::new("fresh", &CacheConfig::backend("fresh-expiring-map")).unwrap();
    stale_callers_never_wait(&cache, "stale").await;
}

/// A failing load within `stale_if_error` is answered from the entry; past it, the error
/// reaches the caller.
async fn failures_are_answered_from_the_entry(cache: &Cache) {
    let source = Source::new(Duration::ZERO);
    let fallback = Freshness::new().stale_if_error(Duration::from_millis(1_000));
    let key = "fallback";
    assert_eq!(source.try_get(cache, key, TTL, fallback).await, Ok(1));
    past_ttl().await;
    source.failing.store(true, Ordering::SeqCst);
    let before = cache.stats();
    assert_eq!(source.try_get(cache, key, TTL, fallback).await, Ok(1));
    assert_eq!(
        source.loads.load(Ordering::SeqCst),
        2,
        "the body ran, and failed"
    );
    assert_eq!(
        source.try_get(cache, key, TTL, fallback).await,
        Ok(1),
        "a failed load leaves the entry for the next caller"
    );
    assert_eq!(source.loads.load(Ordering::SeqCst), 3);
    assert_eq!(cache.stats().stale_on_error - before.stale_on_error, 2);
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(
        source.try_get(cache, key, TTL, fallback).await,
        Err("the source is down".to_owned()),
        "past ttl + stale_if_error the entry is gone"
    );
    source.failing.store(false, Ordering::SeqCst);
    source.version.store(3, Ordering::SeqCst);
    assert_eq!(source.try_get(cache, key, TTL, fallback).await, Ok(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_answers_a_failing_body_from_the_entry() {
    failures_are_answered_from_the_entry(&cached_tests::memory_cache(1_000)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_answers_a_failing_body_from_the_entry() {
    let server = RedisServer::start();
    failures_are_answered_from_the_entry(&server.cache("")).await;
}

/// Callers read a key steadily across several expiries; with `early_refresh`, every load
/// after the first runs in the background: no caller waits for one.
async fn steady_readers_never_wait(cache: &Cache) -> usize {
    let source = Source::new(Duration::from_millis(20));
    let ttl = Duration::from_millis(1_000);
    let early = Freshness::new().early_refresh(Duration::from_millis(600));
    let key = "steady";
    let end = Instant::now() + Duration::from_millis(3_500);
    let readers = (0..8).map(|_| {
        let (source, cache) = (Arc::clone(&source), cache.clone());
        tokio::spawn(async move {
            while Instant::now() < end {
                source.version.fetch_add(1, Ordering::SeqCst);
                source.get(&cache, key, ttl, early).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    });
    for reader in readers.collect::<Vec<_>>() {
        reader.await.unwrap();
    }
    let loads = source.loads.load(Ordering::SeqCst);
    assert!(
        loads >= 4,
        "the key was refreshed across its expiries ({loads} loads)"
    );
    assert_eq!(
        source.foreground.load(Ordering::SeqCst),
        1,
        "only the first load was waited for"
    );
    loads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_refreshes_early_so_steady_readers_never_wait() {
    steady_readers_never_wait(&cached_tests::memory_cache(1_000)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_refreshes_early_so_steady_readers_never_wait() {
    let server = RedisServer::start();
    steady_readers_never_wait(&server.cache("")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_early_refresh_steady_readers_wait_at_each_expiry() {
    let source = Source::new(Duration::from_millis(20));
    let cache = cached_tests::memory_cache(1_000);
    let end = Instant::now() + Duration::from_millis(2_500);
    while Instant::now() < end {
        source
            .get(
                &cache,
                "plain",
                Duration::from_millis(500),
                Freshness::new(),
            )
            .await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        source.foreground.load(Ordering::SeqCst) >= 3,
        "the control: each expiry is loaded by a caller"
    );
}

/// How an invalidation reaches the key while its refresh runs.
#[derive(Clone, Copy, Debug)]
enum Write {
    Delete,
    Pattern,
    Set,
}

/// A refresh that began before an invalidation (by `writer`: the same cache, or another
/// process's) stores nothing after it: the key stays deleted, or keeps the newer write.
async fn a_refresh_never_outlives_an_invalidation(reader: &Cache, writer: &Cache, write: Write) {
    let source = Source::new(Duration::ZERO);
    let stale = Freshness::new().stale(Duration::from_secs(60));
    let key = format!("refresh:{write:?}");
    assert_eq!(source.get(reader, &key, TTL, stale).await, 1);
    past_ttl().await;
    source.version.store(2, Ordering::SeqCst);
    source.close();
    assert_eq!(source.get(reader, &key, TTL, stale).await, 1);
    until("the refresh to start", || {
        source.loads.load(Ordering::SeqCst) == 2
    })
    .await;
    let expected = match write {
        Write::Delete => {
            assert!(writer.delete(&key).await.unwrap());
            None
        }
        Write::Pattern => {
            assert_eq!(writer.delete_pattern("refresh:*").await.unwrap(), 1);
            None
        }
        Write::Set => {
            writer.set(&key, &7u64, None).await.unwrap();
            Some(7)
        }
    };
    source.open();
    until("the refresh's load to end", || {
        source.finished.load(Ordering::SeqCst) == 2
    })
    .await;
    // The fill follows the load at once; give it ample time to (wrongly) land.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        reader.get::<u64>(&key).await.unwrap(),
        expected,
        "{write:?}"
    );
    assert_eq!(
        writer.get::<u64>(&key).await.unwrap(),
        expected,
        "{write:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_refreshes_lose_to_invalidations() {
    let cache = cached_tests::memory_cache(1_000);
    for write in [Write::Delete, Write::Pattern, Write::Set] {
        a_refresh_never_outlives_an_invalidation(&cache, &cache, write).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_refreshes_lose_to_invalidations_in_any_process() {
    let server = RedisServer::start();
    let (one, other) = (server.cache(""), server.cache(""));
    for write in [Write::Delete, Write::Pattern, Write::Set] {
        a_refresh_never_outlives_an_invalidation(&one, &one, write).await;
        server.cli(&["FLUSHDB"]);
        a_refresh_never_outlives_an_invalidation(&one, &other, write).await;
        server.cli(&["FLUSHDB"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_refreshes_once_across_processes() {
    let server = RedisServer::start();
    let processes: Vec<Cache> = (0..4).map(|_| server.cache("")).collect();
    let source = Source::new(Duration::ZERO);
    let stale = Freshness::new().stale(Duration::from_secs(60));
    assert_eq!(source.get(&processes[0], "shared", TTL, stale).await, 1);
    past_ttl().await;
    source.version.store(2, Ordering::SeqCst);
    source.close();
    for cache in &processes {
        assert_eq!(source.get(cache, "shared", TTL, stale).await, 1);
    }
    until("a refresh to start", || {
        source.loads.load(Ordering::SeqCst) == 2
    })
    .await;
    // The other processes' refreshes were refused by the claim: none of them loads.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(source.loads.load(Ordering::SeqCst), 2);
    source.open();
    until_value(&processes[3], "shared", Some(2)).await;
    assert_eq!(source.loads.load(Ordering::SeqCst), 2);
}

/// The attribute: `stale` and `stale_if_error` on `#[cached]` functions over a named Redis
/// cache and the default memory cache.
mod attribute {
    use super::*;

    static FEED_LOADS: AtomicUsize = AtomicUsize::new(0);
    static FEED_WAITED: AtomicUsize = AtomicUsize::new(0);
    static FEED_VERSION: AtomicU64 = AtomicU64::new(1);
    static RATES_DOWN: AtomicBool = AtomicBool::new(false);

    #[cached(cache = "fresh-redis", ttl = "300ms", stale = 60, key = "feed:{user}")]
    async fn feed(user: u64) -> Vec<u64> {
        FEED_LOADS.fetch_add(1, Ordering::SeqCst);
        if CALLER.try_with(|()| ()).is_ok() {
            FEED_WAITED.fetch_add(1, Ordering::SeqCst);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        vec![user, FEED_VERSION.load(Ordering::SeqCst)]
    }

    #[cached(ttl = "300ms", stale_if_error = "1h", early_refresh = "100ms")]
    async fn rates(currency: String) -> Result<(String, u64), String> {
        if RATES_DOWN.load(Ordering::SeqCst) {
            return Err("rates are down".to_owned());
        }
        Ok((currency, FEED_VERSION.load(Ordering::SeqCst)))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cached_functions_serve_stale_and_answer_failures() {
        let server = RedisServer::start();
        configure(CacheSettings::new().with_cache(
            "fresh-redis",
            CacheConfig::redis(&server.url()).with_key_prefix("attr:"),
        ))
        .unwrap();

        assert_eq!(CALLER.scope((), feed(42)).await, [42, 1]);
        past_ttl().await;
        FEED_VERSION.store(2, Ordering::SeqCst);
        let callers: Vec<_> = (0..16)
            .map(|_| tokio::spawn(CALLER.scope((), feed(42))))
            .collect();
        for caller in callers {
            assert_eq!(caller.await.unwrap(), [42, 1]);
        }
        let cache = get_cache("fresh-redis").unwrap();
        until_value_vec(&cache, "feed:42", vec![42, 2]).await;
        assert_eq!(
            FEED_LOADS.load(Ordering::SeqCst),
            2,
            "one refresh for 16 callers"
        );
        assert_eq!(
            FEED_WAITED.load(Ordering::SeqCst),
            1,
            "only the first load was waited for"
        );

        assert_eq!(rates("EUR".into()).await, Ok(("EUR".into(), 2)));
        past_ttl().await;
        RATES_DOWN.store(true, Ordering::SeqCst);
        assert_eq!(
            rates("EUR".into()).await,
            Ok(("EUR".into(), 2)),
            "stale_if_error"
        );
        assert_eq!(cached_core::cache().stats().stale_on_error, 1);
    }

    async fn until_value_vec(cache: &Cache, key: &str, expected: Vec<u64>) {
        let deadline = Instant::now() + PATIENCE;
        while cache.get::<Vec<u64>>(key).await.unwrap().as_ref() != Some(&expected) {
            assert!(Instant::now() < deadline, "{key} never became {expected:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A custom backend whose entries expire and which tells their remaining lifetime.
#[derive(Clone, Default)]
struct ExpiringMap(Arc<Mutex<HashMap<String, Stored>>>);

/// A value and when it expires.
type Stored = (Vec<u8>, Option<Instant>);

impl ExpiringMap {
    fn live(&self, key: &str) -> Option<Stored> {
        let mut map = self.0.lock().unwrap();
        match map.get(key) {
            Some((_, Some(deadline))) if *deadline <= Instant::now() => {
                map.remove(key);
                None
            }
            entry => entry.cloned(),
        }
    }
}

#[cached_core::async_trait]
impl Backend for ExpiringMap {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.live(key).map(|(value, _)| value))
    }
    async fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), BackendError> {
        let deadline = ttl.map(|ttl| Instant::now() + ttl);
        self.0
            .lock()
            .unwrap()
            .insert(key.to_owned(), (value, deadline));
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<bool, BackendError> {
        Ok(self.0.lock().unwrap().remove(key).is_some())
    }
    async fn clear(&self) -> Result<(), BackendError> {
        self.0.lock().unwrap().clear();
        Ok(())
    }
    async fn ttl(&self, key: &str) -> Result<Ttl, BackendError> {
        Ok(match self.live(key) {
            None => Ttl::Absent,
            Some((_, None)) => Ttl::NoExpiry,
            Some((_, Some(deadline))) => {
                Ttl::Expires(deadline.saturating_duration_since(Instant::now()))
            }
        })
    }
}

/// Many refreshes racing invalidations, each at a random moment of the other: a value
/// loaded by a refresh that began before the invalidation must never be stored after it.
/// Each race's source is bumped to a new version before the invalidation; afterwards the
/// key holds nothing or the new version, never the old one.
async fn refreshes_racing_invalidations_store_nothing_stale(
    reader: &Cache,
    writer: &Cache,
    races: usize,
    seed: u64,
) {
    let ttl = Duration::from_millis(50);
    let stale = Freshness::new().stale(Duration::from_secs(60));
    let versions: Vec<Arc<AtomicU64>> = (0..races).map(|_| Arc::new(AtomicU64::new(1))).collect();
    let finished = Arc::new(AtomicUsize::new(0));
    let key = |i: usize| format!("race:{seed}:{i}");
    for i in 0..races {
        let value = reader
            .get_or_set_fresh(&key(i), || async { 1u64 }, Some(ttl), stale)
            .await;
        assert_eq!(value, 1);
    }
    tokio::time::sleep(ttl + Duration::from_millis(30)).await;
    let mut rng = cached_tests::SplitMix::new(seed);
    let tasks: Vec<_> = (0..races)
        .map(|i| {
            let (reader, writer, key) = (reader.clone(), writer.clone(), key(i));
            let (version, finished) = (Arc::clone(&versions[i]), Arc::clone(&finished));
            let (read_after, load_for, write_after) = (
                Duration::from_micros(rng.next_u64() % 1_500),
                Duration::from_micros(rng.next_u64() % 1_500),
                Duration::from_micros(rng.next_u64() % 2_000),
            );
            let set = rng.next_u64().is_multiple_of(2);
            tokio::spawn(async move {
                let load = {
                    let (version, finished) = (Arc::clone(&version), Arc::clone(&finished));
                    move || async move {
                        tokio::time::sleep(read_after).await;
                        let read = version.load(Ordering::SeqCst);
                        tokio::time::sleep(load_for).await;
                        finished.fetch_add(1, Ordering::SeqCst);
                        read
                    }
                };
                let served = reader.get_or_set_fresh(&key, load, Some(ttl), stale).await;
                assert_eq!(served, 1, "the stale value, at once");
                tokio::time::sleep(write_after).await;
                version.store(2, Ordering::SeqCst);
                if set {
                    writer.set(&key, &2u64, None).await.unwrap();
                } else {
                    writer.delete(&key).await.unwrap();
                }
                set
            })
        })
        .collect();
    let mut sets = Vec::new();
    for task in tasks {
        sets.push(task.await.unwrap());
    }
    until("every refresh's load to end", || {
        finished.load(Ordering::SeqCst) >= races
    })
    .await;
    // Each fill follows its load at once; give them ample time to (wrongly) land.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut stale_values = 0;
    for (i, set) in sets.iter().enumerate() {
        let held = reader.get::<u64>(&key(i)).await.unwrap();
        let expected = if *set { Some(2) } else { None };
        if held != expected {
            stale_values += 1;
        }
    }
    assert_eq!(
        stale_values, 0,
        "{stale_values} of {races} races kept a stale value"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_refreshes_racing_invalidations_store_nothing_stale() {
    let cache = cached_tests::memory_cache(10_000);
    refreshes_racing_invalidations_store_nothing_stale(&cache, &cache, 500, 21).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_refreshes_racing_invalidations_store_nothing_stale() {
    let server = RedisServer::start();
    let (one, other) = (server.cache(""), server.cache(""));
    refreshes_racing_invalidations_store_nothing_stale(&one, &one, 300, 22).await;
    refreshes_racing_invalidations_store_nothing_stale(&one, &other, 300, 23).await;
}

#[tokio::test]
async fn undecodable_entries_read_with_freshness_are_misses_reloaded() {
    let server = RedisServer::start();
    let cache = server.cache("");
    let stale = Freshness::new()
        .stale(Duration::from_secs(60))
        .stale_if_error(Duration::from_secs(60));
    server.cli(&["RPUSH", "as-list", "a"]);
    server.cli(&["SET", "as-garbage", "{not json"]);
    let errors = cache.stats().errors;
    for key in ["as-list", "as-garbage"] {
        let value = cache
            .get_or_set_fresh(key, || async { 7u64 }, Some(TTL), stale)
            .await;
        assert_eq!(value, 7, "{key}: a miss, loaded");
        assert_eq!(
            cache.get::<u64>(key).await.unwrap(),
            Some(7),
            "{key}: and stored"
        );
    }
    assert_eq!(cache.stats().errors - errors, 2, "each counted");
}

#[tokio::test]
async fn with_redis_down_freshness_fails_open_and_recovers() {
    let mut server = RedisServer::start();
    let cache = server.cache("");
    let stale = Freshness::new()
        .stale(Duration::from_secs(60))
        .stale_if_error(Duration::from_secs(60))
        .early_refresh(Duration::from_millis(100));
    assert_eq!(
        cache
            .get_or_set_fresh("down", || async { 1u64 }, Some(TTL), stale)
            .await,
        1
    );
    server.stop();
    for _ in 0..3 {
        let value = cache
            .get_or_set_fresh("down", || async { 2u64 }, Some(TTL), stale)
            .await;
        assert_eq!(value, 2, "the loader's value, Redis being unreachable");
        let failed = cache
            .try_get_or_set_fresh(
                "down",
                || async { Err::<u64, _>("source down") },
                Some(TTL),
                stale,
            )
            .await;
        assert_eq!(
            failed,
            Err("source down"),
            "nothing to fall back on: the error"
        );
    }
    server.restart();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let value = cache
            .get_or_set_fresh("back", || async { 3u64 }, Some(TTL), stale)
            .await;
        assert_eq!(value, 3);
        if cache.get::<u64>("back").await.ok().flatten() == Some(3) {
            break;
        }
        assert!(Instant::now() < deadline, "the cache never stored again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
