//! Point 4 of the issue: heap bytes per entry with 1,000,000 small entries (`u64` keys and
//! `u64` values), each store sized for exactly that many.

use std::hash::BuildHasher;
use std::time::Duration;

use cached::{Cached, LruCache};
use cached_bench::alloc::Counting;
use cached_bench::table::Table;
use cached_core::memory::MemoryStore;
use dashmap::DashMap;
use mini_moka::sync::ConcurrentCacheExt;

const ENTRIES: u64 = 1_000_000;
const TTL: Duration = Duration::from_secs(3600);

/// Builds a store, fills it and returns it with the entries it holds.
type Fill = fn() -> (Box<dyn Send>, u64);

fn ours() -> (Box<dyn Send>, u64) {
    let store: MemoryStore<u64, u64> = MemoryStore::new(ENTRIES as usize);
    for key in 0..ENTRIES {
        store.set(&key, key, TTL);
    }
    let held = store.len() as u64;
    (Box::new(store), held)
}

fn quick_cache() -> (Box<dyn Send>, u64) {
    let cache: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(ENTRIES as usize);
    for key in 0..ENTRIES {
        cache.insert(key, key);
    }
    let held = cache.len() as u64;
    (Box::new(cache), held)
}

fn moka(ttl: bool) -> (Box<dyn Send>, u64) {
    let mut builder = moka::sync::Cache::builder().max_capacity(ENTRIES);
    if ttl {
        builder = builder.time_to_live(TTL);
    }
    let cache: moka::sync::Cache<u64, u64> = builder.build();
    for key in 0..ENTRIES {
        cache.insert(key, key);
    }
    cache.run_pending_tasks();
    let held = cache.entry_count();
    (Box::new(cache), held)
}

fn mini_moka() -> (Box<dyn Send>, u64) {
    let cache: mini_moka::sync::Cache<u64, u64> = mini_moka::sync::Cache::builder()
        .max_capacity(ENTRIES)
        .time_to_live(TTL)
        .build();
    for key in 0..ENTRIES {
        cache.insert(key, key);
    }
    cache.sync();
    let held = cache.entry_count();
    (Box::new(cache), held)
}

fn cached_lru() -> (Box<dyn Send>, u64) {
    let mut lru: LruCache<u64, u64> = LruCache::builder()
        .max_size(ENTRIES as usize)
        .build()
        .expect("a valid size");
    for key in 0..ENTRIES {
        lru.cache_set(key, key);
    }
    let held = lru.cache_size() as u64;
    (Box::new(lru), held)
}

fn dashmap() -> (Box<dyn Send>, u64) {
    let map: DashMap<u64, u64, foldhash::fast::RandomState> =
        DashMap::with_hasher(foldhash::fast::RandomState::default());
    for key in 0..ENTRIES {
        map.insert(key, key);
    }
    let held = map.len() as u64;
    let _ = map.hasher().hash_one(0);
    (Box::new(map), held)
}

/// The table of bytes per entry.
pub(crate) fn run() -> String {
    let stores: [(&str, Fill); 7] = [
        ("cached-core MemoryStore (TTL)", ours),
        ("quick_cache 0.7", quick_cache),
        ("moka 0.12 sync (TTL)", || moka(true)),
        ("moka 0.12 sync (no TTL)", || moka(false)),
        ("mini-moka 0.10 (TTL)", mini_moka),
        ("cached 2 LruCache", cached_lru),
        ("DashMap, unbounded (floor)", dashmap),
    ];
    let mut table = Table::new(&["store", "entries held", "heap bytes", "bytes per entry"]);
    for (name, fill) in stores {
        eprintln!("  footprint: {name}");
        let before = Counting::live();
        let (store, held) = fill();
        let bytes = Counting::live().saturating_sub(before);
        drop(store);
        table.row(vec![
            name.to_owned(),
            held.to_string(),
            bytes.to_string(),
            format!("{:.1}", bytes as f64 / held.max(1) as f64),
        ]);
    }
    table.markdown()
}
