//! Tags survive eviction: Redis run as operators run a cache (`maxmemory` with an LRU
//! policy) evicts tags' own keys along with cold entries, and a tag whose key is gone names
//! nothing to `delete_tags`. Entries are stored with their tags' versions, so that once a
//! tag is invalidated none of its entries is readable, hot or cold, whatever Redis evicted:
//! through the process that loaded them (whose reads check versions in one script) and
//! through another that never met a tagged entry before (whose read checks them after).

use cached_core::{Cache, CacheConfig, CacheSettings, cached, configure};
use cached_tests::redis_server::{PATIENT, RedisServer};

const GROUPS: u32 = 300;
const PER_GROUP: u32 = 20;
/// The groups read again and again while the others are written: hot entries.
const HOT: u32 = 5;

#[cached(cache = "allkeys", key = "item:{group}:{id}", tags = ["group:{group}"], ttl = "1h")]
async fn allkeys_item(group: u32, id: u32) -> String {
    format!("{group}:{id}:{}", "x".repeat(2000))
}

#[cached(cache = "volatile", key = "item:{group}:{id}", tags = ["group:{group}"], ttl = "1h")]
async fn volatile_item(group: u32, id: u32) -> String {
    format!("{group}:{id}:{}", "x".repeat(2000))
}

fn evicting(policy: &str) -> RedisServer {
    RedisServer::start_with(&["--maxmemory", "4mb", "--maxmemory-policy", policy])
}

fn config(server: &RedisServer) -> CacheConfig {
    CacheConfig::redis(&server.url())
        .with_connect_timeout(PATIENT)
        .with_response_timeout(PATIENT)
}

/// Loads every entry through `item` (12 MB of tagged data, three times `maxmemory`),
/// reading the hot groups again between writes; then invalidates every other group and
/// half the hot ones, and checks that none of their entries reads back, through `cache`
/// and through `fresh` (another process's view). Returns how many tags Redis had evicted.
async fn invalidated_entries_never_read_back<F, Fut>(
    server: &RedisServer,
    cache: &Cache,
    fresh: &Cache,
    item: F,
) -> usize
where
    F: Fn(u32, u32) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    for group in 0..GROUPS {
        for id in 0..PER_GROUP {
            item(group, id).await;
        }
        if group % 10 == 0 {
            for hot in 0..HOT {
                for id in 0..PER_GROUP {
                    item(hot, id).await;
                }
            }
        }
    }
    let tags_held = tags_held(server);
    let evicted_tags = (0..GROUPS)
        .filter(|group| !tags_held.contains(&format!("group:{group}")))
        .count();
    let invalidated: Vec<u32> = (0..GROUPS).filter(|group| group % 2 == 1).collect();
    let tags: Vec<String> = invalidated.iter().map(|g| format!("group:{g}")).collect();
    cache.delete_tags(&tags).await.unwrap();
    let mut readable = Vec::new();
    for reader in [cache, fresh] {
        for &group in &invalidated {
            for id in 0..PER_GROUP {
                let key = format!("item:{group}:{id}");
                if reader.get::<String>(&key).await.unwrap().is_some() {
                    readable.push(key);
                }
            }
        }
    }
    assert!(
        readable.is_empty(),
        "{} entries of invalidated tags readable: {:?}",
        readable.len(),
        &readable[..readable.len().min(10)]
    );
    let hot_kept = (0..PER_GROUP)
        .filter(|id| server.cli(&["EXISTS", &format!("item:0:{id}")]) == "1")
        .count();
    assert!(hot_kept > 0, "hot entries of a tag left alone stay");
    for id in 0..PER_GROUP {
        let key = format!("item:0:{id}");
        if server.cli(&["EXISTS", &key]) == "1" {
            assert!(
                cache.get::<String>(&key).await.unwrap().is_some(),
                "{key} is readable: its tag was not invalidated"
            );
        }
    }
    evicted_tags
}

/// The tags that have a key (`SCAN`, since redis-cli cannot name the NUL byte in them).
fn tags_held(server: &RedisServer) -> std::collections::HashSet<String> {
    let mut held = std::collections::HashSet::new();
    let mut cursor = "0".to_owned();
    loop {
        let reply = server.cli(&["SCAN", &cursor, "MATCH", "*cached:tag:*", "COUNT", "10000"]);
        let mut lines = reply.lines();
        cursor = lines.next().unwrap_or("0").to_owned();
        held.extend(lines.filter_map(|key| Some(key.split_once("cached:tag:")?.1.to_owned())));
        if cursor == "0" {
            return held;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_hold_whatever_an_lru_policy_evicts() {
    let (allkeys, volatile) = (evicting("allkeys-lru"), evicting("volatile-lru"));
    configure(
        CacheSettings::new()
            .with_cache("allkeys", config(&allkeys))
            .with_cache("volatile", config(&volatile)),
    )
    .unwrap();
    tokio::join!(
        check("allkeys", &allkeys, allkeys_item),
        check("volatile", &volatile, volatile_item)
    );
}

async fn check<F, Fut>(name: &str, server: &RedisServer, item: F)
where
    F: Fn(u32, u32) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let cache = cached_core::get_cache(name).unwrap();
    let fresh = Cache::new("fresh", &config(server)).unwrap();
    let evicted = invalidated_entries_never_read_back(server, &cache, &fresh, item).await;
    let info = server.cli(&["INFO", "stats"]);
    let evictions: u64 = info
        .lines()
        .find_map(|line| line.strip_prefix("evicted_keys:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    eprintln!("{name}: {evictions} keys evicted, {evicted} of {GROUPS} tags among them");
    assert!(evictions > 1_000, "{name}: Redis evicted entries");
    assert!(evicted > 0, "{name}: Redis evicted tags");
}
