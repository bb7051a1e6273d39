//! Same answers on every backend: one random sequence of cache operations (every method,
//! tags included, keys of every character class, glob patterns, TTLs, counters held as
//! numbers and as strings, values of several types read back as other types) runs against a memory cache
//! and against a real Redis (under a key prefix full of glob characters), and every answer
//! is compared.
//!
//! The sequence has a fixed seed and `DIFFERENTIAL_OPS` operations (20,000 unless set);
//! `DIFFERENTIAL_OPS=100000 DIFFERENTIAL_SEED=7 cargo test -p cached-tests --test
//! differential` runs a larger one.

use std::fmt::Debug;
use std::time::Duration;

use cached_core::{Cache, CacheConfig, Error, Ttl};
use cached_tests::SplitMix;
use cached_tests::redis_server::{PATIENT, RedisServer};
use serde::Serialize;
use serde::de::DeserializeOwned;

const DEFAULT_TTL: Duration = Duration::from_secs(3_600);

/// Keys of every character class: separators, glob characters, escapes, whitespace and
/// control characters, non-ASCII, the empty key, long keys, and keys that are prefixes of
/// each other.
fn keys() -> Vec<String> {
    let mut keys: Vec<String> = [
        "",
        "a",
        "ab",
        "abc",
        "b",
        "user:1",
        "user:10",
        "user:2",
        "user:1:posts",
        "users",
        "*",
        "?",
        "[",
        "]",
        "[a]",
        "\\",
        "\\*",
        "a*b",
        "a?b",
        "^",
        "-",
        "a-z",
        "%",
        "%2A",
        " ",
        "a b",
        "\t",
        "\n",
        "line\r\n",
        "\0",
        "\u{7f}",
        "é",
        "café",
        "cafe",
        "caf",
        "日本",
        "🦀",
        "\u{a0}",
        "x[y",
        "x]y",
        "counter",
        "n:1",
        "n:2",
        "n:-",
        "lock:a",
        "lock:b",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    keys.push("k".repeat(300));
    keys.push(format!("{}*", "k".repeat(299)));
    keys
}

/// Patterns: every key escaped or not, its prefixes with `*` and `?`, classes, ranges and
/// malformed classes.
fn pattern(rng: &mut SplitMix, keys: &[String]) -> String {
    const PARTS: &[&str] = &[
        "*", "?", "[ab]", "[^a]", "[a-c]", "[c-a]", "[]]", "[^]]", "[a-]", "[\\]]", "\\*", "\\",
        "[", "user:", "n:", "a", "b", "é", ":", "1", "[0-9]", "**", "x[", "lock:",
    ];
    match rng.next_u64() % 3 {
        0 => {
            let key = pick(rng, keys);
            let cut = key
                .char_indices()
                .map(|(i, _)| i)
                .nth((rng.next_u64() % 4) as usize)
                .unwrap_or(key.len());
            format!("{}{}", &key[..cut], pick(rng, &["*", "?", "", "?*"]))
        }
        _ => (0..1 + rng.next_u64() % 4)
            .map(|_| *pick(rng, PARTS))
            .collect(),
    }
}

fn pick<'a, T>(rng: &mut SplitMix, items: &'a [T]) -> &'a T {
    &items[(rng.next_u64() % items.len() as u64) as usize]
}

/// A value of one of several types; each is stored as itself and read back as any type.
#[derive(Clone, Debug)]
enum Value {
    Unsigned(u64),
    Signed(i64),
    Text(String),
    Float(f64),
    Bytes(Vec<u8>),
    Optional(Option<String>),
}

fn value(rng: &mut SplitMix) -> Value {
    const TEXTS: &[&str] = &[
        "",
        "5",
        "-5",
        "0",
        "-0",
        "+5",
        "05",
        " 5",
        "5 ",
        "\t5",
        "5\n",
        "\u{a0}5",
        "٣",
        "1e3",
        "5.0",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "abc",
        "null",
        "\"",
        "é",
        "🦀",
    ];
    const SIGNED: &[i64] = &[
        0,
        1,
        -1,
        42,
        i64::MAX,
        i64::MIN,
        i64::MAX - 1,
        1 << 53,
        (1 << 53) + 1,
    ];
    match rng.next_u64() % 6 {
        0 => Value::Unsigned(match rng.next_u64() % 3 {
            0 => rng.next_u64(),
            1 => u64::MAX,
            _ => rng.next_u64() % 100,
        }),
        1 => Value::Signed(*pick(rng, SIGNED)),
        2 => Value::Text((*pick(rng, TEXTS)).to_owned()),
        3 => Value::Float(loop {
            let float = match rng.next_u64() % 3 {
                0 => f64::from_bits(rng.next_u64()),
                1 => (rng.next_u64() % 1000) as f64 / 8.0 - 60.0,
                _ => *pick(rng, &[0.0, -0.0, 5e-324, f64::MAX, f64::MIN_POSITIVE, 0.1]),
            };
            if float.is_finite() {
                break float;
            }
        }),
        4 => Value::Bytes(
            (0..rng.next_u64() % 5)
                .map(|_| rng.next_u64() as u8)
                .collect(),
        ),
        _ => Value::Optional(match rng.next_u64() % 3 {
            0 => None,
            1 => Some(String::new()),
            _ => Some((*pick(rng, TEXTS)).to_owned()),
        }),
    }
}

/// An answer, in a form both backends can be compared in: values by their debug form (and
/// floats by their bits), errors by kind.
#[derive(Debug, PartialEq)]
enum Answer {
    Value(String),
    Remaining(Option<Duration>, bool),
    NotAnInteger,
    Encode,
    Other(String),
}

fn answer<T: Debug>(result: Result<T, Error>) -> Answer {
    match result {
        Ok(value) => Answer::Value(format!("{value:?}")),
        Err(Error::NotAnInteger { .. }) => Answer::NotAnInteger,
        Err(Error::Encode { .. }) => Answer::Encode,
        Err(other) => Answer::Other(other.to_string()),
    }
}

/// Floats compare by their bits: `-0.0` and `0.0` differ, and so would two NaNs.
fn float_answer(result: Result<Option<f64>, Error>) -> Answer {
    answer(result.map(|found| found.map(f64::to_bits)))
}

/// A TTL, to the second (the two backends set it a few microseconds apart).
fn ttl_answer(result: Result<Ttl, Error>) -> Answer {
    match result {
        Ok(Ttl::Absent) => Answer::Remaining(None, false),
        Ok(Ttl::NoExpiry) => Answer::Remaining(None, true),
        Ok(Ttl::Expires(left)) => Answer::Remaining(
            Some(Duration::from_secs(left.as_secs_f64().round() as u64)),
            true,
        ),
        Err(error) => answer::<()>(Err(error)),
    }
}

async fn set_value(cache: &Cache, key: &str, value: &Value, ttl: Option<Duration>) -> Answer {
    async fn set<
        T: Serialize + serde::de::DeserializeOwned + ToOwned<Owned = T> + Send + Sync + 'static,
    >(
        cache: &Cache,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
    ) -> Answer {
        answer(cache.set(key, value, ttl).await)
    }
    match value {
        Value::Unsigned(v) => set(cache, key, v, ttl).await,
        Value::Signed(v) => set(cache, key, v, ttl).await,
        Value::Text(v) => set(cache, key, v, ttl).await,
        Value::Float(v) => set(cache, key, v, ttl).await,
        Value::Bytes(v) => set(cache, key, v, ttl).await,
        Value::Optional(v) => set(cache, key, v, ttl).await,
    }
}

async fn get_as(cache: &Cache, key: &str, kind: u64) -> Answer {
    async fn get<T: DeserializeOwned + Clone + Send + Sync + Debug + 'static>(
        cache: &Cache,
        key: &str,
    ) -> Answer {
        answer(cache.get::<T>(key).await)
    }
    match kind % 6 {
        0 => get::<u64>(cache, key).await,
        1 => get::<i64>(cache, key).await,
        2 => get::<String>(cache, key).await,
        3 => float_answer(cache.get::<f64>(key).await),
        4 => get::<Vec<u8>>(cache, key).await,
        _ => get::<Option<String>>(cache, key).await,
    }
}

/// One operation, drawn from `rng`, on one cache; its answer.
async fn step(cache: &Cache, op: &Op) -> Answer {
    match op {
        Op::Set(key, value, ttl) => set_value(cache, key, value, *ttl).await,
        Op::Get(key, kind) => get_as(cache, key, *kind).await,
        Op::GetOr(key) => answer(cache.get_or(key, 7_u64).await),
        Op::GetOrSet(key, fallback) => answer::<u64>(Ok(cache
            .get_or_set(key, || async { *fallback }, None)
            .await)),
        Op::Delete(key) => answer(cache.delete(key).await),
        Op::DeleteMany(keys) => answer(cache.delete_many(keys).await),
        Op::DeletePattern(pattern) => answer(cache.delete_pattern(pattern).await),
        Op::Clear => answer(cache.clear().await),
        Op::Exists(key) => answer(cache.exists(key).await),
        Op::Ttl(key) => ttl_answer(cache.ttl(key).await),
        Op::Incr(key, by) => answer(cache.incr(key, *by).await),
        Op::Decr(key, by) => answer(cache.decr(key, *by).await),
        Op::SetNx(key, value, ttl) => answer(cache.set_nx(key, value, *ttl).await),
        Op::Tag(key, tags, ttl) => answer(cache.tag(key, tags, *ttl).await),
        Op::DeleteTags(tags) => answer(cache.delete_tags(tags).await),
        Op::Lock(key) => match cache.try_lock(key, Duration::from_secs(600)).await {
            Ok(Some(guard)) => answer(guard.release().await.map(|held| ("locked", held))),
            other => answer(other.map(|guard| guard.is_some())),
        },
    }
}

#[derive(Debug)]
enum Op {
    Set(String, Value, Option<Duration>),
    Get(String, u64),
    GetOr(String),
    GetOrSet(String, u64),
    Delete(String),
    DeleteMany(Vec<String>),
    DeletePattern(String),
    Clear,
    Exists(String),
    Ttl(String),
    Incr(String, i64),
    Decr(String, i64),
    SetNx(String, String, Option<Duration>),
    Lock(String),
    Tag(String, Vec<String>, Option<Duration>),
    DeleteTags(Vec<String>),
}

/// Tags, glob characters and separators included (a tag is a name: nothing in it is
/// special).
const TAGS: &[&str] = &["t", "t2", "user:1", "user:*", "*", "", "\0", "é"];

fn tags(rng: &mut SplitMix) -> Vec<String> {
    (0..1 + rng.next_u64() % 3)
        .map(|_| (*pick(rng, TAGS)).to_owned())
        .collect()
}

fn op(rng: &mut SplitMix, keys: &[String]) -> Op {
    let key = pick(rng, keys).clone();
    let ttl = *pick(
        rng,
        &[
            None,
            Some(Duration::from_secs(60)),
            Some(Duration::from_secs(86_400)),
        ],
    );
    let by = *pick(
        rng,
        &[1, -1, 5, 1 << 53, i64::MAX, i64::MIN, -(1 << 53) - 1],
    );
    match rng.next_u64() % 100 {
        0..25 => Op::Set(key, value(rng), ttl),
        25..45 => Op::Get(key, rng.next_u64()),
        45..48 => Op::GetOr(key),
        48..53 => Op::GetOrSet(key, rng.next_u64() % 1000),
        53..60 => Op::Delete(key),
        60..63 => Op::DeleteMany(
            (0..rng.next_u64() % 4)
                .map(|_| pick(rng, keys).clone())
                .collect(),
        ),
        63..68 => Op::DeletePattern(pattern(rng, keys)),
        68 => Op::Clear,
        69..75 => Op::Exists(key),
        75..80 => Op::Ttl(key),
        80..88 => Op::Incr(key, by),
        88..91 => Op::Decr(key, by),
        91..94 => Op::SetNx(key, format!("claim {}", rng.next_u64() % 10), ttl),
        94..96 => Op::Lock(key),
        96..98 => Op::Tag(key, tags(rng), ttl),
        _ => Op::DeleteTags(tags(rng)),
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_and_redis_answer_every_operation_alike() {
    differential(CacheConfig::redis).await;
}

/// The same operations on a Redis cache with a near cache: every answer as on memory, so
/// the copies never answer what Redis would not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_and_redis_with_a_near_cache_answer_every_operation_alike() {
    let stats = differential(|url| CacheConfig::redis(url).with_near(200)).await;
    assert!(
        stats.near_hits > 1_000,
        "the near cache answered: {stats:?}"
    );
}

/// Runs the generated operations on memory and on the Redis cache `redis_config` makes;
/// returns the Redis cache's counters.
async fn differential(redis_config: fn(&str) -> CacheConfig) -> cached_core::CacheStats {
    let ops = env_number("DIFFERENTIAL_OPS", 20_000);
    let seed = env_number("DIFFERENTIAL_SEED", 1);
    let server = RedisServer::start();
    let memory = Cache::new(
        "memory",
        &CacheConfig::memory()
            .with_max_size(1_000_000)
            .with_ttl(DEFAULT_TTL),
    )
    .unwrap();
    let redis = Cache::new(
        "redis",
        &redis_config(&server.url())
            .with_key_prefix("dp[1]*?:")
            .with_ttl(DEFAULT_TTL)
            .with_connect_timeout(PATIENT)
            .with_response_timeout(PATIENT),
    )
    .unwrap();
    server.cli(&["SET", "other:not-ours", "1"]);
    let keys = keys();
    let mut rng = SplitMix::new(seed);
    let mut kinds = std::collections::BTreeMap::<String, u64>::new();
    for i in 0..ops {
        let op = op(&mut rng, &keys);
        let name = format!("{op:?}")
            .split(['(', ' '])
            .next()
            .unwrap()
            .to_owned();
        *kinds.entry(name).or_default() += 1;
        // Reads are asked again at once: a near cache answers the repeats from its copies.
        let asked = match op {
            Op::Get(..) | Op::GetOr(..) | Op::GetOrSet(..) => 3,
            _ => 1,
        };
        for _ in 0..asked {
            let (on_memory, on_redis) = (step(&memory, &op).await, step(&redis, &op).await);
            assert_eq!(
                on_memory, on_redis,
                "operation {i} of seed {seed} answered differently: {op:?}\n  memory: {on_memory:?}\n  redis:  {on_redis:?}"
            );
        }
    }
    assert_eq!(
        server.cli(&["GET", "other:not-ours"]),
        "1",
        "clear kept to the prefix"
    );
    eprintln!("{ops} operations, seed {seed}, the same answers: {kinds:?}");
    redis.stats()
}

/// Both caches of a test: memory, and Redis on `server`.
fn both(server: &RedisServer) -> [Cache; 2] {
    [
        Cache::new("memory", &CacheConfig::memory()).unwrap(),
        server.cache("p:"),
    ]
}

#[tokio::test]
async fn counters_in_strings_are_read_alike_and_exactly_past_2_to_the_53() {
    let server = RedisServer::start();
    let caches = both(&server);
    for text in [
        "5",
        "-5",
        "0",
        "\t5",
        "5\n",
        "\u{a0}5",
        " 5",
        "+5",
        "05",
        "-0",
        "5.0",
        "٣",
        "",
        "9223372036854775807",
        "9007199254740992",
    ] {
        let mut answers = Vec::new();
        for cache in &caches {
            cache.set("n", text, None).await.unwrap();
            let incremented = answer(cache.incr("n", 1).await);
            answers.push((incremented, answer(cache.get::<i64>("n").await)));
        }
        assert_eq!(answers[0], answers[1], "{text:?}");
    }
    for cache in &caches {
        cache.set("big", "9007199254740992", None).await.unwrap();
        assert_eq!(cache.incr("big", 1).await.unwrap(), 9_007_199_254_740_993);
        assert_eq!(
            cache.get::<i64>("big").await.unwrap(),
            Some(9_007_199_254_740_993)
        );
        assert!(matches!(
            cache.incr("big", i64::MAX).await,
            Err(Error::NotAnInteger { .. })
        ));
    }
}

#[tokio::test]
async fn floats_json_cannot_hold_are_refused_by_redis_and_kept_exactly_by_memory() {
    let server = RedisServer::start();
    let [memory, redis] = both(&server);
    for cache in [&memory, &redis] {
        cache
            .set("f", &-9.052201222054326e232_f64, None)
            .await
            .unwrap();
        assert_eq!(
            cache.get::<f64>("f").await.unwrap().map(f64::to_bits),
            Some((-9.052201222054326e232_f64).to_bits()),
            "{} reads the double back exactly",
            cache.name()
        );
    }
    memory.set("nan", &Some(f64::NAN), None).await.unwrap();
    assert!(
        memory
            .get::<Option<f64>>("nan")
            .await
            .unwrap()
            .unwrap()
            .unwrap()
            .is_nan()
    );
    for value in [vec![1.0, f64::INFINITY], vec![f64::NAN]] {
        match redis.set("nan", &value, None).await {
            Err(Error::Encode { key, source, .. }) => {
                assert_eq!(key, "nan");
                assert!(
                    source.to_string().contains("alloc::vec::Vec<f64>"),
                    "{source}"
                );
            }
            other => panic!("a non-finite float must be refused, got {other:?}"),
        }
    }
    assert!(!redis.exists("nan").await.unwrap(), "nothing was stored");
    let loaded = redis
        .get_or_set("loaded", || async { Some(f64::NAN) }, None)
        .await;
    assert!(
        loaded.unwrap().is_nan(),
        "a loader's value is returned even if not storable"
    );
    assert!(!redis.exists("loaded").await.unwrap());
}
