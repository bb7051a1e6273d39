//! A cache outlives the tokio runtimes that use it: a test function's runtime that returns,
//! a command-line program's runtime per command, a server that rebuilds its own. Every test
//! builds its runtimes by hand, uses one cache from all of them, and lets them end, against
//! real `redis-server`s (one server, a near cache, a cluster).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use cached_core::Cache;
use cached_tests::redis_server::{RedisCluster, RedisServer};
use tokio::runtime::{Builder, Runtime};

/// How long a write by another client may take to reach a near cache (see `near.rs`).
const PROPAGATION: Duration = Duration::from_millis(500);

/// Runtime `n` of a series: current-thread and multi-thread by turns.
fn runtime(n: usize) -> Runtime {
    if n.is_multiple_of(2) {
        Builder::new_current_thread().enable_all().build().unwrap()
    } else {
        Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }
}

/// Every call of the cache API a runtime may make, each answered without an error: values
/// written in an earlier runtime read back, tags invalidate, loads store.
async fn use_cache(cache: &Cache, n: usize) {
    let key = format!("rt:{n}");
    cache.set(&key, &n, None).await.unwrap();
    assert_eq!(cache.get::<usize>(&key).await.unwrap(), Some(n));
    if n > 0 {
        let earlier = format!("rt:{}", n - 1);
        assert_eq!(
            cache.get::<usize>(&earlier).await.unwrap(),
            Some(n - 1),
            "written by the runtime before"
        );
    }
    let loaded_key = format!("loaded:{n}");
    cache
        .tag(&loaded_key, &[format!("t:{n}")], None)
        .await
        .unwrap();
    let loaded = cache
        .try_get_or_set(
            &loaded_key,
            || async { Ok::<_, std::io::Error>(n * 10) },
            None,
        )
        .await
        .unwrap();
    assert_eq!(loaded, n * 10);
    cache.delete_tags(&[format!("t:{n}")]).await.unwrap();
    assert_eq!(
        cache.get::<usize>(&format!("loaded:{n}")).await.unwrap(),
        None
    );
    assert_eq!(cache.incr("rt:counter", 1).await.unwrap(), n as i64 + 1);
    let guard = cache.lock("rt:lock", Duration::from_secs(5)).await.unwrap();
    assert!(guard.release().await.unwrap());
}

fn twelve_runtimes_in_turn(cache: &Cache) {
    for n in 0..12 {
        runtime(n).block_on(use_cache(cache, n));
    }
    assert_eq!(cache.stats().errors, 0, "no call failed in any runtime");
}

#[test]
fn one_server_answers_twelve_runtimes_in_turn() {
    let server = RedisServer::start();
    twelve_runtimes_in_turn(&server.cache("rt:"));
}

#[test]
fn a_near_cache_answers_twelve_runtimes_in_turn() {
    let server = RedisServer::start();
    twelve_runtimes_in_turn(&server.near_cache("rt:", 1_000));
}

#[test]
fn a_cluster_answers_twelve_runtimes_in_turn() {
    let cluster = RedisCluster::start();
    twelve_runtimes_in_turn(&cluster.cache("rt:"));
}

/// A busy runtime calls the cache without pause while, beside it, a runtime is built, used
/// and dropped every 300 ms; the busy one sees no error.
fn a_runtime_ending_every_300ms(cache: Cache) {
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let busy = {
        let (cache, stop, calls) = (cache.clone(), Arc::clone(&stop), Arc::clone(&calls));
        thread::spawn(move || {
            runtime(1).block_on(async move {
                let tasks: Vec<_> = (0..4)
                    .map(|task| {
                        let (cache, stop, calls) =
                            (cache.clone(), Arc::clone(&stop), Arc::clone(&calls));
                        tokio::spawn(async move {
                            let mut errors = Vec::new();
                            let mut i = 0_u64;
                            while !stop.load(Ordering::Relaxed) {
                                let key = format!("busy:{task}:{}", i % 50);
                                if let Err(error) = cache.set(&key, &i, None).await {
                                    errors.push(format!("set: {error}"));
                                }
                                if let Err(error) = cache.get::<u64>(&key).await {
                                    errors.push(format!("get: {error}"));
                                }
                                let tag = format!("busy-tag:{task}");
                                if let Err(error) = cache.delete_tags(&[tag]).await {
                                    errors.push(format!("delete_tags: {error}"));
                                }
                                calls.fetch_add(3, Ordering::Relaxed);
                                i += 1;
                            }
                            errors
                        })
                    })
                    .collect();
                let mut errors = Vec::new();
                for task in tasks {
                    errors.extend(task.await.unwrap());
                }
                errors
            })
        })
    };
    let started = Instant::now();
    let mut ended = 0;
    while started.elapsed() < Duration::from_secs(3) {
        let runtime = runtime(ended);
        runtime.block_on(async {
            cache.set("short-lived", &ended, None).await.unwrap();
            let _: Option<usize> = cache.get("short-lived").await.unwrap();
        });
        thread::sleep(Duration::from_millis(300));
        drop(runtime);
        ended += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let errors = busy.join().unwrap();
    assert!(ended >= 5, "runtimes ended beside the busy one: {ended}");
    assert!(
        calls.load(Ordering::Relaxed) > 100,
        "the busy runtime was busy"
    );
    assert!(errors.is_empty(), "the busy runtime saw errors: {errors:?}");
    assert_eq!(cache.stats().errors, 0);
}

#[test]
fn a_runtime_ending_beside_a_busy_one_costs_it_nothing() {
    let server = RedisServer::start();
    a_runtime_ending_every_300ms(server.cache("busy:"));
}

#[test]
fn a_runtime_ending_beside_a_busy_near_cache_costs_it_nothing() {
    let server = RedisServer::start();
    a_runtime_ending_every_300ms(server.near_cache("busy:", 1_000));
}

#[test]
fn a_runtime_ending_beside_a_busy_cluster_costs_it_nothing() {
    let cluster = RedisCluster::start();
    a_runtime_ending_every_300ms(cluster.cache("busy:"));
}

/// Reads `key` through `cache` until it is `expected`, for at most [`PROPAGATION`].
async fn read_until(cache: &Cache, key: &str, expected: &str) -> Option<String> {
    let started = Instant::now();
    loop {
        let value: Option<String> = cache.get(key).await.unwrap();
        if value.as_deref() == Some(expected) || started.elapsed() > PROPAGATION {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[test]
fn near_copies_follow_raw_writes_after_the_first_runtime_ended() {
    let server = RedisServer::start();
    let cache = server.near_cache("nr:", 1_000);
    runtime(0).block_on(async {
        cache.set("k", "v0", None).await.unwrap();
        assert_eq!(read_until(&cache, "k", "v0").await.as_deref(), Some("v0"));
        assert_eq!(cache.stats().near_hits, 0);
        let _: Option<String> = cache.get("k").await.unwrap();
        assert_eq!(cache.stats().near_hits, 1, "the copy is held");
    });
    for (n, flavor) in (1..=5).zip([1, 0, 1, 0, 1]) {
        runtime(flavor).block_on(async {
            let version = format!("v{n}");
            // Read first, so that a copy is held before the write.
            let _: Option<String> = cache.get("k").await.unwrap();
            server.cli(&["SET", "nr:k", &format!("\"{version}\"")]);
            assert_eq!(
                read_until(&cache, "k", &version).await.as_deref(),
                Some(version.as_str()),
                "the near copy followed write {n} of 5"
            );
        });
    }
}
