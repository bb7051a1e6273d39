//! Every method of the cache API, one test body per behaviour, run on every backend: the
//! memory store, a Redis server (one per test), and a 3-primary Redis Cluster (one for all
//! bodies, each under its own key prefix).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cached_core::{Cache, Error, Ttl};
use cached_tests::redis_server::{RedisCluster, RedisServer};
use cached_tests::{SHORT_TTL, memory_cache, outlive_short_ttl};
use serde::{Deserialize, Serialize};

/// Generates, for each behaviour, a test per backend: `memory::name`, `redis::name`, and
/// one `cluster::every_behaviour` that runs them all on one cluster.
macro_rules! on_every_backend {
    ($($behaviour:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    super::$behaviour(cached_tests::memory_cache(10_000)).await;
                }
            )*
        }

        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    let server = super::RedisServer::start();
                    super::$behaviour(server.cache("")).await;
                }
            )*
        }

        mod cluster {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn every_behaviour() {
                let cluster = super::RedisCluster::start();
                $(
                    let prefix = concat!(stringify!($behaviour), ":");
                    super::$behaviour(cluster.cache(prefix)).await;
                )*
            }
        }
    };
}

on_every_backend!(
    set_then_get_returns_the_value_and_get_or_the_default,
    values_of_every_shape_round_trip,
    a_value_read_as_another_type_is_a_counted_miss,
    entries_expire_after_their_ttl_and_the_default_ttl_applies,
    a_zero_ttl_stores_nothing,
    ttl_tells_absent_expiring_and_persistent_keys_apart,
    get_or_set_loads_on_a_miss_and_stores_for_the_ttl,
    get_or_set_runs_the_loader_once_for_100_concurrent_callers,
    try_get_or_set_stores_ok_and_never_err,
    delete_and_delete_many_report_what_existed,
    delete_pattern_matches_globs_and_treats_escaped_glob_characters_literally,
    delete_pattern_walks_many_keys,
    clear_removes_everything,
    incr_and_decr_count_from_zero_and_keep_the_expiry,
    incr_on_a_non_integer_is_a_clear_error_and_changes_nothing,
    set_nx_stores_only_when_absent,
    stats_count_hits_misses_sets_and_deletes,
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct User {
    id: String,
    name: String,
}

fn ada() -> User {
    User {
        id: "abc123".into(),
        name: "Ada".into(),
    }
}

async fn set_then_get_returns_the_value_and_get_or_the_default(cache: Cache) {
    assert_eq!(cache.get::<User>("user:abc123").await.unwrap(), None);
    cache.set("user:abc123", &ada(), None).await.unwrap();
    assert_eq!(cache.get::<User>("user:abc123").await.unwrap(), Some(ada()));

    assert_eq!(
        cache
            .get_or("missing", "not_found".to_string())
            .await
            .unwrap(),
        "not_found"
    );
    cache.set("key", "value", None).await.unwrap();
    assert_eq!(
        cache.get_or("key", "not_found".to_string()).await.unwrap(),
        "value"
    );
}

async fn values_of_every_shape_round_trip(cache: Cache) {
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Page {
        title: String,
        tags: Vec<String>,
        author: Option<User>,
        score: f64,
    }
    let page = Page {
        title: "Ünïcode ✓ \"quoted\" \n newline".into(),
        tags: vec![String::new(), "a:b".into()],
        author: Some(ada()),
        score: -1.5,
    };
    cache.set("page", &page, None).await.unwrap();
    assert_eq!(cache.get::<Page>("page").await.unwrap(), Some(page));

    cache.set("none", &None::<u32>, None).await.unwrap();
    assert_eq!(
        cache.get::<Option<u32>>("none").await.unwrap(),
        Some(None),
        "a stored None is a hit holding None"
    );
    cache.set("empty", "", None).await.unwrap();
    assert_eq!(
        cache.get::<String>("empty").await.unwrap().as_deref(),
        Some("")
    );
    let big = "x".repeat(100_000);
    cache.set("big", &big, None).await.unwrap();
    assert_eq!(cache.get::<String>("big").await.unwrap(), Some(big));
}

async fn a_value_read_as_another_type_is_a_counted_miss(cache: Cache) {
    cache.set("n", &7_u32, None).await.unwrap();
    assert_eq!(
        cache.get::<u64>("n").await.unwrap(),
        Some(7),
        "compatible types convert"
    );
    assert_eq!(cache.get::<User>("n").await.unwrap(), None);
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.errors), (1, 1, 1));
}

async fn entries_expire_after_their_ttl_and_the_default_ttl_applies(cache: Cache) {
    cache.set("short", &1, Some(SHORT_TTL)).await.unwrap();
    cache.set("default", &1, None).await.unwrap();
    assert!(cache.exists("short").await.unwrap());
    outlive_short_ttl().await;
    assert_eq!(cache.get::<i32>("short").await.unwrap(), None);
    assert!(!cache.exists("short").await.unwrap());
    assert_eq!(cache.get::<i32>("default").await.unwrap(), Some(1));
    let left = cache.ttl("default").await.unwrap().remaining().unwrap();
    assert!(left > Duration::from_secs(290) && left <= cached_core::DEFAULT_TTL);
}

async fn a_zero_ttl_stores_nothing(cache: Cache) {
    cache.set("k", &1, None).await.unwrap();
    cache.set("k", &2, Some(Duration::ZERO)).await.unwrap();
    assert!(!cache.exists("k").await.unwrap());
}

async fn ttl_tells_absent_expiring_and_persistent_keys_apart(cache: Cache) {
    assert_eq!(cache.ttl("nothing").await.unwrap(), Ttl::Absent);
    cache
        .set("expiring", &1, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    match cache.ttl("expiring").await.unwrap() {
        Ttl::Expires(left) => {
            assert!(left <= Duration::from_secs(60) && left > Duration::from_secs(59))
        }
        other => panic!("expected an expiring key, got {other:?}"),
    }
    cache.incr("counter", 1).await.unwrap();
    assert_eq!(cache.ttl("counter").await.unwrap(), Ttl::NoExpiry);
    cache.set("short", &1, Some(SHORT_TTL)).await.unwrap();
    outlive_short_ttl().await;
    assert_eq!(cache.ttl("short").await.unwrap(), Ttl::Absent);
}

async fn get_or_set_loads_on_a_miss_and_stores_for_the_ttl(cache: Cache) {
    let loads = AtomicUsize::new(0);
    let load = || async {
        loads.fetch_add(1, Ordering::SeqCst);
        vec![ada()]
    };
    assert_eq!(
        cache
            .get_or_set("active_users", load, Some(SHORT_TTL))
            .await,
        vec![ada()]
    );
    assert_eq!(
        cache
            .get_or_set("active_users", load, Some(SHORT_TTL))
            .await,
        vec![ada()]
    );
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    outlive_short_ttl().await;
    cache
        .get_or_set("active_users", load, Some(SHORT_TTL))
        .await;
    assert_eq!(loads.load(Ordering::SeqCst), 2);
}

async fn get_or_set_runs_the_loader_once_for_100_concurrent_callers(cache: Cache) {
    let loads = Arc::new(AtomicUsize::new(0));
    let callers: Vec<_> = (0..100)
        .map(|_| {
            let (cache, loads) = (cache.clone(), loads.clone());
            tokio::spawn(async move {
                cache
                    .get_or_set(
                        "expensive",
                        || async move {
                            loads.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            42_u64
                        },
                        None,
                    )
                    .await
            })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.unwrap(), 42);
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
}

async fn try_get_or_set_stores_ok_and_never_err(cache: Cache) {
    let failed: Result<u32, String> = cache
        .try_get_or_set("k", || async { Err("db down".to_string()) }, None)
        .await;
    assert_eq!(failed, Err("db down".to_string()));
    assert!(!cache.exists("k").await.unwrap());
    let loaded: Result<u32, String> = cache.try_get_or_set("k", || async { Ok(5) }, None).await;
    assert_eq!(loaded, Ok(5));
    assert_eq!(cache.get::<u32>("k").await.unwrap(), Some(5));
}

async fn delete_and_delete_many_report_what_existed(cache: Cache) {
    for key in ["user:abc123", "user:def456", "user:ghi789"] {
        cache.set(key, &1, None).await.unwrap();
    }
    assert!(cache.delete("user:abc123").await.unwrap());
    assert!(!cache.delete("user:abc123").await.unwrap());
    assert_eq!(
        cache
            .delete_many(&["user:abc123", "user:def456", "user:nope"])
            .await
            .unwrap(),
        1
    );
    let owned = vec!["user:ghi789".to_string()];
    assert_eq!(cache.delete_many(&owned).await.unwrap(), 1);
    assert_eq!(cache.delete_many::<&str>(&[]).await.unwrap(), 0);
    assert_eq!(cache.stats().deletes, 3);
}

async fn delete_pattern_matches_globs_and_treats_escaped_glob_characters_literally(cache: Cache) {
    let keys = [
        "user:1", "user:2", "user:*", "user:[x]", "users:1", "post:1", "a?b", "axb",
    ];
    for key in keys {
        cache.set(key, &1, None).await.unwrap();
    }
    assert_eq!(
        cache.delete_pattern(r"user:\*").await.unwrap(),
        1,
        "only the key named `user:*`"
    );
    assert!(cache.exists("user:1").await.unwrap());
    assert_eq!(cache.delete_pattern(r"user:\[x\]").await.unwrap(), 1);
    assert_eq!(cache.delete_pattern(r"a\?b").await.unwrap(), 1);
    assert!(cache.exists("axb").await.unwrap());
    assert_eq!(cache.delete_pattern("user:[0-9]").await.unwrap(), 2);
    assert_eq!(
        cache.delete_pattern("*:1").await.unwrap(),
        2,
        "users:1 and post:1"
    );
    assert_eq!(cache.delete_pattern("nothing*").await.unwrap(), 0);
    for key in keys {
        assert_eq!(cache.exists(key).await.unwrap(), key == "axb", "{key}");
    }
    if let Some(count) = cache.entry_count() {
        assert_eq!(count, 1);
    }
}

async fn delete_pattern_walks_many_keys(cache: Cache) {
    for i in 0..2_500 {
        cache.set(&format!("item:{i}"), &i, None).await.unwrap();
    }
    cache.set("other:1", &1, None).await.unwrap();
    assert_eq!(cache.delete_pattern("item:*").await.unwrap(), 2_500);
    assert!(!cache.exists("item:1234").await.unwrap());
    assert!(cache.exists("other:1").await.unwrap());
    assert_eq!(cache.stats().deletes, 2_500);
}

async fn clear_removes_everything(cache: Cache) {
    for i in 0..10 {
        cache.set(&format!("k{i}"), &i, None).await.unwrap();
    }
    cache.clear().await.unwrap();
    for i in 0..10 {
        assert!(!cache.exists(&format!("k{i}")).await.unwrap());
    }
    if let Some(count) = cache.entry_count() {
        assert_eq!(count, 0);
    }
}

async fn incr_and_decr_count_from_zero_and_keep_the_expiry(cache: Cache) {
    assert_eq!(cache.incr("counter", 1).await.unwrap(), 1);
    assert_eq!(cache.incr("counter", 5).await.unwrap(), 6);
    assert_eq!(cache.decr("counter", 1).await.unwrap(), 5);
    assert_eq!(cache.decr("fresh", 3).await.unwrap(), -3);
    assert_eq!(cache.get::<i64>("counter").await.unwrap(), Some(5));

    cache
        .set("views", &10_u32, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(cache.incr("views", 1).await.unwrap(), 11);
    assert!(matches!(cache.ttl("views").await.unwrap(), Ttl::Expires(_)));

    cache
        .set("numeric_text", "41", Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(cache.incr("numeric_text", 1).await.unwrap(), 42);
    assert!(
        matches!(cache.ttl("numeric_text").await.unwrap(), Ttl::Expires(_)),
        "a counter held in a string keeps its expiry too"
    );
    cache.set("padded", "-007", None).await.unwrap();
    assert!(
        matches!(
            cache.incr("padded", 2).await,
            Err(Error::NotAnInteger { .. })
        ),
        "only the canonical form Redis' INCR reads is a counter"
    );
    assert_eq!(
        cache.get::<String>("padded").await.unwrap().as_deref(),
        Some("-007")
    );
}

async fn incr_on_a_non_integer_is_a_clear_error_and_changes_nothing(cache: Cache) {
    cache.set("name", "Ada", None).await.unwrap();
    let error = cache.incr("name", 1).await.unwrap_err();
    assert!(matches!(error, Error::NotAnInteger { ref key, .. } if key == "name"));
    assert_eq!(
        error.to_string(),
        "cache `test`: the value at key `name` is not an integer or is out of range"
    );
    assert_eq!(
        cache.get::<String>("name").await.unwrap().as_deref(),
        Some("Ada")
    );

    cache.set("max", &i64::MAX, None).await.unwrap();
    assert!(matches!(
        cache.incr("max", 1).await,
        Err(Error::NotAnInteger { .. })
    ));
    assert_eq!(cache.get::<i64>("max").await.unwrap(), Some(i64::MAX));
    cache
        .set("huge_text", "99999999999999999999", None)
        .await
        .unwrap();
    assert!(matches!(
        cache.incr("huge_text", 1).await,
        Err(Error::NotAnInteger { .. })
    ));
    assert_eq!(
        cache.get::<String>("huge_text").await.unwrap().as_deref(),
        Some("99999999999999999999"),
        "a failed increment leaves the value as it was"
    );
    assert!(matches!(
        cache.decr("x", i64::MIN).await,
        Err(Error::NotAnInteger { .. })
    ));
}

async fn set_nx_stores_only_when_absent(cache: Cache) {
    assert!(
        cache
            .set_nx("lock:task", "1", Some(Duration::from_secs(60)))
            .await
            .unwrap()
    );
    assert!(
        !cache
            .set_nx("lock:task", "2", Some(Duration::from_secs(60)))
            .await
            .unwrap()
    );
    assert_eq!(
        cache.get::<String>("lock:task").await.unwrap().as_deref(),
        Some("1")
    );
    assert!(matches!(
        cache.ttl("lock:task").await.unwrap(),
        Ttl::Expires(_)
    ));

    cache.set_nx("brief", "1", Some(SHORT_TTL)).await.unwrap();
    outlive_short_ttl().await;
    assert!(
        cache.set_nx("brief", "2", None).await.unwrap(),
        "an expired key is absent"
    );
}

async fn stats_count_hits_misses_sets_and_deletes(cache: Cache) {
    cache.set("a", &1, None).await.unwrap();
    cache.get::<i32>("a").await.unwrap();
    cache.get::<i32>("a").await.unwrap();
    cache.get::<i32>("b").await.unwrap();
    cache.set("b", &2, None).await.unwrap();
    cache.set("c", &3, None).await.unwrap();
    cache.delete("c").await.unwrap();
    let stats = cache.stats();
    assert_eq!(stats.hits, 2);
    assert_eq!(stats.misses, 1);
    assert_eq!(stats.sets, 3);
    assert_eq!(stats.deletes, 1);
    assert_eq!(stats.evictions, 0);
    assert_eq!(stats.errors, 0);
    assert!((stats.hit_ratio() - 2.0 / 3.0).abs() < 1e-9);
}

/// Evictions exist only where the cache is bounded by `max_size`: in memory.
#[tokio::test]
async fn a_bounded_memory_cache_counts_its_evictions() {
    let cache = memory_cache(2);
    for key in ["a", "b", "c"] {
        cache.set(key, &1, None).await.unwrap();
    }
    assert_eq!(cache.stats().evictions, 1);
    assert_eq!(cache.entry_count(), Some(2));
}
