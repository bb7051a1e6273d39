//! Hit, miss and error counters, striped across cache lines so that threads hitting the same
//! cache do not contend on one counter.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;
use parking_lot::Mutex;

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
    /// Hits on entries past their `ttl`, served within `stale` while a refresh ran
    /// (counted in `hits` too).
    pub stale_hits: u64,
    /// Background refreshes (`stale`, `early_refresh`) that stored a new value.
    pub refreshes: u64,
    /// Failed loads answered with an older value (`stale_if_error`).
    pub stale_on_error: u64,
    /// Hits a Redis cache's near cache answered in the process, without a round trip
    /// (counted in `hits` too).
    pub near_hits: u64,
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
    pub(crate) stale_hits: Counter,
    pub(crate) refreshes: Counter,
    pub(crate) stale_on_error: Counter,
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
            stale_hits: self.stale_hits.get(),
            refreshes: self.refreshes.get(),
            stale_on_error: self.stale_on_error.get(),
            near_hits: 0,
        }
    }
}

const STRIPES: usize = 16;

/// The stripe shared, with atomic read-modify-writes, by every thread past the first
/// `STRIPES - 1` to count.
const SHARED: usize = STRIPES - 1;

/// A counter split into cache-line-padded stripes. Each of the first threads to count owns
/// a stripe and is its only writer, so it adds with a plain load and store (no locked
/// instruction on the hit path); later threads share the last stripe.
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
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        if n == 0 {
            return;
        }
        let index = stripe();
        let cell = &self.stripes[index];
        if index == SHARED {
            cell.fetch_add(n, Ordering::Relaxed);
        } else {
            cell.store(cell.load(Ordering::Relaxed) + n, Ordering::Relaxed);
        }
    }

    #[inline]
    pub(crate) fn incr(&self) {
        self.add(1);
    }

    pub(crate) fn get(&self) -> u64 {
        self.stripes.iter().map(|s| s.load(Ordering::Relaxed)).sum()
    }
}

/// This thread's stripe: its own while there are unowned ones, else the shared one. A
/// thread gives its stripe back when it exits, so that short-lived threads do not use them
/// all up.
#[inline]
fn stripe() -> usize {
    thread_local! {
        static STRIPE: Claim = Claim::new();
    }
    STRIPE.try_with(|claim| claim.0).unwrap_or(SHARED)
}

/// A stripe owned by the current thread (or the shared one).
struct Claim(usize);

/// Stripes given back by threads that exited.
static FREE: Mutex<Vec<usize>> = Mutex::new(Vec::new());

impl Claim {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let free = FREE.lock().pop();
        Self(free.unwrap_or_else(|| NEXT.fetch_add(1, Ordering::Relaxed).min(SHARED)))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.0 != SHARED {
            FREE.lock().push(self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_many_threads_add_up() {
        let counter = Counter::default();
        std::thread::scope(|s| {
            for _ in 0..(3 * STRIPES) {
                s.spawn(|| (0..1000).for_each(|_| counter.incr()));
            }
        });
        assert_eq!(counter.get(), 3 * STRIPES as u64 * 1000);
    }

    #[test]
    fn exited_threads_give_their_stripes_back() {
        for _ in 0..(4 * STRIPES) {
            std::thread::spawn(stripe).join().unwrap();
        }
        let stripes: Vec<usize> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2).map(|_| s.spawn(stripe)).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(
            stripes.iter().all(|&stripe| stripe != SHARED),
            "{stripes:?}"
        );
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
