//! Redis as operators run it: a user without permission for scripts, a cache pointed at a
//! read-only replica, a full server that evicts nothing, and values larger than the server
//! takes. Calls fail open, every refusal is counted, each cause is logged at `warn` once
//! with the server's own message, and a value too large is refused before it is sent, so
//! that no other call on the connection fails with it and no lease is left behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cached_core::{Cache, CacheConfig, Error};
use cached_tests::logs::capture_all_threads;
use cached_tests::redis_server::{PATIENT, RedisServer};
use tracing::Level;

fn cache_at(url: &str) -> Cache {
    Cache::new(
        "refused",
        &CacheConfig::redis(url)
            .with_connect_timeout(PATIENT)
            .with_response_timeout(PATIENT),
    )
    .unwrap()
}

/// The warnings captured that mention `text`.
fn warnings(log: &str, text: &str) -> usize {
    log.lines()
        .filter(|line| line.contains("WARN") && line.contains(text))
        .count()
}

/// Loads `key` through `cache` three times: each load's value is returned, none is stored.
async fn load_three_times(cache: &Cache, key: &str) {
    for round in 0..3 {
        let value = cache.get_or_set(key, || async move { round }, None).await;
        assert_eq!(value, round, "every call loads: nothing can be stored");
    }
}

#[tokio::test]
async fn a_user_without_scripts_fails_open_and_is_warned_about_once() {
    let captured = capture_all_threads(Level::WARN).await;
    let server = RedisServer::start();
    server.cli(&[
        "ACL",
        "SETUSER",
        "noscripts",
        "on",
        ">secret",
        "~*",
        "+@all",
        "-@scripting",
    ]);
    let cache = cache_at(&format!(
        "redis://noscripts:secret@127.0.0.1:{}",
        server.port()
    ));
    load_three_times(&cache, "k").await;
    assert!(cache.stats().errors >= 3, "each refusal counted");
    let log = captured.text();
    assert_eq!(warnings(&log, "no permissions"), 1, "logged once:\n{log}");
    assert!(log.contains("+@scripting"), "says what to grant:\n{log}");
}

#[tokio::test]
async fn a_read_only_replica_fails_open_and_is_warned_about_once() {
    let captured = capture_all_threads(Level::WARN).await;
    let primary = RedisServer::start();
    let replica = RedisServer::start();
    replica.cli(&["REPLICAOF", "127.0.0.1", &primary.port().to_string()]);
    let cache = cache_at(&replica.url());
    let refused = cache.set("k", &1, None).await;
    assert!(
        matches!(&refused, Err(Error::Backend { source, .. }) if source.to_string().contains("read only replica")),
        "{refused:?}"
    );
    load_three_times(&cache, "k").await;
    let log = captured.text();
    assert_eq!(
        warnings(&log, "read only replica"),
        1,
        "logged once:\n{log}"
    );
    assert!(log.contains("replica"), "says what to change:\n{log}");
}

#[tokio::test]
async fn a_full_server_without_eviction_fails_open_and_is_warned_about_once() {
    let captured = capture_all_threads(Level::WARN).await;
    let server = RedisServer::start_with(&["--maxmemory-policy", "noeviction"]);
    let cache = server.cache("");
    cache.set("before", &1, None).await.unwrap();
    // Smaller than what the server holds already: every write is refused from now on.
    server.cli(&["CONFIG", "SET", "maxmemory", "1"]);
    let refused = cache.set("k", &1, None).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(
        cache.get::<i32>("before").await.unwrap(),
        Some(1),
        "reads still answer"
    );
    load_three_times(&cache, "k").await;
    let log = captured.text();
    assert_eq!(warnings(&log, "maxmemory"), 1, "logged once:\n{log}");
    assert!(log.contains("allkeys-lru"), "says what to change:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_over_the_servers_limit_is_refused_before_it_is_sent() {
    let server = RedisServer::start_with(&["--proto-max-bulk-len", "1mb"]);
    let cache = server.cache("big:");
    let big = "x".repeat(2 * 1024 * 1024);
    cache.set("small", &1_u32, None).await.unwrap();

    // Small calls in flight on the same connection the whole time.
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (cache, stop) = (cache.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut failures = Vec::new();
                let mut calls = 0_u32;
                while !stop.load(Ordering::Relaxed) {
                    match cache.get::<u32>("small").await {
                        Ok(Some(1)) => {}
                        other => failures.push(format!("{other:?}")),
                    }
                    calls += 1;
                }
                (calls, failures)
            })
        })
        .collect();

    for _ in 0..20 {
        match cache.set("big", &big, None).await {
            Err(Error::Encode { source, .. }) => {
                let message = source.to_string();
                assert!(message.contains("1048576"), "names the limit: {message}");
                assert!(message.contains("209715"), "names the size: {message}");
                assert!(message.contains("proto-max-bulk-len"), "{message}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // A load whose value is too large returns it, and leaves no lease behind.
        let loaded = cache
            .get_or_set("loaded", || async { big.clone() }, None)
            .await;
        assert_eq!(loaded.len(), big.len());
        assert_eq!(server.cli(&["EXISTS", "big:loaded"]), "0", "no lease left");
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        let (calls, failures) = reader.await.unwrap();
        assert!(calls > 0);
        assert!(failures.is_empty(), "collateral failures: {failures:?}");
    }
    // The next load of the key stores at once (no lease to wait out).
    let started = std::time::Instant::now();
    let small = cache
        .get_or_set("loaded", || async { "small".to_owned() }, None)
        .await;
    assert_eq!(small, "small");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no lease to wait for"
    );
    assert_eq!(
        cache.get::<String>("loaded").await.unwrap().as_deref(),
        Some("small")
    );
}

#[tokio::test]
async fn max_value_size_refuses_below_the_servers_limit() {
    let server = RedisServer::start();
    let cache = Cache::new(
        "bounded",
        &CacheConfig::redis(&server.url())
            .with_response_timeout(PATIENT)
            .with_max_value_size(1000),
    )
    .unwrap();
    cache.set("fits", &"x".repeat(900), None).await.unwrap();
    match cache.set("too-big", &"x".repeat(1000), None).await {
        Err(Error::Encode { source, .. }) => {
            assert!(source.to_string().contains("max_value_size"), "{source}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(server.cli(&["EXISTS", "too-big"]), "0");
}
