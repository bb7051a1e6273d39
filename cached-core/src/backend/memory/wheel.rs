//! A hierarchical timing wheel over the slots of a shard: finds the entries whose deadline
//! has passed without looking at any other, with O(1) scheduling and cancelling.
//!
//! Level 0 has 64 buckets of 2^26 ns (67 ms); each level above has 64 buckets 64 times as
//! wide (4.3 s, 4.6 min, 4.9 h), and entries further out than level 3 reaches (13 days) wait
//! in an overflow list. An entry is placed in the lowest level whose window holds its
//! deadline; when time enters a higher-level bucket, its entries move down ("cascade"), so
//! each entry moves at most once per level and expires from a level-0 bucket.
//!
//! Entries due further out than [`FAR`] (9 minutes) are not linked into the wheel at all:
//! they are only marked, and the wheel keeps a lower bound of their deadlines. Linking and
//! unlinking touch an entry's neighbours, which are cold; most long-lived entries are
//! evicted long before they expire, so their scheduling would be wasted. Once the lower
//! bound comes within [`HORIZON`] of the time, a sweep over the slots, a batch at a time,
//! links the entries due within `FAR` and recomputes the bound; sweeps of one wheel are
//! therefore at least `HORIZON` (4.6 minutes) apart.

use super::clock::{NEVER, Nanos};
use super::ring::{Links, List, NIL};

const LEVELS: usize = 4;
const WIDTH_BITS: u32 = 6;
const WIDTH: u64 = 1 << WIDTH_BITS;
const SHIFT0: u32 = 26;
const OVERFLOW: u16 = (LEVELS as u16) * (WIDTH as u16);

/// The bucket of a slot that is not scheduled.
pub(super) const UNSCHEDULED: u16 = u16::MAX;

/// The bucket of a slot whose deadline is too far out to be linked into the wheel yet.
pub(super) const FAR_OFF: u16 = UNSCHEDULED - 2;

/// How close to the time a lower bound of the far entries' deadlines starts a sweep: the
/// span of level 1, 2^38 ns (4.6 minutes).
const HORIZON: Nanos = 1 << shift(2);

/// Entries due at least this long after the wheel's time are kept off it.
const FAR: Nanos = 2 * HORIZON;

/// What the wheel needs of the slots: their timer links, deadline and bucket.
pub(super) trait Timers: Links {
    fn deadline(&self, index: u32) -> Nanos;
    fn bucket(&self, index: u32) -> u16;
    fn set_bucket(&mut self, index: u32, bucket: u16);
    /// The number of slots, free ones included.
    fn slots(&self) -> u32;
}

pub(super) struct Wheel {
    buckets: Box<[List]>,
    /// Every level-0 tick before `time >> SHIFT0` has been processed.
    time: Nanos,
    len: usize,
    /// Scheduled entries per level, the overflow list last.
    counts: [usize; LEVELS + 1],
    /// Never above the deadline of a far entry.
    far_min: Nanos,
    /// The next slot the sweep looks at, or `NIL` between sweeps.
    sweep_at: u32,
    /// The least deadline of the far entries the current sweep leaves far, or has seen
    /// become far since it started.
    sweep_min: Nanos,
}

const fn level_of(bucket: u16) -> usize {
    (bucket as u64 / WIDTH) as usize
}

const fn shift(level: usize) -> u32 {
    SHIFT0 + WIDTH_BITS * level as u32
}

impl Wheel {
    pub(super) fn new(now: Nanos) -> Self {
        Self {
            buckets: vec![List::default(); OVERFLOW as usize + 1].into_boxed_slice(),
            time: now,
            len: 0,
            counts: [0; LEVELS + 1],
            far_min: NEVER,
            sweep_at: NIL,
            sweep_min: NEVER,
        }
    }

    fn place(&self, deadline: Nanos) -> u16 {
        let now = self.time;
        let deadline = deadline.max(now);
        for level in 0..LEVELS {
            let s = shift(level);
            if (deadline >> s) - (now >> s) < WIDTH {
                return (level as u64 * WIDTH + ((deadline >> s) & (WIDTH - 1))) as u16;
            }
        }
        OVERFLOW
    }

    /// Schedules `index` by its deadline: links it into its bucket, or marks it far off.
    #[inline]
    pub(super) fn schedule(&mut self, slots: &mut impl Timers, index: u32) {
        let deadline = slots.deadline(index);
        if deadline.saturating_sub(self.time) >= FAR {
            slots.set_bucket(index, FAR_OFF);
            self.far_min = self.far_min.min(deadline);
            self.sweep_min = self.sweep_min.min(deadline);
        } else {
            self.link(slots, index, deadline);
        }
    }

    fn link(&mut self, slots: &mut impl Timers, index: u32, deadline: Nanos) {
        let bucket = self.place(deadline);
        slots.set_bucket(index, bucket);
        self.buckets[bucket as usize].push_back(slots, index);
        self.len += 1;
        self.counts[level_of(bucket)] += 1;
    }

    /// Unschedules `index`, if it is scheduled.
    #[inline]
    pub(super) fn cancel(&mut self, slots: &mut impl Timers, index: u32) {
        match slots.bucket(index) {
            UNSCHEDULED => {}
            FAR_OFF => slots.set_bucket(index, UNSCHEDULED),
            bucket => {
                self.buckets[bucket as usize].remove(slots, index);
                slots.set_bucket(index, UNSCHEDULED);
                self.len -= 1;
                self.counts[level_of(bucket)] -= 1;
            }
        }
    }

    /// Points the wheel at slot `to`, which holds what slot `from` held.
    pub(super) fn relocate(&mut self, slots: &mut impl Timers, from: u32, to: u32) {
        match slots.bucket(to) {
            UNSCHEDULED => {}
            // A sweep in progress may have passed `to` but not `from`.
            FAR_OFF => self.sweep_min = self.sweep_min.min(slots.deadline(to)),
            bucket => self.buckets[bucket as usize].relocate(slots, from, to),
        }
    }

    /// Whether a level-0 tick has ended since the wheel last advanced, or far entries may
    /// have to be linked. An empty wheel is due once a level-1 bucket has ended, only to
    /// catch up with the time, which keeps the test of far entries (and so the spacing of
    /// sweeps) exact to a level-1 bucket.
    pub(super) fn is_due(&self, now: Nanos) -> bool {
        let level = if self.len == 0 { 1 } else { 0 };
        (now >> shift(level)) > (self.time >> shift(level)) || self.sweep_due(now)
    }

    /// The lower bound of the far entries' deadlines; for checks.
    #[cfg(test)]
    pub(super) fn far_bound(&self) -> Nanos {
        self.far_min
    }

    fn sweep_due(&self, now: Nanos) -> bool {
        self.sweep_at != NIL || self.far_min < now.saturating_add(HORIZON)
    }

    /// Continues or starts a sweep, if one is due: looks at up to `budget` slots and links
    /// their far entries due within [`FAR`] of `now`. Returns whether no sweep is left to
    /// do.
    pub(super) fn sweep(&mut self, slots: &mut impl Timers, now: Nanos, budget: u32) -> bool {
        if !self.sweep_due(now) {
            return true;
        }
        if self.sweep_at == NIL {
            self.sweep_at = 0;
            self.sweep_min = NEVER;
        }
        let count = slots.slots();
        let start = self.sweep_at.min(count);
        let end = start.saturating_add(budget).min(count);
        let near = now.saturating_add(FAR);
        for index in start..end {
            if slots.bucket(index) == FAR_OFF {
                let deadline = slots.deadline(index);
                if deadline < near {
                    self.link(slots, index, deadline);
                } else {
                    self.sweep_min = self.sweep_min.min(deadline);
                }
            }
        }
        if end < count {
            self.sweep_at = end;
            return false;
        }
        self.sweep_at = NIL;
        self.far_min = self.sweep_min;
        true
    }

    /// Unschedules up to `budget` entries whose tick ended before `now`, pushing their
    /// indices to `expired`; returns whether the wheel caught up with `now`.
    pub(super) fn advance(
        &mut self,
        slots: &mut impl Timers,
        now: Nanos,
        mut budget: usize,
        expired: &mut Vec<u32>,
    ) -> bool {
        loop {
            if self.len == 0 {
                self.time = self.time.max(now);
                return true;
            }
            let tick = self.time >> SHIFT0;
            if tick >= now >> SHIFT0 {
                return true;
            }
            let lowest = self.counts.iter().position(|&n| n != 0).unwrap_or(LEVELS);
            if lowest > 0 {
                // Nothing below `lowest`: jump to where its next bucket turns (or to the
                // current tick, if that comes first).
                let s = shift(lowest.min(LEVELS - 1));
                let turn = ((self.time >> s) + 1) << s;
                let current = (now >> SHIFT0) << SHIFT0;
                if turn > current {
                    self.time = current;
                    return true;
                }
                self.time = turn;
                self.cascade(slots);
                continue;
            }
            let bucket = &mut self.buckets[(tick & (WIDTH - 1)) as usize];
            while bucket.head != NIL {
                if budget == 0 {
                    return false;
                }
                let index = bucket.head;
                bucket.remove(slots, index);
                slots.set_bucket(index, UNSCHEDULED);
                self.len -= 1;
                self.counts[0] -= 1;
                expired.push(index);
                budget -= 1;
            }
            self.time = (tick + 1) << SHIFT0;
            self.cascade(slots);
        }
    }

    /// Moves down the entries of every higher-level bucket whose time has come, highest
    /// level first, and reconsiders the overflow list when the top level turns.
    fn cascade(&mut self, slots: &mut impl Timers) {
        for level in (1..LEVELS).rev() {
            let s = shift(level);
            if self.time & ((1 << s) - 1) != 0 {
                continue;
            }
            if level == LEVELS - 1 {
                self.reschedule_all(slots, OVERFLOW as usize);
            }
            let bucket = level as u64 * WIDTH + ((self.time >> s) & (WIDTH - 1));
            self.reschedule_all(slots, bucket as usize);
        }
    }

    fn reschedule_all(&mut self, slots: &mut impl Timers, bucket: usize) {
        let mut pending = std::mem::take(&mut self.buckets[bucket]);
        while pending.head != NIL {
            let index = pending.head;
            pending.remove(slots, index);
            self.len -= 1;
            self.counts[bucket / WIDTH as usize] -= 1;
            self.schedule(slots, index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ring::Link;
    use super::*;

    const TICK: Nanos = 1 << SHIFT0;

    #[derive(Default)]
    struct Slots {
        links: Vec<Link>,
        deadlines: Vec<Nanos>,
        buckets: Vec<u16>,
    }

    impl Slots {
        fn add(&mut self, wheel: &mut Wheel, deadline: Nanos) -> u32 {
            self.links.push(Link::UNLINKED);
            self.deadlines.push(deadline);
            self.buckets.push(UNSCHEDULED);
            let index = (self.links.len() - 1) as u32;
            wheel.schedule(self, index);
            index
        }
    }

    impl Links for Slots {
        fn link(&mut self, index: u32) -> &mut Link {
            &mut self.links[index as usize]
        }
    }

    impl Timers for Slots {
        fn deadline(&self, index: u32) -> Nanos {
            self.deadlines[index as usize]
        }
        fn bucket(&self, index: u32) -> u16 {
            self.buckets[index as usize]
        }
        fn set_bucket(&mut self, index: u32, bucket: u16) {
            self.buckets[index as usize] = bucket;
        }
        fn slots(&self) -> u32 {
            self.links.len() as u32
        }
    }

    /// Advances and sweeps as the maintenance thread does, then advances again for what the
    /// sweep linked.
    fn expire_until(wheel: &mut Wheel, slots: &mut Slots, now: Nanos) -> Vec<u32> {
        let mut expired = Vec::new();
        assert!(wheel.advance(slots, now, usize::MAX, &mut expired));
        assert!(wheel.sweep(slots, now, u32::MAX));
        assert!(wheel.advance(slots, now, usize::MAX, &mut expired));
        expired.sort_unstable();
        expired
    }

    #[test]
    fn far_entries_stay_unlinked_until_a_sweep_brings_them_near() {
        let mut wheel = Wheel::new(0);
        let mut slots = Slots::default();
        let near = slots.add(&mut wheel, 3 * TICK);
        let far = slots.add(&mut wheel, FAR + 5 * TICK);
        let farther = slots.add(&mut wheel, 3 * FAR);
        let cancelled = slots.add(&mut wheel, FAR);
        assert_eq!(wheel.len, 1, "only the near entry is linked");
        for index in [far, farther, cancelled] {
            assert_eq!(slots.buckets[index as usize], FAR_OFF);
        }
        wheel.cancel(&mut slots, cancelled);
        assert_eq!(slots.buckets[cancelled as usize], UNSCHEDULED);
        assert!(!wheel.sweep_due(0));
        assert_eq!(expire_until(&mut wheel, &mut slots, 10 * TICK), vec![near]);

        // Once the least far deadline is within the horizon, a sweep in batches links the
        // entries due within `FAR` and leaves the others far off.
        let now = FAR + 6 * TICK - HORIZON;
        assert!(wheel.is_due(now));
        assert!(!wheel.sweep(&mut slots, now, 2));
        assert!(wheel.sweep(&mut slots, now, 2));
        assert_eq!(wheel.len, 1);
        assert_ne!(slots.buckets[far as usize], FAR_OFF);
        assert_eq!(slots.buckets[farther as usize], FAR_OFF);
        assert_eq!(wheel.far_min, 3 * FAR);
        assert!(!wheel.sweep_due(now), "the next sweep is a horizon away");

        assert!(expire_until(&mut wheel, &mut slots, FAR + 5 * TICK).is_empty());
        assert_eq!(
            expire_until(&mut wheel, &mut slots, FAR + 6 * TICK),
            vec![far]
        );
        assert!(expire_until(&mut wheel, &mut slots, 3 * FAR).is_empty());
        assert_eq!(
            expire_until(&mut wheel, &mut slots, 3 * FAR + TICK),
            vec![farther]
        );
        assert_eq!(wheel.far_min, NEVER);
    }

    #[test]
    fn entries_expire_once_their_tick_is_over_at_every_level() {
        let start = 1_000 * TICK;
        let mut wheel = Wheel::new(start);
        let mut slots = Slots::default();
        let deadlines = [
            start + TICK / 2,
            start + 10 * TICK,
            start + 500 * TICK,
            start + 40_000 * TICK,
            start + 3_000_000 * TICK,
            start + 20_000_000 * TICK,
        ];
        let indices: Vec<u32> = deadlines
            .iter()
            .map(|&d| slots.add(&mut wheel, d))
            .collect();
        let mut seen = Vec::new();
        for (&index, &deadline) in indices.iter().zip(&deadlines) {
            let before = expire_until(&mut wheel, &mut slots, deadline);
            assert!(before.is_empty(), "nothing expires before its deadline");
            let after = expire_until(&mut wheel, &mut slots, deadline + TICK);
            assert_eq!(
                after,
                vec![index],
                "expires within a tick after its deadline"
            );
            seen.push(index);
        }
        assert_eq!(seen.len(), deadlines.len());
        assert_eq!(wheel.len, 0);
    }

    #[test]
    fn cancelled_entries_never_expire_and_budgets_resume() {
        let mut wheel = Wheel::new(0);
        let mut slots = Slots::default();
        let all: Vec<u32> = (0..10).map(|_| slots.add(&mut wheel, 5 * TICK)).collect();
        wheel.cancel(&mut slots, all[3]);
        wheel.cancel(&mut slots, all[3]);
        let mut expired = Vec::new();
        assert!(!wheel.advance(&mut slots, 7 * TICK, 4, &mut expired));
        assert_eq!(expired.len(), 4);
        assert!(wheel.advance(&mut slots, 7 * TICK, 100, &mut expired));
        expired.sort_unstable();
        let expected: Vec<u32> = all.into_iter().filter(|&i| i != 3).collect();
        assert_eq!(expired, expected);
        assert!(!wheel.is_due(8 * TICK));
        assert!(
            wheel.is_due(WIDTH * TICK),
            "an empty wheel catches up every level-1 bucket"
        );
    }

    #[test]
    fn entries_past_due_when_scheduled_expire_at_the_next_advance() {
        let mut wheel = Wheel::new(50 * TICK);
        let mut slots = Slots::default();
        let late = slots.add(&mut wheel, TICK);
        assert!(wheel.is_due(51 * TICK));
        assert_eq!(expire_until(&mut wheel, &mut slots, 51 * TICK), vec![late]);
    }
}
