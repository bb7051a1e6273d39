//! What is particular to Redis caches: configuration, databases and passwords in the URL,
//! key prefixes on the server, `clear` with and without a prefix, values of other Redis
//! types, keys with hostile characters, and a cache used from one runtime after another.
//!
//! Tests that install a configuration share the process-wide registry, so they take
//! `REGISTRY_LOCK` first.

use std::time::Duration;

use cached_core::{
    BackendError, Cache, CacheConfig, CacheSettings, ConfigError, Error, configure, get_cache,
};
use cached_tests::redis_server::{PATIENT, RedisServer, free_port};

static REGISTRY_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn messages(error: &ConfigError) -> Vec<String> {
    error.problems().iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn the_seed_configuration_puts_each_cache_on_its_database() {
    let _registry = REGISTRY_LOCK.lock().await;
    let server = RedisServer::start();
    let settings = CacheSettings::from_toml(&format!(
        r#"
        [default]
        backend = "redis"
        url = "{db0}"
        ttl = 300
        response_timeout = "5s"
        connect_timeout = 5000

        [sessions]
        backend = "redis"
        url = "{db1}"
        ttl = 86400  # 24 hours

        [queries]
        backend = "memory"
        max_size = 1000
        ttl = 60
        "#,
        db0 = server.url_db(0),
        db1 = server.url_db(1),
    ))
    .unwrap();
    configure(settings).unwrap();

    let default = cached_core::cache();
    let sessions = get_cache("sessions").unwrap();
    assert_eq!((default.backend(), sessions.backend()), ("redis", "redis"));
    assert_eq!(get_cache("queries").unwrap().backend(), "memory");
    assert_eq!(sessions.default_ttl(), Duration::from_secs(86_400));

    sessions.set("session:abc", "Ada", None).await.unwrap();
    assert_eq!(default.get::<String>("session:abc").await.unwrap(), None);
    assert_eq!(server.cli(&["-n", "1", "GET", "session:abc"]), "\"Ada\"");
    assert_eq!(server.cli(&["-n", "0", "EXISTS", "session:abc"]), "0");
    let ttl: u64 = server
        .cli(&["-n", "1", "TTL", "session:abc"])
        .parse()
        .unwrap();
    assert!(ttl > 86_000 && ttl <= 86_400, "{ttl}");
    configure(CacheSettings::new()).unwrap();
}

#[tokio::test]
async fn the_password_and_database_come_from_the_url() {
    let server = RedisServer::start_with(&["--requirepass", "s3cret"]);
    let url = format!("redis://:s3cret@127.0.0.1:{}/2", server.port());
    let cache = Cache::new(
        "auth",
        &CacheConfig::redis(&url)
            .with_connect_timeout(PATIENT)
            .with_response_timeout(PATIENT),
    )
    .unwrap();
    cache.set("k", &1, None).await.unwrap();
    assert_eq!(
        server.cli(&["-a", "s3cret", "--no-auth-warning", "-n", "2", "GET", "k"]),
        "1"
    );

    let wrong = format!("redis://:nope@127.0.0.1:{}/2", server.port());
    let denied = Cache::new("denied", &CacheConfig::redis(&wrong)).unwrap();
    assert!(matches!(
        denied.get::<i32>("k").await,
        Err(Error::Backend { .. })
    ));
    assert_eq!(denied.stats().errors, 1);
}

#[tokio::test]
async fn the_key_prefix_is_on_every_key_and_patterns_stay_under_it() {
    let server = RedisServer::start();
    let cache = server.cache("myapp:");
    cache.set("user:1", &1, None).await.unwrap();
    cache.set("user:2", &2, None).await.unwrap();
    server.cli(&["SET", "user:3", "3"]);
    server.cli(&["SET", "otherapp:user:4", "4"]);
    assert_eq!(server.cli(&["GET", "myapp:user:1"]), "1");

    assert_eq!(cache.delete_pattern("user:*").await.unwrap(), 2);
    assert_eq!(server.cli(&["EXISTS", "user:3", "otherapp:user:4"]), "2");

    cache.set("user:5", &5, None).await.unwrap();
    cache.clear().await.unwrap();
    assert_eq!(server.cli(&["EXISTS", "myapp:user:5"]), "0");
    assert_eq!(
        server.cli(&["DBSIZE"]),
        "2",
        "clear with a prefix leaves other keys alone"
    );
}

#[tokio::test]
async fn a_prefix_with_glob_characters_matches_only_itself() {
    let server = RedisServer::start();
    let cache = server.cache("app[1]*?:");
    cache.set("k", &1, None).await.unwrap();
    for neighbour in ["app1:k", "app[1]x?:k", "appX:k", r"app\[1\]*?:k"] {
        server.cli(&["SET", neighbour, "0"]);
    }
    assert_eq!(cache.delete_pattern("*").await.unwrap(), 1);
    assert_eq!(server.cli(&["DBSIZE"]), "4");
}

#[tokio::test]
async fn clear_without_a_prefix_empties_its_database_only() {
    let server = RedisServer::start();
    let cache = Cache::new(
        "db0",
        &CacheConfig::redis(&server.url_db(0)).with_response_timeout(PATIENT),
    )
    .unwrap();
    cache.set("a", &1, None).await.unwrap();
    server.cli(&["SET", "written:elsewhere", "x"]);
    server.cli(&["-n", "1", "SET", "other:db", "y"]);
    cache.clear().await.unwrap();
    assert_eq!(server.cli(&["DBSIZE"]), "0");
    assert_eq!(server.cli(&["-n", "1", "DBSIZE"]), "1");
}

#[tokio::test]
async fn incr_on_a_key_of_another_redis_type_is_not_an_integer() {
    let server = RedisServer::start();
    let cache = server.cache("");
    server.cli(&["RPUSH", "counter", "a"]);
    assert!(matches!(
        cache.incr("counter", 1).await,
        Err(Error::NotAnInteger { .. })
    ));
    assert_eq!(server.cli(&["TYPE", "counter"]), "list");
}

#[tokio::test]
async fn keys_with_hostile_characters_are_stored_apart_and_matched_literally() {
    let server = RedisServer::start();
    let cache = server.cache("safe:");
    let long = "k".repeat(10 * 1024);
    let hostile = [
        "*",
        "?",
        "[",
        "]",
        "\\",
        ":",
        "a b",
        "line\nbreak",
        "tab\tand\0nul",
        "ünïcødé ✓",
        long.as_str(),
    ];
    for (i, key) in hostile.iter().enumerate() {
        cache.set(key, &i, None).await.unwrap();
    }
    for (i, key) in hostile.iter().enumerate() {
        assert_eq!(cache.get::<usize>(key).await.unwrap(), Some(i), "{key:?}");
    }
    assert_eq!(cache.delete_pattern(r"\*").await.unwrap(), 1);
    assert_eq!(cache.delete_pattern(r"\?").await.unwrap(), 1);
    assert_eq!(cache.delete_pattern(r"\[").await.unwrap(), 1);
    assert_eq!(cache.delete_pattern(r"\\").await.unwrap(), 1);
    assert_eq!(cache.delete_pattern("line\nbreak").await.unwrap(), 1);
    for key in [":", "a b", "tab\tand\0nul", "ünïcødé ✓", long.as_str()] {
        assert!(cache.exists(key).await.unwrap(), "{key:?} survived");
    }
}

#[tokio::test]
async fn configuring_never_blocks_or_fails_while_redis_is_down() {
    let _registry = REGISTRY_LOCK.lock().await;
    let closed = format!("redis://127.0.0.1:{}", free_port(false));
    configure(CacheSettings::new().with_cache("down", CacheConfig::redis(&closed))).unwrap();
    let cache = get_cache("down").unwrap();

    let error = cache.get::<i32>("k").await.unwrap_err();
    assert!(
        matches!(error, Error::Backend { ref cache, .. } if cache == "down"),
        "{error}"
    );
    assert_eq!(
        cache.get_or_set("k", || async { 7 }, None).await,
        7,
        "get_or_set fails open"
    );
    assert_eq!(
        cache.stats().errors,
        3,
        "the get, then get_or_set's read and write"
    );
    configure(CacheSettings::new()).unwrap();
}

#[test]
fn one_cache_serves_one_runtime_after_another() {
    let server = RedisServer::start();
    let cache = server.cache("");
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };

    let first = runtime();
    first.block_on(cache.set("k", &1, None)).unwrap();
    drop(first);

    let second = runtime();
    let value = second.block_on(cache.get::<i32>("k")).unwrap();
    assert_eq!(value, Some(1));
    second.block_on(cache.set("k", &2, None)).unwrap();
    drop(second);

    let third = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(third.block_on(cache.get::<i32>("k")).unwrap(), Some(2));
    assert_eq!(
        cache.stats().errors,
        0,
        "no call failed on a connection whose runtime had gone"
    );
}

#[tokio::test]
async fn calling_outside_tokio_is_an_error_not_a_panic() {
    let server = RedisServer::start();
    let cache = server.cache("");
    let outside = std::thread::spawn(move || {
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        let mut call = std::pin::pin!(cache.get::<i32>("k"));
        call.as_mut().poll(&mut context)
    })
    .join()
    .unwrap();
    match outside {
        std::task::Poll::Ready(Err(Error::Backend { source, .. })) => {
            assert!(matches!(source, BackendError::Failed(_)));
            assert!(source.to_string().contains("tokio runtime"), "{source}");
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
}

#[test]
fn redis_configuration_problems_name_the_cache_and_the_field() {
    let settings = CacheSettings::from_toml(
        r#"
        [nowhere]
        backend = "redis"

        [both]
        backend = "redis"
        url = "redis://127.0.0.1:6379"
        nodes = ["redis://127.0.0.1:7000"]

        [sized]
        backend = "redis"
        url = "http://127.0.0.1:6379"
        max_size = 10
        pool_size = 4

        [local]
        backend = "memory"
        connect_timeout = "50ms"
        nodes = ["redis://127.0.0.1:7000"]
        "#,
    )
    .unwrap();
    let no_breaker = CacheConfig::redis("redis://127.0.0.1:6379").with_breaker(0, Duration::ZERO);
    assert_eq!(
        messages(&Cache::new("off", &no_breaker).unwrap_err()),
        ["cache `off`, field `breaker_threshold`: must be greater than zero"]
    );
    let error = Cache::new("nowhere", settings.get("nowhere").unwrap()).unwrap_err();
    assert_eq!(
        messages(&error),
        [
            "cache `nowhere`, field `url`: a redis cache needs a url such as redis://127.0.0.1:6379/0, or nodes for a Redis Cluster"
        ]
    );
    let error = configure(settings).unwrap_err();
    assert_eq!(
        messages(&error),
        [
            "cache `both`, field `nodes`: set either url (one server) or nodes (a Redis Cluster), not both",
            "cache `local`, field `nodes`: the memory backend takes no nodes",
            "cache `local`, field `connect_timeout`: the memory backend takes no connect_timeout",
            "cache `nowhere`, field `url`: a redis cache needs a url such as redis://127.0.0.1:6379/0, or nodes for a Redis Cluster",
            "cache `sized`, field `max_size`: the redis backend takes no max_size; bound Redis' memory with its maxmemory setting",
            "cache `sized`, field `pool_size`: unknown field; redis caches accept backend, url, nodes, ttl, key_prefix, connect_timeout, response_timeout, breaker_threshold, breaker_cooldown, lease_ttl, lease_wait, max_value_size, codec, compress_above, encryption, integrity and near",
            "cache `sized`, field `url`: `http://127.0.0.1:6379`: unsupported scheme `http`; use redis://, rediss:// or unix://",
        ]
    );

    let error = CacheSettings::from_toml(
        r#"
        [default]
        backend = "redis"
        url = "redis://127.0.0.1:6379"
        connect_timeout = 0
        response_timeout = "soon"
        nodes = "redis://127.0.0.1:7000"
        "#,
    )
    .unwrap_err();
    assert_eq!(
        messages(&error),
        [
            "cache `default`, field `connect_timeout`: must be greater than zero, found 0",
            "cache `default`, field `nodes`: expected an array of strings, found a string",
            "cache `default`, field `response_timeout`: `soon` is not a duration (expected number at 0); write e.g. 300, \"5m\" or \"1h30m\"",
        ]
    );
}

#[test]
fn timeouts_and_the_breaker_read_from_toml_as_milliseconds_or_durations() {
    let settings = CacheSettings::from_toml(
        r#"
        [default]
        backend = "redis"
        url = "rediss://:pw@cache.internal:6380/3"
        connect_timeout = 150
        response_timeout = "40ms"
        breaker_threshold = 5
        breaker_cooldown = "2s"
        key_prefix = "myapp:"
        "#,
    )
    .unwrap();
    let expected = CacheConfig::redis("rediss://:pw@cache.internal:6380/3")
        .with_connect_timeout(Duration::from_millis(150))
        .with_response_timeout(Duration::from_millis(40))
        .with_breaker(5, Duration::from_secs(2))
        .with_key_prefix("myapp:");
    assert_eq!(settings.get("default"), Some(&expected));
}

#[cfg(feature = "tls")]
#[test]
fn rediss_urls_are_accepted_with_the_tls_feature() {
    let config = CacheConfig::redis("rediss://:pw@cache.internal:6380/3");
    assert_eq!(Cache::new("tls", &config).unwrap().backend(), "redis");
}

#[cfg(not(feature = "tls"))]
#[test]
fn rediss_urls_need_the_tls_feature() {
    let config = CacheConfig::redis("rediss://cache.internal:6380");
    assert_eq!(
        messages(&Cache::new("tls", &config).unwrap_err()),
        [
            "cache `tls`, field `url`: `rediss://cache.internal:6380` uses TLS; enable the `tls` feature of cached-core for rediss:// URLs"
        ]
    );
}
