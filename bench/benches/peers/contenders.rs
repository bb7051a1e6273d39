//! Every store in the comparison behind one trait, each driven by the same loops.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::fmt::Debug;
use std::hash::Hash;
use std::hint::black_box;
use std::time::Duration;

use cached::{Cached, ConcurrentCached, LruCache, LruTtlCache, ShardedLruTtlCache};
use cached_bench::workload::{CAPACITY, Payload, payload};
use cached_core::memory::MemoryStore;
use cached_core::{Cache, CacheConfig};
use dashmap::DashMap;
use parking_lot::Mutex;

/// The TTL given to stores that take one; long enough never to expire during a run, so that
/// only the cost of keeping TTLs is measured.
pub(crate) const TTL: Duration = Duration::from_secs(3600);

/// A key type of the benchmark: `u64`, or `String` read through `&str`.
pub(crate) trait BenchKey:
    Clone + Hash + Eq + Debug + Send + Sync + 'static + Borrow<Self::Q>
{
    /// What lookups borrow the key as.
    type Q: ?Sized + Hash + Eq + ToOwned<Owned = Self>;
    /// The column title of this key type.
    const NAME: &'static str;
    /// The key as lookups take it.
    fn q(&self) -> &Self::Q;
}

impl BenchKey for u64 {
    type Q = u64;
    const NAME: &'static str = "u64";
    fn q(&self) -> &u64 {
        self
    }
}

impl BenchKey for String {
    type Q = str;
    const NAME: &'static str = "String";
    fn q(&self) -> &str {
        self
    }
}

/// One store under test.
pub(crate) trait Contender<K: BenchKey>: Send + Sync {
    /// For each rank of `stream`, a get and, on a miss, an insert; returns the hits.
    fn cache_aside(&self, keys: &[K], stream: &[u32]) -> u64;
    /// For each rank of `stream`, a get only; returns the hits.
    fn read_only(&self, keys: &[K], stream: &[u32]) -> u64;
    /// The ranks of `stream` whose get hits (each get counts as an access).
    fn hits_among(&self, keys: &[K], stream: &[u32]) -> Vec<u32>;
}

/// A constructor of fresh instances of one contender.
pub(crate) struct Entry<K: BenchKey> {
    pub(crate) name: &'static str,
    pub(crate) make: fn() -> Box<dyn Contender<K>>,
}

/// Implements `Contender` from a get (returning whether it hit, after cloning the value)
/// and an insert, run synchronously.
macro_rules! sync_contender {
    ($ty:ty, |$store:ident, $key:ident| get: $get:expr, insert: $insert:expr) => {
        impl<K: BenchKey> Contender<K> for $ty {
            fn cache_aside(&self, keys: &[K], stream: &[u32]) -> u64 {
                let $store = self;
                let mut hits = 0;
                for &rank in stream {
                    let $key = &keys[rank as usize];
                    if $get {
                        hits += 1;
                    } else {
                        let value = payload();
                        ($insert)(value);
                    }
                }
                hits
            }

            fn read_only(&self, keys: &[K], stream: &[u32]) -> u64 {
                let $store = self;
                let mut hits = 0;
                for &rank in stream {
                    let $key = &keys[rank as usize];
                    hits += u64::from($get);
                }
                hits
            }

            fn hits_among(&self, keys: &[K], stream: &[u32]) -> Vec<u32> {
                let $store = self;
                stream
                    .iter()
                    .copied()
                    .filter(|&rank| {
                        let $key = &keys[rank as usize];
                        $get
                    })
                    .collect()
            }
        }
    };
}

/// This crate's store, with a TTL on every entry.
pub(crate) struct Ours<K>(MemoryStore<K, Payload>);

sync_contender!(Ours<K>, |s, key|
    get: black_box(s.0.get(key.q(), Payload::clone)).is_some(),
    insert: |value| { s.0.set(key.q(), value, TTL); });

/// quick_cache's sync cache (no TTL).
pub(crate) struct QuickCache<K>(quick_cache::sync::Cache<K, Payload>);

sync_contender!(QuickCache<K>, |s, key|
    get: black_box(s.0.get(key.q())).is_some(),
    insert: |value| s.0.insert(key.clone(), value));

/// moka's sync cache, with a TTL.
pub(crate) struct MokaSync<K>(moka::sync::Cache<K, Payload>);

sync_contender!(MokaSync<K>, |s, key|
    get: black_box(s.0.get(key.q())).is_some(),
    insert: |value| s.0.insert(key.clone(), value));

/// mini-moka's sync cache, with a TTL.
pub(crate) struct MiniMoka<K>(mini_moka::sync::Cache<K, Payload>);

sync_contender!(MiniMoka<K>, |s, key|
    get: black_box(s.0.get(key)).is_some(),
    insert: |value| s.0.insert(key.clone(), value));

/// The `cached` crate's LRU behind a mutex, as `#[cached(max_size = ...)]` expands.
pub(crate) struct CachedLru<K: Hash + Eq>(Mutex<LruCache<K, Payload>>);

sync_contender!(CachedLru<K>, |s, key|
    get: black_box(s.0.lock().cache_get(key.q()).cloned()).is_some(),
    insert: |value| { s.0.lock().cache_set(key.clone(), value); });

/// The `cached` crate's LRU with a TTL behind a mutex (`#[cached(max_size, ttl)]`).
pub(crate) struct CachedLruTtl<K: Hash + Eq>(Mutex<LruTtlCache<K, Payload>>);

sync_contender!(CachedLruTtl<K>, |s, key|
    get: black_box(s.0.lock().cache_get(key.q()).cloned()).is_some(),
    insert: |value| { s.0.lock().cache_set(key.clone(), value); });

/// The `cached` crate's sharded LRU with a TTL (`#[concurrent_cached(max_size, ttl)]`).
pub(crate) struct CachedSharded<K: Hash + Eq>(ShardedLruTtlCache<K, Payload>);

sync_contender!(CachedSharded<K>, |s, key|
    get: black_box(ConcurrentCached::cache_get(&s.0, key).expect("infallible")).is_some(),
    insert: |value| { ConcurrentCached::cache_set(&s.0, key.clone(), value).expect("infallible"); });

/// A hand-rolled `std::sync::Mutex<HashMap>` bounded in insertion order.
pub(crate) struct MutexMap<K>(std::sync::Mutex<(HashMap<K, Payload>, VecDeque<K>)>);

sync_contender!(MutexMap<K>, |s, key|
get: black_box(s.0.lock().unwrap().0.get(key.q()).cloned()).is_some(),
insert: |value| {
    let mut guard = s.0.lock().unwrap();
    let (map, order) = &mut *guard;
    if map.len() >= CAPACITY
        && let Some(oldest) = order.pop_front()
    {
        map.remove(oldest.q());
    }
    if map.insert(key.clone(), value).is_none() {
        order.push_back(key.clone());
    }
});

/// The ceiling: a `DashMap` (foldhash) holding the 10,000 hottest keys, with no eviction
/// and no insert on a miss.
pub(crate) struct Ceiling<K>(DashMap<K, Payload, foldhash::fast::RandomState>);

sync_contender!(Ceiling<K>, |s, key|
    get: black_box(s.0.get(key.q()).map(|v| Payload::clone(&v))).is_some(),
    insert: |_value: Payload| ());

/// Runs `future` to completion on a current-thread runtime of the calling thread.
fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
        .block_on(future)
}

/// Implements `Contender` for an async store: each loop runs inside one `block_on`.
macro_rules! async_contender {
    ($ty:ty, $k:ty, |$store:ident, $key:ident| get: $get:expr, insert: $insert:expr) => {
        impl Contender<$k> for $ty {
            fn cache_aside(&self, keys: &[$k], stream: &[u32]) -> u64 {
                let $store = self;
                block_on(async {
                    let mut hits = 0;
                    for &rank in stream {
                        let $key = &keys[rank as usize];
                        if $get {
                            hits += 1;
                        } else {
                            let value = payload();
                            ($insert)(value).await;
                        }
                    }
                    hits
                })
            }

            fn read_only(&self, keys: &[$k], stream: &[u32]) -> u64 {
                let $store = self;
                block_on(async {
                    let mut hits = 0;
                    for &rank in stream {
                        let $key = &keys[rank as usize];
                        hits += u64::from($get);
                    }
                    hits
                })
            }

            fn hits_among(&self, keys: &[$k], stream: &[u32]) -> Vec<u32> {
                let $store = self;
                block_on(async {
                    let mut hits = Vec::new();
                    for &rank in stream {
                        let $key = &keys[rank as usize];
                        if $get {
                            hits.push(rank);
                        }
                    }
                    hits
                })
            }
        }
    };
}

/// moka's future cache, with a TTL.
pub(crate) struct MokaFuture<K>(moka::future::Cache<K, Payload>);

async_contender!(MokaFuture<u64>, u64, |s, key|
    get: black_box(s.0.get(key).await).is_some(),
    insert: |value| s.0.insert(*key, value));
async_contender!(MokaFuture<String>, String, |s, key|
    get: black_box(s.0.get(key.as_str()).await).is_some(),
    insert: |value| s.0.insert(key.clone(), value));

/// This crate's public async API: `Cache::get` and `Cache::set`, statistics and all.
pub(crate) struct OurCache(Cache);

async_contender!(OurCache, String, |s, key|
get: black_box(s.0.get::<Payload>(key).await.expect("memory never fails")).is_some(),
insert: |value: Payload| async move {
    s.0.set(key, &value, None).await.expect("memory never fails")
});

fn ours<K: BenchKey>() -> Box<dyn Contender<K>> {
    Box::new(Ours(MemoryStore::new(CAPACITY)))
}

fn quick_cache<K: BenchKey>() -> Box<dyn Contender<K>> {
    Box::new(QuickCache(quick_cache::sync::Cache::new(CAPACITY)))
}

fn moka_sync<K: BenchKey>() -> Box<dyn Contender<K>> {
    Box::new(MokaSync(
        moka::sync::Cache::builder()
            .max_capacity(CAPACITY as u64)
            .time_to_live(TTL)
            .build(),
    ))
}

fn moka_future<K: BenchKey>() -> Box<dyn Contender<K>>
where
    MokaFuture<K>: Contender<K>,
{
    Box::new(MokaFuture(
        moka::future::Cache::builder()
            .max_capacity(CAPACITY as u64)
            .time_to_live(TTL)
            .build(),
    ))
}

fn mini_moka<K: BenchKey>() -> Box<dyn Contender<K>> {
    Box::new(MiniMoka(
        mini_moka::sync::Cache::builder()
            .max_capacity(CAPACITY as u64)
            .time_to_live(TTL)
            .build(),
    ))
}

fn cached_lru<K: BenchKey>() -> Box<dyn Contender<K>> {
    let lru = LruCache::builder().max_size(CAPACITY).build();
    Box::new(CachedLru(Mutex::new(lru.expect("a valid size"))))
}

fn cached_lru_ttl<K: BenchKey>() -> Box<dyn Contender<K>> {
    let lru = LruTtlCache::builder().max_size(CAPACITY).ttl(TTL).build();
    Box::new(CachedLruTtl(Mutex::new(lru.expect("a valid size and TTL"))))
}

fn cached_sharded<K: BenchKey>() -> Box<dyn Contender<K>> {
    let lru = ShardedLruTtlCache::builder()
        .max_size(CAPACITY)
        .ttl(TTL)
        .build();
    Box::new(CachedSharded(lru.expect("a valid size and TTL")))
}

fn mutex_map<K: BenchKey>() -> Box<dyn Contender<K>> {
    Box::new(MutexMap(std::sync::Mutex::new((
        HashMap::with_capacity(CAPACITY),
        VecDeque::with_capacity(CAPACITY),
    ))))
}

fn our_cache() -> Box<dyn Contender<String>> {
    let config = CacheConfig::memory().with_max_size(CAPACITY).with_ttl(TTL);
    Box::new(OurCache(
        Cache::new("bench", &config).expect("a valid memory configuration"),
    ))
}

/// The ceiling, pre-filled with the hottest keys (ranks `0..CAPACITY`).
pub(crate) fn ceiling<K: BenchKey>(keys: &[K]) -> Box<dyn Contender<K>> {
    let map = DashMap::with_capacity_and_hasher(CAPACITY, Default::default());
    for key in &keys[..CAPACITY] {
        map.insert(key.clone(), payload());
    }
    Box::new(Ceiling(map))
}

/// The name of this crate's store, the subject of every ratio.
pub(crate) const OURS: &str = "cached-core MemoryStore";
/// The name of the reference of every ratio.
pub(crate) const REFERENCE: &str = "quick_cache 0.7";

/// Every bounded contender for keys of type `K`, ours first and the reference second.
pub(crate) fn bounded<K: BenchKey>() -> Vec<Entry<K>>
where
    MokaFuture<K>: Contender<K>,
{
    vec![
        Entry {
            name: OURS,
            make: ours::<K>,
        },
        Entry {
            name: REFERENCE,
            make: quick_cache::<K>,
        },
        Entry {
            name: "moka 0.12 sync",
            make: moka_sync::<K>,
        },
        Entry {
            name: "moka 0.12 future",
            make: moka_future::<K>,
        },
        Entry {
            name: "mini-moka 0.10",
            make: mini_moka::<K>,
        },
        Entry {
            name: "cached 2 LruCache + Mutex",
            make: cached_lru::<K>,
        },
        Entry {
            name: "cached 2 LruTtlCache + Mutex",
            make: cached_lru_ttl::<K>,
        },
        Entry {
            name: "cached 2 ShardedLruTtlCache",
            make: cached_sharded::<K>,
        },
        Entry {
            name: "Mutex<HashMap> (FIFO bound)",
            make: mutex_map::<K>,
        },
    ]
}

/// The public async API, for string keys only (`Cache` takes `&str` keys).
pub(crate) fn cache_api() -> Entry<String> {
    Entry {
        name: "cached-core Cache (async API)",
        make: our_cache,
    }
}
