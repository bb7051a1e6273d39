//! What freshness options and tags cost and save, on memory and on a Redis server of its own:
//!
//! - a hot key whose load takes 50 ms, stored once, then read by 64 tasks in a loop across
//!   several expiries (`ttl` 1 s, 4.5 s): how many calls waited for a load (took 25 ms or
//!   more, half the load), how many loads ran in a caller's task, and the latency quantiles,
//!   without options, with `stale` and with `early_refresh`;
//! - a tag on a hit and on a write: `get_or_set` of an entry written with `set_tagged` (a
//!   hit: on Redis, the script that checks its tags' versions) against an untagged cache's
//!   hit, and `set_tagged` against `set`, median of alternating rounds.
//!
//! Run with `cargo bench -p cached-tests --bench freshness`; `BENCHMARKS.md` has the figures.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cached_bench::histogram::Histogram;
use cached_core::{Cache, Freshness};
use cached_tests::redis_server::RedisServer;
use cached_tests::timing::{median, runtime};

tokio::task_local! {
    static CALLER: ();
}

const TASKS: usize = 64;
const LOAD: Duration = Duration::from_millis(50);
const TTL: Duration = Duration::from_secs(1);
const RUN: Duration = Duration::from_millis(4_500);
/// A call that took this long waited for a load (half of one).
const WAITED: Duration = Duration::from_millis(25);

struct Outcome {
    calls: u64,
    waited: u64,
    foreground_loads: usize,
    loads: usize,
    latency: Histogram,
}

async fn hot_key(cache: &Cache, freshness: Freshness) -> Outcome {
    let loads = Arc::new(AtomicUsize::new(0));
    let foreground = Arc::new(AtomicUsize::new(0));
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let key = format!("hot:{}", RUNS.fetch_add(1, Ordering::Relaxed));
    // Warm: the first load of a cold key is waited for whatever the options.
    let warm = cache
        .get_or_set_fresh(&key, || async { vec![1u64; 16] }, Some(TTL), freshness)
        .await;
    assert_eq!(warm.len(), 16);
    let end = Instant::now() + RUN;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (cache, key) = (cache.clone(), key.clone());
            let (loads, foreground) = (Arc::clone(&loads), Arc::clone(&foreground));
            tokio::spawn(CALLER.scope((), async move {
                let (mut latency, mut waited) = (Histogram::default(), 0u64);
                while Instant::now() < end {
                    let (loads, foreground) = (Arc::clone(&loads), Arc::clone(&foreground));
                    let load = || async move {
                        loads.fetch_add(1, Ordering::Relaxed);
                        if CALLER.try_with(|()| ()).is_ok() {
                            foreground.fetch_add(1, Ordering::Relaxed);
                        }
                        tokio::time::sleep(LOAD).await;
                        vec![1u64; 16]
                    };
                    let started = Instant::now();
                    let value = cache
                        .get_or_set_fresh(&key, load, Some(TTL), freshness)
                        .await;
                    let took = started.elapsed();
                    latency.record(took);
                    waited += u64::from(took >= WAITED);
                    assert_eq!(value.len(), 16);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                (latency, waited)
            }))
        })
        .collect();
    let (mut latency, mut waited) = (Histogram::default(), 0);
    for task in tasks {
        let (task_latency, task_waited) = task.await.unwrap();
        latency.merge(&task_latency);
        waited += task_waited;
    }
    Outcome {
        calls: latency.count(),
        waited,
        foreground_loads: foreground.load(Ordering::Relaxed),
        loads: loads.load(Ordering::Relaxed),
        latency,
    }
}

fn report(backend: &str, mode: &str, outcome: &Outcome) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "| {backend} | {mode} | {} | {} | {} of {} | {:.2} | {:.2} | {:.1} |",
        outcome.calls,
        outcome.waited,
        outcome.foreground_loads,
        outcome.loads,
        ms(outcome.latency.quantile(0.5)),
        ms(outcome.latency.quantile(0.99)),
        ms(outcome.latency.max()),
    );
}

/// The median of alternating rounds of `a` and `b`, in nanoseconds per call.
async fn pair<A, AF, B, BF>(ops: usize, mut a: A, mut b: B) -> (f64, f64)
where
    A: FnMut(usize) -> AF,
    AF: Future<Output = ()>,
    B: FnMut(usize) -> BF,
    BF: Future<Output = ()>,
{
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for _ in 0..41 {
        let started = Instant::now();
        for i in 0..ops {
            a(i).await;
        }
        first.push(started.elapsed().as_nanos() as f64 / ops as f64);
        let started = Instant::now();
        for i in 0..ops {
            b(i).await;
        }
        second.push(started.elapsed().as_nanos() as f64 / ops as f64);
    }
    (median(first), median(second))
}

/// A hit and a write, untagged and tagged: the tagged entry is written with `set_tagged`
/// (stored with its tags' versions) in a cache of its own, since a Redis cache that has met
/// a tagged entry reads every key with the script that checks versions.
async fn tag_costs(backend: &str, plain: &Cache, tagged: &Cache, ops: usize) {
    let tags = ["user:42", "posts"];
    tagged
        .set_tagged("tagged", &vec![1u64; 16], &tags, None)
        .await
        .unwrap();
    plain.set("plain", &vec![1u64; 16], None).await.unwrap();
    let (untagged_ns, tagged_ns) = pair(
        ops,
        |_| async {
            let v: Vec<u64> = plain
                .get_or_set("plain", || async { Vec::new() }, None)
                .await;
            assert_eq!(v.len(), 16);
        },
        |_| async {
            let v: Vec<u64> = tagged
                .get_or_set("tagged", || async { Vec::new() }, None)
                .await;
            assert_eq!(v.len(), 16);
        },
    )
    .await;
    println!("| {backend} | hit | {untagged_ns:.0} | {tagged_ns:.0} |");
    let (untagged_ns, tagged_ns) = pair(
        ops,
        |i| async move {
            let key = format!("set:plain:{}", i % 64);
            plain.set(&key, &vec![1u64; 16], None).await.unwrap();
        },
        |i| async move {
            let key = format!("set:tagged:{}", i % 64);
            tagged
                .set_tagged(&key, &vec![1u64; 16], &tags, None)
                .await
                .unwrap();
        },
    )
    .await;
    println!("| {backend} | `set` / `set_tagged` | {untagged_ns:.0} | {tagged_ns:.0} |");
}

fn main() {
    let runtime = runtime();
    runtime.block_on(async {
        let server = RedisServer::start();
        let caches = [
            ("memory", cached_tests::memory_cache(10_000)),
            ("Redis", server.cache("bench:")),
        ];
        println!("Hot key, 50 ms load, 64 tasks, ttl 1 s, 4.5 s:");
        println!();
        println!("| backend | options | calls | waited (≥ 25 ms) | loads in a caller | p50 ms | p99 ms | max ms |");
        println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
        let modes = [
            ("none", Freshness::new()),
            ("`stale = 10s`", Freshness::new().stale(Duration::from_secs(10))),
            (
                "`early_refresh = 500ms`",
                Freshness::new().early_refresh(Duration::from_millis(500)),
            ),
        ];
        for (backend, cache) in &caches {
            for (mode, freshness) in modes {
                report(backend, mode, &hot_key(cache, freshness).await);
            }
        }
        println!();
        println!("Tags, ns per call (median of 41 alternating rounds):");
        println!();
        println!("| backend | operation | untagged | tagged (2 tags) |");
        println!("| --- | --- | --- | --- |");
        tag_costs("memory", &caches[0].1, &caches[0].1, 20_000).await;
        tag_costs("Redis", &caches[1].1, &server.cache("tagged:"), 200).await;
    });
}
