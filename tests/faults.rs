//! Faults of a real Redis server: paused (slow), killed (down), restarted on the same port
//! (recovery), and connections cut under the cache. The cache keeps answering (fail-open),
//! counts every failure, stops paying timeouts once its circuit breaker opens, and serves
//! hits again when Redis is back, without being rebuilt.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cached_core::{BackendError, Cache, CacheConfig, Error};
use cached_tests::redis_server::RedisServer;
use tracing_subscriber::EnvFilter;

/// The response timeout of the fault tests: short, so that a paused server costs little.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(50);

fn fragile_cache(server: &RedisServer, threshold: u32, cooldown: Duration) -> Cache {
    Cache::new(
        "fragile",
        &CacheConfig::redis(&server.url())
            .with_connect_timeout(Duration::from_millis(500))
            .with_response_timeout(RESPONSE_TIMEOUT)
            .with_breaker(threshold, cooldown),
    )
    .unwrap()
}

fn backend_source(result: cached_core::Result<Option<u32>>) -> BackendError {
    match result {
        Err(Error::Backend { source, .. }) => source,
        other => panic!("expected a backend error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_paused_redis_costs_one_timeout_per_call_until_the_circuit_opens() {
    let server = RedisServer::start();
    let cache = fragile_cache(&server, 3, Duration::from_secs(60));
    cache.set("k", &1_u32, None).await.unwrap();

    server.pause(Duration::from_secs(20));
    for _ in 0..3 {
        assert!(matches!(
            backend_source(cache.get::<u32>("k").await),
            BackendError::Timeout(limit) if limit == RESPONSE_TIMEOUT
        ));
    }
    for _ in 0..10 {
        assert!(
            matches!(
                backend_source(cache.get::<u32>("k").await),
                BackendError::Unavailable
            ),
            "the open circuit answers without asking Redis"
        );
    }
    assert_eq!(cache.stats().errors, 13);

    let loads = AtomicUsize::new(0);
    for _ in 0..5 {
        let value = cache
            .get_or_set(
                "report",
                || async {
                    loads.fetch_add(1, Ordering::SeqCst);
                    7_u32
                },
                None,
            )
            .await;
        assert_eq!(value, 7, "the loader's value, with Redis stuck");
    }
    assert_eq!(loads.load(Ordering::SeqCst), 5);
    assert_eq!(
        cache.stats().errors,
        13 + 5 * 2,
        "each call counts its failed read and its skipped write"
    );
}

#[tokio::test]
async fn with_redis_down_calls_answer_and_hits_resume_after_a_restart() {
    let mut server = RedisServer::start();
    let cache = fragile_cache(&server, 2, Duration::from_millis(100));
    let loads = AtomicUsize::new(0);
    let posts = || {
        cache.get_or_set(
            "posts:all",
            || async {
                loads.fetch_add(1, Ordering::SeqCst);
                vec!["hello".to_string()]
            },
            None,
        )
    };
    assert_eq!(posts().await, ["hello"]);
    assert_eq!(posts().await, ["hello"]);
    assert_eq!((loads.load(Ordering::SeqCst), cache.stats().hits), (1, 1));

    server.stop();
    for _ in 0..20 {
        assert_eq!(posts().await, ["hello"]);
    }
    assert_eq!(
        loads.load(Ordering::SeqCst),
        21,
        "every call ran the loader"
    );
    assert_eq!(cache.stats().errors, 40, "a failed read and write per call");
    assert_eq!(cache.stats().hits, 1);

    server.restart();
    let mut rounds = 0;
    while cache.stats().hits < 2 {
        rounds += 1;
        assert!(rounds <= 200, "hits did not resume after the restart");
        assert_eq!(posts().await, ["hello"]);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        cache
            .get::<Vec<String>>("posts:all")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(server.cli(&["EXISTS", "posts:all"]), "1");
}

#[tokio::test]
async fn a_connection_cut_by_the_server_is_replaced() {
    let server = RedisServer::start();
    let cache = fragile_cache(&server, 3, Duration::from_millis(100));
    cache.set("k", &1_u32, None).await.unwrap();
    server.cli(&["CLIENT", "KILL", "TYPE", "normal"]);
    let mut failures = 0;
    while cache.get::<u32>("k").await.is_err() {
        failures += 1;
        assert!(failures <= 2, "the connection was not replaced");
    }
    assert_eq!(cache.get::<u32>("k").await.unwrap(), Some(1));
    assert_eq!(cache.stats().errors, failures);
}

#[tokio::test]
async fn invalidation_while_redis_is_down_fails_loudly_and_is_counted() {
    let mut server = RedisServer::start();
    let cache = fragile_cache(&server, 10, Duration::from_millis(100));
    cache.set("post:1", &1_u32, None).await.unwrap();
    server.stop();
    assert!(matches!(
        cache.delete("post:1").await,
        Err(Error::Backend { .. })
    ));
    assert!(matches!(
        cache.delete_many(&["post:1", "posts:all"]).await,
        Err(Error::Backend { .. })
    ));
    assert!(matches!(
        cache.delete_pattern("posts:author:*").await,
        Err(Error::Backend { .. })
    ));
    assert!(matches!(cache.clear().await, Err(Error::Backend { .. })));
    let stats = cache.stats();
    assert_eq!((stats.errors, stats.deletes), (4, 0));
}

/// Captures what the `tracing` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn an_outage_is_logged_once_not_once_per_call() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("cached_core=warn"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let mut server = RedisServer::start();
    let cache = fragile_cache(&server, 2, Duration::from_secs(60));
    server.stop();
    for _ in 0..50 {
        assert_eq!(cache.get_or_set("k", || async { 1_u32 }, None).await, 1);
    }
    assert_eq!(cache.stats().errors, 100, "every failure is still counted");

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let count = |level: &str| log.lines().filter(|line| line.contains(level)).count();
    assert_eq!(
        (count(" WARN "), count(" ERROR ")),
        (1, 1),
        "the first failed read, and the circuit opening on the second failure (the \
         single-flight recheck):\n{log}"
    );
    assert!(log.contains("circuit opened"), "{log}");
}
