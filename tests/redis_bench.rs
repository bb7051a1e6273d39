//! The cost of the Redis cache against raw redis-rs, on a server of its own:
//!
//! - a `#[cached]` hit (and `Cache::get`, `Cache::get_or_set`) against a raw `GET` plus
//!   `serde_json` decode of the same value, on the same kind of connection
//!   (`ConnectionManager`), from 1 task and from 64;
//! - a miss (the value deleted, then loaded and stored): `get_or_set` and `#[cached]`, which
//!   claim the key with a lease and store by compare-and-set (`GET`, a `CLAIM` script, the
//!   load, a `FILL` script), against the same sequence without a lease on a raw connection
//!   (`GET`, `GET` again, the load, `SET PX`: what a miss cost before leases);
//! - a `Cache::get` hit on caches that store values compressed, encrypted or both, against
//!   one that stores plain JSON;
//! - a `#[cached]` call with Redis down (circuit open) against the bare function.
//!
//! Run with `cargo bench -p cached-tests --bench redis`; `BENCHMARKS.md` has the figures.
//! Variants alternate in short rounds and each figure is the median round, so that the
//! drift of a shared machine hits them alike; everything runs on the runtime's workers.

use std::future::Future;
use std::hint::black_box;
use std::time::Duration;

use cached_bench::posts::{Post, posts};
use cached_core::{Cache, CacheConfig, CacheSettings, cached};
use cached_tests::redis_server::RedisServer;
use cached_tests::timing::{concurrent, median, runtime, sequential};
use redis::aio::ConnectionManager;

const ROUNDS: usize = 301;
const SEQUENTIAL_OPS: usize = 250;
const CONCURRENT_TASKS: usize = 64;
const CONCURRENT_OPS: usize = 2_560;
const MISS_ROUNDS: usize = 101;
const MISS_OPS: usize = 100;
const DOWN_ROUNDS: usize = 51;
const DOWN_OPS: usize = 20_000;

/// The function the attribute caches: it builds the value a hit returns.
#[cached(cache = "bench", key = "posts", ttl = 3600)]
async fn cached_posts() -> Vec<Post> {
    posts()
}

/// A function whose entry each measured call deletes first.
#[cached(cache = "bench", key = "missed", ttl = 3600)]
async fn cached_miss() -> Vec<Post> {
    posts()
}

/// The same function on the cache whose Redis is down.
#[cached(cache = "down", key = "posts")]
async fn cached_posts_down() -> Vec<Post> {
    posts()
}

/// Installs "bench" on `server` (patient timeouts) and "down" on `dead` (short timeouts, a
/// breaker that stays open once tripped).
fn configure_caches(server: &RedisServer, dead: &RedisServer) -> Cache {
    let settings = CacheSettings::new()
        .with_cache(
            "bench",
            CacheConfig::redis(&server.url())
                .with_connect_timeout(Duration::from_secs(5))
                .with_response_timeout(Duration::from_secs(5)),
        )
        .with_cache(
            "down",
            CacheConfig::redis(&dead.url())
                .with_connect_timeout(Duration::from_millis(100))
                .with_response_timeout(Duration::from_millis(100))
                .with_breaker(3, Duration::from_secs(3600)),
        );
    cached_core::configure(settings).unwrap();
    cached_core::get_cache("bench").unwrap()
}

async fn raw_get(conn: &ConnectionManager) -> Vec<Post> {
    let mut conn = conn.clone();
    let bytes: Vec<u8> = redis::cmd("GET")
        .arg("posts")
        .query_async(&mut conn)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn cache_get(cache: &Cache) -> Vec<Post> {
    cache.get::<Vec<Post>>("posts").await.unwrap().unwrap()
}

async fn cache_get_or_set(cache: &Cache) -> Vec<Post> {
    cache.get_or_set("posts", || async { posts() }, None).await
}

async fn attribute() -> Vec<Post> {
    cached_posts().await
}

/// Runs `op` from 64 tasks, each a fresh clone of `state`.
async fn concurrent_with<S, F, Fut>(state: &S, op: F) -> f64
where
    S: Clone + Send + Sync + 'static,
    F: Fn(S) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = ()> + Send,
{
    let state = state.clone();
    concurrent(CONCURRENT_TASKS, CONCURRENT_OPS, move || op(state.clone())).await
}

async fn hits(server: &RedisServer, cache: Cache) {
    cache
        .set("posts", &posts(), Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    let client = redis::Client::open(server.url()).unwrap();
    let raw = ConnectionManager::new(client).await.unwrap();
    assert_eq!(raw_get(&raw).await, cache_get(&cache).await);
    assert_eq!(attribute().await, posts());

    let mut sequential_ns: [Vec<f64>; 4] = Default::default();
    for _ in 0..ROUNDS {
        let [raw_ns, attr_ns, get_ns, get_or_set_ns] = &mut sequential_ns;
        raw_ns.push(
            sequential(SEQUENTIAL_OPS, || async {
                black_box(raw_get(&raw).await);
            })
            .await,
        );
        attr_ns.push(
            sequential(SEQUENTIAL_OPS, || async {
                black_box(attribute().await);
            })
            .await,
        );
        get_ns.push(
            sequential(SEQUENTIAL_OPS, || async {
                black_box(cache_get(&cache).await);
            })
            .await,
        );
        get_or_set_ns.push(
            sequential(SEQUENTIAL_OPS, || async {
                black_box(cache_get_or_set(&cache).await);
            })
            .await,
        );
    }
    let [raw_ns, rest @ ..] = sequential_ns.map(median);
    println!("sequential hit latency (1 task), median of {ROUNDS} rounds of {SEQUENTIAL_OPS}:");
    println!("  raw GET + serde_json   {:>8.1} µs", raw_ns / 1e3);
    for (name, ns) in NAMES.iter().zip(rest) {
        println!(
            "  {name:<22} {:>8.1} µs  ({:+.1}%)",
            ns / 1e3,
            (ns / raw_ns - 1.0) * 100.0
        );
    }

    let mut concurrent_ops: [Vec<f64>; 4] = Default::default();
    for _ in 0..ROUNDS {
        let [raw_ops, attr_ops, get_ops, get_or_set_ops] = &mut concurrent_ops;
        raw_ops.push(
            concurrent_with(&raw, |conn| async move {
                black_box(raw_get(&conn).await);
            })
            .await,
        );
        attr_ops.push(
            concurrent_with(&(), |()| async {
                black_box(attribute().await);
            })
            .await,
        );
        get_ops.push(
            concurrent_with(&cache, |cache| async move {
                black_box(cache_get(&cache).await);
            })
            .await,
        );
        get_or_set_ops.push(
            concurrent_with(&cache, |cache| async move {
                black_box(cache_get_or_set(&cache).await);
            })
            .await,
        );
    }
    let [raw_ops, rest @ ..] = concurrent_ops.map(median);
    println!(
        "concurrent hit throughput ({CONCURRENT_TASKS} tasks), median of {ROUNDS} rounds of {CONCURRENT_OPS}:"
    );
    println!("  raw GET + serde_json   {raw_ops:>8.0} ops/s");
    for (name, ops) in NAMES.iter().zip(rest) {
        println!(
            "  {name:<22} {ops:>8.0} ops/s  ({:.1}% of raw)",
            ops / raw_ops * 100.0
        );
    }
    assert_eq!(cache.stats().misses, 0, "every measured call was a hit");
}

async fn unlink(conn: &ConnectionManager, key: &str) {
    let mut conn = conn.clone();
    let _: u64 = redis::cmd("UNLINK")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap();
}

/// A miss without a lease, as the cache did it before: look, look again (single-flight's
/// second look), load, `SET PX`.
async fn raw_miss(conn: &ConnectionManager) -> Vec<Post> {
    let mut conn = conn.clone();
    for _ in 0..2 {
        let found: Option<Vec<u8>> = redis::cmd("GET")
            .arg("missed")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(found.is_none());
    }
    let value = posts();
    let _: () = redis::cmd("SET")
        .arg("missed")
        .arg(serde_json::to_vec(&value).unwrap())
        .arg("PX")
        .arg(3_600_000)
        .query_async(&mut conn)
        .await
        .unwrap();
    value
}

async fn misses(server: &RedisServer, cache: Cache) {
    let client = redis::Client::open(server.url()).unwrap();
    let raw = ConnectionManager::new(client).await.unwrap();
    let mut samples: [Vec<f64>; 3] = Default::default();
    let misses_before = cache.stats().misses;
    for _ in 0..MISS_ROUNDS {
        let [raw_ns, get_or_set_ns, attr_ns] = &mut samples;
        raw_ns.push(
            sequential(MISS_OPS, || async {
                unlink(&raw, "missed").await;
                black_box(raw_miss(&raw).await);
            })
            .await,
        );
        get_or_set_ns.push(
            sequential(MISS_OPS, || async {
                unlink(&raw, "missed").await;
                black_box(cache.get_or_set("missed", || async { posts() }, None).await);
            })
            .await,
        );
        attr_ns.push(
            sequential(MISS_OPS, || async {
                unlink(&raw, "missed").await;
                black_box(cached_miss().await);
            })
            .await,
        );
    }
    let [raw_ns, get_or_set_ns, attr_ns] = samples.map(median);
    println!(
        "sequential miss latency (1 task, UNLINK + miss), median of {MISS_ROUNDS} rounds of {MISS_OPS}:"
    );
    println!("  raw GET, GET, SET PX   {:>8.1} µs", raw_ns / 1e3);
    for (name, ns) in [("Cache::get_or_set", get_or_set_ns), ("#[cached]", attr_ns)] {
        println!(
            "  {name:<22} {:>8.1} µs  ({:+.1}%)",
            ns / 1e3,
            (ns / raw_ns - 1.0) * 100.0
        );
    }
    let measured = (2 * MISS_ROUNDS * MISS_OPS) as u64;
    assert_eq!(
        cache.stats().misses - misses_before,
        measured,
        "every measured call missed"
    );
    assert_eq!(
        cache.get::<Vec<Post>>("missed").await.unwrap(),
        Some(posts()),
        "and stored"
    );
}

/// A hit on caches storing the 10 posts in each protected form, against plain JSON.
async fn protected_hits(server: &RedisServer) {
    use cached_core::codec::ValueKeys;

    let keys = ValueKeys::new([3; 32]);
    let config = || {
        CacheConfig::redis(&server.url())
            .with_connect_timeout(Duration::from_secs(5))
            .with_response_timeout(Duration::from_secs(5))
    };
    let caches = [
        (
            "plain JSON",
            Cache::new("plain", &config().with_key_prefix("p:")).unwrap(),
        ),
        (
            "LZ4",
            Cache::new("lz4", &config().with_key_prefix("z:").with_compression(0)).unwrap(),
        ),
        (
            "encrypted",
            Cache::new(
                "enc",
                &config().with_key_prefix("e:").with_encryption(keys.clone()),
            )
            .unwrap(),
        ),
        (
            "LZ4 + encrypted",
            Cache::new(
                "both",
                &config()
                    .with_key_prefix("b:")
                    .with_compression(0)
                    .with_encryption(keys),
            )
            .unwrap(),
        ),
    ];
    for (_, cache) in &caches {
        cache.set("posts", &posts(), None).await.unwrap();
    }
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); caches.len()];
    for _ in 0..ROUNDS {
        for ((_, cache), samples) in caches.iter().zip(&mut samples) {
            samples.push(
                sequential(SEQUENTIAL_OPS, || async {
                    black_box(cache_get(cache).await);
                })
                .await,
            );
        }
    }
    let medians: Vec<f64> = samples.into_iter().map(median).collect();
    println!(
        "Cache::get hit by stored form (1 task), median of {ROUNDS} rounds of {SEQUENTIAL_OPS}:"
    );
    for ((name, _), ns) in caches.iter().zip(&medians) {
        println!(
            "  {name:<22} {:>8.1} µs  ({:+.1}%)",
            ns / 1e3,
            (ns / medians[0] - 1.0) * 100.0
        );
    }
}

/// The cached variants, in the order they are measured after the raw one.
const NAMES: [&str; 3] = ["#[cached]", "Cache::get", "Cache::get_or_set"];

/// Stands in for the work a cached function does: build its value.
async fn bare() -> Vec<Post> {
    posts()
}

async fn down(mut dead: RedisServer) {
    dead.stop();
    for _ in 0..5 {
        black_box(cached_posts_down().await);
    }
    let value = posts();
    let (mut bare_ns, mut cached_ns, mut clone_ns) = (vec![], vec![], vec![]);
    for _ in 0..DOWN_ROUNDS {
        clone_ns.push(
            sequential(DOWN_OPS, || async {
                black_box(black_box(&value).clone());
            })
            .await,
        );
        bare_ns.push(
            sequential(DOWN_OPS, || async {
                black_box(bare().await);
            })
            .await,
        );
        cached_ns.push(
            sequential(DOWN_OPS, || async {
                black_box(cached_posts_down().await);
            })
            .await,
        );
    }
    let (bare_ns, cached_ns) = (median(bare_ns), median(cached_ns));
    println!("Redis down, circuit open, median of {DOWN_ROUNDS} rounds of {DOWN_OPS}:");
    println!("  bare function          {:>8.2} µs", bare_ns / 1e3);
    println!(
        "  #[cached] function     {:>8.2} µs  (+{:.2} µs)",
        cached_ns / 1e3,
        (cached_ns - bare_ns) / 1e3
    );
    println!(
        "  a clone of the value   {:>8.2} µs  (single-flight hands each caller a clone)",
        median(clone_ns) / 1e3
    );
    let errors = cached_core::get_cache("down").unwrap().stats().errors;
    assert_eq!(
        errors,
        (5 + DOWN_ROUNDS * DOWN_OPS) as u64 * 2,
        "every call was a failed read and a refused claim"
    );
}

fn main() {
    let runtime = runtime();
    let (server, dead) = (RedisServer::start(), RedisServer::start());
    let cache = configure_caches(&server, &dead);
    runtime.block_on(async move {
        tokio::spawn(async move {
            hits(&server, cache.clone()).await;
            misses(&server, cache).await;
            protected_hits(&server).await;
        })
        .await
        .unwrap();
        tokio::spawn(down(dead)).await.unwrap();
    });
}
