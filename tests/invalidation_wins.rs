//! Invalidation always wins: once an invalidation has returned, no caller gets a value whose
//! load began before it, and no such load stores its value afterwards; on memory, on Redis
//! (one cache, and two caches with their own connections standing for two processes), on a
//! custom backend, and between two real processes.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use cached_core::{
    Cache, CacheConfig, CacheSettings, cached, configure, invalidates, register_backend,
};
use cached_tests::map_backend::MapBackend;
use cached_tests::races::{Invalidation, Pause, Series};
use cached_tests::redis_server::{PATIENT, RedisServer};
use tokio::sync::Notify;

#[tokio::test(flavor = "current_thread")]
async fn memory_loads_interleaved_with_every_invalidation_store_nothing_stale() {
    let cache = cached_tests::memory_cache(100_000);
    Series {
        name: "memory",
        reader: &cache,
        writer: &cache,
        races: 1_000,
        parallel: false,
        pause: Pause::Yields(12),
        seed: 11,
    }
    .assert_no_stale(&Invalidation::ALL)
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_loads_racing_invalidations_on_other_threads_store_nothing_stale() {
    let cache = cached_tests::memory_cache(100_000);
    Series {
        name: "memory in parallel",
        reader: &cache,
        writer: &cache,
        races: 1_000,
        parallel: true,
        pause: Pause::Micros(150),
        seed: 12,
    }
    .assert_no_stale(&[
        Invalidation::Delete,
        Invalidation::Pattern,
        Invalidation::Set,
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_loads_racing_invalidations_store_nothing_stale() {
    let server = RedisServer::start();
    let cache = server.cache("");
    Series {
        name: "redis",
        reader: &cache,
        writer: &cache,
        races: 300,
        parallel: true,
        pause: Pause::Micros(1_500),
        seed: 13,
    }
    .assert_no_stale(&Invalidation::ALL)
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_loads_racing_another_process_invalidations_store_nothing_stale() {
    let server = RedisServer::start();
    let (reader, writer) = (server.cache(""), server.cache(""));
    Series {
        name: "redis, two processes",
        reader: &reader,
        writer: &writer,
        races: 300,
        parallel: true,
        pause: Pause::Micros(1_500),
        seed: 14,
    }
    .assert_no_stale(&Invalidation::ALL)
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn custom_backend_loads_racing_invalidations_store_nothing_stale() {
    register_backend("yielding-map", |_| Ok(MapBackend::yielding()));
    let cache = Cache::new("custom", &CacheConfig::backend("yielding-map")).unwrap();
    Series {
        name: "custom backend",
        reader: &cache,
        writer: &cache,
        races: 1_000,
        parallel: false,
        pause: Pause::Yields(12),
        seed: 15,
    }
    .assert_no_stale(&Invalidation::ALL)
    .await;
}

/// The source of the attribute tests, and a gate that holds the first load it is armed for
/// until released.
struct Gated {
    version: AtomicU64,
    loads: AtomicUsize,
    armed: AtomicBool,
    started: Notify,
    release: Notify,
}

impl Gated {
    const fn new() -> Self {
        Self {
            version: AtomicU64::new(0),
            loads: AtomicUsize::new(0),
            armed: AtomicBool::new(false),
            started: Notify::const_new(),
            release: Notify::const_new(),
        }
    }

    /// A load: reads the version and, if the gate is armed, holds until released.
    async fn load(&self) -> u64 {
        self.loads.fetch_add(1, Ordering::SeqCst);
        let version = self.version.load(Ordering::SeqCst);
        if self.armed.swap(false, Ordering::SeqCst) {
            self.started.notify_one();
            self.release.notified().await;
        }
        version
    }

    fn write(&self) -> u64 {
        self.version.fetch_add(1, Ordering::SeqCst) + 1
    }
}

static MEMORY_SOURCE: Gated = Gated::new();
static REDIS_SOURCE: Gated = Gated::new();

#[cached(cache = "wins-memory", key = "article:{id}")]
async fn article_memory(id: u64) -> u64 {
    let _ = id;
    MEMORY_SOURCE.load().await
}

#[invalidates("article:{id}", cache = "wins-memory")]
async fn edit_memory(id: u64) -> Result<u64, String> {
    let _ = id;
    Ok(MEMORY_SOURCE.write())
}

#[cached(cache = "wins-redis", key = "article:{id}")]
async fn article_redis(id: u64) -> u64 {
    let _ = id;
    REDIS_SOURCE.load().await
}

#[invalidates("article:{id}", cache = "wins-redis")]
async fn edit_redis(id: u64) -> Result<u64, String> {
    let _ = id;
    Ok(REDIS_SOURCE.write())
}

/// The attribute tests' caches: memory, and Redis on `server`.
fn configure_attribute_caches(server: &RedisServer) {
    let redis = CacheConfig::redis(&server.url())
        .with_connect_timeout(PATIENT)
        .with_response_timeout(PATIENT);
    configure(
        CacheSettings::new()
            .with_cache("wins-memory", CacheConfig::memory())
            .with_cache("wins-redis", redis),
    )
    .unwrap();
}

/// The deterministic case: a load starts and holds; the write and its invalidation return;
/// a call that starts afterwards must load afresh rather than join the held load, and the
/// held load's value must not be stored when it is released.
async fn a_call_after_the_invalidation_loads_afresh<R, W>(
    source: &'static Gated,
    cache: Cache,
    read: impl Fn(u64) -> R + Send + Sync + 'static + Copy,
    write: impl Fn(u64) -> W,
) where
    R: Future<Output = u64> + Send + 'static,
    W: Future<Output = Result<u64, String>>,
{
    let id = 1;
    assert_eq!(read(id).await, 0);
    cache.delete("article:1").await.unwrap();
    source.armed.store(true, Ordering::SeqCst);
    let held = tokio::spawn(async move { read(id).await });
    source.started.notified().await;

    let version = write(id).await.unwrap();
    let after = tokio::spawn(async move { read(id).await });
    let after = tokio::time::timeout(Duration::from_secs(10), after).await;
    source.release.notify_one();
    let after = after
        .expect("the later call does not wait for the held load")
        .unwrap();
    assert_eq!(after, version, "the later call got the written version");
    assert_eq!(
        held.await.unwrap(),
        0,
        "the held call gets its own load's value"
    );
    assert_eq!(
        cache.get::<u64>("article:1").await.unwrap(),
        Some(version),
        "the held load's value was not stored over the newer one"
    );
    assert_eq!(read(id).await, version);
}

/// The tests of the attributes, which share the registry, in one test: a server of its own
/// (stopped at the end, which a `static` would never be).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attributes_a_call_after_an_invalidation_never_joins_an_older_load() {
    let server = RedisServer::start();
    configure_attribute_caches(&server);
    let memory = cached_core::get_cache("wins-memory").unwrap();
    a_call_after_the_invalidation_loads_afresh(&MEMORY_SOURCE, memory, article_memory, edit_memory)
        .await;
    let redis = cached_core::get_cache("wins-redis").unwrap();
    a_call_after_the_invalidation_loads_afresh(&REDIS_SOURCE, redis, article_redis, edit_redis)
        .await;
    a_pattern_reaches_entries_whose_argument_is_long().await;
}

/// Another process's invalidation: the held load is this process's, the invalidation comes
/// through another connection, and a later call in this process must still not get the held
/// load's value (it waits for it, learns its lease was lost, and loads afresh).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_call_after_another_process_invalidated_never_takes_the_older_load() {
    let server = RedisServer::start();
    let (here, there) = (server.cache(""), server.cache(""));
    let source = Arc::new(Gated::new());
    let read = {
        let (here, source) = (here.clone(), Arc::clone(&source));
        move || {
            let (here, source) = (here.clone(), Arc::clone(&source));
            async move { here.get_or_set("article", || source.load(), None).await }
        }
    };
    source.armed.store(true, Ordering::SeqCst);
    let held = tokio::spawn(read());
    source.started.notified().await;
    let version = source.write();
    there.delete("article").await.unwrap();
    let after = tokio::spawn(read());
    tokio::time::sleep(Duration::from_millis(50)).await;
    source.release.notify_one();
    assert_eq!(held.await.unwrap(), 0);
    assert_eq!(
        after.await.unwrap(),
        version,
        "the later call loaded afresh"
    );
    assert_eq!(there.get::<u64>("article").await.unwrap(), Some(version));
    assert_eq!(source.loads.load(Ordering::SeqCst), 2);
}

/// Processes that miss one key together run one load: the second waits for the first's
/// lease to turn into a value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_concurrent_misses_in_two_processes_run_one_load() {
    let server = RedisServer::start();
    let config = |wait| {
        CacheConfig::redis(&server.url())
            .with_connect_timeout(PATIENT)
            .with_response_timeout(PATIENT)
            .with_leases(Duration::from_secs(30), wait)
    };
    let first = Cache::new("first", &config(Duration::from_secs(5))).unwrap();
    let second = Cache::new("second", &config(Duration::from_secs(5))).unwrap();
    let source = Arc::new(Gated::new());
    source.armed.store(true, Ordering::SeqCst);
    let one = {
        let (first, source) = (first.clone(), Arc::clone(&source));
        tokio::spawn(async move { first.get_or_set("report", || source.load(), None).await })
    };
    source.started.notified().await;
    let two = {
        let (second, source) = (second.clone(), Arc::clone(&source));
        tokio::spawn(async move { second.get_or_set("report", || source.load(), None).await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    source.release.notify_one();
    assert_eq!((one.await.unwrap(), two.await.unwrap()), (0, 0));
    assert_eq!(
        source.loads.load(Ordering::SeqCst),
        1,
        "one load for both processes"
    );
}

/// A load whose process went away (its future dropped mid-load) leaves its lease; another
/// process waits for it at most `lease_wait`, then loads and stores by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_lease_left_by_a_vanished_load_costs_one_bounded_wait() {
    let server = RedisServer::start();
    let config = CacheConfig::redis(&server.url())
        .with_connect_timeout(PATIENT)
        .with_response_timeout(PATIENT)
        .with_leases(Duration::from_secs(60), Duration::from_millis(100));
    let (gone, alive) = (
        Cache::new("gone", &config).unwrap(),
        Cache::new("alive", &config).unwrap(),
    );
    let source = Arc::new(Gated::new());
    source.armed.store(true, Ordering::SeqCst);
    let vanished = {
        let source = Arc::clone(&source);
        tokio::spawn(async move { gone.get_or_set("report", || source.load(), None).await })
    };
    source.started.notified().await;
    vanished.abort();
    assert!(vanished.await.unwrap_err().is_cancelled());
    assert!(
        !alive.exists("report").await.unwrap(),
        "a lease is no value"
    );

    let loaded = alive.get_or_set("report", || async { 42_u64 }, None).await;
    assert_eq!(loaded, 42);
    assert_eq!(
        alive.get::<u64>("report").await.unwrap(),
        Some(42),
        "stored through the vanished load's lease"
    );
}

#[cached(key = "search:{q}:page={page}", cache = "wins-memory")]
async fn search(q: String, page: u32) -> usize {
    q.len() + page as usize
}

#[invalidates("search:{q}:*", cache = "wins-memory")]
async fn reindex(q: String) -> Result<(), String> {
    let _ = q;
    Ok(())
}

async fn a_pattern_reaches_entries_whose_argument_is_long() {
    let cache = cached_core::get_cache("wins-memory").unwrap();
    let long = "q".repeat(1_000);
    search(long.clone(), 1).await;
    search(long.clone(), 2).await;
    search("short".to_owned(), 1).await;
    let key = search_cache_key(&long, &1).unwrap();
    assert!(key.ends_with(":page=1") && key.len() < 200, "{key}");
    assert!(cache.exists(&key).await.unwrap());
    reindex(long.clone()).await.unwrap();
    assert!(!cache.exists(&key).await.unwrap());
    assert!(
        !cache
            .exists(&search_cache_key(&long, &2).unwrap())
            .await
            .unwrap()
    );
    assert!(
        cache
            .exists(&search_cache_key(&"short".to_owned(), &1).unwrap())
            .await
            .unwrap(),
        "other entries stay"
    );
}

/// The environment variable that makes [`second_process`] act, naming the Redis URL.
const CHILD_URL: &str = "CACHED_WINS_CHILD_REDIS_URL";

/// The second process of [`two_real_processes_invalidation_wins`]: bumps the shared source
/// and deletes the key through its own cache, then exits.
#[tokio::test]
#[ignore = "run by two_real_processes_invalidation_wins as the second process"]
async fn second_process() {
    let url = std::env::var(CHILD_URL).expect("started by the first process");
    let cache = Cache::new(
        "child",
        &CacheConfig::redis(&url)
            .with_connect_timeout(PATIENT)
            .with_response_timeout(PATIENT),
    )
    .unwrap();
    cache.incr("source", 1).await.unwrap();
    cache.delete("article").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_real_processes_invalidation_wins() {
    let server = RedisServer::start();
    let cache = server.cache("");
    cache
        .set("source", &0_i64, Some(Duration::from_secs(600)))
        .await
        .unwrap();
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let held = {
        let (cache, started, release) = (cache.clone(), started.clone(), release.clone());
        tokio::spawn(async move {
            let loader = cache.clone();
            cache
                .get_or_set(
                    "article",
                    || async move {
                        let version: i64 = loader.get("source").await.unwrap().unwrap();
                        started.notify_one();
                        release.notified().await;
                        version
                    },
                    None,
                )
                .await
        })
    };
    started.notified().await;
    let url = server.url();
    assert!(
        cached_tests::run_second_process("second_process", CHILD_URL, url).await,
        "the second process failed"
    );
    release.notify_one();
    assert_eq!(held.await.unwrap(), 0, "the held call gets its own load");
    assert_eq!(
        cache.get::<i64>("article").await.unwrap(),
        None,
        "the load that began before the other process's invalidation did not store"
    );
    let fresh = cache
        .get_or_set(
            "article",
            || async { cache.get::<i64>("source").await.unwrap().unwrap() },
            None,
        )
        .await;
    assert_eq!(fresh, 1);
}
