//! Hit, miss and error counters, striped across cache lines so that threads hitting the same
//! cache do not contend on one counter.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;

/// A snapshot of one cache's counters since it was configured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Lookups that found a value.
    pub hits: u64,
    /// Lookups that found nothing (including values that did not decode).
    pub misses: u64,
    /// Values written.
    pub sets: u64,
    /// Keys removed by `delete`, `delete_many`, `delete_pattern` and invalidation.
    pub deletes: u64,
    /// Entries dropped to stay within `max_size`.
    pub evictions: u64,
    /// Backend failures and undecodable values, each of which the caller survived.
    pub errors: u64,
}

impl CacheStats {
    /// Hits as a fraction of lookups, from 0.0 to 1.0; 0.0 before the first lookup.
    pub fn hit_ratio(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups == 0 {
            0.0
        } else {
            self.hits as f64 / lookups as f64
        }
    }
}

/// The live counters behind [`CacheStats`].
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) hits: Counter,
    pub(crate) misses: Counter,
    pub(crate) sets: Counter,
    pub(crate) deletes: Counter,
    pub(crate) evictions: Counter,
    pub(crate) errors: Counter,
}

impl Stats {
    pub(crate) fn snapshot(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.get(),
            misses: self.misses.get(),
            sets: self.sets.get(),
            deletes: self.deletes.get(),
            evictions: self.evictions.get(),
            errors: self.errors.get(),
        }
    }
}

const STRIPES: usize = 16;

/// A counter split into cache-line-padded stripes; each thread adds to its own stripe.
pub(crate) struct Counter {
    stripes: [CachePadded<AtomicU64>; STRIPES],
}

impl Default for Counter {
    fn default() -> Self {
        Self {
            stripes: std::array::from_fn(|_| CachePadded::new(AtomicU64::new(0))),
        }
    }
}

impl Counter {
    pub(crate) fn add(&self, n: u64) {
        if n != 0 {
            self.stripes[stripe()].fetch_add(n, Ordering::Relaxed);
        }
    }

    pub(crate) fn incr(&self) {
        self.add(1);
    }

    pub(crate) fn get(&self) -> u64 {
        self.stripes.iter().map(|s| s.load(Ordering::Relaxed)).sum()
    }
}

fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    STRIPE.with(|s| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_many_threads_add_up() {
        let counter = Counter::default();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| (0..1000).for_each(|_| counter.incr()));
            }
        });
        assert_eq!(counter.get(), 8000);
    }

    #[test]
    fn hit_ratio_is_hits_over_lookups() {
        let stats = CacheStats {
            hits: 3,
            misses: 1,
            ..CacheStats::default()
        };
        assert_eq!(stats.hit_ratio(), 0.75);
        assert_eq!(CacheStats::default().hit_ratio(), 0.0);
    }
}
