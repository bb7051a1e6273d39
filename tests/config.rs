//! Named caches from configuration, and the errors bad configuration gets.
//!
//! These tests share the process-wide registry, so each takes `REGISTRY_LOCK` first.

use std::time::Duration;

use tokio::sync::Mutex;

use cached_core::{CacheConfig, CacheSettings, ConfigError, Error, configure, get_cache};

static REGISTRY_LOCK: Mutex<()> = Mutex::const_new(());

fn messages(error: &ConfigError) -> Vec<String> {
    error.problems().iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn without_configuration_the_default_cache_is_in_memory() {
    let _registry = REGISTRY_LOCK.lock().await;
    configure(CacheSettings::new()).unwrap();
    let cache = cached_core::cache();
    assert_eq!(cache.name(), "default");
    assert_eq!(cache.backend(), "memory");
    assert_eq!(cache.default_ttl(), cached_core::DEFAULT_TTL);
    cache.set("k", &1, None).await.unwrap();
    assert_eq!(
        get_cache("default").unwrap().get::<i32>("k").await.unwrap(),
        Some(1),
        "one store behind both handles"
    );
}

#[tokio::test]
async fn the_seed_multiple_caches_from_toml() {
    let _registry = REGISTRY_LOCK.lock().await;
    let settings = CacheSettings::from_toml(
        r#"
        [default]
        backend = "memory"
        ttl = 300

        [sessions]
        backend = "memory"
        ttl = 86400  # 24 hours

        [queries]
        backend = "memory"
        max_size = 1000
        ttl = "1m"
        "#,
    )
    .unwrap();
    configure(settings).unwrap();
    let queries = get_cache("queries").unwrap();
    assert_eq!(queries.default_ttl(), Duration::from_secs(60));
    assert_eq!(
        get_cache("sessions").unwrap().default_ttl(),
        Duration::from_secs(86_400)
    );
    queries.set("key", "value", None).await.unwrap();
    assert_eq!(
        cached_core::cache().get::<String>("key").await.unwrap(),
        None,
        "caches are separate"
    );
    for i in 0..1_500 {
        queries.set(&i.to_string(), &i, None).await.unwrap();
    }
    assert_eq!(queries.entry_count(), Some(1_000));
}

#[tokio::test]
async fn settings_from_json_and_from_code_are_equivalent() {
    let from_json = CacheSettings::from_json(
        r#"{ "default": { "backend": "memory", "max_size": 1000, "ttl": 300, "key_prefix": "myapp:" } }"#,
    )
    .unwrap();
    let in_code = CacheConfig::memory()
        .with_max_size(1000)
        .with_ttl(Duration::from_secs(300))
        .with_key_prefix("myapp:");
    assert_eq!(from_json.get("default"), Some(&in_code));
    let embedded: serde_json::Value =
        serde_json::json!({ "cache": { "default": { "ttl": "5m" } } });
    #[derive(serde::Deserialize)]
    struct AppConfig {
        cache: CacheSettings,
    }
    let app: AppConfig = serde_json::from_value(embedded).unwrap();
    assert_eq!(
        app.cache.get("default").unwrap().ttl,
        Some(Duration::from_secs(300))
    );
}

#[test]
fn type_errors_name_the_cache_and_the_field() {
    let error = CacheSettings::from_toml(
        r#"
        [default]
        ttl = -5
        max_size = 0

        [sessions]
        ttl = "soon"
        backend = 3

        [queries]
        ttl = 0
        "#,
    )
    .unwrap_err();
    assert_eq!(
        messages(&error),
        [
            "cache `default`, field `max_size`: must be greater than zero, found 0",
            "cache `default`, field `ttl`: must be greater than zero, found -5",
            "cache `queries`, field `ttl`: must be greater than zero, found 0",
            "cache `sessions`, field `backend`: expected a string, found a number",
            "cache `sessions`, field `ttl`: `soon` is not a duration (expected number at 0); write e.g. 300, \"5m\" or \"1h30m\"",
        ]
    );
    assert!(
        error
            .to_string()
            .starts_with("invalid cache configuration (5 problems):\n  - cache `default`")
    );
}

#[test]
fn a_document_that_does_not_parse_says_so() {
    let error = CacheSettings::from_toml("[default\nttl = 3").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("invalid cache configuration: the cache settings are not valid TOML")
    );
}

#[test]
fn configure_reports_every_problem_and_changes_nothing() {
    let _registry = REGISTRY_LOCK.blocking_lock();
    configure(CacheSettings::new().with_cache("kept", CacheConfig::memory())).unwrap();
    let settings = CacheSettings::from_toml(
        r#"
        [default]
        backend = "memcached"

        [queries]
        backend = "memory"
        max_entries = 5
        url = "redis://localhost"

        [remote]
        backend = "memory"
        url = "not a url"
        "#,
    )
    .unwrap()
    .with_cache(
        "sessions",
        CacheConfig::memory()
            .with_ttl(Duration::ZERO)
            .with_max_size(0),
    );
    let error = configure(settings).unwrap_err();
    assert_eq!(
        messages(&error),
        [
            "cache `default`, field `backend`: unknown backend `memcached` (known: memory, redis); register custom backends with `register_backend` before `configure`",
            "cache `queries`, field `url`: the memory backend takes no url",
            "cache `queries`, field `max_entries`: unknown field; memory caches accept backend, ttl, max_size and key_prefix",
            "cache `remote`, field `url`: `not a url` is not a valid URL (relative URL without a base)",
            "cache `remote`, field `url`: the memory backend takes no url",
            "cache `sessions`, field `ttl`: must be greater than zero",
            "cache `sessions`, field `max_size`: must be greater than zero",
        ]
    );
    assert!(
        get_cache("kept").is_ok(),
        "the previous configuration stays installed"
    );
}

#[test]
fn an_unknown_cache_name_is_a_clear_error() {
    let _registry = REGISTRY_LOCK.blocking_lock();
    configure(CacheSettings::new().with_cache("queries", CacheConfig::memory())).unwrap();
    let error = get_cache("sesions").unwrap_err();
    assert!(matches!(error, Error::UnknownCache { .. }));
    assert_eq!(
        error.to_string(),
        "no cache named `sesions` is configured (configured: default, queries)"
    );
}

#[test]
fn lease_settings_are_read_checked_and_only_for_redis() {
    let settings = CacheSettings::from_toml(
        r#"
        [shared]
        backend = "redis"
        url = "redis://127.0.0.1:6379"
        lease_ttl = "30s"
        lease_wait = 0

        [local]
        backend = "memory"
        lease_wait = 100
        "#,
    )
    .unwrap();
    let shared = settings.get("shared").unwrap();
    assert_eq!(shared.lease_ttl, Some(Duration::from_secs(30)));
    assert_eq!(shared.lease_wait, Some(Duration::ZERO), "zero never waits");
    let error = configure(settings).unwrap_err();
    assert_eq!(
        messages(&error),
        ["cache `local`, field `lease_wait`: the memory backend takes no lease_wait"]
    );

    let error =
        CacheSettings::from_toml("[shared]\nbackend = \"redis\"\nlease_ttl = 0").unwrap_err();
    assert_eq!(
        messages(&error),
        ["cache `shared`, field `lease_ttl`: must be greater than zero, found 0"]
    );
}

#[test]
fn near_settings_are_read_checked_and_only_for_redis() {
    let settings = CacheSettings::from_toml(
        r#"
        [shared]
        backend = "redis"
        url = "redis://127.0.0.1:6379"
        near = { max_size = 10000, ttl = "30s" }

        [local]
        backend = "memory"
        near = { max_size = 10 }
        "#,
    )
    .unwrap();
    let near = settings.get("shared").unwrap().near.unwrap();
    assert_eq!(
        (near.max_size, near.ttl),
        (10_000, Some(Duration::from_secs(30)))
    );
    assert_eq!(
        CacheConfig::redis("redis://127.0.0.1:6379").with_near(10_000),
        {
            let mut expected = CacheConfig::redis("redis://127.0.0.1:6379");
            expected.near = Some(cached_core::NearConfig::new(10_000));
            expected
        },
        "with_near(N) is `near = {{ max_size = N }}`"
    );
    let error = configure(settings).unwrap_err();
    assert_eq!(
        messages(&error),
        [
            "cache `local`, field `near`: a memory cache is in the process already; only redis caches take a near cache"
        ]
    );

    for (text, expected) in [
        (
            "near = { max_size = 0 }",
            "cache `shared`, field `near.max_size`: must be greater than zero, found 0",
        ),
        (
            "near = { ttl = \"1s\" }",
            "cache `shared`, field `near.max_size`: is missing; expected a table such as { max_size = 10000, ttl = \"30s\" }",
        ),
        (
            "near = { max_size = 10, ttl = \"soon\" }",
            "cache `shared`, field `near.ttl`: `soon` is not a duration (expected number at 0); write e.g. 300, \"5m\" or \"1h30m\"",
        ),
        (
            "near = { max_size = 10, size = 3 }",
            "cache `shared`, field `near.size`: unknown field; expected a table such as { max_size = 10000, ttl = \"30s\" }",
        ),
        (
            "near = 10000",
            "cache `shared`, field `near`: expected a table such as { max_size = 10000, ttl = \"30s\" }, found a number",
        ),
    ] {
        let document =
            format!("[shared]\nbackend = \"redis\"\nurl = \"redis://127.0.0.1\"\n{text}");
        let error = CacheSettings::from_toml(&document).unwrap_err();
        assert_eq!(messages(&error), [expected], "{text}");
    }
}
