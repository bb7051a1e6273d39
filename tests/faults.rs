//! Faults of a real Redis server: paused (slow), killed (down), restarted on the same port
//! (recovery), connections cut under the cache, corrupt values. The cache and the
//! `#[cached]` functions on it keep answering (fail-open), count every failure, stop paying
//! timeouts once the circuit breaker opens, and serve hits again when Redis is back,
//! without being rebuilt. (What they log is in `redis_logs.rs`.)
//!
//! Tests that install a configuration (the attributes find their caches by name) take
//! `REGISTRY_LOCK` first.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cached_core::{
    BackendError, Cache, CacheConfig, CacheSettings, Error, cached, configure, get_cache,
};
use cached_tests::redis_server::RedisServer;

static REGISTRY_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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
async fn a_paused_redis_costs_one_timeout_then_the_circuit_answers() {
    let server = RedisServer::start();
    let cache = fragile_cache(&server, 10, Duration::from_secs(60));
    cache.set("k", &1_u32, None).await.unwrap();
    let loads = AtomicUsize::new(0);
    let report = || {
        cache.get_or_set(
            "report",
            || async {
                loads.fetch_add(1, Ordering::SeqCst);
                7_u32
            },
            None,
        )
    };

    server.pause(Duration::from_secs(20));
    assert_eq!(report().await, 7, "the loader's value, with Redis stuck");
    assert_eq!(
        cache.stats().errors,
        2,
        "its read timed out; its recheck and write then met an open circuit"
    );
    for _ in 0..10 {
        assert!(
            matches!(
                backend_source(cache.get::<u32>("k").await),
                BackendError::Unavailable
            ),
            "one timeout opened the circuit (well below its threshold of 10 failures), \
             which answers without asking Redis"
        );
    }
    for _ in 0..5 {
        assert_eq!(report().await, 7);
    }
    assert_eq!(loads.load(Ordering::SeqCst), 6);
    assert_eq!(
        cache.stats().errors,
        2 + 10 + 5 * 2,
        "each call counts its failed read and its skipped write"
    );
}

#[tokio::test]
async fn a_timeout_is_reported_as_one() {
    let server = RedisServer::start();
    let cache = fragile_cache(&server, 3, Duration::from_secs(60));
    cache.set("k", &1_u32, None).await.unwrap();
    server.pause(Duration::from_secs(20));
    assert!(matches!(
        backend_source(cache.get::<u32>("k").await),
        BackendError::Timeout(limit) if limit == RESPONSE_TIMEOUT
    ));
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

/// How often `square`'s body ran.
static SQUARE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = "faults", ttl = 60)]
async fn square(n: u64) -> u64 {
    SQUARE_RUNS.fetch_add(1, Ordering::SeqCst);
    n * n
}

fn square_runs() -> usize {
    SQUARE_RUNS.load(Ordering::SeqCst)
}

/// Installs the cache "faults" on `server` with short timeouts and a quick breaker.
fn configure_faults(server: &RedisServer, cooldown: Duration) -> Cache {
    let config = CacheConfig::redis(&server.url())
        .with_connect_timeout(Duration::from_millis(500))
        .with_response_timeout(RESPONSE_TIMEOUT)
        .with_breaker(2, cooldown);
    configure(CacheSettings::new().with_cache("faults", config)).unwrap();
    get_cache("faults").unwrap()
}

#[tokio::test]
async fn cached_functions_answer_through_a_pause_an_outage_and_a_restart() {
    let _registry = REGISTRY_LOCK.lock().await;
    let mut server = RedisServer::start();
    let cache = configure_faults(&server, Duration::from_millis(100));
    let runs_before = square_runs();

    assert_eq!(square(3).await, 9);
    assert_eq!(square(3).await, 9);
    assert_eq!(square_runs() - runs_before, 1, "the second call was a hit");
    assert_eq!(server.cli(&["GET", "square:n=3"]), "9");

    server.pause(Duration::from_secs(20));
    for _ in 0..10 {
        assert_eq!(square(3).await, 9, "slow Redis: the body answers");
    }
    assert_eq!(square_runs() - runs_before, 11);
    let paused_errors = cache.stats().errors;
    assert!(paused_errors >= 10, "every call counted: {paused_errors}");

    server.stop();
    for n in 0..10 {
        assert_eq!(square(n).await, n * n, "Redis down: the body answers");
    }
    assert_eq!(square_runs() - runs_before, 21);
    assert!(cache.stats().errors >= paused_errors + 10);

    server.restart();
    let mut rounds = 0;
    while server.cli(&["EXISTS", "square:n=5"]) != "1" {
        rounds += 1;
        assert!(rounds <= 200, "writes did not resume after the restart");
        assert_eq!(square(5).await, 25);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (hits, runs) = (cache.stats().hits, square_runs());
    assert_eq!(square(5).await, 25);
    assert_eq!(
        (cache.stats().hits, square_runs()),
        (hits + 1, runs),
        "hits resumed without restarting anything"
    );
    configure(CacheSettings::new()).unwrap();
}

/// How often `cube`'s body ran.
static CUBE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = "faults", ttl = 60)]
async fn cube(n: u64) -> u64 {
    CUBE_RUNS.fetch_add(1, Ordering::SeqCst);
    n * n * n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workload_survives_redis_dying_and_returning_mid_run() {
    let _registry = REGISTRY_LOCK.lock().await;
    let server = Arc::new(tokio::sync::Mutex::new(RedisServer::start()));
    let cache = configure_faults(&*server.lock().await, Duration::from_millis(50));
    let workers: Vec<_> = (0..16_u64)
        .map(|worker| {
            tokio::spawn(async move {
                for i in 0..150_u64 {
                    let n = (worker + i) % 8;
                    assert_eq!(cube(n).await, n * n * n, "a wrong answer mid-outage");
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })
        })
        .collect();
    let chaos = {
        let server = server.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            server.lock().await.stop();
            tokio::time::sleep(Duration::from_millis(200)).await;
            server.lock().await.restart();
        })
    };
    for worker in workers {
        worker.await.unwrap();
    }
    chaos.await.unwrap();
    let during = cache.stats();
    assert!(during.errors > 0, "the outage was counted");
    assert!(
        CUBE_RUNS.load(Ordering::SeqCst) > 8,
        "bodies ran while Redis was away"
    );

    let mut rounds = 0;
    loop {
        let (hits, runs) = (cache.stats().hits, CUBE_RUNS.load(Ordering::SeqCst));
        assert_eq!(cube(3).await, 27);
        if cache.stats().hits > hits && CUBE_RUNS.load(Ordering::SeqCst) == runs {
            break;
        }
        rounds += 1;
        assert!(rounds <= 200, "hits did not resume after the restart");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    configure(CacheSettings::new()).unwrap();
}

#[tokio::test]
async fn a_corrupt_value_under_a_cached_key_is_a_miss_and_is_replaced() {
    let _registry = REGISTRY_LOCK.lock().await;
    let server = RedisServer::start();
    let cache = configure_faults(&server, Duration::from_millis(100));
    server.cli(&["SET", "square:n=12", "{corrupt"]);
    let runs_before = square_runs();

    assert_eq!(square(12).await, 144);
    assert_eq!(
        square_runs() - runs_before,
        1,
        "the corrupt value was a miss"
    );
    assert_eq!(cache.stats().errors, 1, "and counted");
    assert_eq!(server.cli(&["GET", "square:n=12"]), "144");
    assert_eq!(square(12).await, 144);
    assert_eq!(square_runs() - runs_before, 1, "the replaced value hits");
    configure(CacheSettings::new()).unwrap();
}

/// The probe of an open circuit tests the server as it is now: a reconnection that failed
/// while Redis was down (redis-rs starts one on the first failed call) is not what the probe
/// gets once Redis is back, so the first probe after the restart closes the circuit instead
/// of opening it for another cooldown.
#[tokio::test]
async fn the_first_probe_after_a_restart_reaches_the_new_server() {
    let mut server = RedisServer::start();
    let cooldown = Duration::from_millis(200);
    let cache = fragile_cache(&server, 1, cooldown);
    cache.set("k", &1_u32, None).await.unwrap();
    server.stop();
    assert!(
        cache.get::<u32>("k").await.is_err(),
        "the failure that opens the circuit"
    );
    tokio::time::sleep(cooldown * 2).await;
    assert!(
        cache.get::<u32>("k").await.is_err(),
        "a probe while Redis is down fails and reopens the circuit"
    );
    tokio::time::sleep(cooldown * 2).await;
    server.restart();
    tokio::time::sleep(cooldown * 2).await;
    assert_eq!(
        cache.get::<u32>("k").await.unwrap(),
        None,
        "the first probe after the restart answers (from the new, empty server)"
    );
    cache.set("k", &2_u32, None).await.unwrap();
    assert_eq!(cache.get::<u32>("k").await.unwrap(), Some(2));
}

/// An invalidation Redis could not confirm (it was down, and comes back with its data) is
/// not forgotten: until it is replayed, this process reads the key as missing and does not
/// store loads of it, so that it never reads the value the invalidation replaced; once Redis
/// answers again the invalidation is replayed and the key is cached as before.
#[tokio::test]
async fn an_unconfirmed_invalidation_hides_the_key_until_it_is_replayed() {
    let mut server = RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let cooldown = Duration::from_millis(200);
    let cache = fragile_cache(&server, 1, cooldown);
    cache.set("post:7", "old", None).await.unwrap();
    cache.set("post:8", "old", None).await.unwrap();
    server.stop();
    assert!(
        cache.delete("post:7").await.is_err(),
        "Redis did not answer"
    );
    assert!(cache.delete_pattern("post:8*").await.is_err());
    server.restart();
    assert_eq!(
        server.cli(&["GET", "post:7"]),
        "\"old\"",
        "Redis kept the value the invalidation replaced"
    );
    for key in ["post:7", "post:8"] {
        assert_eq!(
            cache.get::<String>(key).await.unwrap(),
            None,
            "{key} reads as missing"
        );
        let loaded = cache
            .get_or_set(key, || async { "new".to_owned() }, None)
            .await;
        assert_eq!(
            loaded, "new",
            "{key} loads afresh instead of reading the old value"
        );
    }
    let mut rounds = 0;
    while server.cli(&["EXISTS", "post:7"]) != "0" || server.cli(&["EXISTS", "post:8"]) != "0" {
        rounds += 1;
        assert!(rounds < 200, "the invalidations were never replayed");
        tokio::time::sleep(Duration::from_millis(20)).await;
        let _ = cache.get::<String>("other").await;
    }
    let loaded = cache
        .get_or_set("post:7", || async { "newer".to_owned() }, None)
        .await;
    assert_eq!(loaded, "newer");
    assert_eq!(
        cache.get::<String>("post:7").await.unwrap().as_deref(),
        Some("newer"),
        "cached again once replayed"
    );
}
