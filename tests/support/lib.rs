//! Shared support of the integration tests.

pub mod down;
pub mod logs;
pub mod redis_server;

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

/// A deterministic pseudo-random stream (SplitMix64), so that workloads repeat exactly.
pub struct SplitMix(u64);

impl SplitMix {
    /// A stream from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }
}

/// Samples key ranks 0..n with Zipf's law of exponent `s`: rank 0 most often.
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// The distribution over `n` ranks.
    pub fn new(n: usize, s: f64) -> Self {
        let mut total = 0.0;
        let mut cdf: Vec<f64> = (1..=n)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(s);
                total
            })
            .collect();
        cdf.iter_mut().for_each(|c| *c /= total);
        Self { cdf }
    }

    /// The next rank.
    pub fn sample(&self, rng: &mut SplitMix) -> usize {
        let u = rng.next_f64();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}
