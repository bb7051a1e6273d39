//! What Redis caches log: a corrupt or foreign value at `warn` with its key, an outage once
//! (not once per call), and a failed invalidation at `error` with its keys.
//!
//! Events may come from the connection's tasks, so the tests capture every thread's events,
//! in turns.

use std::time::Duration;

use cached_core::{Cache, CacheConfig, CacheSettings, configure, invalidates};
use cached_tests::logs::capture_all_threads;
use cached_tests::redis_server::RedisServer;
use serde::{Deserialize, Serialize};
use tracing::Level;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct User {
    id: String,
    name: String,
}

fn fragile_cache(server: &RedisServer, threshold: u32, cooldown: Duration) -> Cache {
    Cache::new(
        "fragile",
        &CacheConfig::redis(&server.url())
            .with_connect_timeout(Duration::from_millis(500))
            .with_response_timeout(Duration::from_millis(50))
            .with_breaker(threshold, cooldown),
    )
    .unwrap()
}

#[tokio::test]
async fn a_corrupt_or_foreign_value_is_a_logged_counted_miss() {
    let captured = capture_all_threads(Level::WARN).await;
    let server = RedisServer::start();
    let cache = server.cache("");
    server.cli(&["SET", "user:corrupt", "{not json"]);
    server.cli(&["RPUSH", "user:list", "a", "b"]);
    server.cli(&["SET", "user:other", "[1,2,3]"]);

    assert_eq!(cache.get::<User>("user:corrupt").await.unwrap(), None);
    assert_eq!(cache.get::<User>("user:list").await.unwrap(), None);
    assert_eq!(cache.get::<User>("user:other").await.unwrap(), None);
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.errors), (0, 3, 3));

    let log = captured.text();
    for key in ["user:corrupt", "user:list", "user:other"] {
        assert!(
            log.lines()
                .any(|line| line.contains("WARN") && line.contains(key)),
            "no warning naming {key}:\n{log}"
        );
    }

    let ada = || async {
        User {
            id: "1".into(),
            name: "Ada".into(),
        }
    };
    let loaded = cache.get_or_set("user:corrupt", ada, None).await;
    assert_eq!(loaded.name, "Ada");
    assert_eq!(
        cache.get::<User>("user:corrupt").await.unwrap(),
        Some(loaded),
        "the loaded value replaced the corrupt one"
    );
}

#[tokio::test]
async fn an_outage_is_logged_once_not_once_per_call() {
    let captured = capture_all_threads(Level::WARN).await;
    let mut server = RedisServer::start();
    let cache = fragile_cache(&server, 2, Duration::from_secs(60));
    server.stop();
    for _ in 0..50 {
        assert_eq!(cache.get_or_set("k", || async { 1_u32 }, None).await, 1);
    }
    assert_eq!(cache.stats().errors, 100, "every failure is still counted");

    let log = captured.text();
    let count = |level: &str| log.lines().filter(|line| line.contains(level)).count();
    assert_eq!(
        (count(" WARN "), count(" ERROR ")),
        (1, 1),
        "the first failed read, and the circuit opening on the second failure (the \
         single-flight recheck):\n{log}"
    );
    assert!(log.contains("circuit opened"), "{log}");
}

#[invalidates("post:{id}", "posts:all", "posts:author:*", cache = "faults")]
async fn update_post(id: u64) -> Result<u64, String> {
    Ok(id)
}

#[tokio::test]
async fn invalidation_that_cannot_reach_redis_is_logged_at_error_with_its_keys() {
    let captured = capture_all_threads(Level::WARN).await;
    let mut server = RedisServer::start();
    let config = CacheConfig::redis(&server.url())
        .with_connect_timeout(Duration::from_millis(500))
        .with_response_timeout(Duration::from_millis(50))
        .with_breaker(10, Duration::from_secs(60));
    configure(CacheSettings::new().with_cache("faults", config)).unwrap();
    let cache = cached_core::get_cache("faults").unwrap();
    cache.set("post:7", &1, None).await.unwrap();
    server.stop();

    assert_eq!(
        update_post(7).await,
        Ok(7),
        "the function's result is untouched"
    );
    assert_eq!(
        cache.stats().errors,
        2,
        "the keys' delete and the pattern's"
    );
    let log = captured.text();
    let failed: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("ERROR") && line.contains("invalidation failed"))
        .collect();
    assert_eq!(failed.len(), 2, "{log}");
    assert!(
        failed[0].contains("post:7") && failed[0].contains("posts:all"),
        "{log}"
    );
    assert!(failed[1].contains("posts:author:*"), "{log}");
    configure(CacheSettings::new()).unwrap();
}
