//! The workload of the issue: Zipf (s = 0.99) over 1,000,000 keys, a cache of 10,000
//! entries, 100-byte values, a get and an insert on every miss.

use std::sync::Arc;

/// Distinct keys in the key space.
pub const KEYS: usize = 1_000_000;
/// Entries the caches hold.
pub const CAPACITY: usize = 10_000;
/// The Zipf exponent.
pub const ZIPF_S: f64 = 0.99;
/// The size of every value.
pub const VALUE_BYTES: usize = 100;

/// The value every cache stores: shared bytes, so that a hit costs the same reference
/// count increment in every cache.
pub type Payload = Arc<[u8]>;

/// A fresh 100-byte value (one allocation, as a real miss would make).
pub fn payload() -> Payload {
    Arc::from(&[7_u8; VALUE_BYTES][..])
}

/// The string form of key `rank`: `user:NNNNNN`.
pub fn string_key(rank: u32) -> String {
    format!("user:{rank:06}")
}

/// A deterministic pseudo-random stream (SplitMix64).
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

/// Zipf's law over `n` ranks: rank 0 is drawn most often.
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// The distribution over `n` ranks with exponent `s`.
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

    /// The next rank drawn from `rng`.
    pub fn sample(&self, rng: &mut SplitMix) -> usize {
        let u = rng.next_f64();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }

    /// `len` ranks drawn from the stream seeded with `seed`.
    pub fn stream(&self, seed: u64, len: usize) -> Vec<u32> {
        let mut rng = SplitMix::new(seed);
        (0..len).map(|_| self.sample(&mut rng) as u32).collect()
    }

    /// The share of draws that fall on the `top` most frequent ranks: the hit ratio of a
    /// cache that always holds exactly those keys.
    pub fn top_share(&self, top: usize) -> f64 {
        self.cdf[top.min(self.cdf.len()) - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_repeat_and_follow_the_law() {
        let zipf = Zipf::new(1_000, 1.0);
        let a = zipf.stream(3, 10_000);
        assert_eq!(a, zipf.stream(3, 10_000));
        let top = a.iter().filter(|&&r| r < 10).count() as f64 / a.len() as f64;
        assert!((top - zipf.top_share(10)).abs() < 0.02, "{top}");
        assert!(a.iter().all(|&r| r < 1_000));
    }

    #[test]
    fn string_keys_have_a_fixed_width() {
        assert_eq!(string_key(42), "user:000042");
        assert_eq!(string_key(999_999).len(), 11);
    }
}
