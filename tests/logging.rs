//! Debug logging: the seed's messages under the `cached_core` target.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cached_tests::memory_cache;
use tracing_subscriber::EnvFilter;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn hits_misses_and_sets_are_logged_at_debug_under_the_cached_core_target() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("cached_core=debug"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

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

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
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
