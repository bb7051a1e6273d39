//! The in-process store: a bounded, sharded map with per-entry expiry, S3-FIFO eviction, a
//! maintenance thread that reclaims expired entries, and a clock thread that publishes the
//! coarse time hits compare deadlines against.
//!
//! Each shard is a `hashbrown` table of slot indices under one `RwLock`, with its eviction
//! queues and timing wheel threaded through the same slots (see `shard.rs`). A hit takes the
//! shard's read lock, checks the deadline against a coarse clock, bumps a 3-bit counter only
//! while it can still grow, and reads the value in place.
//!
//! The sharding is our own rather than `dashmap`'s because the eviction and expiry state has
//! to live under the same lock as the table and point at entries that never move: a
//! `dashmap` shard holds only its table, whose entries move when it grows, so every
//! eviction would need a second lock and a second lookup by key.

mod clock;
mod ghost;
mod maintenance;
mod ring;
mod settings;
mod shard;
#[cfg(test)]
mod tests;
mod wheel;

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crossbeam_utils::CachePadded;
use parking_lot::{RwLock, RwLockWriteGuard};

use crate::glob;
use crate::ttl::Ttl;
use crate::value::Value;

use self::clock::{NEVER, Nanos};
use self::shard::{Shard, Taken};

pub(crate) use self::settings::build;

/// The bound used when a memory cache's configuration sets no `max_size`.
pub const DEFAULT_MAX_SIZE: usize = 10_000;

/// Shards per available core. More shards mean fewer threads meeting on one lock, but an
/// evicted entry is one written about as many misses ago as there are shards (see
/// `shard.rs`), so more shards also mean evicting entries that have left the CPU's cache.
const SHARDS_PER_CORE: usize = 8;

/// The fewest entries a shard is sized for, so that small stores keep one queue.
const MIN_SHARD_SIZE: usize = 64;

/// How many expired entries the maintenance thread takes out per lock of a shard: a few
/// microseconds, short enough that a reader arriving meanwhile spins instead of sleeping.
const RECLAIM_BATCH: usize = 32;

/// How long the maintenance thread waits for a shard's lock before leaving the shard for
/// its next round. A writer waiting holds up every reader arriving after it, so the wait is
/// short; yet not nothing: a busy program's read holds a shard for nanoseconds, but a reader
/// that parked behind the last batch is woken as it ends and holds the shard until the
/// scheduler runs it, and without waiting for it reclaiming fell rounds behind a busy
/// program (memory came back 1-3 s after the last expiry instead of 0.1-0.2 s).
const RECLAIM_WAIT: Duration = Duration::from_millis(1);

/// The default hasher: fast, seeded per store, and mixed well in every bit (quick_cache's
/// default too). foldhash's `fast` variant mixes an integer poorly under some seeds: 10,000
/// consecutive `u64` keys then fell 105 to 436 to a shard of 32 (about 312 each expected).
pub type DefaultHashBuilder = foldhash::quality::RandomState;

/// What [`MemoryStore::compute`] does with a key after looking at it.
pub enum Action<V> {
    /// Leave the key as it is.
    Keep,
    /// Remove the key.
    Remove,
    /// Store this value with this expiry. Replacing a live value counts as an access for
    /// eviction, as a read does; replacing a pinned entry makes it evictable.
    Put(V, Expiry),
    /// Store this value with this expiry, never to be evicted while it lives: for claims
    /// such as locks, which nobody reads yet must last until they expire or are removed.
    /// Pinned entries are held in addition to `max_size` (see [`MemoryStore`]).
    Pin(V, Expiry),
}

/// The expiry an [`Action::Put`] or [`Action::Pin`] gives its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// Expire after this long.
    After(Duration),
    /// Keep the key's current expiry (none for a new key).
    Unchanged,
}

impl Expiry {
    /// The deadline this gives an entry added at `now` whose current deadline is `current`.
    #[inline]
    fn deadline(self, now: Nanos, current: Nanos) -> Nanos {
        match self {
            Expiry::After(ttl) => clock::deadline(now, ttl),
            Expiry::Unchanged => current,
        }
    }
}

/// A live entry as [`MemoryStore::compute`] shows it.
pub struct Current<'a, V> {
    /// The value stored.
    pub value: &'a V,
}

/// A bounded concurrent map with a TTL on every entry: the store behind memory caches,
/// usable on its own.
///
/// It never holds more than `max_size` evictable entries, even for an instant under
/// concurrent inserts; it evicts with S3-FIFO, which keeps a frequently used entry over a
/// stream of keys used once (a scan does not flush it); it never returns an expired entry;
/// and a background thread reclaims expired entries without any call having to scan.
///
/// # Pinned entries
///
/// [`Action::Pin`] stores an entry that is never evicted while it lives: a claim such as a
/// lock or a `set_nx` marker, which nobody reads yet must last until it expires or is
/// removed. `max_size` bounds the evictable entries, the cached values; pinned entries are
/// held in addition, until they expire, are removed, or are replaced by an [`Action::Put`],
/// which makes the entry evictable and counts it under `max_size` again. Counting claims
/// within the bound would let a burst of them evict the cached values. The store does not
/// bound them: its user does (a memory cache refuses a claim past `max_size` of them), by
/// reading [`pinned`] before it pins. [`len`] counts them with the others.
///
/// [`len`]: MemoryStore::len
/// [`pinned`]: MemoryStore::pinned
///
/// Values are read in place through a closure, so a hit copies nothing unless the caller
/// does. Cloning the store is cheap and shares the entries.
///
/// # Example
///
/// ```
/// use std::time::Duration;
///
/// use cached_core::memory::MemoryStore;
///
/// let store: MemoryStore<String, u64> = MemoryStore::new(1_000);
/// store.set("visits", 1, Duration::from_secs(60));
/// assert_eq!(store.get("visits", |v| *v), Some(1));
/// assert!(store.remove("visits"));
/// assert_eq!(store.get("visits", |v| *v), None);
/// ```
pub struct MemoryStore<K, V, S = DefaultHashBuilder> {
    // The shards and hasher are held here as well as in `inner`, so that a hit reaches a
    // shard without going through `inner` first.
    shards: Arc<[Locked<K, V>]>,
    hasher: S,
    /// The number of shards less one (a power of two less one).
    shard_mask: usize,
    inner: Arc<Inner<K, V>>,
}

/// One shard under its lock, alone on its cache lines.
type Locked<K, V> = CachePadded<RwLock<Shard<K, V>>>;

struct Inner<K, V> {
    shards: Arc<[Locked<K, V>]>,
    /// Evictable entries held: never above `max_size`, and changed only under the lock of
    /// the shard whose entries change.
    len: CachePadded<AtomicUsize>,
    max_size: usize,
    nominal: usize,
    /// Pinned entries held, changed as `len` is.
    pinned: CachePadded<AtomicUsize>,
}

impl<K, V, S: Clone> Clone for MemoryStore<K, V, S> {
    fn clone(&self) -> Self {
        Self {
            shards: Arc::clone(&self.shards),
            hasher: self.hasher.clone(),
            shard_mask: self.shard_mask,
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K, V, S> fmt::Debug for MemoryStore<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("len", &self.len())
            .field("pinned", &self.pinned())
            .field("max_size", &self.inner.max_size)
            .field("shards", &self.inner.shards.len())
            .finish()
    }
}

impl<K, V, S> MemoryStore<K, V, S> {
    /// The number of entries held, pinned ones and expired ones not yet reclaimed included.
    pub fn len(&self) -> usize {
        self.inner.len.load(Ordering::Acquire) + self.pinned()
    }

    /// The number of pinned entries held ([`Action::Pin`]), expired ones not yet reclaimed
    /// included: held in addition to `max_size`.
    pub fn pinned(&self) -> usize {
        self.inner.pinned.load(Ordering::Acquire)
    }

    /// Whether the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most evictable entries the store holds; pinned ones come in addition.
    pub fn max_size(&self) -> usize {
        self.inner.max_size
    }
}

impl<K, V> MemoryStore<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// An empty store holding at most `max_size` entries (at least one). Memory follows the
    /// entries held, not the bound, which may be as large as `usize::MAX`.
    pub fn new(max_size: usize) -> Self {
        Self::with_hasher(max_size, DefaultHashBuilder::default())
    }
}

impl<K, V, S> MemoryStore<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    /// An empty store holding at most `max_size` entries, hashing keys with `hasher`.
    pub fn with_hasher(max_size: usize, hasher: S) -> Self {
        let max_size = max_size.max(1);
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let mut shards = (cores * SHARDS_PER_CORE).next_power_of_two();
        while shards > 1 && max_size / shards < MIN_SHARD_SIZE {
            shards /= 2;
        }
        let nominal = max_size.div_ceil(shards);
        clock::start();
        let now = clock::recent();
        let shard_mask = shards - 1;
        let shards: Arc<[Locked<K, V>]> = (0..shards)
            .map(|_| CachePadded::new(RwLock::new(Shard::new(nominal, now))))
            .collect();
        let inner = Arc::new(Inner {
            shards: Arc::clone(&shards),
            len: CachePadded::new(AtomicUsize::new(0)),
            max_size,
            nominal,
            pinned: CachePadded::new(AtomicUsize::new(0)),
        });
        let weak = Arc::downgrade(&inner);
        maintenance::register(weak);
        Self {
            shards,
            hasher,
            shard_mask,
            inner,
        }
    }

    /// The hash of `key` within its shard (the low half of its hash), and the index of its
    /// shard (bits of the high half).
    #[inline]
    fn locate<Q: Hash + ?Sized>(&self, key: &Q) -> (u32, usize) {
        let hash = self.hasher.hash_one(key);
        (hash as u32, shard_index(hash, self.shard_mask))
    }

    /// Reads the live value at `key` through `read`, counting the access for eviction.
    #[inline]
    pub fn get<Q, R>(&self, key: &Q, read: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (hash, index) = self.locate(key);
        let shard = self.shards[index].read();
        let slot = shard.slot(shard.find(hash, key)?);
        if !clock::is_live(slot.deadline()) {
            return None;
        }
        slot.touch();
        Some(read(slot.value()))
    }

    /// As [`get`](MemoryStore::get), with the entry's remaining lifetime (`None`: it never
    /// expires), from which a reader that serves entries past their freshness tells their age.
    #[inline]
    pub fn get_aged<Q, R>(
        &self,
        key: &Q,
        read: impl FnOnce(&V) -> R,
    ) -> Option<(R, Option<Duration>)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (hash, index) = self.locate(key);
        let shard = self.shards[index].read();
        let slot = shard.slot(shard.find(hash, key)?);
        let left = match slot.deadline() {
            NEVER => None,
            deadline => Some(
                deadline
                    .checked_sub(clock::precise())
                    .filter(|left| *left > 0)?,
            ),
        };
        slot.touch();
        Some((read(slot.value()), left.map(Duration::from_nanos)))
    }

    /// Whether a live entry exists, without counting an access.
    pub fn contains<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (hash, index) = self.locate(key);
        let shard = self.shards[index].read();
        shard
            .find(hash, key)
            .is_some_and(|index| clock::is_live(shard.slot(index).deadline()))
    }

    /// The remaining lifetime of `key`.
    pub fn ttl<Q>(&self, key: &Q) -> Ttl
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (hash, index) = self.locate(key);
        let shard = self.shards[index].read();
        let Some(index) = shard.find(hash, key) else {
            return Ttl::Absent;
        };
        match shard.slot(index).deadline() {
            NEVER => Ttl::NoExpiry,
            deadline => match deadline.checked_sub(clock::precise()) {
                Some(left) if left > 0 => Ttl::Expires(Duration::from_nanos(left)),
                _ => Ttl::Absent,
            },
        }
    }

    /// Stores `value` at `key` for `ttl`; returns how many live entries were evicted to
    /// make room (0 or 1). Replacing a live value counts as an access, as a read does.
    pub fn set<Q>(&self, key: &Q, value: V, ttl: Duration) -> u64
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned + ?Sized,
        Q::Owned: Into<K>,
    {
        self.compute(key, |_| (Action::Put(value, Expiry::After(ttl)), ()))
            .1
    }

    /// Looks at `key` and acts on it atomically: no other write to the key interleaves.
    /// Returns what `decide` returned and how many live entries were evicted to make room.
    ///
    /// `decide` runs under the lock of the key's shard: keep it short.
    pub fn compute<Q, R>(
        &self,
        key: &Q,
        decide: impl FnOnce(Option<Current<'_, V>>) -> (Action<V>, R),
    ) -> (R, u64)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned + ?Sized,
        Q::Owned: Into<K>,
    {
        let inner = &*self.inner;
        let (hash, index) = self.locate(key);
        // Declared before the guard, so dropped after it: nothing is freed under the lock.
        let mut garbage = Garbage::default();
        let mut shard = self.shards[index].write();
        if let Some(slot) = shard.find(hash, key) {
            if clock::is_live(shard.slot(slot).deadline()) {
                let held = shard.slot(slot);
                let pinned = held.is_pinned();
                let (action, result) = decide(Some(Current {
                    value: held.value(),
                }));
                let pins = matches!(action, Action::Pin(..));
                match action {
                    Action::Keep => {}
                    Action::Remove => {
                        inner.take_out(garbage.own.insert(shard.remove(slot)));
                    }
                    Action::Put(value, expiry) | Action::Pin(value, expiry) if pins == pinned => {
                        let deadline = match expiry {
                            Expiry::After(ttl) => Some(clock::deadline(clock::recent(), ttl)),
                            Expiry::Unchanged => None,
                        };
                        garbage.value = Some(shard.replace(slot, value, deadline));
                        // A rewrite is a use: a counter that is only incremented is hot.
                        shard.slot(slot).touch();
                    }
                    action => {
                        let evicted = self.move_over(
                            &mut shard,
                            (hash, index),
                            key,
                            slot,
                            action,
                            &mut garbage,
                        );
                        return (result, evicted);
                    }
                }
                return (result, 0);
            }
            inner.take_out(garbage.own.insert(shard.remove(slot)));
        }
        let (action, result) = decide(None);
        let now = clock::recent();
        let evicted = match action {
            Action::Put(value, expiry) => {
                let deadline = expiry.deadline(now, NEVER);
                self.put(
                    &mut shard,
                    (hash, index),
                    key,
                    value,
                    (now, deadline),
                    &mut garbage,
                )
            }
            Action::Pin(value, expiry) => {
                self.pin(&mut shard, hash, key, value, expiry.deadline(now, NEVER));
                0
            }
            Action::Keep | Action::Remove => 0,
        };
        (result, evicted)
    }

    /// Moves the live entry in `slot` of `shard` (the key's hash and shard index given, the
    /// shard's lock held) between pinned and evictable, as `action` (a `Put` of a pinned
    /// entry, a `Pin` of an evictable one) says: out of its list, and in again as a new entry
    /// that keeps its deadline under `Expiry::Unchanged` and, rewritten, counts a use.
    /// Returns how many live entries were evicted to make room.
    #[cold]
    fn move_over<Q>(
        &self,
        shard: &mut Shard<K, V>,
        (hash, index): (u32, usize),
        key: &Q,
        slot: u32,
        action: Action<V>,
        garbage: &mut Garbage<K, V>,
    ) -> u64
    where
        K: Borrow<Q>,
        Q: Eq + ToOwned + ?Sized,
        Q::Owned: Into<K>,
    {
        let current = shard.slot(slot).deadline();
        self.inner.take_out(garbage.own.insert(shard.remove(slot)));
        let now = clock::recent();
        let evicted = match action {
            Action::Put(value, expiry) => {
                let deadline = expiry.deadline(now, current);
                self.put(shard, (hash, index), key, value, (now, deadline), garbage)
            }
            Action::Pin(value, expiry) => {
                self.pin(shard, hash, key, value, expiry.deadline(now, current));
                0
            }
            Action::Keep | Action::Remove => unreachable!("kept or removed in place"),
        };
        let slot = shard.find(hash, key).expect("just added");
        shard.slot(slot).touch();
        evicted
    }

    /// Adds `value` at `key`, absent from `shard` (the key's hash and shard index given, the
    /// shard's lock held), due at `deadline`, making room at `now`; returns how many live
    /// entries were evicted.
    #[inline(always)]
    fn put<Q>(
        &self,
        shard: &mut Shard<K, V>,
        (hash, index): (u32, usize),
        key: &Q,
        value: V,
        (now, deadline): (Nanos, Nanos),
        garbage: &mut Garbage<K, V>,
    ) -> u64
    where
        Q: ToOwned + ?Sized,
        Q::Owned: Into<K>,
    {
        let (evicted, into) = self.inner.make_room(shard, index, now, garbage);
        garbage.displaced = shard.insert(hash, key.to_owned().into(), value, deadline, into);
        evicted
    }

    /// Adds `value` at `key`, absent from `shard` (the key's hash given, the shard's lock
    /// held), pinned until `deadline`.
    fn pin<Q>(&self, shard: &mut Shard<K, V>, hash: u32, key: &Q, value: V, deadline: Nanos)
    where
        Q: ToOwned + ?Sized,
        Q::Owned: Into<K>,
    {
        shard.insert_pinned(hash, key.to_owned().into(), value, deadline);
        self.inner.pinned.fetch_add(1, Ordering::AcqRel);
    }

    /// Removes `key`; returns whether a live entry was removed.
    pub fn remove<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (hash, index) = self.locate(key);
        let mut garbage = Garbage::default();
        let mut shard = self.shards[index].write();
        let Some(index) = shard.find(hash, key) else {
            return false;
        };
        let taken = garbage.own.insert(shard.remove(index));
        self.inner.take_out(taken);
        clock::is_live(taken.deadline)
    }

    /// Removes every entry whose key matches `predicate`; returns how many live ones went.
    /// Visits every entry, one shard at a time.
    pub fn remove_where(&self, mut predicate: impl FnMut(&K) -> bool) -> usize {
        let mut live = 0;
        let mut taken = Vec::new();
        for shard in self.shards.iter() {
            {
                let mut shard = shard.write();
                shard.retain(|key| !predicate(key), &mut taken);
                self.inner.take_out_all(&taken);
            }
            live += taken
                .drain(..)
                .filter(|entry| clock::is_live(entry.deadline))
                .count();
        }
        live
    }

    /// Removes every entry.
    pub fn clear(&self) {
        let now = clock::recent();
        for shard in self.shards.iter() {
            let old = {
                let mut shard = shard.write();
                let old = std::mem::replace(&mut *shard, Shard::new(self.inner.nominal, now));
                let pinned = old.pinned();
                self.inner
                    .len
                    .fetch_sub(old.len() - pinned, Ordering::AcqRel);
                self.inner.pinned.fetch_sub(pinned, Ordering::AcqRel);
                old
            };
            drop(old);
        }
    }
}

impl<K, V, S> MemoryStore<K, V, S>
where
    K: Hash + Eq + Borrow<str> + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    /// Removes every key matching the Redis glob `pattern`; returns how many live entries
    /// went.
    pub(crate) fn remove_matching(&self, pattern: &str) -> usize {
        let pattern = glob::Pattern::new(pattern);
        self.remove_where(|key| pattern.matches(key.borrow()))
    }
}

/// The shard of `hash` (`mask` is the number of shards less one): bits of the upper half,
/// independent of the lower half that the shard's table and ghost list use.
#[inline]
fn shard_index(hash: u64, mask: usize) -> usize {
    (hash >> 32) as usize & mask
}

/// The store of memory caches: string keys, typed values.
pub(crate) type ValueStore = MemoryStore<Box<str>, Value>;

impl<K, V> Inner<K, V>
where
    K: Hash + Eq,
{
    /// Counts out an entry taken out of a shard, under the shard's lock.
    #[inline]
    fn take_out(&self, taken: &Taken<K, V>) {
        let count = if taken.pinned {
            &self.pinned
        } else {
            &self.len
        };
        count.fetch_sub(1, Ordering::AcqRel);
    }

    /// Counts out entries taken out of a shard, under the shard's lock.
    fn take_out_all(&self, taken: &[Taken<K, V>]) {
        let pinned = taken.iter().filter(|taken| taken.pinned).count();
        self.pinned.fetch_sub(pinned, Ordering::AcqRel);
        self.len.fetch_sub(taken.len() - pinned, Ordering::AcqRel);
    }

    /// Makes room for one more entry in shard `index` (locked as `shard`): takes a free
    /// place under `max_size`, or evicts one entry and takes its place. Returns how many
    /// live entries were evicted, and the slot of this shard to insert into when the
    /// evicted entry was this shard's (it is still in the slot, to be replaced).
    #[inline(always)]
    fn make_room(
        &self,
        shard: &mut Shard<K, V>,
        index: usize,
        now: Nanos,
        garbage: &mut Garbage<K, V>,
    ) -> (u64, Option<u32>) {
        let mut len = self.len.load(Ordering::Acquire);
        loop {
            if len < self.max_size {
                match self.len.compare_exchange_weak(
                    len,
                    len + 1,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return (0, None),
                    Err(current) => {
                        len = current;
                        continue;
                    }
                }
            }
            if let Some(slot) = shard.evict_in_place(now) {
                return (u64::from(shard.slot(slot).deadline() > now), Some(slot));
            }
            // This shard is empty while the store is full: take the place of an entry of
            // another shard, without waiting on its lock (its holder may be waiting on ours).
            for (other, lock) in self.shards.iter().enumerate() {
                if other != index
                    && let Some(mut other) = lock.try_write()
                {
                    garbage.evicted = other.evict(now);
                    if let Some(taken) = &garbage.evicted {
                        return (u64::from(taken.deadline > now), None);
                    }
                }
            }
            std::thread::yield_now();
            len = self.len.load(Ordering::Acquire);
        }
    }
}

impl<K, V> maintenance::Maintained for Inner<K, V>
where
    K: Hash + Eq + Send + Sync,
    V: Send + Sync,
{
    fn reclaim(&self) {
        self.reclaim_with(|lock| lock.try_write_for(RECLAIM_WAIT));
    }
}

impl<K, V> Inner<K, V>
where
    K: Hash + Eq,
{
    /// Reclaims every shard that `write` locks: within [`RECLAIM_WAIT`] for the maintenance
    /// thread, which skips a shard still locked; tests wait with `write`, for a result that
    /// does not depend on what the maintenance thread holds meanwhile.
    fn reclaim_with<'a>(
        &'a self,
        write: impl Fn(&'a RwLock<Shard<K, V>>) -> Option<RwLockWriteGuard<'a, Shard<K, V>>>,
    ) {
        let mut taken = Vec::new();
        for lock in self.shards.iter() {
            loop {
                let Some(mut shard) = write(lock) else {
                    break;
                };
                let now = clock::precise();
                let done = !shard.has_expired(now) || shard.expire(now, RECLAIM_BATCH, &mut taken);
                self.take_out_all(&taken);
                drop(shard);
                taken.clear();
                if done {
                    break;
                }
            }
            // In a lock of its own; what it replaced is freed after the lock is released.
            let leftovers = write(lock).and_then(|mut shard| shard.compact());
            drop(leftovers);
        }
    }
}

/// What a write takes out of the store, held until the shard's lock is released.
struct Garbage<K, V> {
    /// The key's own entry: found expired, removed, or taken out to enter again pinned or
    /// no longer pinned.
    own: Option<Taken<K, V>>,
    /// The entry evicted from another shard to make room.
    evicted: Option<Taken<K, V>>,
    /// The entry evicted from the key's shard, whose slot the key took.
    displaced: Option<(K, V)>,
    /// The value a `Put` replaced.
    value: Option<V>,
}

impl<K, V> Default for Garbage<K, V> {
    fn default() -> Self {
        Self {
            own: None,
            evicted: None,
            displaced: None,
            value: None,
        }
    }
}
