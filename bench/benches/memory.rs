//! Criterion benchmarks of the memory hit path and of throughput on the workload
//! (Zipf s = 0.99 over 1,000,000 keys, 10,000 entries, 100-byte values, a get and on a miss
//! an insert), for the store alone and through the public `Cache` API.
//!
//! `cargo bench -p cached-bench --bench memory`. The hit ratio of each Zipf run is printed
//! next to criterion's figures; `BENCHMARKS.md` records both. quick_cache runs the same
//! cases as the in-run reference for the store; the full peer comparison is the `peers`
//! bench of this package.

use std::hint::black_box;
use std::time::Duration;

use cached_bench::workload::{CAPACITY, KEYS, Payload, ZIPF_S, Zipf, payload, string_key};
use cached_core::memory::MemoryStore;
use cached_core::{Cache, CacheConfig};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const TTL: Duration = Duration::from_secs(3600);
/// Requests of one measured batch of the Zipf workload.
const BATCH: usize = 10_000;
/// Lookups of one measured batch of hits.
const HITS: usize = 1_000;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

fn cache() -> Cache {
    Cache::new(
        "bench",
        &CacheConfig::memory().with_max_size(CAPACITY).with_ttl(TTL),
    )
    .expect("a valid memory cache")
}

/// A hit: the store's `get` of a resident key, and `Cache::get` of one.
fn hits(c: &mut Criterion) {
    let mut group = c.benchmark_group("hit");
    group.throughput(Throughput::Elements(HITS as u64));

    let store: MemoryStore<u64, Payload> = MemoryStore::new(CAPACITY);
    for key in 0..HITS as u64 {
        store.set(&key, payload(), TTL);
    }
    group.bench_function("MemoryStore::get (u64 key)", |b| {
        b.iter(|| {
            for key in 0..HITS as u64 {
                black_box(store.get(black_box(&key), Payload::clone));
            }
        });
    });

    let reference: quick_cache::sync::Cache<u64, Payload> = quick_cache::sync::Cache::new(CAPACITY);
    for key in 0..HITS as u64 {
        reference.insert(key, payload());
    }
    group.bench_function("quick_cache get (u64 key, reference)", |b| {
        b.iter(|| {
            for key in 0..HITS as u64 {
                black_box(reference.get(black_box(&key)));
            }
        });
    });

    let runtime = runtime();
    let cache = cache();
    let keys: Vec<String> = (0..HITS as u32).map(string_key).collect();
    runtime.block_on(async {
        for key in &keys {
            cache
                .set(key, &payload(), None)
                .await
                .expect("a memory write");
        }
    });
    group.bench_function("Cache::get (string key)", |b| {
        b.iter(|| {
            runtime.block_on(async {
                for key in &keys {
                    black_box(
                        cache
                            .get::<Payload>(black_box(key))
                            .await
                            .expect("a memory read"),
                    );
                }
            });
        });
    });
    group.finish();
}

/// Cache-aside over the Zipf stream: get, and on a miss insert.
fn zipf(c: &mut Criterion) {
    let zipf = Zipf::new(KEYS, ZIPF_S);
    let warmup = zipf.stream(1, 2_000_000);
    let stream = zipf.stream(2, 4_000_000);
    let batches: Vec<&[u32]> = stream.chunks(BATCH).collect();
    let mut group = c.benchmark_group("zipf");
    group.throughput(Throughput::Elements(BATCH as u64));

    let store: MemoryStore<u64, Payload> = MemoryStore::new(CAPACITY);
    let reference: quick_cache::sync::Cache<u64, Payload> = quick_cache::sync::Cache::new(CAPACITY);
    let cases: [(&str, &dyn Fn(u32) -> bool); 2] = [
        ("MemoryStore (u64 keys)", &|rank| {
            let key = u64::from(rank);
            let hit = store.get(&key, Payload::clone).is_some();
            if !hit {
                store.set(&key, payload(), TTL);
            }
            hit
        }),
        ("quick_cache (u64 keys, reference)", &|rank| {
            let key = u64::from(rank);
            let hit = reference.get(&key).is_some();
            if !hit {
                reference.insert(key, payload());
            }
            hit
        }),
    ];
    for (name, request) in cases {
        warmup.iter().for_each(|&rank| {
            request(rank);
        });
        let hits = stream.iter().filter(|&&rank| request(rank)).count();
        print_hit_ratio(name, hits, stream.len());
        let mut next = batches.iter().cycle();
        group.bench_function(name, |b| {
            b.iter_batched(
                || *next.next().expect("a cycle never ends"),
                |batch| {
                    batch.iter().for_each(|&rank| {
                        black_box(request(rank));
                    })
                },
                BatchSize::SmallInput,
            );
        });
    }

    let runtime = runtime();
    let cache = cache();
    let keys: Vec<String> = (0..KEYS as u32).map(string_key).collect();
    let request = |rank: u32| {
        let (cache, key) = (&cache, &keys[rank as usize]);
        async move {
            if cache
                .get::<Payload>(key)
                .await
                .expect("a memory read")
                .is_none()
            {
                cache
                    .set(key, &payload(), None)
                    .await
                    .expect("a memory write");
                false
            } else {
                true
            }
        }
    };
    let hits = runtime.block_on(async {
        for &rank in &warmup {
            request(rank).await;
        }
        let mut hits = 0;
        for &rank in &stream {
            hits += usize::from(request(rank).await);
        }
        hits
    });
    print_hit_ratio("Cache API (string keys)", hits, stream.len());
    let mut next = batches.iter().cycle();
    group.bench_function("Cache API (string keys)", |b| {
        b.iter_batched(
            || *next.next().expect("a cycle never ends"),
            |batch| {
                runtime.block_on(async {
                    for &rank in batch {
                        black_box(request(rank).await);
                    }
                });
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

fn print_hit_ratio(case: &str, hits: usize, requests: usize) {
    println!(
        "zipf/{case}: hit ratio {:.2}%",
        100.0 * hits as f64 / requests as f64
    );
}

criterion_group!(benches, hits, zipf);
criterion_main!(benches);
