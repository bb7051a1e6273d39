//! A hierarchical timing wheel over the slots of a shard: finds the entries whose deadline
//! has passed without looking at any other, with O(1) scheduling and cancelling.
//!
//! Level 0 has 64 buckets of 2^26 ns (67 ms); each level above has 64 buckets 64 times as
//! wide (4.3 s, 4.6 min, 4.9 h), and entries further out than level 3 reaches (13 days) wait
//! in an overflow list. An entry is placed in the lowest level whose window holds its
//! deadline; when time enters a higher-level bucket, its entries move down ("cascade"), so
//! each entry moves at most once per level and expires from a level-0 bucket.

use super::clock::Nanos;
use super::ring::{Links, List, NIL};

const LEVELS: usize = 4;
const WIDTH_BITS: u32 = 6;
const WIDTH: u64 = 1 << WIDTH_BITS;
const SHIFT0: u32 = 26;
const OVERFLOW: u16 = (LEVELS as u16) * (WIDTH as u16);

/// The bucket of a slot that is not scheduled.
pub(super) const UNSCHEDULED: u16 = u16::MAX;

/// What the wheel needs of the slots: their timer links, deadline and bucket.
pub(super) trait Timers: Links {
    fn deadline(&self, index: u32) -> Nanos;
    fn bucket(&self, index: u32) -> u16;
    fn set_bucket(&mut self, index: u32, bucket: u16);
}

pub(super) struct Wheel {
    buckets: Box<[List]>,
    /// Every level-0 tick before `time >> SHIFT0` has been processed.
    time: Nanos,
    len: usize,
    /// Scheduled entries per level, the overflow list last.
    counts: [usize; LEVELS + 1],
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

    /// Schedules `index` by its deadline.
    pub(super) fn schedule(&mut self, slots: &mut impl Timers, index: u32) {
        let bucket = self.place(slots.deadline(index));
        slots.set_bucket(index, bucket);
        self.buckets[bucket as usize].push_back(slots, index);
        self.len += 1;
        self.counts[level_of(bucket)] += 1;
    }

    /// Unschedules `index`, if it is scheduled.
    pub(super) fn cancel(&mut self, slots: &mut impl Timers, index: u32) {
        let bucket = slots.bucket(index);
        if bucket != UNSCHEDULED {
            self.buckets[bucket as usize].remove(slots, index);
            slots.set_bucket(index, UNSCHEDULED);
            self.len -= 1;
            self.counts[level_of(bucket)] -= 1;
        }
    }

    /// Points the wheel at slot `to`, which holds what slot `from` held.
    pub(super) fn relocate(&mut self, slots: &mut impl Timers, from: u32, to: u32) {
        let bucket = slots.bucket(to);
        if bucket != UNSCHEDULED {
            self.buckets[bucket as usize].relocate(slots, from, to);
        }
    }

    /// Whether a level-0 tick has ended since the wheel last advanced.
    pub(super) fn is_due(&self, now: Nanos) -> bool {
        self.len != 0 && (now >> SHIFT0) > (self.time >> SHIFT0)
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
    }

    fn expire_until(wheel: &mut Wheel, slots: &mut Slots, now: Nanos) -> Vec<u32> {
        let mut expired = Vec::new();
        assert!(wheel.advance(slots, now, usize::MAX, &mut expired));
        expired.sort_unstable();
        expired
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
        assert!(!wheel.is_due(100 * TICK));
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
