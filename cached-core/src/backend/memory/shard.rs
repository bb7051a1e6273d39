//! One shard of the store: a hash table of slot indices, the slots themselves, and the
//! eviction and expiry structures threaded through them.
//!
//! Eviction is S3-FIFO with a CLOCK main queue: a new key enters a small FIFO and leaves it
//! into the ghost list unless it was used meanwhile; a key the ghost list remembers enters
//! the main queue directly. The main queue is a CLOCK ring whose hand spares an entry while
//! its 3-bit access counter is above zero, decrementing it. One-hit wonders (and scans)
//! therefore pass through the small queue without touching the hot set. A use is a read or
//! a rewrite of the value: a counter that is incremented and never read is as hot as a value
//! that is read.
//!
//! A full shard evicts from the small queue whenever it holds an entry: a new key stays
//! until the next insert into its shard unless it is used meanwhile, and the ghost list, not
//! the small queue, gives a returning key its second chance. The hit ratio is that of a
//! small queue of 1% of the shard (within 0.03 points from 1,000 to 300,000 entries on the
//! benchmark's stream), and the entry evicted is one written a few misses ago, still in the
//! CPU's cache, as is the memory its value frees for the next miss to allocate.
//!
//! A pinned entry (a claim such as a lock, which nobody reads yet must last until it expires
//! or is removed) is in neither queue but in a list of its own, which eviction never looks
//! at; the list is there for compaction, which finds entries through their lists.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::atomic::{AtomicU8, Ordering};

use hashbrown::HashTable;

use super::clock::{NEVER, Nanos};
use super::ghost::Ghost;
use super::ring::{Link, Links, List, NIL};
use super::wheel::{Timers, UNSCHEDULED, Wheel};

/// The largest access count; reads stop writing once an entry reaches it.
const MAX_FREQ: u8 = 7;

/// Shards with fewer slots than this are never compacted.
const MIN_COMPACT: usize = 64;

/// Shards with more entries than this are not compacted (yet): compaction holds the lock
/// for O(entries), which this keeps to about a tenth of a millisecond.
const MAX_COMPACT: usize = 2_048;

/// How many slots a sweep for far entries looks at per lock of the shard (see `wheel.rs`).
const SWEEP_BATCH: u32 = 4_096;

/// The bucket of the small queue's newest entry, not yet on the wheel.
const FRESH: u16 = UNSCHEDULED - 1;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Place {
    Free,
    Small,
    Main,
    /// Never evicted: held until it expires or is removed.
    Pinned,
}

/// One entry, or a free slot.
#[repr(align(64))]
pub(super) struct Slot<K, V> {
    kv: Option<(K, V)>,
    /// The key's hash within its shard, kept so that evicting, expiring and growing the
    /// table never hash a key again; 32 bits keep the slot in one cache line.
    hash: u32,
    deadline: Nanos,
    /// Links in the small or main queue; `next` links the free list.
    queue: Link,
    timer: Link,
    freq: AtomicU8,
    place: Place,
    bucket: u16,
}

impl<K, V> Slot<K, V> {
    pub(super) fn key(&self) -> &K {
        &self.kv.as_ref().expect("an occupied slot").0
    }

    pub(super) fn value(&self) -> &V {
        &self.kv.as_ref().expect("an occupied slot").1
    }

    pub(super) fn deadline(&self) -> Nanos {
        self.deadline
    }

    pub(super) fn is_pinned(&self) -> bool {
        self.place == Place::Pinned
    }

    /// Counts a use (a read or a rewrite); writes only while the counter can still grow.
    #[inline]
    pub(super) fn touch(&self) {
        let freq = self.freq.load(Ordering::Relaxed);
        if freq < MAX_FREQ {
            self.freq.store(freq + 1, Ordering::Relaxed);
        }
    }
}

/// The table's hash of a key from its 32-bit hash: the low half gives hashbrown's bucket
/// index, the high half (a copy) its 7-bit tag, which are then independent bits of the
/// key's hash for any table of up to 2^25 buckets.
#[inline(always)]
fn wide(hash: u32) -> u64 {
    let hash = u64::from(hash);
    hash << 32 | hash
}

struct QueueLinks<'a, K, V>(&'a mut [Slot<K, V>]);

impl<K, V> Links for QueueLinks<'_, K, V> {
    fn link(&mut self, index: u32) -> &mut Link {
        &mut self.0[index as usize].queue
    }
}

struct TimerLinks<'a, K, V>(&'a mut [Slot<K, V>]);

impl<K, V> Links for TimerLinks<'_, K, V> {
    fn link(&mut self, index: u32) -> &mut Link {
        &mut self.0[index as usize].timer
    }
}

impl<K, V> Timers for TimerLinks<'_, K, V> {
    fn deadline(&self, index: u32) -> Nanos {
        self.0[index as usize].deadline
    }
    fn bucket(&self, index: u32) -> u16 {
        self.0[index as usize].bucket
    }
    fn set_bucket(&mut self, index: u32, bucket: u16) {
        self.0[index as usize].bucket = bucket;
    }
    fn slots(&self) -> u32 {
        self.0.len() as u32
    }
}

/// The allocations a compaction replaced, kept until they can be freed outside the lock.
pub(super) struct Leftovers<K, V> {
    _slots: Vec<Slot<K, V>>,
    _table: HashTable<u32>,
}

/// An entry taken out of the store, kept until it can be dropped outside the lock.
pub(super) struct Taken<K, V> {
    _entry: (K, V),
    pub(super) deadline: Nanos,
    pub(super) pinned: bool,
}

/// The fields in the order of use: behind the lock's word, a hit reads only the first
/// cache line (table and slots), a miss the second as well; the wheel comes last.
#[repr(C)]
pub(super) struct Shard<K, V> {
    table: HashTable<u32>,
    slots: Vec<Slot<K, V>>,
    ghost: Ghost,
    small: List,
    main: List,
    /// Head of the free-slot list.
    free: u32,
    /// The small queue's newest entry, kept off the wheel (or `NIL`): most entries leave
    /// the small queue before another arrives, and then never touch the wheel at all. The
    /// next insert into the small queue, or the maintenance thread, schedules it.
    fresh: u32,
    /// Entries held, pinned ones included.
    len: u32,
    wheel: Wheel,
    /// The pinned entries, which neither a hit nor an eviction touches, and their count.
    pinned: List,
    pinned_len: u32,
}

impl<K, V> Shard<K, V>
where
    K: Hash + Eq,
{
    /// An empty shard sized for `nominal` entries.
    pub(super) fn new(nominal: usize, now: Nanos) -> Self {
        Self {
            table: HashTable::new(),
            slots: Vec::new(),
            free: NIL,
            small: List::default(),
            main: List::default(),
            ghost: Ghost::new(nominal),
            wheel: Wheel::new(now),
            fresh: NIL,
            len: 0,
            pinned: List::default(),
            pinned_len: 0,
        }
    }

    /// Entries held, pinned ones and expired ones not yet reclaimed included.
    pub(super) fn len(&self) -> usize {
        self.len as usize
    }

    /// Pinned entries held, expired ones not yet reclaimed included.
    pub(super) fn pinned(&self) -> usize {
        self.pinned_len as usize
    }

    #[inline]
    pub(super) fn find<Q>(&self, hash: u32, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let slots = &self.slots;
        self.table
            .find(wide(hash), |&index| {
                matches!(&slots[index as usize].kv, Some((held, _)) if held.borrow() == key)
            })
            .copied()
    }

    #[inline]
    pub(super) fn slot(&self, index: u32) -> &Slot<K, V> {
        &self.slots[index as usize]
    }

    /// Adds an entry for a key that is absent, in slot `into` if given (which
    /// [`Shard::evict_in_place`] returned; its entry is returned) or else in a free one; the
    /// caller has made room.
    #[inline(always)]
    pub(super) fn insert(
        &mut self,
        hash: u32,
        key: K,
        value: V,
        deadline: Nanos,
        into: Option<u32>,
    ) -> Option<(K, V)> {
        let main = self.ghost.forget(hash);
        let place = if main { Place::Main } else { Place::Small };
        let index = match into {
            Some(index) => index,
            None => self.vacant(hash, deadline, place),
        };
        // Field by field: the slot's links are set when it is queued or scheduled.
        let slot = &mut self.slots[index as usize];
        let displaced = slot.kv.replace((key, value));
        slot.hash = hash;
        slot.deadline = deadline;
        *slot.freq.get_mut() = 0;
        slot.place = place;
        if main {
            self.main.push_back(&mut QueueLinks(&mut self.slots), index);
            self.schedule(index);
        } else {
            self.small
                .push_back(&mut QueueLinks(&mut self.slots), index);
            self.age_fresh();
            self.slots[index as usize].bucket = FRESH;
            self.fresh = index;
        }
        let slots = &self.slots;
        self.table
            .insert_unique(wide(hash), index, |&i| wide(slots[i as usize].hash));
        self.len += 1;
        displaced
    }

    /// Adds a pinned entry for a key that is absent: one that is never evicted. Pinned
    /// entries do not count toward the store's bound, so no room is made.
    pub(super) fn insert_pinned(&mut self, hash: u32, key: K, value: V, deadline: Nanos) {
        let index = self.vacant(hash, deadline, Place::Pinned);
        let slot = &mut self.slots[index as usize];
        slot.kv = Some((key, value));
        slot.hash = hash;
        slot.deadline = deadline;
        slot.place = Place::Pinned;
        self.pinned
            .push_back(&mut QueueLinks(&mut self.slots), index);
        self.schedule(index);
        let slots = &self.slots;
        self.table
            .insert_unique(wide(hash), index, |&i| wide(slots[i as usize].hash));
        self.len += 1;
        self.pinned_len += 1;
    }

    /// A free slot: the head of the free list, or a new one. The ghost table grows with the
    /// slots, off the path of a full shard, which evicts into the slot it adds to.
    #[inline(always)]
    fn vacant(&mut self, hash: u32, deadline: Nanos, place: Place) -> u32 {
        if self.free != NIL {
            let index = self.free;
            self.free = self.slots[index as usize].queue.next;
            return index;
        }
        self.ghost.fit(self.slots.len() as u32);
        self.slots.push(Slot {
            kv: None,
            hash,
            deadline,
            queue: Link::UNLINKED,
            timer: Link::UNLINKED,
            freq: AtomicU8::new(0),
            place,
            bucket: UNSCHEDULED,
        });
        (self.slots.len() - 1) as u32
    }

    /// Replaces the value at `index` and, when given, its deadline; returns the old value.
    pub(super) fn replace(&mut self, index: u32, value: V, deadline: Option<Nanos>) -> V {
        let slot = &mut self.slots[index as usize];
        let old = std::mem::replace(&mut slot.kv.as_mut().expect("an occupied slot").1, value);
        if let Some(deadline) = deadline
            && deadline != slot.deadline
        {
            slot.deadline = deadline;
            if slot.bucket != FRESH {
                self.wheel.cancel(&mut TimerLinks(&mut self.slots), index);
                self.schedule(index);
            }
        }
        old
    }

    /// Puts `index` on the wheel if it has a deadline.
    fn schedule(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        slot.bucket = UNSCHEDULED;
        if slot.deadline != NEVER {
            self.wheel.schedule(&mut TimerLinks(&mut self.slots), index);
        }
    }

    /// Moves the fresh entry, if any, onto the wheel.
    fn age_fresh(&mut self) {
        let index = std::mem::replace(&mut self.fresh, NIL);
        if index != NIL {
            self.schedule(index);
        }
    }

    /// Takes `index` off the wheel, or out of the fresh place; call before unlinking it
    /// from its queue.
    fn unschedule(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        if slot.bucket == FRESH {
            slot.bucket = UNSCHEDULED;
            self.fresh = NIL;
        } else {
            self.wheel.cancel(&mut TimerLinks(&mut self.slots), index);
        }
    }

    /// Takes the entry at `index` out.
    #[inline(always)]
    pub(super) fn remove(&mut self, index: u32) -> Taken<K, V> {
        self.detach(index);
        let slot = &mut self.slots[index as usize];
        let entry = slot.kv.take().expect("an occupied slot");
        let pinned = slot.place == Place::Pinned;
        slot.place = Place::Free;
        slot.queue.next = self.free;
        self.free = index;
        Taken {
            _entry: entry,
            deadline: slot.deadline,
            pinned,
        }
    }

    /// Unlinks the entry at `index` from the table, its queue and the wheel, leaving it in
    /// its slot for the caller to take out or replace.
    #[inline(always)]
    fn detach(&mut self, index: u32) {
        let hash = self.slots[index as usize].hash;
        if let Ok(entry) = self.table.find_entry(wide(hash), |&i| i == index) {
            entry.remove();
        }
        self.unschedule(index);
        match self.slots[index as usize].place {
            Place::Small => self.small.remove(&mut QueueLinks(&mut self.slots), index),
            Place::Main => self.main.remove(&mut QueueLinks(&mut self.slots), index),
            Place::Pinned => {
                self.pinned.remove(&mut QueueLinks(&mut self.slots), index);
                self.pinned_len -= 1;
            }
            Place::Free => unreachable!("removing a free slot"),
        }
        self.len -= 1;
    }

    /// Takes out one entry to make room: an expired one if the queues' heads hold one,
    /// otherwise the entry S3-FIFO picks. `None` when the shard holds no evictable entry.
    pub(super) fn evict(&mut self, now: Nanos) -> Option<Taken<K, V>> {
        let index = self.pick(now)?;
        Some(self.remove(index))
    }

    /// Unlinks the entry S3-FIFO picks to make room (an expired one if the queues' heads
    /// hold one) and returns its slot, still holding the entry, for [`Shard::insert`] to
    /// fill: making room and adding then share the slot. `None` when the shard holds no
    /// evictable entry.
    #[inline(always)]
    pub(super) fn evict_in_place(&mut self, now: Nanos) -> Option<u32> {
        let index = self.pick(now)?;
        self.detach(index);
        Some(index)
    }

    /// The entry to evict: an expired one at a queue's head, or S3-FIFO's pick, moving the
    /// entries it spares.
    #[inline(always)]
    fn pick(&mut self, now: Nanos) -> Option<u32> {
        loop {
            let from_small = !self.small.is_empty();
            let index = if from_small {
                self.small.head
            } else {
                self.main.head
            };
            if index == NIL {
                return None;
            }
            let slot = &mut self.slots[index as usize];
            if slot.deadline <= now {
                return Some(index);
            }
            let freq = *slot.freq.get_mut();
            if freq > 0 {
                *slot.freq.get_mut() = freq - 1;
                if from_small {
                    slot.place = Place::Main;
                    self.unschedule(index);
                    self.small.remove(&mut QueueLinks(&mut self.slots), index);
                    self.main.push_back(&mut QueueLinks(&mut self.slots), index);
                    self.schedule(index);
                } else {
                    self.main.rotate(&mut QueueLinks(&mut self.slots));
                }
                continue;
            }
            if from_small {
                self.ghost.remember(slot.hash);
            }
            return Some(index);
        }
    }

    /// Whether entries may be waiting to be reclaimed.
    pub(super) fn has_expired(&self, now: Nanos) -> bool {
        self.fresh != NIL || self.wheel.is_due(now)
    }

    /// Takes out up to `budget` expired entries into `out`; returns whether none is left.
    pub(super) fn expire(&mut self, now: Nanos, budget: usize, out: &mut Vec<Taken<K, V>>) -> bool {
        self.age_fresh();
        let mut indices = Vec::new();
        let done = self
            .wheel
            .advance(&mut TimerLinks(&mut self.slots), now, budget, &mut indices);
        out.extend(indices.into_iter().map(|index| self.remove(index)));
        done && self
            .wheel
            .sweep(&mut TimerLinks(&mut self.slots), now, SWEEP_BATCH)
    }

    /// Takes out every entry whose key fails `keep`.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&K) -> bool, out: &mut Vec<Taken<K, V>>) {
        for index in 0..self.slots.len() as u32 {
            let slot = &self.slots[index as usize];
            if slot.place != Place::Free && !keep(slot.key()) {
                out.push(self.remove(index));
            }
        }
    }

    /// Gives memory back once most slots are free: moves the entries at the end into free
    /// slots at the front, and moves slots and table into allocations of the right size.
    /// The entries are found through their lists, so this costs O(entries), not O(slots),
    /// and the old allocations are returned to be freed once the lock is released. Runs
    /// from the maintenance thread, once a quarter or less of the slots is in use and at
    /// most `MAX_COMPACT` entries are left.
    pub(super) fn compact(&mut self) -> Option<Leftovers<K, V>> {
        let len = self.len as usize;
        if self.slots.len() < MIN_COMPACT || len * 4 > self.slots.len() || len > MAX_COMPACT {
            return None;
        }
        self.age_fresh();
        let target = (len * 2).max(MIN_COMPACT / 2) as u32;
        let mut live = Vec::with_capacity(len);
        for list in [self.small, self.main, self.pinned] {
            let mut at = list.head;
            while at != NIL {
                live.push(at);
                at = self.slots[at as usize].queue.next;
            }
        }
        let moves: Vec<(u32, u32)> = {
            let slots = &self.slots;
            let mut holes = (0..target).filter(|&i| slots[i as usize].place == Place::Free);
            live.iter_mut()
                .filter(|index| **index >= target)
                .map(|index| {
                    let to = holes.next().expect("enough free slots below the target");
                    (std::mem::replace(index, to), to)
                })
                .collect()
        };
        for (from, to) in moves {
            self.move_slot(from, to);
        }
        let mut slots = Vec::with_capacity(target as usize);
        slots.extend(self.slots.drain(..target as usize));
        let old_slots = std::mem::replace(&mut self.slots, slots);
        self.free = NIL;
        for index in (0..target).rev() {
            let slot = &mut self.slots[index as usize];
            if slot.place == Place::Free {
                slot.queue.next = self.free;
                self.free = index;
            }
        }
        let mut table = HashTable::with_capacity(len);
        for index in live {
            let slots = &self.slots;
            table.insert_unique(wide(slots[index as usize].hash), index, |&i| {
                wide(slots[i as usize].hash)
            });
        }
        let old_table = std::mem::replace(&mut self.table, table);
        Some(Leftovers {
            _slots: old_slots,
            _table: old_table,
        })
    }

    fn move_slot(&mut self, from: u32, to: u32) {
        let moved = Slot {
            kv: self.slots[from as usize].kv.take(),
            hash: self.slots[from as usize].hash,
            deadline: self.slots[from as usize].deadline,
            queue: self.slots[from as usize].queue,
            timer: self.slots[from as usize].timer,
            freq: AtomicU8::new(*self.slots[from as usize].freq.get_mut()),
            place: self.slots[from as usize].place,
            bucket: self.slots[from as usize].bucket,
        };
        self.slots[from as usize].place = Place::Free;
        let place = moved.place;
        self.slots[to as usize] = moved;
        let queue = match place {
            Place::Small => &mut self.small,
            Place::Main => &mut self.main,
            Place::Pinned => &mut self.pinned,
            Place::Free => unreachable!("moving a free slot"),
        };
        queue.relocate(&mut QueueLinks(&mut self.slots), from, to);
        self.wheel
            .relocate(&mut TimerLinks(&mut self.slots), from, to);
    }

    /// Places in the ghost table.
    #[cfg(test)]
    pub(super) fn ghost_size(&self) -> usize {
        self.ghost.size()
    }

    /// Slots allocated, free ones included.
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Checks every link and count; for tests.
    #[cfg(test)]
    pub(super) fn check(&self, hasher: &impl std::hash::BuildHasher) {
        let occupied = self.slots.iter().filter(|s| s.place != Place::Free).count();
        assert_eq!(occupied, self.len());
        assert_eq!(self.table.len(), self.len());

        for (index, slot) in self.slots.iter().enumerate() {
            if slot.place != Place::Free {
                let hash = hasher.hash_one(slot.key()) as u32;
                assert_eq!(slot.hash, hash);
                assert_eq!(
                    self.table.find(wide(hash), |&i| i as usize == index),
                    Some(&(index as u32))
                );
                if slot.bucket != FRESH {
                    assert_eq!(slot.deadline == NEVER, slot.bucket == UNSCHEDULED);
                }
                if slot.bucket == FRESH {
                    assert_eq!(slot.place, Place::Small);
                }
                if slot.bucket == super::wheel::FAR_OFF {
                    assert!(self.wheel.far_bound() <= slot.deadline);
                }
            }
        }
        let mut queued = 0;
        let lists = [
            (&self.small, Place::Small),
            (&self.main, Place::Main),
            (&self.pinned, Place::Pinned),
        ];
        for (list, place) in lists {
            let mut at = list.head;
            let mut prev = NIL;
            while at != NIL {
                let slot = &self.slots[at as usize];
                assert_eq!(slot.place, place);
                assert_eq!(slot.queue.prev, prev);
                queued += 1;
                prev = at;
                at = slot.queue.next;
            }
            assert_eq!(list.tail, prev);
        }
        assert_eq!(queued, self.len());
        let pinned = self.slots.iter().filter(|s| s.place == Place::Pinned);
        assert_eq!(pinned.count(), self.pinned());
        let marked = self.slots.iter().filter(|s| s.bucket == FRESH).count();
        assert_eq!(marked, usize::from(self.fresh != NIL));
        if self.fresh != NIL {
            assert_eq!(self.slots[self.fresh as usize].bucket, FRESH);
            assert_eq!(
                self.fresh, self.small.tail,
                "the fresh entry is the newest small one"
            );
        }
        let mut free = 0;
        let mut at = self.free;
        while at != NIL {
            assert_eq!(self.slots[at as usize].place, Place::Free);
            free += 1;
            at = self.slots[at as usize].queue.next;
        }
        assert_eq!(free + self.len(), self.slots.len());
    }
}
