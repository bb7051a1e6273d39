//! The bounded in-process store behind memory caches: its bound, its expiry, and the hit
//! ratio of its eviction policy on a skewed workload.

use std::collections::{HashMap, VecDeque};

use cached_tests::{SHORT_TTL, SplitMix, Zipf, memory_cache, outlive_short_ttl};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_size_is_never_exceeded_under_concurrent_inserts() {
    let cache = memory_cache(500);
    let writers: Vec<_> = (0..16)
        .map(|task| {
            let cache = cache.clone();
            tokio::spawn(async move {
                let mut largest = 0;
                for i in 0..2_000 {
                    cache.set(&format!("t{task}:{i}"), &i, None).await.unwrap();
                    largest = largest.max(cache.entry_count().unwrap());
                }
                largest
            })
        })
        .collect();
    for writer in writers {
        assert!(writer.await.unwrap() <= 500);
    }
    assert_eq!(cache.entry_count(), Some(500));
    assert_eq!(cache.stats().evictions, 16 * 2_000 - 500);
}

#[tokio::test]
async fn expired_entries_are_reclaimed_by_later_writes() {
    let cache = memory_cache(10_000);
    for i in 0..1_000 {
        cache
            .set(&format!("brief:{i}"), &i, Some(SHORT_TTL))
            .await
            .unwrap();
    }
    outlive_short_ttl().await;
    for i in 0..200 {
        cache.set(&format!("new:{i}"), &i, None).await.unwrap();
    }
    assert_eq!(
        cache.entry_count(),
        Some(200),
        "no expired entry is left behind"
    );
}

const REQUESTS: usize = 400_000;

/// Hit ratio of a cache-aside loop (get, set on miss) over a Zipf workload.
fn zipf_hit_ratio(mut lookup_or_insert: impl FnMut(u64) -> bool) -> f64 {
    let zipf = Zipf::new(100_000, 0.99);
    let mut rng = SplitMix::new(7);
    let hits = (0..REQUESTS)
        .filter(|_| lookup_or_insert(zipf.sample(&mut rng) as u64))
        .count();
    hits as f64 / REQUESTS as f64
}

/// A textbook LRU of the same capacity, the baseline the store must beat.
fn lru_hit_ratio(capacity: usize) -> f64 {
    let mut stamps: HashMap<u64, u64> = HashMap::new();
    let mut order: VecDeque<(u64, u64)> = VecDeque::new();
    let mut clock = 0;
    zipf_hit_ratio(|key| {
        clock += 1;
        let hit = stamps.insert(key, clock).is_some();
        order.push_back((key, clock));
        while stamps.len() > capacity {
            let (old, stamp) = order.pop_front().unwrap();
            if stamps.get(&old) == Some(&stamp) {
                stamps.remove(&old);
            }
        }
        hit
    })
}

#[tokio::test(flavor = "current_thread")]
async fn the_eviction_policy_beats_lru_on_a_skewed_workload() {
    let cache = memory_cache(1_000);
    let keys: Vec<String> = (0..100_000).map(|k| format!("user:{k:06}")).collect();
    let zipf = Zipf::new(keys.len(), 0.99);
    let mut rng = SplitMix::new(7);
    for _ in 0..REQUESTS {
        let key = &keys[zipf.sample(&mut rng)];
        if cache.get::<u64>(key).await.unwrap().is_none() {
            cache.set(key, &1_u64, None).await.unwrap();
        }
    }
    let store = cache.stats().hit_ratio();
    let lru = lru_hit_ratio(1_000);
    println!("hit ratio, Zipf 0.99 over 100k keys, capacity 1k: store {store:.4}, LRU {lru:.4}");
    assert!(store > lru, "store {store:.4} should beat LRU {lru:.4}");
}
