//! The near cache in front of Redis: hits answered in the process, and copies dropped by the
//! server's invalidations whoever writes (another cache with its own connection, another OS
//! process, `redis-cli`), by this process's own writes at once, and all of them when the
//! connection is lost. Every test runs against real `redis-server`s.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cached_core::{Cache, CacheConfig, NearConfig};
use cached_tests::redis_server::{PATIENT, RedisServer};

/// How long a write in another process may take to reach a near cache (the push crosses
/// loopback in well under a millisecond, see BENCHMARKS.md): a generous bound, so that a
/// loaded machine never fails a correct run, yet far below "never", the failure it catches.
const PROPAGATION: Duration = Duration::from_millis(500);

/// How many `GET`s the server has run.
fn gets(server: &RedisServer) -> u64 {
    server
        .cli(&["INFO", "commandstats"])
        .lines()
        .find_map(|line| line.strip_prefix("cmdstat_get:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|calls| calls.parse().ok())
        .unwrap_or(0)
}

/// Reads `key` through `cache` until it is `expected`, for at most [`PROPAGATION`]; returns
/// the last value read.
async fn read_until(cache: &Cache, key: &str, expected: Option<&str>) -> Option<String> {
    let started = Instant::now();
    loop {
        let value: Option<String> = cache.get(key).await.unwrap();
        if value.as_deref() == expected || started.elapsed() > PROPAGATION {
            return value;
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

#[tokio::test]
async fn a_near_hit_makes_no_round_trip_and_is_counted() {
    let server = RedisServer::start();
    let cache = server.near_cache("n:", 100);
    cache.set("k", "v", None).await.unwrap();
    assert_eq!(
        cache.get::<String>("k").await.unwrap().as_deref(),
        Some("v")
    );
    let before = gets(&server);
    for _ in 0..100 {
        assert_eq!(
            cache.get::<String>("k").await.unwrap().as_deref(),
            Some("v")
        );
    }
    assert_eq!(gets(&server), before, "near hits sent no GET");
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.near_hits), (101, 100));

    let plain = server.cache("n:");
    let before = gets(&server);
    for _ in 0..10 {
        let _: Option<String> = plain.get("k").await.unwrap();
    }
    assert_eq!(
        gets(&server),
        before + 10,
        "a cache without one reads Redis"
    );
    assert_eq!(plain.stats().near_hits, 0);
}

#[tokio::test]
async fn a_copy_never_outlives_its_key_nor_the_near_ttl() {
    let server = RedisServer::start();
    let cache = server.near_cache("n:", 100);
    cache
        .set("short", "v", Some(Duration::from_millis(300)))
        .await
        .unwrap();
    assert!(cache.get::<String>("short").await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(cache.get::<String>("short").await.unwrap(), None);

    let bounded = server.near_cache(
        "b:",
        NearConfig::new(100).with_ttl(Duration::from_millis(200)),
    );
    bounded.set("long", "v", None).await.unwrap();
    assert!(bounded.get::<String>("long").await.unwrap().is_some());
    let before = gets(&server);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(bounded.get::<String>("long").await.unwrap().is_some());
    assert_eq!(
        gets(&server),
        before + 1,
        "the copy expired; Redis answered"
    );
}

/// Every way another client changes a key: the near copy in this cache goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_by_another_client_drops_the_copy() {
    let server = RedisServer::start();
    let near = server.near_cache("n:", 1_000);
    let other = server.cache("n:");
    type Write = fn(&RedisServer) -> Option<&'static str>;
    let raw: &[(&str, Write)] = &[
        ("redis-cli SET", |s| {
            s.cli(&["SET", "n:k", "\"raw\""]);
            Some("raw")
        }),
        ("redis-cli DEL", |s| {
            s.cli(&["DEL", "n:k"]);
            None
        }),
        ("redis-cli UNLINK", |s| {
            s.cli(&["UNLINK", "n:k"]);
            None
        }),
        ("redis-cli EXPIRE 0", |s| {
            s.cli(&["PEXPIRE", "n:k", "1"]);
            None
        }),
        ("redis-cli RENAME", |s| {
            s.cli(&["SET", "n:elsewhere", "\"moved\""]);
            s.cli(&["RENAME", "n:elsewhere", "n:k"]);
            Some("moved")
        }),
        ("redis-cli FLUSHDB", |s| {
            s.cli(&["FLUSHDB"]);
            None
        }),
        ("redis-cli FLUSHALL", |s| {
            s.cli(&["FLUSHALL"]);
            None
        }),
        ("redis-cli EVAL", |s| {
            s.cli(&[
                "EVAL",
                "redis.call('SET', KEYS[1], ARGV[1])",
                "1",
                "n:k",
                "\"lua\"",
            ]);
            Some("lua")
        }),
        ("redis-cli GETDEL", |s| {
            s.cli(&["GETDEL", "n:k"]);
            None
        }),
    ];
    for (what, write) in raw {
        prime(&near, &other).await;
        let expected = write(&server);
        assert_eq!(
            read_until(&near, "k", expected).await.as_deref(),
            expected,
            "after {what}"
        );
    }

    let cached = [
        "set",
        "delete",
        "delete_many",
        "pattern",
        "clear",
        "tags",
        "lock",
    ];
    for what in cached {
        prime(&near, &other).await;
        let expected = match what {
            "set" => {
                other.set("k", "new", None).await.unwrap();
                Some("new")
            }
            "delete" => {
                other.delete("k").await.unwrap();
                None
            }
            "delete_many" => {
                other.delete_many(&["k", "x"]).await.unwrap();
                None
            }
            "pattern" => {
                other.delete_pattern("?").await.unwrap();
                None
            }
            "clear" => {
                other.clear().await.unwrap();
                None
            }
            "tags" => {
                tag_and_drop(&near, &other).await;
                continue;
            }
            "lock" => {
                other.delete("k").await.unwrap();
                let guard = other.lock("k", Duration::from_secs(5)).await.unwrap();
                drop(guard);
                None
            }
            _ => unreachable!(),
        };
        assert_eq!(
            read_until(&near, "k", expected).await.as_deref(),
            expected,
            "after another cache's {what}"
        );
    }

    near.set("n", &5_i64, None).await.unwrap();
    assert_eq!(near.get::<i64>("n").await.unwrap(), Some(5));
    assert_eq!(near.get::<i64>("n").await.unwrap(), Some(5));
    other.incr("n", 2).await.unwrap();
    let started = Instant::now();
    while near.get::<i64>("n").await.unwrap() != Some(7) && started.elapsed() < PROPAGATION {}
    assert_eq!(near.get::<i64>("n").await.unwrap(), Some(7), "after incr");
}

/// Stores `k` = "old" and has `near` hold a copy (checked: a near hit). The push of an
/// earlier write may still be on its way and refuse the first read's copy, so this reads
/// until a copy of "old" is held.
async fn prime(near: &Cache, other: &Cache) {
    other.set("k", "old", None).await.unwrap();
    for _ in 0..100 {
        let first: Option<String> = near.get("k").await.unwrap();
        let hits = near.stats().near_hits;
        let second: Option<String> = near.get("k").await.unwrap();
        if first.as_deref() == Some("old")
            && second.as_deref() == Some("old")
            && near.stats().near_hits == hits + 1
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("no near copy of k after 100 reads");
}

/// An entry tagged through `other`, copied in `near`, dropped by `other`'s tag
/// invalidation.
async fn tag_and_drop(near: &Cache, other: &Cache) {
    other.tag("t", &["group"], None).await.unwrap();
    other.set("t", "tagged", None).await.unwrap();
    assert_eq!(
        near.get::<String>("t").await.unwrap().as_deref(),
        Some("tagged")
    );
    assert_eq!(
        near.get::<String>("t").await.unwrap().as_deref(),
        Some("tagged")
    );
    other.delete_tags(&["group"]).await.unwrap();
    assert_eq!(read_until(near, "t", None).await, None, "after delete_tags");
}

/// This process's own writes drop the copy before they return: no read after them gets
/// the old value, however soon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_writes_drop_the_copy_before_they_return() {
    let server = RedisServer::start();
    let cache = server.near_cache("o:", 1_000);
    let mut stale = 0;
    for round in 0..200_i64 {
        cache.set("k", &round, None).await.unwrap();
        assert_eq!(cache.get::<i64>("k").await.unwrap(), Some(round));
        assert_eq!(cache.get::<i64>("k").await.unwrap(), Some(round));
        let after: Option<i64> = match round % 6 {
            0 => {
                cache.set("k", &(round + 1000), None).await.unwrap();
                Some(round + 1000)
            }
            1 => {
                cache.delete("k").await.unwrap();
                None
            }
            2 => {
                cache.delete_many(&["k"]).await.unwrap();
                None
            }
            3 => {
                cache.delete_pattern("k*").await.unwrap();
                None
            }
            4 => Some(cache.incr("k", 1).await.unwrap()),
            _ => {
                cache.clear().await.unwrap();
                None
            }
        };
        if cache.get::<i64>("k").await.unwrap() != after {
            stale += 1;
        }
    }
    assert_eq!(
        stale, 0,
        "reads right after this process's writes got the old value"
    );
    assert!(cache.stats().near_hits >= 200);
}

/// Readers race other processes' writes: a value read just before a write must never be
/// kept after the write's invalidation arrived. Each round writes a new version through a
/// second connection while readers hammer the key; once the reader sees the new version it
/// must never see an older one again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_racing_an_invalidation_never_keeps_the_old_value() {
    let server = RedisServer::start();
    let near = server.near_cache("r:", 1_000);
    let writer = server.cache("r:");
    let rounds = 300_u64;
    let latest_written = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    writer.set("k", &0_u64, None).await.unwrap();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (near, stop) = (near.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let _: Option<u64> = near.get("k").await.unwrap();
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let mut regressions = 0;
    let mut late = 0;
    for version in 1..=rounds {
        writer.set("k", &version, None).await.unwrap();
        latest_written.store(version, Ordering::Release);
        let started = Instant::now();
        let mut seen = false;
        while started.elapsed() < PROPAGATION {
            if near.get::<u64>("k").await.unwrap() == Some(version) {
                seen = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        if !seen {
            late += 1;
            continue;
        }
        for _ in 0..20 {
            if near.get::<u64>("k").await.unwrap() != Some(version) {
                regressions += 1;
            }
            tokio::task::yield_now().await;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await.unwrap();
    }
    assert_eq!(
        (late, regressions),
        (0, 0),
        "of {rounds} writes: not seen within {PROPAGATION:?}, or an older value seen after the new"
    );
    assert!(near.stats().near_hits > 0, "the readers hit the near cache");
}

/// Many readers and writers on few keys: no read returns a version older than the last one
/// acknowledged more than [`PROPAGATION`] before the read began.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_readers_and_writers_see_no_value_older_than_the_bound() {
    let server = RedisServer::start();
    let readers_cache = server.near_cache("c:", 1_000);
    let writers_cache = server.cache("c:");
    let keys = 8;
    let origin = Instant::now();
    // Per key: the last version acknowledged, and when (micros since origin), newest first.
    let acked: Arc<Vec<ack_log::Log>> =
        Arc::new((0..keys).map(|_| ack_log::Log::default()).collect());
    for key in 0..keys {
        writers_cache
            .set(&format!("k{key}"), &0_u64, None)
            .await
            .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    // Each key has one writer, so that its versions are stored in the order they are issued.
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (cache, acked, stop) = (writers_cache.clone(), acked.clone(), stop.clone());
            tokio::spawn(async move {
                let mut turn = 0;
                while !stop.load(Ordering::Relaxed) {
                    turn += 1;
                    let key = (turn * 2 + w) % keys;
                    let next = acked[key].next();
                    cache.set(&format!("k{key}"), &next, None).await.unwrap();
                    acked[key].acked(next, origin.elapsed());
                    tokio::time::sleep(Duration::from_micros(300)).await;
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..6)
        .map(|r| {
            let (cache, acked, stop) = (readers_cache.clone(), acked.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut reads, mut stale) = (0_u64, 0_u64);
                let mut key = r;
                while !stop.load(Ordering::Relaxed) {
                    key = (key + 1) % keys;
                    let began = origin.elapsed();
                    let floor = acked[key].acked_before(began.saturating_sub(PROPAGATION));
                    let value: u64 = cache.get(&format!("k{key}")).await.unwrap().unwrap();
                    reads += 1;
                    if value < floor {
                        stale += 1;
                    }
                    tokio::task::yield_now().await;
                }
                (reads, stale)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    let (mut reads, mut stale) = (0, 0);
    for reader in readers {
        let (r, s) = reader.await.unwrap();
        reads += r;
        stale += s;
    }
    let stats = readers_cache.stats();
    eprintln!(
        "{reads} reads ({} near hits), {stale} older than the bound",
        stats.near_hits
    );
    assert_eq!(
        stale, 0,
        "reads older than {PROPAGATION:?} before they began"
    );
    assert!(reads > 1_000 && stats.near_hits > 0);
}

/// Versions acknowledged for one key, with when: enough to tell the newest one acknowledged
/// before a given time.
mod ack_log {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    /// The acknowledgements of one key's single writer, in order.
    #[derive(Default)]
    pub(super) struct Log {
        issued: AtomicU64,
        acked: Mutex<Vec<(Duration, u64)>>,
    }

    impl Log {
        /// A version higher than every one issued before.
        pub(super) fn next(&self) -> u64 {
            self.issued.fetch_add(1, Ordering::AcqRel) + 1
        }

        pub(super) fn acked(&self, version: u64, at: Duration) {
            self.acked.lock().unwrap().push((at, version));
        }

        /// The highest version acknowledged at or before `at` (0 for none).
        pub(super) fn acked_before(&self, at: Duration) -> u64 {
            let acked = self.acked.lock().unwrap();
            let before = acked.partition_point(|(when, _)| *when <= at);
            before.checked_sub(1).map_or(0, |last| acked[last].1)
        }
    }
}

/// A server killed (as a crash) and restarted empty while this cache holds copies: no read
/// after the restart gets a value the old server held. Rounds alternate between readers
/// running through the outage (their failures empty the near cache) and none (the lost
/// connection alone must empty it before the next read, which is then a near lookup first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_empties_the_near_cache() {
    let mut server = RedisServer::start();
    let cache = Cache::new(
        "near",
        &CacheConfig::redis(&server.url())
            .with_key_prefix("s:")
            .with_breaker(3, Duration::from_millis(100))
            .with_near(1_000),
    )
    .unwrap();
    for round in 0..4 {
        for key in 0..50 {
            cache
                .set(&format!("k{key}"), &format!("old{round}"), None)
                .await
                .unwrap();
            let _: Option<String> = cache.get(&format!("k{key}")).await.unwrap();
        }
        let near_before = cache.stats().near_hits;
        assert_eq!(
            cache.get::<String>("k0").await.unwrap(),
            Some(format!("old{round}"))
        );
        assert_eq!(cache.stats().near_hits, near_before + 1, "copies held");
        let stop = Arc::new(AtomicBool::new(false));
        let reader = (round % 2 == 0).then(|| {
            let (cache, stop) = (cache.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    for key in 0..50 {
                        let _ = cache.get::<String>(&format!("k{key}")).await;
                    }
                    tokio::task::yield_now().await;
                }
            })
        });
        server.stop();
        tokio::time::sleep(Duration::from_millis(50)).await;
        server.restart();
        let mut old = 0;
        let started = Instant::now();
        loop {
            for key in 0..50 {
                if let Ok(Some(_)) = cache.get::<String>(&format!("k{key}")).await {
                    old += 1;
                }
            }
            if cache.open_circuits().is_empty() || started.elapsed() > Duration::from_secs(5) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.store(true, Ordering::Relaxed);
        if let Some(reader) = reader {
            reader.await.unwrap();
        }
        assert!(cache.open_circuits().is_empty(), "Redis is back");
        assert_eq!(
            old, 0,
            "round {round}: values of the killed server were served"
        );
    }
}

/// A server that stops answering (paused): the cache fails open and drops its copies, since
/// invalidations may be missed; once the server answers again, copies come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_server_fails_open_and_drops_the_copies() {
    let server = RedisServer::start();
    let cache = Cache::new(
        "near",
        &CacheConfig::redis(&server.url())
            .with_key_prefix("p:")
            .with_response_timeout(Duration::from_millis(100))
            .with_breaker(1, Duration::from_millis(200))
            .with_near(100),
    )
    .unwrap();
    cache.set("k", "old", None).await.unwrap();
    let _: Option<String> = cache.get("k").await.unwrap();
    server.pause(Duration::from_millis(600));
    // Another client's write queued behind the pause: this cache may never hear of it in
    // time, so it must not keep serving its copy once it saw the server stop answering.
    let _ = cache.get::<String>("missing").await;
    assert!(!cache.open_circuits().is_empty(), "the circuit opened");
    let value = cache
        .get_or_set("k", || async { "loaded".to_owned() }, None)
        .await;
    assert_eq!(
        value, "loaded",
        "a get_or_set while Redis is out runs its loader"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    let started = Instant::now();
    while !cache.open_circuits().is_empty() && started.elapsed() < Duration::from_secs(5) {
        let _ = cache.get::<String>("k").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cache.set("k", "back", None).await.unwrap();
    assert_eq!(
        cache.get::<String>("k").await.unwrap().as_deref(),
        Some("back")
    );
    let hits = cache.stats().near_hits;
    assert_eq!(
        cache.get::<String>("k").await.unwrap().as_deref(),
        Some("back")
    );
    assert_eq!(cache.stats().near_hits, hits + 1, "copies come back");
}

/// `#[cached]`-style loads through a near cache: one load per key, hits in the process.
#[tokio::test]
async fn get_or_set_through_a_near_cache_loads_once_and_hits_near() {
    let server = RedisServer::start();
    let cache = server.near_cache("g:", 100);
    let loads = AtomicU64::new(0);
    for _ in 0..10 {
        let value = cache
            .get_or_set(
                "k",
                || async {
                    loads.fetch_add(1, Ordering::Relaxed);
                    vec![1_u32, 2, 3]
                },
                None,
            )
            .await;
        assert_eq!(value, [1, 2, 3]);
    }
    assert_eq!(loads.load(Ordering::Relaxed), 1);
    assert!(cache.stats().near_hits >= 8, "{:?}", cache.stats());
    // A copy kept as one type and read as another is read from Redis, not misread.
    assert_eq!(
        cache.get::<Vec<u64>>("k").await.unwrap(),
        Some(vec![1, 2, 3])
    );
}

const CHILD_URL: &str = "CACHED_NEAR_CHILD_REDIS_URL";

/// The second process of [`a_write_in_another_os_process_reaches_the_near_cache`].
#[tokio::test]
#[ignore = "run by a_write_in_another_os_process_reaches_the_near_cache"]
async fn writing_process() {
    let url = std::env::var(CHILD_URL).expect("started by the first process");
    let cache = Cache::new(
        "child",
        &CacheConfig::redis(&url)
            .with_key_prefix("x:")
            .with_connect_timeout(PATIENT)
            .with_response_timeout(PATIENT),
    )
    .unwrap();
    cache.set("k", "from the child", None).await.unwrap();
    cache.delete("gone").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_in_another_os_process_reaches_the_near_cache() {
    let server = RedisServer::start();
    let near = server.near_cache("x:", 100);
    for key in ["k", "gone"] {
        near.set(key, "old", None).await.unwrap();
        let _: Option<String> = near.get(key).await.unwrap();
    }
    let hits = near.stats().near_hits;
    assert_eq!(
        near.get::<String>("k").await.unwrap().as_deref(),
        Some("old")
    );
    assert_eq!(near.stats().near_hits, hits + 1);
    let url = server.url();
    assert!(
        cached_tests::run_second_process("writing_process", CHILD_URL, url).await,
        "the second process failed"
    );
    assert_eq!(
        read_until(&near, "k", Some("from the child"))
            .await
            .as_deref(),
        Some("from the child")
    );
    assert_eq!(read_until(&near, "gone", None).await, None);
}

static PROFILE_LOADS: AtomicU64 = AtomicU64::new(0);

#[cached_core::cached(ttl = 60, cache = "near-profiles")]
async fn profile(id: u64) -> String {
    PROFILE_LOADS.fetch_add(1, Ordering::Relaxed);
    format!("profile {id}")
}

#[cached_core::invalidates("profile:id={id}", cache = "near-profiles")]
async fn rename(id: u64) {
    let _ = id;
}

/// `#[cached]` on a Redis cache with a near cache, configured in one line: hits answered in
/// the process (the attribute's synchronous lookup), `#[invalidates]` dropping the copy.
/// The only test of this binary that configures the registry.
#[tokio::test]
async fn the_attribute_hits_the_near_cache_and_invalidates_it() {
    let server = RedisServer::start();
    let settings = cached_core::CacheSettings::from_toml(&format!(
        "[near-profiles]\nbackend = \"redis\"\nurl = \"{}\"\nnear = {{ max_size = 1000 }}\n",
        server.url()
    ))
    .unwrap();
    cached_core::configure(settings).unwrap();
    let cache = cached_core::get_cache("near-profiles").unwrap();
    for _ in 0..5 {
        assert_eq!(profile(7).await, "profile 7");
    }
    assert_eq!(PROFILE_LOADS.load(Ordering::Relaxed), 1);
    let before = gets(&server);
    assert_eq!(profile(7).await, "profile 7");
    assert_eq!(gets(&server), before, "a near hit");
    assert!(cache.stats().near_hits >= 4, "{:?}", cache.stats());
    rename(7).await;
    assert_eq!(profile(7).await, "profile 7");
    assert_eq!(
        PROFILE_LOADS.load(Ordering::Relaxed),
        2,
        "reloaded after #[invalidates]"
    );
}
