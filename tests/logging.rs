//! Debug logging: the seed's messages under the `cached_core` target.

use std::time::Duration;

use cached_tests::logs::capture;
use cached_tests::memory_cache;
use tracing::Level;

#[tokio::test(flavor = "current_thread")]
async fn hits_misses_and_sets_are_logged_at_debug_under_the_cached_core_target() {
    let captured = capture(Level::DEBUG);
    let cache = memory_cache(10);
    cache.get::<String>("posts:all").await.unwrap();
    cache
        .set("posts:all", "[]", Some(Duration::from_secs(300)))
        .await
        .unwrap();
    cache.get::<String>("posts:all").await.unwrap();
    cache
        .set("user:abc123", "Ada", Some(Duration::from_millis(250)))
        .await
        .unwrap();

    let log = captured.text();
    let lines = captured.lines();
    assert_eq!(lines.len(), 4, "{log}");
    for (line, message) in lines.iter().zip([
        "Cache MISS: posts:all",
        "Cache SET: posts:all (ttl=300)",
        "Cache HIT: posts:all",
        "Cache SET: user:abc123 (ttl=0.25)",
    ]) {
        assert!(line.contains("DEBUG cached_core: "), "{line}");
        assert!(line.ends_with(message), "{line} should end with {message}");
    }
}
