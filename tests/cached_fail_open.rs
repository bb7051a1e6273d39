//! A cache failure never fails a `#[cached]` function: a backend that fails every call, a
//! stored value that does not decode, a cache that is not configured and a key that cannot
//! be rendered all run the body; each is logged at `warn` and counted.

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cached_core::{CacheConfig, CacheSettings, cached, get_cache, register_backend};
use cached_tests::down::Down;
use cached_tests::logs::capture;
use tracing::Level;

/// Configures this file's caches once, before any test uses one.
fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        register_backend("down", |_| Ok(Down));
        let settings = CacheSettings::new()
            .with_cache("down", CacheConfig::backend("down"))
            .with_cache("decode", CacheConfig::memory())
            .with_cache("render", CacheConfig::memory());
        cached_core::configure(settings).unwrap();
    });
}

static DOWN_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = 300, cache = "down")]
async fn profile(user_id: &str) -> Result<String, std::io::Error> {
    DOWN_RUNS.fetch_add(1, SeqCst);
    Ok(format!("profile of {user_id}"))
}

#[tokio::test(flavor = "current_thread")]
async fn a_backend_that_fails_every_call_never_fails_the_function() {
    setup();
    let log = capture(Level::WARN);
    for _ in 0..3 {
        assert_eq!(profile("abc123").await.unwrap(), "profile of abc123");
    }
    assert_eq!(DOWN_RUNS.load(SeqCst), 3);
    let stats = get_cache("down").unwrap().stats();
    assert_eq!(stats.errors, 6, "a failed read and a failed write per call");
    assert_eq!(stats.hits, 0);
    let lines = log.lines();
    let reads = lines
        .iter()
        .filter(|l| l.contains("cache read failed"))
        .count();
    let writes = lines
        .iter()
        .filter(|l| l.contains("cache write failed"))
        .count();
    assert_eq!((reads, writes), (3, 3), "{lines:#?}");
    assert!(lines.iter().all(|l| l.contains(" WARN ")), "{lines:#?}");
    assert!(lines[0].contains("connection refused"), "{}", lines[0]);
}

static DECODE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = 300, cache = "decode")]
async fn score(id: u32) -> u32 {
    DECODE_RUNS.fetch_add(1, SeqCst);
    id * 2
}

#[tokio::test(flavor = "current_thread")]
async fn a_value_that_does_not_decode_is_a_miss_and_is_replaced() {
    setup();
    let cache = get_cache("decode").unwrap();
    cache.set("score:id=4", "not a number", None).await.unwrap();
    let log = capture(Level::WARN);
    assert_eq!(score(4).await, 8);
    assert_eq!(score(4).await, 8);
    assert_eq!(
        DECODE_RUNS.load(SeqCst),
        1,
        "the body's value replaced the bad one"
    );
    assert_eq!(cache.stats().errors, 1);
    let lines = log.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("does not decode"), "{}", lines[0]);
}

static NOWHERE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = 300, cache = "nowhere")]
async fn unconfigured(id: u32) -> u32 {
    NOWHERE_RUNS.fetch_add(1, SeqCst);
    id
}

#[tokio::test(flavor = "current_thread")]
async fn an_unknown_cache_runs_the_body_and_warns_once() {
    setup();
    let log = capture(Level::WARN);
    for id in 0..3 {
        assert_eq!(unconfigured(id).await, id);
    }
    unconfigured(0).await;
    assert_eq!(NOWHERE_RUNS.load(SeqCst), 4);
    let lines = log.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains("no cache named `nowhere`"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("runs uncached"), "{}", lines[0]);
}

/// A value whose `Serialize` fails, so it cannot be put into a key.
struct Opaque(u32);

impl serde::Serialize for Opaque {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("opaque values have no key"))
    }
}

static RENDER_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = 300, cache = "render")]
async fn opaque(value: Opaque) -> u32 {
    RENDER_RUNS.fetch_add(1, SeqCst);
    value.0
}

#[tokio::test(flavor = "current_thread")]
async fn a_key_that_cannot_be_rendered_runs_the_body_uncached() {
    setup();
    let log = capture(Level::WARN);
    assert_eq!(opaque(Opaque(5)).await, 5);
    assert_eq!(opaque(Opaque(5)).await, 5);
    assert_eq!(RENDER_RUNS.load(SeqCst), 2);
    let cache = get_cache("render").unwrap();
    assert_eq!(cache.stats().errors, 2);
    assert_eq!(cache.entry_count(), Some(0));
    let lines = log.lines();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[0].contains("opaque values have no key"),
        "{}",
        lines[0]
    );
}
