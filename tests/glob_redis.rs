//! `delete_pattern` removes the same keys from a memory cache as Redis removes from a Redis
//! cache: the memory backend's glob matcher checked against a real `redis-server`, on the
//! patterns where a matcher is likeliest to stray from Redis' (bytes against characters,
//! `]` first in a class, classes left open, escapes at the end, ranges, runs of `*`, the
//! limit on `*`s) and on random patterns over the bytes that mean something to it.
//!
//! Each pattern runs on caches holding the same keys; the keys each removed are read back
//! with `exists` and compared, then put back for the next pattern. A Redis cache under a
//! prefix full of glob characters runs too, so that the escaped prefix is checked against
//! Redis as well.

use cached_core::{Cache, CacheConfig};
use cached_tests::redis_server::{PATIENT, RedisServer};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use tokio::task::JoinSet;

/// Random patterns per run, on top of the fixed ones.
const RANDOM_PATTERNS: usize = 600;

/// Random keys per run, on top of the fixed ones.
const RANDOM_KEYS: usize = 30;

/// A prefix that only an exactly escaped pattern keeps literal.
const HOSTILE_PREFIX: &str = r"[p*]?\^-é:";

/// Patterns that tell glob matchers apart.
const TRICKY_PATTERNS: &[&str] = &[
    "*",
    "**",
    "",
    "?",
    "??",
    "*?*",
    "caf?",
    "caf??",
    "caf*",
    "*é",
    "[é]",
    "caf[é][é]",
    "[]]",
    "[]]]",
    "[^]]",
    "[^]]*",
    "x[ab",
    "x[",
    "x[^",
    "[^",
    "[",
    "[a-]",
    "[a-]*",
    r"[\]",
    r"[\]]",
    r"[\",
    r"a\",
    r"\",
    r"\\",
    r"\a",
    r"\*",
    "[z-a]",
    "[z-a]*",
    "[a-z]",
    "[^a-z]",
    "[a-é]",
    "[é-a]",
    r"[a-\]",
    r"[\-a]",
    r"[\^a]",
    "[-a]",
    "[a-b-c]",
    "[]-a]",
    "*[",
    "*]",
    "*\\",
    "a*a*a*b",
    "*a*",
    "a**",
    "a*?",
    "[*]",
    "[?]",
    "user:*",
    "user:[0-9]*",
];

/// Keys that the tricky patterns tell apart.
const TRICKY_KEYS: &[&str] = &[
    "",
    "a",
    "b",
    "z",
    "A",
    "é",
    "€",
    "caf",
    "cafe",
    "café",
    "cafés",
    "]",
    "]]",
    "x]",
    "[",
    "x",
    "x[",
    "xa",
    "xb",
    "x[ab",
    "^",
    "_",
    "`",
    "-",
    r"\",
    r"a\",
    "*",
    "?",
    "ab",
    "aab",
    "aaab",
    "user:1",
    "user:x",
    "user:42:name",
];

/// The alphabet of random keys: every byte the matcher treats specially, letters, and
/// characters whose UTF-8 bytes sort on both sides of ASCII as signed chars.
const KEY_ALPHABET: &[char] = &[
    '*', '?', '[', ']', '^', '-', '\\', 'a', 'b', 'z', 'A', 'é', '€', '\u{7f}',
];

/// The alphabet of random patterns: the keys' one, with `*` and `?` more frequent, so that
/// more patterns select some keys.
const PATTERN_ALPHABET: &[char] = &[
    '*', '*', '*', '?', '?', '[', ']', '^', '-', '\\', 'a', 'b', 'z', 'A', 'é', '€', '\u{7f}',
];

fn random_texts(
    runner: &mut TestRunner,
    alphabet: &'static [char],
    count: usize,
    max_len: usize,
) -> Vec<String> {
    let strategy = proptest::collection::vec(proptest::sample::select(alphabet), 0..=max_len)
        .prop_map(|chars| chars.into_iter().collect::<String>());
    (0..count)
        .map(|_| strategy.new_tree(runner).expect("a value").current())
        .collect()
}

/// The caches under comparison, holding `keys`.
struct Caches {
    memory: Cache,
    redis: Vec<Cache>,
    keys: Vec<String>,
}

/// What one cache's `delete_pattern` did: the count it returned and each key's removal.
struct Removal {
    count: usize,
    removed: Vec<bool>,
}

impl Caches {
    async fn fill(&self) {
        for cache in self.all() {
            for key in &self.keys {
                cache.set(key, &1, None).await.expect("a set");
            }
        }
    }

    fn all(&self) -> impl Iterator<Item = &Cache> {
        std::iter::once(&self.memory).chain(&self.redis)
    }

    /// Deletes by `pattern` on every cache; returns each one's removal and restores the keys.
    async fn delete(&self, pattern: &str) -> Vec<Removal> {
        let mut removals = Vec::new();
        for cache in self.all() {
            let count = cache.delete_pattern(pattern).await.expect("delete_pattern");
            let present = present(cache, &self.keys).await;
            for (key, _) in self.keys.iter().zip(&present).filter(|(_, p)| !**p) {
                cache.set(key, &1, None).await.expect("a set");
            }
            removals.push(Removal {
                count,
                removed: present.into_iter().map(|p| !p).collect(),
            });
        }
        removals
    }
}

/// Whether each of `keys` exists, asked concurrently so that Redis gets them pipelined.
async fn present(cache: &Cache, keys: &[String]) -> Vec<bool> {
    let mut asks = JoinSet::new();
    for (i, key) in keys.iter().enumerate() {
        let (cache, key) = (cache.clone(), key.clone());
        asks.spawn(async move { (i, cache.exists(&key).await.expect("exists")) });
    }
    let mut present = vec![false; keys.len()];
    while let Some(answer) = asks.join_next().await {
        let (i, exists) = answer.expect("an exists task");
        present[i] = exists;
    }
    present
}

fn redis_cache(server: &RedisServer, db: u32, prefix: Option<&str>) -> Cache {
    let mut config = CacheConfig::redis(&server.url_db(db))
        .with_connect_timeout(PATIENT)
        .with_response_timeout(PATIENT);
    if let Some(prefix) = prefix {
        config = config.with_key_prefix(prefix);
    }
    Cache::new("glob", &config).expect("a valid redis configuration")
}

#[tokio::test]
async fn memory_and_redis_delete_the_same_keys_for_every_pattern() {
    let server = RedisServer::start();
    let mut runner = TestRunner::default();

    let mut keys: Vec<String> = TRICKY_KEYS.iter().map(ToString::to_string).collect();
    keys.push("a".repeat(1100));
    keys.extend(random_texts(&mut runner, KEY_ALPHABET, RANDOM_KEYS, 6));
    keys.sort();
    keys.dedup();

    let mut patterns: Vec<String> = TRICKY_PATTERNS.iter().map(ToString::to_string).collect();
    for stars in [999, 1000, 1001] {
        patterns.push("*a".repeat(stars));
        patterns.push(format!("{}*", "*a".repeat(stars)));
    }
    patterns.push(format!("{}b", "a*".repeat(40)));
    patterns.extend(random_texts(
        &mut runner,
        PATTERN_ALPHABET,
        RANDOM_PATTERNS,
        7,
    ));

    let caches = Caches {
        memory: Cache::new("glob", &CacheConfig::memory()).expect("a memory cache"),
        redis: vec![
            redis_cache(&server, 0, None),
            redis_cache(&server, 1, Some(HOSTILE_PREFIX)),
        ],
        keys,
    };
    caches.fill().await;

    let mut differences = Vec::new();
    let mut selected = 0;
    let mut discriminating = 0;
    for pattern in &patterns {
        let removals = caches.delete(pattern).await;
        for (removal, name) in removals.iter().zip(["memory", "redis", "prefixed redis"]) {
            let counted = removal.removed.iter().filter(|r| **r).count();
            assert_eq!(removal.count, counted, "the {name} count of {pattern:?}");
        }
        let memory = &removals[0];
        selected += memory.count;
        if memory.count > 0 && memory.count < caches.keys.len() {
            discriminating += 1;
        }
        for (redis, name) in removals[1..].iter().zip(["redis", "prefixed redis"]) {
            let disagree = caches
                .keys
                .iter()
                .zip(memory.removed.iter().zip(&redis.removed))
                .filter(|(_, (m, r))| m != r)
                .map(|(key, (m, _))| format!("{key:?} (memory removed it: {m})"))
                .collect::<Vec<_>>();
            if !disagree.is_empty() {
                differences.push(format!("{name}, {pattern:?}: {}", disagree.join(", ")));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} patterns select other keys than Redis:\n{}",
        differences.len(),
        patterns.len(),
        differences.join("\n")
    );
    // Patterns that take every key or none tell matchers apart poorly: most must not.
    assert!(
        discriminating >= patterns.len() / 4,
        "only {discriminating} patterns removed some keys but not all"
    );
    eprintln!(
        "{} patterns x {} keys: no difference ({selected} removals; {discriminating} patterns \
         removed some keys but not all)",
        patterns.len(),
        caches.keys.len()
    );
}
