//! What is particular to Redis Cluster caches: keys spread over three primaries, so
//! `delete_many` crosses slots, and `delete_pattern` and `clear` must scan every primary.
//! (Every method of the cache API also runs on a cluster in `cache_api.rs`.)

use std::time::Duration;

use cached_core::{Cache, CacheSettings};
use cached_tests::redis_server::{PATIENT, RedisCluster};

fn keys(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("item:{i}")).collect()
}

async fn fill(cache: &Cache, keys: &[String]) {
    for key in keys {
        cache.set(key, key, None).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_spread_over_primaries_are_deleted_scanned_and_cleared_on_all() {
    let cluster = RedisCluster::start();
    let settings = CacheSettings::from_json(
        &serde_json::json!({
            "default": {
                "backend": "redis",
                "nodes": cluster.urls(),
                "connect_timeout": PATIENT.as_millis() as u64,
                "response_timeout": PATIENT.as_millis() as u64,
            }
        })
        .to_string(),
    )
    .unwrap();
    let cache = Cache::new("default", settings.get("default").unwrap()).unwrap();
    let all = keys(300);
    fill(&cache, &all).await;
    let counts = cluster.key_counts();
    assert!(
        counts.iter().all(|&n| n > 0),
        "every primary holds some keys: {counts:?}"
    );
    assert_eq!(counts.iter().sum::<u64>(), 300);

    assert_eq!(
        cache.delete_many(&all[..150]).await.unwrap(),
        150,
        "one call across every slot"
    );
    assert_eq!(cluster.key_counts().iter().sum::<u64>(), 150);

    cache.set("other:1", &1, None).await.unwrap();
    assert_eq!(cache.delete_pattern("item:*").await.unwrap(), 150);
    assert_eq!(cluster.key_counts().iter().sum::<u64>(), 1);

    fill(&cache, &all).await;
    cache.clear().await.unwrap();
    assert_eq!(
        cluster.key_counts(),
        [0, 0, 0],
        "clear without a prefix flushes every primary"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_with_a_prefix_scans_every_primary_and_spares_other_keys() {
    let cluster = RedisCluster::start();
    let mine = cluster.cache("mine:");
    let theirs = cluster.cache("theirs:");
    let all = keys(200);
    fill(&mine, &all).await;
    fill(&theirs, &all).await;
    mine.clear().await.unwrap();
    assert_eq!(cluster.key_counts().iter().sum::<u64>(), 200);
    for key in &all {
        assert!(!mine.exists(key).await.unwrap());
        assert!(theirs.exists(key).await.unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_and_counters_work_on_every_primary() {
    let cluster = RedisCluster::start();
    let cache = cluster.cache("");
    let names: Vec<String> = (0..30).map(|i| format!("lock:{i}")).collect();
    let mut guards = Vec::new();
    for name in &names {
        guards.push(cache.lock(name, Duration::from_secs(30)).await.unwrap());
    }
    let other_process = cluster.cache("");
    for name in &names {
        assert!(
            other_process
                .try_lock(name, Duration::from_secs(30))
                .await
                .unwrap()
                .is_none()
        );
    }
    for guard in guards {
        assert!(guard.release().await.unwrap());
    }
    for (i, name) in names.iter().enumerate() {
        let counter = format!("{name}:count");
        assert_eq!(cache.incr(&counter, i as i64).await.unwrap(), i as i64);
        cache.set(&counter, &i.to_string(), None).await.unwrap();
        assert_eq!(cache.incr(&counter, 1).await.unwrap(), i as i64 + 1);
    }
    assert_eq!(cluster.key_counts().iter().sum::<u64>(), 30);
}

/// Leases live in their key's place, so in its hash slot: invalidation wins on a cluster as
/// on one server, for keys spread over every primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_racing_another_process_invalidations_store_nothing_stale() {
    use cached_tests::races::{Invalidation, Pause, Series};

    let cluster = RedisCluster::start();
    let (reader, writer) = (cluster.cache(""), cluster.cache(""));
    Series {
        name: "cluster, two processes",
        reader: &reader,
        writer: &writer,
        races: 300,
        parallel: true,
        pause: Pause::Micros(1_500),
        seed: 21,
    }
    .assert_no_stale(&[
        Invalidation::Delete,
        Invalidation::Pattern,
        Invalidation::Set,
    ])
    .await;
    let counts = cluster.key_counts();
    assert!(
        counts.iter().all(|&n| n > 0),
        "the races' keys spread over every primary: {counts:?}"
    );
}
