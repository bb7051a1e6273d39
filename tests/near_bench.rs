//! The near cache against a memory hit and a plain Redis hit, in one run, on a server of its
//! own:
//!
//! - the heap a near cache of N copies holds, against a memory cache of the same N entries;
//! - a `#[cached]` hit and a `Cache::get` hit (a `u64`, and the ten posts) on a memory cache,
//!   a Redis cache with a near cache, and a Redis cache without one, from 1 task;
//! - `#[cached]` hits per second from 64 tasks on the same three caches;
//! - how long a write through one cache takes to reach another cache's near cache (its own
//!   connection, as another process has): from the write's reply until the reader gets the
//!   new value, which is the invalidation push plus the reader's one `GET`.
//!
//! Run with `cargo bench -p cached-tests --bench near`; `BENCHMARKS.md` has the figures.
//! Variants alternate in short rounds and each figure is the median round.

use std::hint::black_box;
use std::time::{Duration, Instant};

use cached_bench::alloc::Counting;
use cached_bench::posts::{Post, posts};
use cached_core::{Cache, CacheConfig, CacheSettings, cached};
use cached_tests::redis_server::RedisServer;
use cached_tests::timing::{concurrent, median, runtime, sequential};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const ROUNDS: usize = 201;
const IN_PROCESS_OPS: usize = 2_000;
const REDIS_OPS: usize = 100;
const TASKS: usize = 64;
const CONCURRENT_OPS: usize = 64_000;
const REDIS_CONCURRENT_OPS: usize = 6_400;
const PROPAGATION_SAMPLES: usize = 2_000;
const MEMORY_ENTRIES: usize = 100_000;

#[cached(cache = "memory", key = "n", ttl = 3600)]
async fn memory_number() -> u64 {
    42
}

#[cached(cache = "near", key = "n", ttl = 3600)]
async fn near_number() -> u64 {
    42
}

#[cached(cache = "redis", key = "n", ttl = 3600)]
async fn redis_number() -> u64 {
    42
}

#[cached(cache = "memory", key = "posts", ttl = 3600)]
async fn memory_posts() -> Vec<Post> {
    posts()
}

#[cached(cache = "near", key = "posts", ttl = 3600)]
async fn near_posts() -> Vec<Post> {
    posts()
}

#[cached(cache = "redis", key = "posts", ttl = 3600)]
async fn redis_posts() -> Vec<Post> {
    posts()
}

fn configure(server: &RedisServer) -> [Cache; 3] {
    let redis = |prefix: &str| {
        CacheConfig::redis(&server.url())
            .with_key_prefix(prefix)
            .with_connect_timeout(Duration::from_secs(5))
            .with_response_timeout(Duration::from_secs(5))
    };
    cached_core::configure(
        CacheSettings::new()
            .with_cache(
                "memory",
                CacheConfig::memory().with_max_size(MEMORY_ENTRIES * 2),
            )
            .with_cache("near", redis("near:").with_near(MEMORY_ENTRIES * 2))
            .with_cache("redis", redis("plain:")),
    )
    .unwrap();
    ["memory", "near", "redis"].map(|name| cached_core::get_cache(name).unwrap())
}

/// Heap bytes per entry of a near cache and of a memory cache holding `MEMORY_ENTRIES`
/// 64-byte strings (keys of 8 to 11 bytes).
async fn memory(server: &RedisServer) {
    let value = "x".repeat(64);
    let writer = Cache::new(
        "writer",
        &CacheConfig::redis(&server.url()).with_key_prefix("m:"),
    )
    .unwrap();
    for i in 0..MEMORY_ENTRIES {
        writer.set(&format!("key{i}"), &value, None).await.unwrap();
    }
    let near = Cache::new(
        "near-memory",
        &CacheConfig::redis(&server.url())
            .with_key_prefix("m:")
            .with_near(MEMORY_ENTRIES),
    )
    .unwrap();
    let _: Option<String> = near.get("warm").await.unwrap();
    let before = Counting::live();
    for i in 0..MEMORY_ENTRIES {
        let _: Option<String> = near.get(&format!("key{i}")).await.unwrap();
    }
    let near_bytes = Counting::live().saturating_sub(before);
    let copies = near.stats().misses + near.stats().hits;
    let in_memory = Cache::new(
        "memory-memory",
        &CacheConfig::memory().with_max_size(MEMORY_ENTRIES),
    )
    .unwrap();
    let before = Counting::live();
    for i in 0..MEMORY_ENTRIES {
        in_memory
            .set(&format!("key{i}"), &value, None)
            .await
            .unwrap();
    }
    let memory_bytes = Counting::live().saturating_sub(before);
    println!("heap held by {MEMORY_ENTRIES} entries of a 64-byte string ({copies} reads):");
    println!(
        "  near cache   {:>6.1} MiB  {:>5.0} bytes per copy",
        near_bytes as f64 / 1_048_576.0,
        near_bytes as f64 / MEMORY_ENTRIES as f64
    );
    println!(
        "  memory cache {:>6.1} MiB  {:>5.0} bytes per entry",
        memory_bytes as f64 / 1_048_576.0,
        memory_bytes as f64 / MEMORY_ENTRIES as f64
    );
    drop((near, in_memory));
}

/// Median nanoseconds per call of each variant, the variants alternating round by round.
async fn latencies(caches: &[Cache; 3]) {
    assert_eq!(
        (
            memory_number().await,
            near_number().await,
            redis_number().await
        ),
        (42, 42, 42)
    );
    let _ = (
        memory_posts().await,
        near_posts().await,
        redis_posts().await,
    );
    // The load stored through its lease; the next read keeps the copy.
    let _ = (near_number().await, near_posts().await);
    let near_hits = caches[1].stats().near_hits;
    let _ = near_number().await;
    assert_eq!(caches[1].stats().near_hits, near_hits + 1, "a near hit");
    let mut samples: [Vec<f64>; 12] = Default::default();
    for _ in 0..ROUNDS {
        let [
            m_attr,
            n_attr,
            r_attr,
            m_get,
            n_get,
            r_get,
            mp_attr,
            np_attr,
            rp_attr,
            mp_get,
            np_get,
            rp_get,
        ] = &mut samples;
        m_attr.push(
            sequential(IN_PROCESS_OPS, || async {
                black_box(memory_number().await);
            })
            .await,
        );
        n_attr.push(
            sequential(IN_PROCESS_OPS, || async {
                black_box(near_number().await);
            })
            .await,
        );
        r_attr.push(
            sequential(REDIS_OPS, || async {
                black_box(redis_number().await);
            })
            .await,
        );
        m_get.push(sequential(IN_PROCESS_OPS, || get::<u64>(&caches[0], "n")).await);
        n_get.push(sequential(IN_PROCESS_OPS, || get::<u64>(&caches[1], "n")).await);
        r_get.push(sequential(REDIS_OPS, || get::<u64>(&caches[2], "n")).await);
        mp_attr.push(
            sequential(IN_PROCESS_OPS, || async {
                black_box(memory_posts().await);
            })
            .await,
        );
        np_attr.push(
            sequential(IN_PROCESS_OPS, || async {
                black_box(near_posts().await);
            })
            .await,
        );
        rp_attr.push(
            sequential(REDIS_OPS, || async {
                black_box(redis_posts().await);
            })
            .await,
        );
        mp_get.push(sequential(IN_PROCESS_OPS, || get::<Vec<Post>>(&caches[0], "posts")).await);
        np_get.push(sequential(IN_PROCESS_OPS, || get::<Vec<Post>>(&caches[1], "posts")).await);
        rp_get.push(sequential(REDIS_OPS, || get::<Vec<Post>>(&caches[2], "posts")).await);
    }
    let medians = samples.map(median);
    println!("hit latency (1 task), median of {ROUNDS} rounds:");
    println!(
        "  {:<24} {:>10} {:>10} {:>12} {:>12} {:>12}",
        "", "memory", "near", "Redis", "near/memory", "Redis/near"
    );
    for (row, name) in [
        "#[cached] u64",
        "Cache::get u64",
        "#[cached] 10 posts",
        "Cache::get 10 posts",
    ]
    .iter()
    .enumerate()
    {
        let [memory, near, redis] = [medians[row * 3], medians[row * 3 + 1], medians[row * 3 + 2]];
        println!(
            "  {name:<24} {:>7.0} ns {:>7.0} ns {:>9.1} µs {:>11.2}x {:>11.0}x",
            memory,
            near,
            redis / 1e3,
            near / memory,
            redis / near
        );
    }
}

async fn get<T>(cache: &Cache, key: &str)
where
    T: serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
{
    black_box(cache.get::<T>(key).await.unwrap());
}

/// `#[cached]` hits per second from 64 tasks, medians of alternating rounds.
async fn throughput() {
    let mut samples: [Vec<f64>; 3] = Default::default();
    for _ in 0..21 {
        samples[0].push(
            concurrent(TASKS, CONCURRENT_OPS, || async {
                black_box(memory_number().await);
            })
            .await,
        );
        samples[1].push(
            concurrent(TASKS, CONCURRENT_OPS, || async {
                black_box(near_number().await);
            })
            .await,
        );
        samples[2].push(
            concurrent(TASKS, REDIS_CONCURRENT_OPS, || async {
                black_box(redis_number().await);
            })
            .await,
        );
    }
    let [memory, near, redis] = samples.map(median);
    println!("#[cached] u64 hits per second, {TASKS} tasks, median of 21 rounds:");
    println!("  memory {:>12.0}", memory);
    println!("  near   {:>12.0}  ({:.2}x memory)", near, near / memory);
    println!("  Redis  {:>12.0}  (near is {:.0}x)", redis, near / redis);
}

/// From a write's reply in one cache to the new value in another cache's near cache.
async fn propagation(server: &RedisServer) {
    let writer = Cache::new(
        "writer",
        &CacheConfig::redis(&server.url()).with_key_prefix("p:"),
    )
    .unwrap();
    let reader = Cache::new(
        "reader",
        &CacheConfig::redis(&server.url())
            .with_key_prefix("p:")
            .with_near(100),
    )
    .unwrap();
    let mut reach = Vec::with_capacity(PROPAGATION_SAMPLES);
    let mut round_trip = Vec::with_capacity(PROPAGATION_SAMPLES);
    for version in 0..PROPAGATION_SAMPLES as u64 {
        writer.set("k", &version, None).await.unwrap();
        // Hold a copy of this version (the push of the write may refuse the first read's).
        while reader.get::<u64>("k").await.unwrap() != Some(version) {}
        let hits = reader.stats().near_hits;
        while reader.stats().near_hits == hits {
            let _: Option<u64> = reader.get("k").await.unwrap();
        }
        let started = Instant::now();
        let _ = writer.exists("k").await.unwrap();
        round_trip.push(started.elapsed().as_nanos() as f64);
        writer.set("k", &(version + 1_000_000), None).await.unwrap();
        let written = Instant::now();
        while reader.get::<u64>("k").await.unwrap() != Some(version + 1_000_000) {}
        reach.push(written.elapsed().as_nanos() as f64);
    }
    reach.sort_by(f64::total_cmp);
    let p99 = reach[reach.len() * 99 / 100];
    println!(
        "a write reaching another connection's near cache ({PROPAGATION_SAMPLES} writes, loopback):"
    );
    println!(
        "  median {:>6.1} µs   p99 {:>6.1} µs   max {:>7.1} µs   (one round trip alone: median {:.1} µs)",
        median(reach.clone()) / 1e3,
        p99 / 1e3,
        reach[reach.len() - 1] / 1e3,
        median(round_trip) / 1e3
    );
}

fn main() {
    let server = RedisServer::start();
    let runtime = runtime();
    runtime.block_on(async {
        memory(&server).await;
        Counting::stop();
        let caches = configure(&server);
        latencies(&caches).await;
        throughput().await;
        propagation(&server).await;
    });
}
