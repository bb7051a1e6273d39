//! A log-linear histogram of durations: 8 sub-buckets per power of two of nanoseconds, so
//! that any quantile is known within 12.5%, in a few kilobytes whatever the count.

use std::time::Duration;

const SUB_BITS: u32 = 3;
const SUB: usize = 1 << SUB_BITS;

/// Counts of durations.
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: Duration,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; 64 * SUB],
            total: 0,
            max: Duration::ZERO,
        }
    }
}

fn bucket(nanos: u64) -> usize {
    if nanos < SUB as u64 {
        return nanos as usize;
    }
    let top = 63 - nanos.leading_zeros();
    let sub = (nanos >> (top - SUB_BITS)) as usize & (SUB - 1);
    (top - SUB_BITS + 1) as usize * SUB + sub
}

/// The smallest duration that falls in `bucket`.
fn floor(bucket: usize) -> u64 {
    if bucket < SUB {
        return bucket as u64;
    }
    let top = (bucket / SUB) as u32 + SUB_BITS - 1;
    let floor = ((SUB + bucket % SUB) as u128) << (top - SUB_BITS);
    u64::try_from(floor).unwrap_or(u64::MAX)
}

impl Histogram {
    /// Counts one duration.
    pub fn record(&mut self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.counts[bucket(nanos)] += 1;
        self.total += 1;
        self.max = self.max.max(took);
    }

    /// Adds the durations `other` counted.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// How many durations were counted.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The longest duration counted.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// A duration at least `q` of the counted ones do not exceed, within 12.5%.
    pub fn quantile(&self, q: f64) -> Duration {
        let rank = ((self.total as f64 * q).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Duration::from_nanos(floor(bucket + 1)).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_an_eighth() {
        let mut h = Histogram::default();
        for n in 1..=10_000_u64 {
            h.record(Duration::from_nanos(n * 10));
        }
        assert_eq!(h.count(), 10_000);
        assert_eq!(h.max(), Duration::from_nanos(100_000));
        for (q, exact) in [(0.5, 50_000.0), (0.99, 99_000.0), (0.999, 99_900.0)] {
            let got = h.quantile(q).as_nanos() as f64;
            assert!(
                got >= exact && got <= exact * 1.125,
                "q{q}: {got} for {exact}"
            );
        }
    }

    #[test]
    fn buckets_are_ordered_and_cover_every_value() {
        let mut last = 0;
        for nanos in (0..100_000_u64).chain([u64::MAX / 3, u64::MAX]) {
            let b = bucket(nanos);
            assert!(b >= last && floor(b) <= nanos);
            assert!(nanos < floor(b + 1) || floor(b + 1) == u64::MAX);
            last = b;
        }
    }
}
