//! Time for the in-process store: nanoseconds since a process-wide epoch, read precisely
//! (`Instant::now()`, some 20-40 ns) or coarsely (one atomic load of the value the clock
//! thread publishes every tick).
//!
//! A hit must not pay for a precise read, yet must never return an expired entry. The coarse
//! clock is never ahead of the precise one and normally lags it by less than a tick, so an
//! entry whose deadline is at least [`SLACK`] past the coarse time is live without further
//! checks; only entries within `SLACK` of their deadline are checked precisely. The
//! guarantee breaks only if the clock goes unpublished for a whole `SLACK`: entries are then
//! read up to the stall less `SLACK` past their deadline.
//!
//! So the clock has a thread of its own that does nothing else. It takes no lock and runs
//! none of the stores' work: the maintenance thread takes shards' locks and drops expired
//! values, whose `Drop` is users' code, and when it also published the clock, one slow read
//! holding a shard's lock stalled the clock for every store. Only the operating system
//! keeping the clock thread off the CPU for a whole `SLACK` can now stall it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Once, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// A deadline or an instant, in nanoseconds since the epoch.
pub(super) type Nanos = u64;

/// The deadline of entries that never expire.
pub(super) const NEVER: Nanos = Nanos::MAX;

/// How close to its deadline an entry must be for a read to check it against the precise
/// clock.
pub(super) const SLACK: Nanos = 1_000_000_000;

/// How often the clock thread publishes the coarse clock.
const TICK: Duration = Duration::from_millis(5);

/// The value of [`COARSE`] before the clock thread first ticks (or when it could not be
/// started): every reader then uses the precise clock.
const UNSET: Nanos = Nanos::MAX;

static COARSE: AtomicU64 = AtomicU64::new(UNSET);

/// `COARSE + SLACK`, published with it: a deadline at or past it is live without a precise
/// read, at the cost of one load and one comparison.
static SURELY_LIVE: AtomicU64 = AtomicU64::new(UNSET);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// The precise time.
pub(super) fn precise() -> Nanos {
    epoch().elapsed().as_nanos() as Nanos
}

/// A cheap time that is never ahead of [`precise`]: the base of new deadlines (which makes
/// them early by at most a tick, never late) and the test of expiry on the write path.
#[inline]
pub(super) fn recent() -> Nanos {
    match COARSE.load(Ordering::Relaxed) {
        UNSET => precise(),
        coarse => coarse,
    }
}

/// Whether an entry with this deadline is still live, reading the precise clock only near
/// the deadline.
#[inline]
pub(super) fn is_live(deadline: Nanos) -> bool {
    deadline >= SURELY_LIVE.load(Ordering::Relaxed) || deadline > precise()
}

/// The deadline `ttl` after `now`, saturating below [`NEVER`].
#[inline]
pub(super) fn deadline(now: Nanos, ttl: Duration) -> Nanos {
    let ttl = ttl
        .as_secs()
        .checked_mul(1_000_000_000)
        .and_then(|nanos| nanos.checked_add(u64::from(ttl.subsec_nanos())))
        .unwrap_or(NEVER);
    now.saturating_add(ttl).min(NEVER - 1)
}

/// Starts the clock thread, once per process.
pub(super) fn start() {
    static START: Once = Once::new();
    START.call_once(|| {
        // Without the thread, every read uses the precise clock: correct, only slower.
        let _ = thread::Builder::new()
            .name("cached-core-clock".to_owned())
            .spawn(|| {
                loop {
                    tick();
                    thread::sleep(TICK);
                }
            });
    });
}

/// Publishes the precise time as the coarse one; called by the clock thread (and by tests,
/// concurrently: a caller that read the time earlier but publishes later must not take the
/// coarse clock back).
pub(super) fn tick() -> Nanos {
    let now = precise();
    // Each is valid alone, whichever of the two a reader sees first.
    advance(&COARSE, now);
    advance(&SURELY_LIVE, now + SLACK);
    now
}

/// Raises `published` to `to`, from [`UNSET`] or from anything lower.
fn advance(published: &AtomicU64, to: Nanos) {
    let _ = published.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |current| {
        (current == UNSET || current < to).then_some(to)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coarse_clock_never_runs_ahead() {
        let published = tick();
        assert!(recent() >= published);
        assert!(recent() <= precise());
    }

    #[test]
    fn a_late_publication_of_an_earlier_time_does_not_take_the_clock_back() {
        let published = tick();
        advance(&COARSE, published - 1);
        advance(&SURELY_LIVE, published - 1 + SLACK);
        assert!(recent() >= published);
        assert!(SURELY_LIVE.load(Ordering::Relaxed) >= published + SLACK);
    }

    #[test]
    fn deadlines_near_now_are_checked_precisely() {
        tick();
        let now = precise();
        assert!(!is_live(now));
        assert!(is_live(now + 10 * SLACK));
        assert!(is_live(NEVER));
        assert_eq!(deadline(now, Duration::MAX), NEVER - 1);
        assert_eq!(
            deadline(now, Duration::from_millis(1_500)),
            now + 1_500_000_000
        );
    }
}
