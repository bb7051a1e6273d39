//! The circuit breaker in front of one Redis store: after a few consecutive failures, or
//! one timeout, it answers "unavailable" at once for a short cooldown, then lets a single
//! probe through; the probe's success closes it, its failure opens it for another cooldown.
//!
//! A timeout opens the circuit at once because it is the failure that costs: it has already
//! made its caller wait a full timeout, and a server slow once (paused, overloaded) is
//! likely slow for the next call too, whose wait would be another timeout. So a call waits
//! at most one timeout, even a `get_or_set` that reads, reads again and writes. Fast
//! failures (a refused or cut connection) cost nothing to wait for, and one of them (a
//! restart, a dropped connection) is common enough that a few in a row are needed.
//!
//! The closed state, the one every healthy call sees, costs one relaxed atomic load before
//! the call and one after it.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// `open_until` while the circuit is closed.
const CLOSED: u64 = 0;

/// What the breaker did about one failure, for the caller to log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tripped {
    /// The circuit stays as it was.
    No,
    /// This failure opened the circuit.
    Opened,
    /// The probe failed: the circuit opens for another cooldown.
    Reopened,
}

/// A circuit breaker; see the module documentation.
pub(crate) struct Breaker {
    threshold: u32,
    cooldown: Duration,
    /// Consecutive failures while closed.
    failures: AtomicU32,
    /// Nanoseconds since `epoch` until which the circuit is open; `CLOSED` when closed.
    open_until: AtomicU64,
    /// Whether a probe is out while the cooldown has passed.
    probing: AtomicBool,
    epoch: Instant,
}

/// Leave to make one call, obtained from [`Breaker::admit`]. Report the call's outcome with
/// [`succeeded`](Permit::succeeded) or [`failed`](Permit::failed); a probe dropped without
/// an outcome (its call was cancelled) counts as failed, so the circuit never stays stuck
/// waiting for it.
pub(crate) struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
}

impl Breaker {
    /// A closed breaker that opens after `threshold` consecutive failures (at least one) and
    /// stays open for `cooldown`.
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            failures: AtomicU32::new(0),
            open_until: AtomicU64::new(CLOSED),
            probing: AtomicBool::new(false),
            epoch: Instant::now(),
        }
    }

    fn now(&self) -> u64 {
        // Never `CLOSED`, so that a deadline computed now is always an open circuit.
        nanos(self.epoch.elapsed()).max(1)
    }

    /// Leave to call the backend, or `None` while the circuit is open (and while another
    /// caller's probe is out).
    pub(crate) fn admit(&self) -> Option<Permit<'_>> {
        let open_until = self.open_until.load(Ordering::Acquire);
        if open_until == CLOSED {
            return Some(Permit {
                breaker: self,
                probe: false,
            });
        }
        if self.now() < open_until {
            return None;
        }
        self.probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .ok()
            .map(|_| Permit {
                breaker: self,
                probe: true,
            })
    }

    /// Whether a call made now would be refused (the circuit is open and cooling down),
    /// without taking the probe: lets a caller skip work whose only use is the call.
    pub(crate) fn refuses(&self) -> bool {
        let open_until = self.open_until.load(Ordering::Acquire);
        open_until != CLOSED && self.now() < open_until
    }

    /// Whether the circuit is open (calls are refused or only a probe goes through).
    #[cfg(test)]
    fn is_open(&self) -> bool {
        self.open_until.load(Ordering::Acquire) != CLOSED
    }

    /// The end of a cooldown starting now. Saturates: a cooldown past the end of the clock
    /// (`Duration::MAX`, for "never probe again") keeps the circuit open for good.
    fn deadline(&self) -> u64 {
        self.now().saturating_add(nanos(self.cooldown))
    }

    /// Opens a closed circuit; false when it was open already.
    fn open(&self) -> bool {
        self.open_until
            .compare_exchange(CLOSED, self.deadline(), Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    /// Opens the circuit for a fresh cooldown, closed or not (a failed probe).
    fn reopen(&self) {
        self.open_until.store(self.deadline(), Ordering::Release);
        self.probing.store(false, Ordering::Release);
    }
}

/// `duration` in nanoseconds, saturating at `u64::MAX` (about 584 years).
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl Permit<'_> {
    /// Whether this call is the probe of an open circuit.
    pub(crate) fn is_probe(&self) -> bool {
        self.probe
    }

    /// The call reached the backend and got an answer. Returns whether this closed the
    /// circuit (the backend is back).
    pub(crate) fn succeeded(mut self) -> bool {
        let breaker = self.breaker;
        if breaker.failures.load(Ordering::Relaxed) != 0 {
            breaker.failures.store(0, Ordering::Relaxed);
        }
        if !self.probe {
            return false;
        }
        self.probe = false;
        breaker.open_until.store(CLOSED, Ordering::Release);
        breaker.probing.store(false, Ordering::Release);
        true
    }

    /// The backend could not be reached (`timed_out` false) or did not answer in time.
    pub(crate) fn failed(mut self, timed_out: bool) -> Tripped {
        let breaker = self.breaker;
        if self.probe {
            self.probe = false;
            breaker.reopen();
            return Tripped::Reopened;
        }
        let failures = breaker.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if (timed_out || failures >= breaker.threshold) && breaker.open() {
            Tripped::Opened
        } else {
            Tripped::No
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.probe {
            self.breaker.reopen();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOLDOWN: Duration = Duration::from_millis(30);

    fn fail_times(breaker: &Breaker, times: usize) {
        for _ in 0..times {
            breaker.admit().expect("closed").failed(false);
        }
    }

    #[test]
    fn opens_after_the_threshold_of_consecutive_failures() {
        let breaker = Breaker::new(3, COOLDOWN);
        fail_times(&breaker, 2);
        breaker.admit().unwrap().succeeded();
        fail_times(&breaker, 2);
        assert!(!breaker.is_open(), "a success reset the count");
        assert!(!breaker.refuses());
        assert_eq!(breaker.admit().unwrap().failed(false), Tripped::Opened);
        assert!(breaker.is_open());
        assert!(breaker.refuses());
        assert!(breaker.admit().is_none());
    }

    #[test]
    fn one_timeout_opens_it_and_only_one_caller_reports_the_opening() {
        let breaker = Breaker::new(3, COOLDOWN);
        let in_flight: Vec<Permit<'_>> = (0..4).map(|_| breaker.admit().unwrap()).collect();
        let outcomes: Vec<Tripped> = in_flight.into_iter().map(|p| p.failed(true)).collect();
        assert_eq!(
            outcomes,
            [Tripped::Opened, Tripped::No, Tripped::No, Tripped::No]
        );
        assert!(breaker.refuses());
    }

    #[test]
    fn one_probe_after_the_cooldown_closes_it_on_success() {
        let breaker = Breaker::new(1, COOLDOWN);
        fail_times(&breaker, 1);
        std::thread::sleep(COOLDOWN * 2);
        assert!(!breaker.refuses(), "a probe may go");
        let probe = breaker.admit().expect("the probe");
        assert!(breaker.admit().is_none(), "only one probe at a time");
        assert!(probe.succeeded());
        assert!(!breaker.is_open());
        assert!(breaker.admit().is_some());
    }

    #[test]
    fn a_failed_or_abandoned_probe_opens_it_again() {
        let breaker = Breaker::new(1, COOLDOWN);
        fail_times(&breaker, 1);
        std::thread::sleep(COOLDOWN * 2);
        assert_eq!(breaker.admit().unwrap().failed(false), Tripped::Reopened);
        assert!(breaker.admit().is_none(), "a fresh cooldown");
        std::thread::sleep(COOLDOWN * 2);
        drop(breaker.admit().expect("the next probe"));
        assert!(
            breaker.admit().is_none(),
            "a cancelled probe counts as failed"
        );
        std::thread::sleep(COOLDOWN * 2);
        assert!(breaker.admit().unwrap().succeeded());
    }

    #[test]
    fn a_cooldown_past_the_end_of_the_clock_keeps_it_open() {
        let huge = [
            Duration::MAX,
            Duration::from_nanos(u64::MAX),
            Duration::from_secs(u64::MAX / 1_000_000_000 + 1),
        ];
        for cooldown in huge {
            let breaker = Breaker::new(1, cooldown);
            assert_eq!(breaker.admit().unwrap().failed(false), Tripped::Opened);
            assert!(breaker.refuses(), "{cooldown:?}");
            assert!(breaker.admit().is_none(), "{cooldown:?}");
        }
    }

    #[test]
    fn a_failed_probe_reopens_it_for_a_huge_cooldown_too() {
        let breaker = Breaker::new(1, Duration::MAX);
        breaker.reopen();
        assert!(breaker.refuses());
        assert!(breaker.admit().is_none());
    }
}
