//! A near cache on a real 3-primary Redis Cluster: tracking on every primary's connection,
//! so a write on any node drops the copy, and a primary's death empties the near cache
//! (its invalidations may be lost) while the other primaries keep answering.

use std::time::{Duration, Instant};

use cached_core::{Cache, CacheConfig};
use cached_tests::redis_server::{PATIENT, RedisCluster};

fn near_cache(cluster: &RedisCluster) -> Cache {
    Cache::new(
        "near-cluster",
        &CacheConfig::redis_cluster(&cluster.urls())
            .with_key_prefix("nc:")
            .with_connect_timeout(PATIENT)
            .with_response_timeout(PATIENT)
            .with_near(1_000),
    )
    .expect("a valid near cache on a cluster")
}

/// Keys spread over every primary, with the index of the node that serves each.
fn keys_on_every_node(cluster: &RedisCluster) -> Vec<(String, usize)> {
    let ports: Vec<u16> = cluster.nodes().iter().map(|node| node.port()).collect();
    let mut found: Vec<(String, usize)> = Vec::new();
    for i in 0.. {
        let key = format!("k{i}");
        let port = cluster.primary_of(0, &format!("nc:{key}"));
        let node = ports.iter().position(|p| *p == port).expect("a primary");
        if !found.iter().any(|(_, n)| *n == node) {
            found.push((key, node));
        }
        if found.len() == ports.len() {
            return found;
        }
    }
    unreachable!()
}

async fn read_until(cache: &Cache, key: &str, expected: Option<&str>) -> Option<String> {
    let started = Instant::now();
    loop {
        let value: Option<String> = cache.get(key).await.unwrap_or(None);
        if value.as_deref() == expected || started.elapsed() > Duration::from_secs(2) {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_primary_invalidates_its_copies_and_a_dead_one_empties_the_near_cache() {
    let mut cluster = RedisCluster::start();
    let near = near_cache(&cluster);
    let keys = keys_on_every_node(&cluster);
    for (key, _) in &keys {
        near.set(key, "old", None).await.unwrap();
        let _: Option<String> = near.get(key).await.unwrap();
    }
    let hits = near.stats().near_hits;
    for (key, _) in &keys {
        assert_eq!(
            near.get::<String>(key).await.unwrap().as_deref(),
            Some("old")
        );
    }
    assert_eq!(
        near.stats().near_hits,
        hits + 3,
        "a copy from every primary"
    );

    for (key, node) in &keys {
        cluster.nodes()[*node].cli(&["SET", &format!("nc:{key}"), "\"raw\""]);
        assert_eq!(
            read_until(&near, key, Some("raw")).await.as_deref(),
            Some("raw"),
            "a write on node {node} reached the copy of {key}"
        );
    }

    let (dead_key, dead) = keys[0].clone();
    for (key, _) in &keys {
        let _: Option<String> = near.get(key).await.unwrap();
    }
    cluster.node_mut(dead).stop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let served: Option<String> = near.get(&dead_key).await.unwrap_or(None);
    assert_eq!(served, None, "no copy from the dead primary is served");
    for (key, node) in &keys[1..] {
        assert_eq!(
            near.get::<String>(key).await.unwrap().as_deref(),
            Some("raw"),
            "node {node} still answers"
        );
    }
}
