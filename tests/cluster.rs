//! What is particular to Redis Cluster caches: keys spread over three primaries, so
//! `delete_many` crosses slots, and `delete_pattern` and `clear` must scan every primary.
//! (Every method of the cache API also runs on a cluster in `cache_api.rs`.)

use std::time::Duration;

use cached_core::{Cache, CacheConfig, CacheSettings};
use cached_tests::redis_server::{PATIENT, RedisCluster};

fn keys(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("item:{i}")).collect()
}

/// A cache on `cluster` that gives a dead node 300 ms before failing open.
fn failing_fast(name: &str, cluster: &RedisCluster) -> Cache {
    let timeout = Duration::from_millis(300);
    let config = CacheConfig::redis_cluster(&cluster.urls())
        .with_connect_timeout(timeout)
        .with_response_timeout(timeout);
    Cache::new(name, &config).unwrap()
}

async fn fill(cache: &Cache, keys: &[String]) {
    for key in keys {
        cache.set(key, key, None).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_spread_over_primaries_are_deleted_scanned_and_cleared_on_all() {
    let cluster = RedisCluster::start();
    let settings = CacheSettings::from_json(
        &serde_json::json!({
            "default": {
                "backend": "redis",
                "nodes": cluster.urls(),
                "connect_timeout": PATIENT.as_millis() as u64,
                "response_timeout": PATIENT.as_millis() as u64,
            }
        })
        .to_string(),
    )
    .unwrap();
    let cache = Cache::new("default", settings.get("default").unwrap()).unwrap();
    let all = keys(300);
    fill(&cache, &all).await;
    let counts = cluster.key_counts();
    assert!(
        counts.iter().all(|&n| n > 0),
        "every primary holds some keys: {counts:?}"
    );
    assert_eq!(counts.iter().sum::<u64>(), 300);

    assert_eq!(
        cache.delete_many(&all[..150]).await.unwrap(),
        150,
        "one call across every slot"
    );
    assert_eq!(cluster.key_counts().iter().sum::<u64>(), 150);

    cache.set("other:1", &1, None).await.unwrap();
    assert_eq!(cache.delete_pattern("item:*").await.unwrap(), 150);
    assert_eq!(cluster.key_counts().iter().sum::<u64>(), 1);

    fill(&cache, &all).await;
    cache.clear().await.unwrap();
    assert_eq!(
        cluster.key_counts(),
        [0, 0, 0],
        "clear without a prefix flushes every primary"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_with_a_prefix_scans_every_primary_and_spares_other_keys() {
    let cluster = RedisCluster::start();
    let mine = cluster.cache("mine:");
    let theirs = cluster.cache("theirs:");
    let all = keys(200);
    fill(&mine, &all).await;
    fill(&theirs, &all).await;
    mine.clear().await.unwrap();
    assert_eq!(cluster.key_counts().iter().sum::<u64>(), 200);
    for key in &all {
        assert!(!mine.exists(key).await.unwrap());
        assert!(theirs.exists(key).await.unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_and_counters_work_on_every_primary() {
    let cluster = RedisCluster::start();
    let cache = cluster.cache("");
    let names: Vec<String> = (0..30).map(|i| format!("lock:{i}")).collect();
    let mut guards = Vec::new();
    for name in &names {
        guards.push(cache.lock(name, Duration::from_secs(30)).await.unwrap());
    }
    let other_process = cluster.cache("");
    for name in &names {
        assert!(
            other_process
                .try_lock(name, Duration::from_secs(30))
                .await
                .unwrap()
                .is_none()
        );
    }
    for guard in guards {
        assert!(guard.release().await.unwrap());
    }
    for (i, name) in names.iter().enumerate() {
        let counter = format!("{name}:count");
        assert_eq!(cache.incr(&counter, i as i64).await.unwrap(), i as i64);
        cache.set(&counter, &i.to_string(), None).await.unwrap();
        assert_eq!(cache.incr(&counter, 1).await.unwrap(), i as i64 + 1);
    }
    assert_eq!(cluster.key_counts().iter().sum::<u64>(), 30);
}

/// Leases live in their key's place, so in its hash slot: invalidation wins on a cluster as
/// on one server, for keys spread over every primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_racing_another_process_invalidations_store_nothing_stale() {
    use cached_tests::races::{Invalidation, Pause, Series};

    let cluster = RedisCluster::start();
    let (reader, writer) = (cluster.cache(""), cluster.cache(""));
    Series {
        name: "cluster, two processes",
        reader: &reader,
        writer: &writer,
        races: 300,
        parallel: true,
        pause: Pause::Micros(1_500),
        seed: 21,
    }
    .assert_no_stale(&[
        Invalidation::Delete,
        Invalidation::Pattern,
        Invalidation::Set,
    ])
    .await;
    let counts = cluster.key_counts();
    assert!(
        counts.iter().all(|&n| n > 0),
        "the races' keys spread over every primary: {counts:?}"
    );
}

/// A killed primary costs only its own slots: each primary has its own circuit, so while
/// the dead one times out and then fails fast, keys on the healthy primaries keep hitting;
/// once its replica is promoted, the slot map moves its slots to a fresh circuit and they
/// hit again. (The cluster runs with `cluster-require-full-coverage no`: otherwise Redis
/// itself refuses every command from when it declares the primary failed until a replica
/// takes over; `BENCHMARKS.md` has the figures of both.) Measured: the hit ratio of each
/// group of keys while the primary is down, and how long its keys took to hit again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_primary_costs_only_its_own_slots() {
    let (healthy_hits, healthy_calls) = kill_a_primary(false).await;
    assert!(
        healthy_calls > 100,
        "the healthy keys were read while the primary was down"
    );
    assert!(
        healthy_hits * 100 >= healthy_calls * 95,
        "healthy primaries' keys hit only {healthy_hits} of {healthy_calls} while one primary was down"
    );
}

/// The same with Redis' default `cluster-require-full-coverage yes`, measured for
/// `BENCHMARKS.md`: `cargo test -p cached-tests --test cluster full_coverage -- --ignored
/// --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for BENCHMARKS.md; the test above runs with partial coverage"]
async fn a_killed_primary_under_full_coverage() {
    let (hits, calls) = kill_a_primary(true).await;
    assert!(calls > 0);
    eprintln!("healthy keys under full coverage: {hits} of {calls}");
}

/// Kills a primary of a 6-node cluster under load; returns the healthy primaries' keys'
/// hits and calls from the kill to the replica's promotion.
async fn kill_a_primary(full_coverage: bool) -> (usize, usize) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    use tokio::sync::Mutex;

    let mut cluster = RedisCluster::start_with_replicas(full_coverage);
    let cache = failing_fast("failover", &cluster);
    let all = keys(300);
    fill(&cache, &all).await;
    let owners: Vec<u16> = all.iter().map(|key| cluster.primary_of(0, key)).collect();
    let victim_port = owners[0];
    let victim = cluster
        .nodes()
        .iter()
        .position(|node| node.port() == victim_port)
        .unwrap();
    let survivor = (0..cluster.nodes().len())
        .find(|&i| cluster.nodes()[i].port() != victim_port && i != victim)
        .unwrap();
    let on_victim: Vec<bool> = owners.iter().map(|&port| port == victim_port).collect();
    assert!(on_victim.iter().any(|&v| v) && on_victim.iter().any(|&v| !v));

    // Four tasks read every key in turn; each call is recorded: when, which group, hit.
    let calls = Arc::new(Mutex::new(Vec::<(Instant, bool, bool)>::new()));
    let running = Arc::new(AtomicBool::new(true));
    let tasks: Vec<_> = (0..4)
        .map(|task| {
            let (cache, all, on_victim, calls, running) = (
                cache.clone(),
                all.clone(),
                on_victim.clone(),
                calls.clone(),
                running.clone(),
            );
            tokio::spawn(async move {
                let mut i = task * 75;
                while running.load(Ordering::SeqCst) {
                    let key = &all[i % all.len()];
                    let loaded = AtomicBool::new(false);
                    let value: String = cache
                        .get_or_set(
                            key,
                            || async {
                                loaded.store(true, Ordering::SeqCst);
                                key.clone()
                            },
                            None,
                        )
                        .await;
                    assert_eq!(&value, key, "a wrong value");
                    let hit = !loaded.load(Ordering::SeqCst);
                    calls
                        .lock()
                        .await
                        .push((Instant::now(), on_victim[i % all.len()], hit));
                    i += 1;
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed = Instant::now();
    cluster.node_mut(victim).stop();
    // The victim's replica takes over: wait until the survivor sees a primary serving the
    // victim's first key on another port.
    let promoted = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let port = tokio::task::block_in_place(|| {
            std::panic::catch_unwind(|| cluster.primary_of(survivor, &all[0])).ok()
        });
        if port.is_some_and(|port| port != victim_port) {
            break Instant::now();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "no replica was promoted"
        );
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    running.store(false, Ordering::SeqCst);
    for task in tasks {
        task.await.unwrap();
    }

    let calls = calls.lock().await;
    let ratio = |victim: bool| {
        let window: Vec<bool> = calls
            .iter()
            .filter(|(at, on, _)| *at > killed && *at < promoted && *on == victim)
            .map(|(_, _, hit)| *hit)
            .collect();
        let hits = window.iter().filter(|hit| **hit).count();
        (hits, window.len())
    };
    let (healthy_hits, healthy_calls) = ratio(false);
    let (victim_hits, victim_calls) = ratio(true);
    let back = calls
        .iter()
        .filter(|(at, on, hit)| *at > promoted && *on && *hit)
        .map(|(at, _, _)| *at - killed)
        .min();
    eprintln!(
        "killed primary: promoted after {:.2} s; while down, healthy primaries' keys hit {healthy_hits} of {healthy_calls}, the dead primary's {victim_hits} of {victim_calls}; its keys hit again {:.2} s after the kill",
        (promoted - killed).as_secs_f64(),
        back.map_or(f64::NAN, |b| b.as_secs_f64())
    );
    assert!(back.is_some(), "the dead primary's keys never hit again");
    (healthy_hits, healthy_calls)
}

/// Commands that span the primaries skip one whose node is down (after its first timeout,
/// at once), do their work on the others, and name it in the error they return.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_across_nodes_skip_a_dead_primary_and_name_it() {
    use cached_core::{BackendError, Error};

    let mut cluster = RedisCluster::start_partial();
    let cache = failing_fast("spanning", &cluster);
    let all = keys(300);
    fill(&cache, &all).await;
    let dead_port = cluster.nodes()[0].port();
    let on_dead: Vec<bool> = all
        .iter()
        .map(|key| cluster.primary_of(1, key) == dead_port)
        .collect();
    cluster.node_mut(0).stop();
    let dead = format!("127.0.0.1:{dead_port}");
    let partial = |result: cached_core::Result<usize>| match result {
        Err(Error::Backend {
            source: BackendError::Partial { done, unreachable },
            ..
        }) => (done, unreachable),
        other => panic!("expected a partial result, got {other:?}"),
    };

    let (done, unreachable) = partial(cache.delete_many(&all[..100]).await);
    assert_eq!(unreachable, std::slice::from_ref(&dead));
    let alive_in_first = on_dead[..100].iter().filter(|&&d| !d).count();
    assert_eq!(
        done, alive_in_first,
        "every key on the live primaries removed"
    );
    assert_eq!(cache.open_circuits(), std::slice::from_ref(&dead));

    let (done, unreachable) = partial(cache.delete_pattern("item:*").await);
    assert_eq!(unreachable, std::slice::from_ref(&dead));
    assert_eq!(done, on_dead[100..].iter().filter(|&&d| !d).count());
    for (key, &dead) in all.iter().zip(&on_dead).filter(|(_, d)| !**d) {
        assert!(
            !cache.exists(key).await.unwrap(),
            "{key} removed (dead: {dead})"
        );
    }
    assert!(matches!(
        cache.clear().await,
        Err(Error::Backend {
            source: BackendError::Partial { .. },
            ..
        })
    ));
}

/// Slots migrating between primaries while four tasks read and write, moved as `redis-cli
/// --cluster reshard` moves them (`SETSLOT IMPORTING`/`MIGRATING`, `MIGRATE` of the keys,
/// then `SETSLOT NODE`), one key at a time with a pause, so that for a second the keys of
/// each slot are split between the two nodes: a key already moved is answered `ASK` by its
/// old node and asked of the new one after `ASKING`; a command on keys split between the
/// two gets `TRYAGAIN` and is tried again. No caller sees an error, every read returns the
/// last value its task wrote (or a miss, never an older one), and hits go on throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_migrating_under_load_cost_no_error_and_no_stale_value() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    const KEYS: usize = 120;
    /// Keys in four hash slots (their hash tags), thirty keys each.
    fn key(i: usize) -> String {
        format!("{{t{}}}k{i}", i % 4)
    }

    let cluster = Arc::new(RedisCluster::start());
    let cache = cluster.cache("mig:");
    for i in 0..KEYS {
        cache.set(&key(i), &(i, 0_u64), None).await.unwrap();
    }

    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..4)
        .map(|task| {
            let (cache, stop) = (cache.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut errors = Vec::new();
                let (mut hits, mut stale, mut version) = (0_u64, 0_u64, 0_u64);
                // Each task owns every fourth key: what it last wrote is what it must read.
                let mine: Vec<usize> = (task..KEYS).step_by(4).collect();
                let mut last = vec![0_u64; KEYS];
                while !stop.load(Ordering::Relaxed) {
                    version += 1;
                    for &i in &mine {
                        match cache.get::<(usize, u64)>(&key(i)).await {
                            Ok(Some((_, seen))) if seen == last[i] => hits += 1,
                            Ok(Some(_)) => stale += 1,
                            Ok(None) => {}
                            Err(error) => errors.push(format!("get: {error}")),
                        }
                        match cache.set(&key(i), &(i, version), None).await {
                            Ok(()) => last[i] = version,
                            Err(error) => errors.push(format!("set: {error}")),
                        }
                        let loaded_key = format!("{}:loaded", key(i));
                        let loaded = cache
                            .get_or_set(&loaded_key, || async move { i }, None)
                            .await;
                        assert_eq!(loaded, i);
                        if i % 5 == 0 {
                            let pair = [loaded_key, format!("{}:other", key(i))];
                            if let Err(error) = cache.delete_many(&pair).await {
                                errors.push(format!("delete_many: {error}"));
                            }
                        }
                    }
                }
                (hits, stale, errors)
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(200)).await;
    let migrating = Arc::clone(&cluster);
    let moved = tokio::task::spawn_blocking(move || {
        (0..4)
            .map(|tag| migrate_slot(&migrating, &format!("mig:{{t{tag}}}")))
            .sum::<usize>()
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);

    let (mut hits, mut stale, mut errors) = (0, 0, Vec::new());
    for task in tasks {
        let (h, s, e) = task.await.unwrap();
        hits += h;
        stale += s;
        errors.extend(e);
    }
    assert!(moved >= KEYS, "the slots' keys moved one by one: {moved}");
    assert!(errors.is_empty(), "caller-visible errors: {errors:?}");
    assert_eq!(stale, 0, "stale values read");
    assert!(hits > KEYS as u64, "hits went on: {hits}");
    assert_eq!(cache.stats().errors, 0);
}

/// Moves the slot of `key` to the next primary, one key at a time with a pause; returns how
/// many keys were moved.
fn migrate_slot(cluster: &RedisCluster, key: &str) -> usize {
    let nodes = cluster.nodes();
    let from_port = cluster.primary_of(0, key);
    let from = nodes.iter().position(|n| n.port() == from_port).unwrap();
    let to = (from + 1) % nodes.len();
    let (source, target) = (&nodes[from], &nodes[to]);
    let slot = source.cli(&["CLUSTER", "KEYSLOT", key]);
    let (source_id, target_id) = (
        source.cli(&["CLUSTER", "MYID"]),
        target.cli(&["CLUSTER", "MYID"]),
    );
    assert_eq!(
        target.cli(&["CLUSTER", "SETSLOT", &slot, "IMPORTING", &source_id]),
        "OK"
    );
    assert_eq!(
        source.cli(&["CLUSTER", "SETSLOT", &slot, "MIGRATING", &target_id]),
        "OK"
    );
    let target_port = target.port().to_string();
    let mut moved = 0;
    loop {
        let next = source.cli(&["CLUSTER", "GETKEYSINSLOT", &slot, "1"]);
        if next.is_empty() {
            break;
        }
        let reply = source.cli(&["MIGRATE", "127.0.0.1", &target_port, &next, "0", "5000"]);
        assert!(reply == "OK" || reply == "NOKEY", "MIGRATE: {reply}");
        moved += 1;
        std::thread::sleep(Duration::from_millis(8));
    }
    for node in nodes {
        node.cli(&["CLUSTER", "SETSLOT", &slot, "NODE", &target_id]);
    }
    moved
}
