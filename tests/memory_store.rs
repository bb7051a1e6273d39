//! The bounded in-process store behind memory caches: its bound, its expiry, its behaviour
//! under concurrency, and the hit ratio of its eviction policy on a skewed workload.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cached_core::memory::{Action, Expiry, MemoryStore};
use cached_tests::{SHORT_TTL, SplitMix, Zipf, memory_cache, outlive_short_ttl};

const LONG: Duration = Duration::from_secs(3600);

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
async fn expired_entries_are_reclaimed_without_further_calls() {
    let cache = memory_cache(10_000);
    for i in 0..1_000 {
        cache
            .set(&format!("brief:{i}"), &i, Some(SHORT_TTL))
            .await
            .unwrap();
    }
    cache.set("lasting", &1, None).await.unwrap();
    outlive_short_ttl().await;
    // The maintenance thread reclaims in the background; wait for it, within reason.
    for _ in 0..100 {
        if cache.entry_count() == Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(cache.entry_count(), Some(1), "only the live entry is left");
    assert_eq!(cache.get::<i32>("lasting").await.unwrap(), Some(1));
}

/// Threads on disjoint keys, each checking every read against its own reference map, on
/// a store that holds every key: nothing may ever be missing or wrong.
#[test]
fn concurrent_operations_match_a_reference_map() {
    let store: MemoryStore<String, u64> = MemoryStore::new(8 * 300);
    std::thread::scope(|scope| {
        for thread in 0..8_u64 {
            let store = &store;
            scope.spawn(move || {
                let mut reference: HashMap<String, u64> = HashMap::new();
                let mut rng = SplitMix::new(thread);
                for _ in 0..20_000 {
                    let key = format!("{thread}:{}", rng.next_u64() % 300);
                    match rng.next_u64() % 6 {
                        0 | 1 => {
                            let value = rng.next_u64();
                            assert_eq!(store.set(key.as_str(), value, LONG), 0);
                            reference.insert(key, value);
                        }
                        2 => {
                            store.set(key.as_str(), 0, Duration::ZERO);
                            reference.remove(&key);
                        }
                        3 => {
                            assert_eq!(
                                store.remove(key.as_str()),
                                reference.remove(&key).is_some()
                            );
                        }
                        4 => {
                            let (counted, _) =
                                store.compute(key.as_str(), |current| match current {
                                    Some(c) => (
                                        Action::Put(c.value.wrapping_add(1), Expiry::Unchanged),
                                        true,
                                    ),
                                    None => (Action::Keep, false),
                                });
                            assert_eq!(counted, reference.contains_key(&key));
                            if let Some(value) = reference.get_mut(&key) {
                                *value = value.wrapping_add(1);
                            }
                        }
                        _ => assert_eq!(
                            store.get(key.as_str(), |v| *v),
                            reference.get(&key).copied()
                        ),
                    }
                }
                for (key, value) in &reference {
                    assert_eq!(store.get(key.as_str(), |v| *v), Some(*value));
                }
            });
        }
    });
}

/// Threads inserting far more keys than the store holds: at every instant the bound holds,
/// every value read is the one last written, and every key lost was evicted.
#[test]
fn under_concurrent_eviction_only_evicted_entries_are_lost() {
    let store: MemoryStore<u64, u64> = MemoryStore::new(1_000);
    let largest = AtomicUsize::new(0);
    let results: Vec<(u64, u64, HashMap<u64, u64>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4_u64)
            .map(|thread| {
                let (store, largest) = (&store, &largest);
                scope.spawn(move || {
                    let mut reference = HashMap::new();
                    let (mut inserted, mut evicted) = (0, 0);
                    let mut rng = SplitMix::new(thread + 10);
                    for _ in 0..50_000 {
                        let key = (thread << 32) | (rng.next_u64() % 2_000);
                        if rng.next_u64().is_multiple_of(2) {
                            let value = rng.next_u64();
                            let (replaced, e) = store.compute(&key, |current| {
                                (Action::Put(value, Expiry::After(LONG)), current.is_some())
                            });
                            inserted += u64::from(!replaced);
                            evicted += e;
                            reference.insert(key, value);
                        } else if let Some(value) = store.get(&key, |v| *v) {
                            assert_eq!(reference.get(&key), Some(&value));
                        }
                        largest.fetch_max(store.len(), Ordering::Relaxed);
                    }
                    (inserted, evicted, reference)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert!(largest.load(Ordering::Relaxed) <= 1_000);
    assert_eq!(store.len(), 1_000);
    let inserted: u64 = results.iter().map(|(i, _, _)| i).sum();
    let evicted: u64 = results.iter().map(|(_, e, _)| e).sum();
    let mut held = 0;
    for (_, _, reference) in &results {
        for (key, value) in reference {
            if let Some(stored) = store.get(key, |v| *v) {
                assert_eq!(stored, *value);
                held += 1;
            }
        }
    }
    assert_eq!(held, 1_000);
    assert_eq!(inserted - held, evicted, "every entry lost was evicted");
}

/// Writers give keys short TTLs and readers check them: once a TTL has passed since the
/// write returned, the entry is never read again.
#[test]
fn expired_entries_are_never_returned_under_concurrency() {
    let store: MemoryStore<u64, (u64, Instant)> = MemoryStore::new(10_000);
    let stale = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for thread in 0..4_u64 {
            let (store, stale) = (&store, &stale);
            scope.spawn(move || {
                let mut rng = SplitMix::new(thread + 20);
                let started = Instant::now();
                while started.elapsed() < Duration::from_millis(400) {
                    let key = rng.next_u64() % 500;
                    if thread.is_multiple_of(2) {
                        let ttl = Duration::from_millis(1 + rng.next_u64() % 20);
                        store.compute(&key, |_| {
                            (
                                Action::Put((0, Instant::now() + ttl), Expiry::After(ttl)),
                                (),
                            )
                        });
                    } else {
                        // `expires` is taken after the store computes the deadline, and
                        // `asked` before the store looks at it: an entry expired when asked
                        // must not be returned.
                        let asked = Instant::now();
                        if let Some((_, expires)) = store.get(&key, |v| *v)
                            && asked > expires
                        {
                            stale.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    assert_eq!(stale.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_mixing_every_operation_never_deadlock() {
    for max_size in [8, 5_000] {
        let cache = memory_cache(max_size);
        let tasks: Vec<_> = (0..32_u64)
            .map(|task| {
                let cache = cache.clone();
                tokio::spawn(async move {
                    let mut rng = SplitMix::new(task + 30);
                    for _ in 0..2_000 {
                        let key = format!("k:{}", rng.next_u64() % 64);
                        match rng.next_u64() % 10 {
                            0..=2 => cache.set(&key, &task, None).await.unwrap(),
                            3 => drop(cache.get::<u64>(&key).await.unwrap()),
                            4 => drop(cache.delete(&key).await.unwrap()),
                            5 => match cache.set_nx(&key, &task, None).await {
                                Ok(_) => {}
                                // At most max_size claims are held: one more is refused.
                                Err(error) => assert!(error.to_string().contains("max_size")),
                            },
                            6 => drop(cache.incr("counter", 1).await.unwrap()),
                            7 => drop(cache.delete_pattern("k:1*").await.unwrap()),
                            8 => drop(cache.get_or_set(&key, || async { 1_u64 }, None).await),
                            _ if rng.next_u64().is_multiple_of(20) => cache.clear().await.unwrap(),
                            _ => drop(cache.exists(&key).await.unwrap()),
                        }
                        // `set_nx` claims (at most max_size of them, give or take the claims
                        // racing on other workers) are held beside the bound.
                        assert!(cache.entry_count().unwrap() <= 2 * max_size.min(64) + 32);
                    }
                })
            })
            .collect();
        let all = futures_join(tasks);
        tokio::time::timeout(Duration::from_secs(120), all)
            .await
            .expect("the tasks finished: no deadlock");
    }
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for task in tasks {
        task.await.expect("a task panicked");
    }
}

#[test]
fn a_sweep_of_cold_keys_leaves_the_hot_set_in_place() {
    let store: MemoryStore<u64, u64> = MemoryStore::new(1_000);
    let zipf = Zipf::new(100_000, 0.99);
    let mut rng = SplitMix::new(40);
    let mut cache_aside = |key: u64| {
        let hit = store.get(&key, |v| *v).is_some();
        if !hit {
            store.set(&key, key, LONG);
        }
        hit
    };
    let mut ratio = |cache_aside: &mut dyn FnMut(u64) -> bool| {
        let hits = (0..50_000)
            .filter(|_| cache_aside(zipf.sample(&mut rng) as u64))
            .count();
        hits as f64 / 50_000.0
    };
    ratio(&mut cache_aside);
    let before = ratio(&mut cache_aside);
    for cold in 1_000_000..1_100_000 {
        cache_aside(cold);
    }
    let after = ratio(&mut cache_aside);
    assert!(
        after > before - 0.02,
        "hit ratio {before:.3} before the sweep, {after:.3} after"
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

#[test]
fn clones_share_one_store() {
    let store: MemoryStore<String, Arc<str>> = MemoryStore::new(10);
    let other = store.clone();
    store.set("a", Arc::from("x"), LONG);
    assert_eq!(other.get("a", Arc::clone).as_deref(), Some("x"));
    assert_eq!(other.len(), 1);
}
