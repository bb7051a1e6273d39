//! Shared support of the integration tests.

pub mod contention;
pub mod down;
pub mod logs;
pub mod map_backend;
pub mod races;
pub mod redis_server;
pub mod timing;

use std::time::Duration;

use cached_core::{Cache, CacheConfig};

/// A fresh memory cache, independent of the global registry.
pub fn memory_cache(max_size: usize) -> Cache {
    Cache::new("test", &CacheConfig::memory().with_max_size(max_size))
        .expect("a valid memory configuration")
}

/// A TTL short enough to watch expire in a test, long enough to outlive the calls before.
pub const SHORT_TTL: Duration = Duration::from_millis(150);

/// Sleeps past [`SHORT_TTL`].
pub async fn outlive_short_ttl() {
    tokio::time::sleep(SHORT_TTL + Duration::from_millis(100)).await;
}

/// Runs the ignored test `test` of the current test binary as a second OS process, with
/// the environment variable `env` set to `value`; returns whether it passed.
pub async fn run_second_process(test: &'static str, env: &'static str, value: String) -> bool {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(std::env::current_exe().expect("the test binary"))
            .args([test, "--exact", "--ignored", "--quiet"])
            .env(env, value)
            .status()
            .expect("the test binary runs again")
            .success()
    })
    .await
    .expect("the second process was waited for")
}

/// Deterministic random streams and Zipf's law: the benchmarks' own, so that tests and
/// benchmarks draw the same workloads.
pub use cached_bench::workload::{SplitMix, Zipf};
