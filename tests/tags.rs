//! Tags: `delete_tags` removes exactly the entries its tags name, on memory, Redis, Redis
//! Cluster and a custom backend; a tag shared by many functions reaches all of them; on Redis
//! it never scans the keyspace; and a tag invalidation wins over a load in flight, in one
//! process or two.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use cached_core::{Cache, CacheConfig, CacheSettings, cached, configure, invalidates};
use cached_tests::map_backend::MapBackend;
use cached_tests::redis_server::{RedisCluster, RedisServer};
use tokio::sync::watch;

/// Tags 60 keys (`k0`..`k59`) under `even`/`odd` and `group:<i % 3>`, deletes some tags, and
/// checks that exactly their keys went.
async fn delete_tags_removes_exactly_the_named_entries(cache: &Cache) {
    for i in 0..60u64 {
        let key = format!("k{i}");
        let parity = if i % 2 == 0 { "even" } else { "odd" };
        let group = format!("group:{}", i % 3);
        cache
            .tag(&key, &[parity, group.as_str()], None)
            .await
            .unwrap();
        cache.set(&key, &i, None).await.unwrap();
    }
    cache.set("untagged", &1u64, None).await.unwrap();
    assert_eq!(cache.delete_tags(&["group:0"]).await.unwrap(), 20);
    assert_eq!(
        cache.delete_tags(&["group:0"]).await.unwrap(),
        0,
        "taken once"
    );
    // `odd` names 30 keys, 10 of which group:0 took already.
    assert_eq!(cache.delete_tags(&["odd", "nothing"]).await.unwrap(), 20);
    for i in 0..60u64 {
        let expected = (i % 3 != 0 && i % 2 == 0).then_some(i);
        assert_eq!(
            cache.get::<u64>(&format!("k{i}")).await.unwrap(),
            expected,
            "k{i}"
        );
    }
    assert_eq!(cache.get::<u64>("untagged").await.unwrap(), Some(1));
    assert_eq!(cache.delete_tags(&["even"]).await.unwrap(), 20);
}

#[tokio::test]
async fn memory_deletes_exactly_the_tagged_entries() {
    delete_tags_removes_exactly_the_named_entries(&cached_tests::memory_cache(1_000)).await;
}

#[tokio::test]
async fn custom_backend_deletes_exactly_the_tagged_entries() {
    let (_, cache) = MapBackend::cache("tags-map", CacheConfig::backend("tags-map"));
    delete_tags_removes_exactly_the_named_entries(&cache).await;
}

#[tokio::test]
async fn redis_deletes_exactly_the_tagged_entries_without_a_scan() {
    let server = RedisServer::start();
    let cache = server.cache("app:");
    server.cli(&["CONFIG", "RESETSTAT"]);
    delete_tags_removes_exactly_the_named_entries(&cache).await;
    let stats = server.cli(&["INFO", "commandstats"]);
    assert!(stats.contains("cmdstat_evalsha"), "{stats}");
    for scan in ["cmdstat_scan", "cmdstat_keys"] {
        assert!(!stats.contains(scan), "delete_tags scanned: {stats}");
    }
    let mut left = raw_keys(&server).await;
    left.sort();
    let expected: [&[u8]; 7] = [
        b"app:\0cached:tag:even",
        b"app:\0cached:tag:group:0",
        b"app:\0cached:tag:group:1",
        b"app:\0cached:tag:group:2",
        b"app:\0cached:tag:nothing",
        b"app:\0cached:tag:odd",
        b"app:untagged",
    ];
    assert_eq!(
        left, expected,
        "the tags, those deleted as tombstones, and nothing else"
    );
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    for deleted in ["even", "group:0", "nothing", "odd"] {
        let key = format!("app:\0cached:tag:{deleted}");
        let fields: Vec<String> = redis::cmd("HKEYS")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(
            fields.iter().all(|field| !field.starts_with(':')),
            "the tombstone of {deleted} names no key: {fields:?}"
        );
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(ttl > 0, "a tombstone expires");
    }
}

/// Every key of the server, as bytes.
async fn raw_keys(server: &RedisServer) -> Vec<Vec<u8>> {
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn redis_tag_sets_live_as_long_as_their_entries() {
    let server = RedisServer::start();
    let cache = server.cache("");
    cache
        .tag("short", &["t"], Some(Duration::from_secs(10)))
        .await
        .unwrap();
    cache
        .tag("long", &["t"], Some(Duration::from_secs(1000)))
        .await
        .unwrap();
    cache
        .tag("short2", &["t"], Some(Duration::from_secs(10)))
        .await
        .unwrap();
    let left: i64 = redis_ttl(&server, "\0cached:tag:t").await;
    assert!(
        left > 900,
        "the set lives as long as its longest entry: {left} s"
    );
}

async fn redis_ttl(server: &RedisServer, key: &str) -> i64 {
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("TTL")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_deletes_tagged_entries_on_every_primary() {
    let cluster = RedisCluster::start();
    let cache = cluster.cache("");
    let mut primaries: Vec<u16> = (0..60)
        .map(|i| cluster.primary_of(0, &format!("k{i}")))
        .collect();
    primaries.sort_unstable();
    primaries.dedup();
    assert_eq!(primaries.len(), 3, "the tagged keys live on every primary");
    delete_tags_removes_exactly_the_named_entries(&cache).await;
}

/// A load of a tagged key is held at a gate; `writer` deletes the tag meanwhile; the load's
/// value must not be stored.
async fn a_tag_invalidation_wins_over_a_load(reader: &Cache, writer: &Cache) {
    let (gate, mut opened) = watch::channel(false);
    let loads = Arc::new(AtomicUsize::new(0));
    reader.tag("wins", &["t"], None).await.unwrap();
    let load = {
        let (reader, loads) = (reader.clone(), Arc::clone(&loads));
        tokio::spawn(async move {
            reader
                .get_or_set(
                    "wins",
                    || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        opened.wait_for(|open| *open).await.unwrap();
                        1u64
                    },
                    None,
                )
                .await
        })
    };
    while loads.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Only Redis counts the key of a load in flight (its lease) as removed.
    assert!(writer.delete_tags(&["t"]).await.unwrap() <= 1);
    gate.send_replace(true);
    assert_eq!(load.await.unwrap(), 1, "the caller gets its own load");
    assert_eq!(reader.get::<u64>("wins").await.unwrap(), None);
    assert_eq!(writer.get::<u64>("wins").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_tag_invalidations_win_over_loads() {
    let cache = cached_tests::memory_cache(1_000);
    a_tag_invalidation_wins_over_a_load(&cache, &cache).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_tag_invalidations_win_over_loads_in_any_process() {
    let server = RedisServer::start();
    let (one, other) = (server.cache(""), server.cache(""));
    a_tag_invalidation_wins_over_a_load(&one, &one).await;
    a_tag_invalidation_wins_over_a_load(&one, &other).await;
}

/// The attribute: two functions share the tag `posts` and each carries `user:{id}`; an
/// `#[invalidates(tags = ...)]` reaches both.
mod attribute {
    use super::*;

    static VERSION: AtomicU64 = AtomicU64::new(1);

    #[cached(cache = "tags-redis", tags = ["user:{user_id}", "posts"])]
    async fn user_posts(user_id: u64) -> Vec<u64> {
        vec![user_id, VERSION.load(Ordering::SeqCst)]
    }

    #[cached(cache = "tags-redis", key = "drafts:{user_id}", tags = ["user:{user_id}", "posts"])]
    async fn user_drafts(user_id: u64) -> Vec<u64> {
        vec![user_id, VERSION.load(Ordering::SeqCst) + 100]
    }

    #[cached(cache = "tags-redis", tags = ["profile"])]
    async fn profile(user_id: u64) -> u64 {
        user_id + VERSION.load(Ordering::SeqCst)
    }

    #[invalidates(cache = "tags-redis", tags = ["user:{user_id}"])]
    async fn rename(user_id: u64) -> Result<(), String> {
        let _ = user_id;
        VERSION.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    #[invalidates("unrelated", cache = "tags-redis", tags = ["posts"])]
    async fn publish() {
        VERSION.fetch_add(1, Ordering::SeqCst);
    }

    static SLOW_STARTED: AtomicUsize = AtomicUsize::new(0);
    static SLOW_GATE: std::sync::OnceLock<watch::Sender<bool>> = std::sync::OnceLock::new();

    fn slow_gate() -> &'static watch::Sender<bool> {
        SLOW_GATE.get_or_init(|| watch::channel(false).0)
    }

    #[cached(tags = ["slow:{id}"])]
    async fn slow(id: u64) -> u64 {
        SLOW_STARTED.fetch_add(1, Ordering::SeqCst);
        let mut gate = slow_gate().subscribe();
        gate.wait_for(|open| *open).await.unwrap();
        id
    }

    /// On the default cache, after the registry was configured (which replaces it).
    async fn a_tag_invalidation_wins_over_a_cached_call_in_flight() {
        let call = tokio::spawn(slow(5));
        while SLOW_STARTED.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let cache = cached_core::cache();
        cache.delete_tags(&["slow:5"]).await.unwrap();
        slow_gate().send_replace(true);
        assert_eq!(call.await.unwrap(), 5);
        assert!(
            !cache.exists("slow:id=5").await.unwrap(),
            "the body began before the tag invalidation: its value is not stored"
        );
        assert_eq!(slow(5).await, 5);
        assert!(cache.exists("slow:id=5").await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn invalidating_a_tag_reaches_every_function_that_carries_it() {
        let server = RedisServer::start();
        configure(CacheSettings::new().with_cache(
            "tags-redis",
            CacheConfig::redis(&server.url()).with_key_prefix("attr:"),
        ))
        .unwrap();
        assert_eq!(user_posts(1).await, [1, 1]);
        assert_eq!(user_posts(2).await, [2, 1]);
        assert_eq!(user_drafts(1).await, [1, 101]);
        assert_eq!(profile(1).await, 2);
        rename(1).await.unwrap(); // version 2; user 1's entries go, user 2's stay
        assert_eq!(user_posts(1).await, [1, 2]);
        assert_eq!(user_drafts(1).await, [1, 102]);
        assert_eq!(user_posts(2).await, [2, 1], "another user's entry stays");
        assert_eq!(profile(1).await, 2, "an entry without the tag stays");
        publish().await; // version 3; every posts entry goes
        assert_eq!(user_posts(2).await, [2, 3]);
        assert_eq!(user_drafts(1).await, [1, 103]);
        assert_eq!(profile(1).await, 2);
        a_tag_invalidation_wins_over_a_cached_call_in_flight().await;
    }
}

/// `set_tagged` and `get_or_set_tagged` store their entries with their tags' versions: a
/// tag whose key is gone (as when Redis evicts it, here removed by hand) names nothing to
/// `delete_tags`, yet none of its entries reads back once it is invalidated, in this
/// process or in another; on memory the same calls tag as `tag` does.
#[tokio::test]
async fn entries_written_tagged_are_invalidated_even_when_their_tag_key_is_gone() {
    let server = RedisServer::start();
    let (cache, other) = (server.cache("v:"), server.cache("v:"));
    let memory = cached_tests::memory_cache(100);
    for cache in [&cache, &memory] {
        cache
            .set_tagged("profile:1", "Ada", &["user:1"], None)
            .await
            .unwrap();
        let loaded: String = cache
            .get_or_set_tagged(
                "feed:1",
                &["user:1", "feeds"],
                || async { "items".into() },
                None,
            )
            .await;
        assert_eq!(loaded, "items");
        assert_eq!(
            cache.get::<String>("feed:1").await.unwrap().as_deref(),
            Some("items")
        );
    }
    assert_eq!(memory.delete_tags(&["user:1"]).await.unwrap(), 2);
    assert!(!memory.exists("profile:1").await.unwrap());

    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: u64 = redis::cmd("DEL")
        .arg("v:\0cached:tag:user:1")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        cache.delete_tags(&["user:1"]).await.unwrap(),
        0,
        "the tag named nothing"
    );
    for reader in [&cache, &other] {
        for key in ["profile:1", "feed:1"] {
            assert_eq!(reader.get::<String>(key).await.unwrap(), None, "{key}");
        }
    }
    assert!(
        !other.exists("profile:1").await.unwrap(),
        "removed when read"
    );
}

/// A tag written by the layout before versions (a set of keys) is taken as it is, and made
/// a hash with the same members when a key joins it: nothing it named is forgotten.
#[tokio::test]
async fn a_tag_of_the_earlier_layout_keeps_its_members() {
    let server = RedisServer::start();
    let cache = server.cache("old:");
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    for key in ["a", "b"] {
        cache.set(key, &1, None).await.unwrap();
    }
    let _: u64 = redis::cmd("SADD")
        .arg("old:\0cached:tag:t")
        .arg("a")
        .query_async(&mut conn)
        .await
        .unwrap();
    cache.set_tagged("b", &2, &["t"], None).await.unwrap();
    let _: u64 = redis::cmd("SADD")
        .arg("old:\0cached:tag:u")
        .arg("a")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        cache.delete_tags(&["t"]).await.unwrap(),
        2,
        "a (from the set) and b"
    );
    cache.set("a", &1, None).await.unwrap();
    assert_eq!(
        cache.delete_tags(&["u"]).await.unwrap(),
        1,
        "a set never joined since"
    );
}
