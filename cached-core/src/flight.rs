//! Single-flight with invalidation: concurrent misses of one key in this process run one
//! load and share its result, and an invalidation *detaches* the loads in flight for the keys
//! it removes.
//!
//! A detached flight is out of the map, so a caller that misses after the invalidation starts
//! a new load instead of joining one that began before it; the callers it already had still
//! get its result, and its fill is refused (the store checks [`Flight::is_detached`] under the
//! lock its write takes). Invalidations detach before they delete and again after, so that a
//! flight that joined the map in between (and may have read the old value on its second look)
//! is not joined afterwards either.
//!
//! A flight also closes to newcomers once its value is settled (found on the second look, or
//! about to be stored): an invalidation in another process may come right after, and a
//! caller arriving after that must not be handed the value. Callers that joined while the
//! second look was on its way take a value it found only on their second flight, for the
//! same reason. A newcomer to a closed flight starts the next one.
//!
//! Each key in flight has one open [`Flight`] per shared result type; the first caller's
//! load initializes its `OnceCell` and the others wait on it. If that caller is cancelled,
//! the next waiter leads with its own load, so a dropped future never strands the others.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use dashmap::DashMap;
use tokio::sync::OnceCell;

/// What the callers that waited on a flight get.
#[derive(Clone)]
pub(crate) enum Outcome<S> {
    /// A value found on the leader's second look: for the callers that joined before that
    /// look was sent.
    Found(S),
    /// The load's result, for every caller that waited.
    Sure(S),
    /// The load's result, but its lease was lost: an invalidation (perhaps in another
    /// process) came while it ran, possibly before a waiting caller arrived. Only a caller
    /// on its second flight, whose load began after the caller did, may take it.
    Unsure(S),
    /// No result for the waiting callers (the leader's error is its own): each loads again.
    Each,
}

/// How far a flight has gone; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    /// Joinable; the leader has not looked at the store again yet.
    Open = 0,
    /// Joinable; the leader's second look is on its way.
    Looking = 1,
    /// Settled: newcomers start the next flight.
    Closed = 2,
}

/// One load in flight for one key.
pub(crate) struct Flight {
    detached: AtomicBool,
    phase: AtomicU8,
    /// A `OnceCell<Outcome<S>>` for the flight's shared type `S`.
    cell: Box<dyn Any + Send + Sync>,
}

impl Flight {
    fn new<S: Send + Sync + 'static>() -> Self {
        Self {
            detached: AtomicBool::new(false),
            phase: AtomicU8::new(Phase::Open as u8),
            cell: Box::new(OnceCell::<Outcome<S>>::new()),
        }
    }

    fn holds<S: 'static>(&self) -> bool {
        self.cell.is::<OnceCell<Outcome<S>>>()
    }

    /// The flight's result cell; `S` is the type it was created for.
    pub(crate) fn cell<S: 'static>(&self) -> &OnceCell<Outcome<S>> {
        self.cell
            .downcast_ref()
            .expect("a flight is joined with the type it was created for")
    }

    /// Whether an invalidation detached this flight: its load must not be stored.
    pub(crate) fn is_detached(&self) -> bool {
        self.detached.load(Ordering::Acquire)
    }

    fn detach(&self) {
        self.detached.store(true, Ordering::Release);
    }

    fn phase(&self) -> Phase {
        match self.phase.load(Ordering::SeqCst) {
            0 => Phase::Open,
            1 => Phase::Looking,
            _ => Phase::Closed,
        }
    }

    /// Moves the flight on to `phase` (never back).
    pub(crate) fn advance(&self, phase: Phase) {
        self.phase.fetch_max(phase as u8, Ordering::SeqCst);
    }
}

/// The loads in flight for one cache, by key.
#[derive(Default)]
pub(crate) struct Flights {
    map: DashMap<Box<str>, Vec<Arc<Flight>>>,
}

impl Flights {
    /// The flight of shared type `S` for `key` (the open one, or a new one), and the phase
    /// it was in when this caller joined.
    pub(crate) fn join<S: Send + Sync + 'static>(&self, key: &str) -> (Arc<Flight>, Phase) {
        let mut flights = self.map.entry(key.into()).or_default();
        for flight in flights.iter().filter(|flight| flight.holds::<S>()) {
            let phase = flight.phase();
            if phase < Phase::Closed {
                return (Arc::clone(flight), phase);
            }
        }
        let flight = Arc::new(Flight::new::<S>());
        flights.push(Arc::clone(&flight));
        (flight, Phase::Open)
    }

    /// Takes `flight` out of the map before its result is published, so that a caller
    /// arriving once the result is known starts afresh (and finds the value stored).
    pub(crate) fn retire(&self, key: &str, flight: &Arc<Flight>) {
        self.map.remove_if_mut(key, |_, flights| {
            flights.retain(|held| !Arc::ptr_eq(held, flight));
            flights.is_empty()
        });
    }

    /// Takes `flight` out of the map if nobody else holds it (every caller of a flight that
    /// never finished was cancelled); a no-op for a retired or detached flight.
    pub(crate) fn leave(&self, key: &str, flight: &Arc<Flight>) {
        // Joining clones under the map's lock, which this holds: the count is exact.
        self.map.remove_if_mut(key, |_, flights| {
            flights.retain(|held| !(Arc::ptr_eq(held, flight) && Arc::strong_count(held) <= 2));
            flights.is_empty()
        });
    }

    /// Detaches the flights of `key`.
    pub(crate) fn detach(&self, key: &str) {
        if self.map.is_empty() {
            return;
        }
        if let Some((_, flights)) = self.map.remove(key) {
            flights.iter().for_each(|flight| flight.detach());
        }
    }

    /// Detaches the flights of every key `matches` accepts.
    pub(crate) fn detach_where(&self, mut matches: impl FnMut(&str) -> bool) {
        if self.map.is_empty() {
            return;
        }
        self.map.retain(|key, flights| {
            let detached = matches(key);
            if detached {
                flights.iter().for_each(|flight| flight.detach());
            }
            !detached
        });
    }

    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_flight_per_key_and_type() {
        let flights = Flights::default();
        let (a, _) = flights.join::<u32>("k");
        assert!(Arc::ptr_eq(&a, &flights.join::<u32>("k").0));
        let (b, _) = flights.join::<String>("k");
        assert!(!Arc::ptr_eq(&a, &b), "another type gets its own flight");
        flights.retire("k", &a);
        assert!(!Arc::ptr_eq(&a, &flights.join::<u32>("k").0), "retired");
        assert!(Arc::ptr_eq(&b, &flights.join::<String>("k").0));
    }

    #[test]
    fn a_closed_flight_is_not_joined_but_still_detached() {
        let flights = Flights::default();
        let (a, phase) = flights.join::<u32>("k");
        assert_eq!(phase, Phase::Open);
        a.advance(Phase::Looking);
        let (same, phase) = flights.join::<u32>("k");
        assert!(Arc::ptr_eq(&a, &same));
        assert_eq!(phase, Phase::Looking);
        a.advance(Phase::Closed);
        a.advance(Phase::Open);
        let (next, phase) = flights.join::<u32>("k");
        assert!(!Arc::ptr_eq(&a, &next), "a closed flight takes no newcomer");
        assert_eq!(phase, Phase::Open);
        flights.detach("k");
        assert!(a.is_detached() && next.is_detached());
    }

    #[test]
    fn detached_flights_are_marked_and_never_joined_again() {
        let flights = Flights::default();
        let (a, _) = flights.join::<u32>("user:1");
        let (b, _) = flights.join::<u32>("user:2");
        let (c, _) = flights.join::<u32>("post:1");
        flights.detach("user:1");
        assert!(a.is_detached() && !b.is_detached());
        assert!(!Arc::ptr_eq(&a, &flights.join::<u32>("user:1").0));
        flights.detach_where(|key| key.starts_with("user:"));
        assert!(b.is_detached() && !c.is_detached());
        flights.detach_where(|_| true);
        assert!(c.is_detached());
        assert_eq!(flights.in_flight(), 0);
    }

    #[test]
    fn an_abandoned_flight_is_forgotten_but_not_one_still_joined() {
        let flights = Flights::default();
        let (first, _) = flights.join::<u32>("k");
        let (second, _) = flights.join::<u32>("k");
        flights.leave("k", &first);
        assert_eq!(flights.in_flight(), 1, "another caller still holds it");
        drop(second);
        flights.leave("k", &first);
        assert_eq!(flights.in_flight(), 0);
    }
}
