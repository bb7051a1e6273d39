//! Durations as large as the API accepts: `Duration::MAX` as a lock timeout (in memory and
//! on Redis), as a lock wait, and as a Redis circuit breaker's cooldown. Each is a valid
//! way to say "forever"; none may panic on arithmetic past the end of the clock.

use std::time::Duration;

use cached_core::{Cache, CacheConfig};
use cached_tests::memory_cache;
use cached_tests::redis_server::{RedisServer, free_port};

#[tokio::test]
async fn a_lock_held_for_duration_max_is_held_then_released() {
    let cache = memory_cache(100);
    let guard = cache.lock("lock:forever", Duration::MAX).await.unwrap();
    let second = cache
        .try_lock("lock:forever", Duration::from_secs(1))
        .await
        .unwrap();
    assert!(second.is_none(), "the lock is held");
    assert!(guard.release().await.unwrap(), "it was still held");
    let after = cache
        .try_lock("lock:forever", Duration::from_secs(1))
        .await
        .unwrap();
    assert!(after.is_some(), "released");
}

#[tokio::test]
async fn a_lock_waited_for_without_end_is_taken_once_released() {
    let cache = memory_cache(100);
    let holder = cache
        .lock("lock:shared", Duration::from_secs(60))
        .await
        .unwrap();
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move {
                let guard = cache
                    .lock_with_wait("lock:shared", Duration::from_secs(60), Duration::MAX)
                    .await
                    .unwrap();
                guard.release().await.unwrap()
            })
        })
        .collect();
    tokio::task::yield_now().await;
    assert!(holder.release().await.unwrap());
    for waiter in waiters {
        assert!(waiter.await.unwrap(), "each waiter took the lock in turn");
    }
}

#[tokio::test]
async fn a_lock_with_duration_max_for_both_is_taken_at_once() {
    let cache = memory_cache(100);
    let guard = cache
        .lock_with_wait("lock:max", Duration::MAX, Duration::MAX)
        .await
        .unwrap();
    assert!(guard.release().await.unwrap());
}

#[tokio::test]
async fn a_redis_lock_held_for_duration_max_is_held_then_released() {
    let server = RedisServer::start();
    let cache = server.cache("");
    let guard = cache.lock("lock:forever", Duration::MAX).await.unwrap();
    let ttl: i64 = server.cli(&["TTL", "lock:forever"]).parse().unwrap();
    assert!(ttl > 0, "a lock that expires, if in a long time: {ttl}");
    let second = cache
        .try_lock("lock:forever", Duration::from_secs(1))
        .await
        .unwrap();
    assert!(second.is_none(), "the lock is held");
    assert!(guard.release().await.unwrap(), "it was still held");
    assert_eq!(server.cli(&["EXISTS", "lock:forever"]), "0");
}

#[tokio::test]
async fn a_redis_cache_cooling_down_forever_fails_open() {
    let closed = free_port(false);
    let config =
        CacheConfig::redis(&format!("redis://127.0.0.1:{closed}")).with_breaker(1, Duration::MAX);
    let cache = Cache::new("down", &config).unwrap();
    for round in 0..3 {
        let value = cache.get_or_set("k", || async move { round }, None).await;
        assert_eq!(value, round, "the loader's value, with Redis unreachable");
    }
    assert!(cache.stats().errors >= 1, "the failures were counted");
}
