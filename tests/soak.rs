//! A soak of mixed load while Redis dies and comes back: tasks read through `#[cached]`
//! functions over a Redis cache and a memory cache (keys of a skewed popularity), write with
//! `#[invalidates]`, count with `incr`, take locks and delete patterns, while a Redis server
//! (or one primary of a cluster) is killed and restarted empty, over and over.
//!
//! It checks what the docs promise: no call of a `#[cached]` function fails; no read that
//! starts after a write returned sees an older version (read-your-writes, which
//! invalidation-wins gives); memory counters keep every increment and memory locks exclude;
//! Redis counters keep every increment acknowledged since the last restart (and hold no more
//! than were sent: a failed increment, a timeout say, may have been applied); hits come back
//! after every restart. It reports throughput, errors, latency, recovery times and resident memory per
//! window; latencies and recovery times are reported, not asserted.
//!
//! `cargo test -p cached-tests --test soak` runs 60 seconds with a restart every 15. Set
//! `SOAK_SECS`, `SOAK_TASKS`, `SOAK_KEYS`, `SOAK_RESTART_SECS`, `SOAK_WINDOW_SECS` and
//! `SOAK_TARGET=cluster` for other runs, and `SOAK_NEAR=N` to put a near cache of N copies in
//! front of the Redis cache; `BENCHMARKS.md` has the one-hour command and figures.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use cached_bench::histogram::Histogram;
use cached_core::{Cache, CacheConfig, CacheSettings, cached, configure, get_cache, invalidates};
use cached_tests::redis_server::{RedisCluster, RedisServer};
use cached_tests::{SplitMix, Zipf};
use serde::{Deserialize, Serialize};

const COUNTERS: usize = 8;
const LOCKS: usize = 4;
const LOCK_TIMEOUT: Duration = Duration::from_secs(2);
/// How long Redis stays down at each restart.
const DOWNTIME: Duration = Duration::from_millis(1_500);

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Settings {
    duration: Duration,
    tasks: usize,
    keys: usize,
    restart_every: Duration,
    window: Duration,
    cluster: bool,
    /// The near cache's size, when the Redis cache has one.
    near: Option<usize>,
}

impl Settings {
    fn from_env() -> Self {
        Self {
            duration: Duration::from_secs(env_number("SOAK_SECS", 60)),
            tasks: env_number("SOAK_TASKS", 64) as usize,
            keys: env_number("SOAK_KEYS", 50_000) as usize,
            restart_every: Duration::from_secs(env_number("SOAK_RESTART_SECS", 15)),
            window: Duration::from_secs(env_number("SOAK_WINDOW_SECS", 5)),
            cluster: std::env::var("SOAK_TARGET").is_ok_and(|t| t == "cluster"),
            near: std::env::var("SOAK_NEAR").ok().and_then(|n| n.parse().ok()),
        }
    }
}

/// What the `#[cached]` functions return: an item at the version the source had.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Item {
    id: u32,
    version: u64,
    payload: String,
}

/// The source of truth: a version per item, and the version of each item's last write that
/// has returned (a read starting after it must see at least that).
struct Source {
    versions: Vec<AtomicU64>,
    written: Vec<AtomicU64>,
}

static SOURCE: OnceLock<Source> = OnceLock::new();

fn source() -> &'static Source {
    SOURCE.get().expect("the soak set its source up")
}

fn load(id: u32) -> Item {
    Item {
        id,
        version: source().versions[id as usize].load(Ordering::SeqCst),
        payload: format!("item {id} of the soak, with some text to weigh it down"),
    }
}

#[cached(cache = "soak-redis", key = "soak:item:{id}")]
async fn item_redis(id: u32) -> Item {
    load(id)
}

#[cached(cache = "soak-memory", key = "soak:item:{id}")]
async fn item_memory(id: u32) -> Item {
    load(id)
}

#[invalidates("soak:item:{id}", cache = "soak-redis")]
async fn forget_redis(id: u32) {
    let _ = id;
}

#[invalidates("soak:item:{id}", cache = "soak-memory")]
async fn forget_memory(id: u32) {
    let _ = id;
}

/// Writes item `id`: a new version in the source, then the invalidation of both caches.
async fn write(id: u32) {
    let version = source().versions[id as usize].fetch_add(1, Ordering::SeqCst) + 1;
    forget_redis(id).await;
    forget_memory(id).await;
    source().written[id as usize].fetch_max(version, Ordering::SeqCst);
}

/// What every task counts, shared.
#[derive(Default)]
struct Tally {
    ops: AtomicU64,
    stale: AtomicU64,
    lock_overlaps: [AtomicU64; 2],
    lock_lost: [AtomicU64; 2],
    lock_errors: [AtomicU64; 2],
    incr_errors: [AtomicU64; 2],
    memory_increments: [AtomicU64; COUNTERS],
    /// Redis increments acknowledged, and sent (a failed one, a timeout say, may still have
    /// been applied).
    redis_acked: [AtomicU64; COUNTERS],
    redis_sent: [AtomicU64; COUNTERS],
    inside: [[AtomicUsize; LOCKS]; 2],
}

fn totals(counters: &[AtomicU64; COUNTERS]) -> [u64; COUNTERS] {
    counters.each_ref().map(|n| n.load(Ordering::SeqCst))
}

/// One restart: when Redis was killed and answered again, the increments sent before the
/// kill and those acknowledged before it was back.
#[derive(Clone, Copy)]
struct Restart {
    killed: Instant,
    back: Instant,
    sent_at_kill: [u64; COUNTERS],
    acked_at_back: [u64; COUNTERS],
}

/// Each task's latencies: reads on Redis, reads in memory, writes, increments, locks.
#[derive(Default, Clone)]
struct Latencies([Histogram; 5]);

const LATENCY_NAMES: [&str; 5] = ["read (redis)", "read (memory)", "write", "incr", "lock"];

async fn task(
    index: u64,
    deadline: Instant,
    zipf: Arc<Zipf>,
    tally: Arc<Tally>,
    caches: [Cache; 2],
) -> Latencies {
    let mut rng = SplitMix::new(index + 1);
    let mut latencies = Latencies::default();
    while Instant::now() < deadline {
        let id = zipf.sample(&mut rng) as u32;
        let roll = rng.next_u64() % 1_000;
        let started = Instant::now();
        let kind = match roll {
            0..800 => {
                let floor = source().written[id as usize].load(Ordering::SeqCst);
                let on_redis = roll.is_multiple_of(2);
                let item = if on_redis {
                    item_redis(id).await
                } else {
                    item_memory(id).await
                };
                if item.id != id || item.version < floor {
                    tally.stale.fetch_add(1, Ordering::SeqCst);
                }
                usize::from(!on_redis)
            }
            800..900 => {
                write(id).await;
                2
            }
            900..950 => {
                let (which, counter) = ((roll % 2) as usize, (roll / 2) as usize % COUNTERS);
                let done = caches[which]
                    .incr(&format!("soak:counter:{counter}"), 1)
                    .await;
                if which == 0 {
                    tally.redis_sent[counter].fetch_add(1, Ordering::SeqCst);
                    if done.is_ok() {
                        tally.redis_acked[counter].fetch_add(1, Ordering::SeqCst);
                    }
                }
                match done {
                    Ok(_) if which == 1 => {
                        tally.memory_increments[counter].fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(_) => {}
                    Err(_) => drop(tally.incr_errors[which].fetch_add(1, Ordering::SeqCst)),
                }
                3
            }
            950..998 => {
                let (which, lock) = ((roll % 2) as usize, (roll / 2) as usize % LOCKS);
                hold_lock(&caches[which], which, lock, &tally).await;
                4
            }
            _ => {
                let which = (roll % 2) as usize;
                let _ = caches[which].delete_pattern("soak:item:1*").await;
                2
            }
        };
        latencies.0[kind].record(started.elapsed());
        tally.ops.fetch_add(1, Ordering::Relaxed);
    }
    latencies
}

async fn hold_lock(cache: &Cache, which: usize, lock: usize, tally: &Tally) {
    let name = format!("soak:lock:{lock}");
    let guard = match cache.lock(&name, LOCK_TIMEOUT).await {
        Ok(guard) => guard,
        Err(_) => {
            tally.lock_errors[which].fetch_add(1, Ordering::SeqCst);
            return;
        }
    };
    if tally.inside[which][lock].fetch_add(1, Ordering::SeqCst) != 0 {
        tally.lock_overlaps[which].fetch_add(1, Ordering::SeqCst);
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    tally.inside[which][lock].fetch_sub(1, Ordering::SeqCst);
    match guard.release().await {
        Ok(true) => {}
        Ok(false) => drop(tally.lock_lost[which].fetch_add(1, Ordering::SeqCst)),
        Err(_) => drop(tally.lock_errors[which].fetch_add(1, Ordering::SeqCst)),
    }
}

/// The Redis under the soak: one server or a cluster, one of whose primaries dies.
enum Target {
    Server(RedisServer),
    Cluster(RedisCluster),
}

impl Target {
    fn config(&self) -> CacheConfig {
        match self {
            Target::Server(server) => CacheConfig::redis(&server.url()),
            Target::Cluster(cluster) => CacheConfig::redis_cluster(&cluster.urls()),
        }
    }

    /// Kills a server (the `round`-th primary of a cluster) and starts it again, empty,
    /// after [`DOWNTIME`]; returns when it was killed and when it answered again.
    fn restart(&mut self, round: usize) -> (Instant, Instant) {
        let killed = Instant::now();
        match self {
            Target::Server(server) => {
                server.stop();
                std::thread::sleep(DOWNTIME);
                server.restart();
            }
            Target::Cluster(cluster) => {
                let node = cluster.node_mut(round % 3);
                node.stop();
                std::thread::sleep(DOWNTIME);
                node.restart();
                cluster.wait_until_ok();
            }
        }
        (killed, Instant::now())
    }
}

/// Resident memory, from `/proc/self/statm`.
/// A counter, read once the cache answers again: the last restart may have left its circuit
/// cooling down.
async fn read_after_recovery(cache: &Cache, key: &str) -> u64 {
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        match cache.get::<u64>(key).await {
            Ok(held) => return held.unwrap_or(0),
            Err(error) if Instant::now() < give_up => {
                eprintln!("reading {key}: {error}; trying again");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("{key} unreadable 30 s after the soak: {error}"),
        }
    }
}

fn resident_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_load_through_redis_restarts_keeps_every_promise() {
    let settings = Settings::from_env();
    let _ = SOURCE.set(Source {
        versions: (0..settings.keys).map(|_| AtomicU64::new(0)).collect(),
        written: (0..settings.keys).map(|_| AtomicU64::new(0)).collect(),
    });
    let target = if settings.cluster {
        Target::Cluster(RedisCluster::start())
    } else {
        Target::Server(RedisServer::start())
    };
    configure(
        CacheSettings::new()
            .with_cache(
                "soak-redis",
                match settings.near {
                    Some(near) => target.config().with_near(near),
                    None => target.config(),
                },
            )
            .with_cache("soak-memory", CacheConfig::memory()),
    )
    .unwrap();
    let caches = [
        get_cache("soak-redis").unwrap(),
        get_cache("soak-memory").unwrap(),
    ];
    let started = Instant::now();
    let deadline = started + settings.duration;

    let running = Arc::new(AtomicBool::new(true));
    let tally = Arc::new(Tally::default());
    let restart_log: Arc<Mutex<Vec<Restart>>> = Arc::default();
    let restarts = {
        let (running, every) = (running.clone(), settings.restart_every);
        let (tally, log) = (tally.clone(), restart_log.clone());
        let mut target = target;
        std::thread::spawn(move || {
            let mut next = Instant::now() + every;
            let mut round = 0;
            while running.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
                if Instant::now() >= next && running.load(Ordering::SeqCst) {
                    let sent_at_kill = totals(&tally.redis_sent);
                    let (killed, back) = target.restart(round);
                    let acked_at_back = totals(&tally.redis_acked);
                    log.lock().unwrap().push(Restart {
                        killed,
                        back,
                        sent_at_kill,
                        acked_at_back,
                    });
                    round += 1;
                    next = Instant::now() + every;
                }
            }
            target
        })
    };

    let zipf = Arc::new(Zipf::new(settings.keys, 1.0));
    let tasks: Vec<_> = (0..settings.tasks as u64)
        .map(|index| {
            tokio::spawn(task(
                index,
                deadline,
                zipf.clone(),
                tally.clone(),
                caches.clone(),
            ))
        })
        .collect();

    // Windows, and the Redis cache's hits watched often to date each recovery: the first
    // hit after Redis is back.
    let mut windows = Vec::new();
    let mut recoveries: Vec<Option<Duration>> = Vec::new();
    let mut watching: Option<(Instant, u64)> = None;
    let (mut ops_before, mut errors_before) = (0, 0);
    let mut window_end = started + settings.window;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now = Instant::now();
        let hits = caches[0].stats().hits;
        let restarted = restart_log
            .lock()
            .unwrap()
            .get(recoveries.len())
            .map(|r| r.back);
        match (watching, restarted) {
            (Some((back, baseline)), _) if hits > baseline => {
                recoveries.push(Some(now - back));
                watching = None;
            }
            (None, Some(back)) => watching = Some((back, hits)),
            _ => {}
        }
        if now >= window_end {
            let ops = tally.ops.load(Ordering::Relaxed);
            let errors = caches[0].stats().errors;
            windows.push((
                now - started,
                (ops - ops_before) as f64 / settings.window.as_secs_f64(),
                errors - errors_before,
                resident_mib(),
            ));
            (ops_before, errors_before) = (ops, errors);
            window_end += settings.window;
        }
    }
    let mut latencies = Latencies::default();
    for task in tasks {
        let finished = task.await.expect("a task panicked");
        for (all, mine) in latencies.0.iter_mut().zip(&finished.0) {
            all.merge(mine);
        }
    }
    running.store(false, Ordering::SeqCst);
    let target = restarts.join().unwrap();
    let restart_log = restart_log.lock().unwrap().clone();
    recoveries.resize(restart_log.len(), None);

    // What the caches hold at the end.
    let mut memory_counters = Vec::new();
    let mut redis_counters = Vec::new();
    for counter in 0..COUNTERS {
        let key = format!("soak:counter:{counter}");
        memory_counters.push(caches[1].get::<u64>(&key).await.unwrap().unwrap_or(0));
        redis_counters.push(read_after_recovery(&caches[0], &key).await);
    }
    drop(target);

    // The report.
    let stats = caches[0].stats();
    println!(
        "soak: {:?}, {} tasks, {} keys, Redis {} restarted every {:?} ({} restarts)",
        settings.duration,
        settings.tasks,
        settings.keys,
        if settings.cluster {
            "cluster primary"
        } else {
            "server"
        },
        settings.restart_every,
        restart_log.len()
    );
    println!(
        "operations: {}; Redis cache hits {} (near {}), misses {}, errors {}; memory cache hits {}, misses {}",
        tally.ops.load(Ordering::Relaxed),
        stats.hits,
        stats.near_hits,
        stats.misses,
        stats.errors,
        caches[1].stats().hits,
        caches[1].stats().misses
    );
    println!("window (s) | ops/s | Redis errors | resident MiB");
    for (at, rate, errors, rss) in &windows {
        println!(
            "{:>10.0} | {rate:>7.0} | {errors:>12} | {rss:>6.1}",
            at.as_secs_f64()
        );
    }
    println!("latency | count | p50 | p99 | p99.9 | max");
    for (name, histogram) in LATENCY_NAMES.iter().zip(&latencies.0) {
        println!(
            "{name} | {} | {:?} | {:?} | {:?} | {:?}",
            histogram.count(),
            histogram.quantile(0.5),
            histogram.quantile(0.99),
            histogram.quantile(0.999),
            histogram.max()
        );
    }
    for (i, (restart, recovered)) in restart_log.iter().zip(&recoveries).enumerate() {
        println!(
            "restart {i}: killed at {:.2} s, back at {:.2} s, hits again {}",
            (restart.killed - started).as_secs_f64(),
            (restart.back - started).as_secs_f64(),
            recovered.map_or("never".to_owned(), |r| format!(
                "{:.0} ms after",
                r.as_secs_f64() * 1e3
            ))
        );
    }
    println!(
        "locks (redis, memory): overlaps {:?}, lost releases {:?}, errors {:?}; incr errors {:?}",
        tally
            .lock_overlaps
            .each_ref()
            .map(|n| n.load(Ordering::SeqCst)),
        tally.lock_lost.each_ref().map(|n| n.load(Ordering::SeqCst)),
        tally
            .lock_errors
            .each_ref()
            .map(|n| n.load(Ordering::SeqCst)),
        tally
            .incr_errors
            .each_ref()
            .map(|n| n.load(Ordering::SeqCst)),
    );

    // The promises.
    assert_eq!(
        tally.stale.load(Ordering::SeqCst),
        0,
        "reads older than a returned write"
    );
    assert_eq!(
        tally.lock_overlaps[1].load(Ordering::SeqCst),
        0,
        "memory lock overlaps"
    );
    assert_eq!(
        tally.lock_lost[1].load(Ordering::SeqCst),
        0,
        "memory locks lost"
    );
    let memory_expected: Vec<u64> = tally
        .memory_increments
        .iter()
        .map(|n| n.load(Ordering::SeqCst))
        .collect();
    assert_eq!(
        memory_counters, memory_expected,
        "memory counters kept every increment"
    );
    let (acked, sent) = (totals(&tally.redis_acked), totals(&tally.redis_sent));
    let last = restart_log.last();
    for (counter, held) in redis_counters.iter().enumerate() {
        // Acknowledged since Redis was last back: kept; sent since it was last killed (on a
        // cluster, which restarts one primary at a time, ever): at most that many.
        let least = acked[counter] - last.map_or(0, |r| r.acked_at_back[counter]);
        let most = sent[counter]
            - last
                .filter(|_| !settings.cluster)
                .map_or(0, |r| r.sent_at_kill[counter]);
        assert!(
            (least..=most).contains(held),
            "Redis counter {counter} holds {held}, increments since the last restart {least}..={most}"
        );
    }
    let end = started + settings.duration;
    for (restart, recovered) in restart_log.iter().zip(recoveries) {
        if end.saturating_duration_since(restart.back) > Duration::from_secs(5) {
            assert!(
                recovered.is_some(),
                "hits did not come back after a restart"
            );
        }
    }
}
