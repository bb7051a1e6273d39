//! The in-process store: a sharded map (`dashmap`) of typed values with per-entry expiry,
//! bounded by `max_size` with S3-FIFO eviction.
//!
//! S3-FIFO keeps a small FIFO for new entries and a main FIFO for entries seen twice; a
//! one-hit wonder leaves through the small queue without disturbing the hot set in the main
//! one, and a ghost list of recently evicted keys lets a returning key skip the small queue.
//! A hit only bumps a saturating 2-bit counter on the entry, and only when it changes; the
//! queues are touched by writes alone, under one mutex.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use parking_lot::Mutex;

use crate::glob;
use crate::ttl::Ttl;
use crate::value::Value;

/// The bound used when a memory cache's configuration sets no `max_size`.
pub const DEFAULT_MAX_SIZE: usize = 10_000;

/// How many expired entries a write reclaims, at most, on its way.
const RECLAIM_PER_WRITE: usize = 8;

/// An expiry instant in nanoseconds since the store's epoch; `NEVER` for entries that do not
/// expire.
type Deadline = u64;
const NEVER: Deadline = u64::MAX;

struct Entry {
    value: Value,
    expires_at: Deadline,
    id: u64,
    freq: AtomicU8,
}

impl Entry {
    fn touch(&self) {
        let freq = self.freq.load(Ordering::Relaxed);
        if freq < 3 {
            self.freq.store(freq + 1, Ordering::Relaxed);
        }
    }
}

/// What `compute` does with a key after looking at it.
pub(crate) enum Action {
    /// Leave the key as it is.
    Keep,
    /// Remove the key.
    Remove,
    /// Store this value with this expiry.
    Put(Value, Expiry),
}

/// The expiry a `Put` gives its key.
#[derive(Clone, Copy)]
pub(crate) enum Expiry {
    /// Expire after this long.
    After(Duration),
    /// Keep the key's current expiry (none for a new key).
    Unchanged,
}

/// A live entry as `compute` shows it.
pub(crate) struct Current<'a> {
    pub(crate) value: &'a Value,
}

/// The bounded in-process store of one memory cache.
pub(crate) struct MemoryStore {
    map: DashMap<Arc<str>, Entry>,
    policy: Mutex<Policy>,
    len: AtomicUsize,
    max_size: usize,
    epoch: Instant,
}

impl MemoryStore {
    pub(crate) fn new(max_size: usize) -> Self {
        let max_size = max_size.max(1);
        Self {
            map: DashMap::new(),
            policy: Mutex::new(Policy::new(max_size)),
            len: AtomicUsize::new(0),
            max_size,
            epoch: Instant::now(),
        }
    }

    fn now(&self) -> Deadline {
        self.epoch.elapsed().as_nanos() as Deadline
    }

    fn deadline(&self, now: Deadline, ttl: Duration) -> Deadline {
        now.saturating_add(ttl.as_nanos().min(u128::from(NEVER - 1)) as u64)
            .min(NEVER - 1)
    }

    /// Reads a live entry through `read`, counting the access for eviction.
    pub(crate) fn get<R>(&self, key: &str, read: impl FnOnce(&Value) -> R) -> Option<R> {
        let entry = self.map.get(key)?;
        if entry.expires_at <= self.now() {
            let id = entry.id;
            drop(entry);
            self.remove_if_id(key, id);
            return None;
        }
        entry.touch();
        Some(read(&entry.value))
    }

    /// Whether a live entry exists, without counting an access.
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.map
            .get(key)
            .is_some_and(|entry| entry.expires_at > self.now())
    }

    /// The remaining lifetime of `key`.
    pub(crate) fn ttl(&self, key: &str) -> Ttl {
        let now = self.now();
        match self.map.get(key) {
            Some(entry) if entry.expires_at > now => match entry.expires_at {
                NEVER => Ttl::NoExpiry,
                at => Ttl::Expires(Duration::from_nanos(at - now)),
            },
            _ => Ttl::Absent,
        }
    }

    /// Stores `value` under `key`; returns how many entries were evicted to make room.
    pub(crate) fn set(&self, key: &str, value: Value, ttl: Duration) -> u64 {
        self.compute(key, |_| (Action::Put(value, Expiry::After(ttl)), ()))
            .1
    }

    /// Looks at `key` and acts on it atomically: no other write to the store interleaves.
    /// Returns what `decide` returned and how many entries were evicted to make room.
    pub(crate) fn compute<R>(
        &self,
        key: &str,
        decide: impl FnOnce(Option<Current<'_>>) -> (Action, R),
    ) -> (R, u64) {
        let mut policy = self.policy.lock();
        let now = self.now();
        self.reclaim_expired(&mut policy, now);

        if let Some(mut entry) = self.map.get_mut(key) {
            if entry.expires_at > now {
                let (action, result) = decide(Some(Current {
                    value: &entry.value,
                }));
                match action {
                    Action::Keep => {}
                    Action::Remove => {
                        let id = entry.id;
                        drop(entry);
                        self.remove_if_id(key, id);
                    }
                    Action::Put(value, expiry) => {
                        entry.value = value;
                        if let Expiry::After(ttl) = expiry {
                            let old = entry.expires_at;
                            entry.expires_at = self.deadline(now, ttl);
                            policy.reschedule(key, entry.id, old, entry.expires_at);
                        }
                    }
                }
                return (result, 0);
            }
            let id = entry.id;
            drop(entry);
            self.remove_if_id(key, id);
        }

        let (action, result) = decide(None);
        let Action::Put(value, expiry) = action else {
            return (result, 0);
        };
        let mut evicted = 0;
        while self.len.load(Ordering::Acquire) >= self.max_size {
            if !self.evict_one(&mut policy) {
                break;
            }
            evicted += 1;
        }
        let expires_at = match expiry {
            Expiry::After(ttl) => self.deadline(now, ttl),
            Expiry::Unchanged => NEVER,
        };
        let key: Arc<str> = Arc::from(key);
        let id = policy.admit(&key, self.map.hasher().hash_one(&*key), expires_at);
        self.map.insert(
            key,
            Entry {
                value,
                expires_at,
                id,
                freq: AtomicU8::new(0),
            },
        );
        self.len.fetch_add(1, Ordering::AcqRel);
        policy.compact_if_stale(self.len.load(Ordering::Acquire), |key, id| {
            self.map.get(key).is_some_and(|e| e.id == id)
        });
        (result, evicted)
    }

    /// Removes `key`; returns whether a live entry was removed.
    pub(crate) fn remove(&self, key: &str) -> bool {
        let now = self.now();
        match self.map.remove(key) {
            Some((_, entry)) => {
                self.len.fetch_sub(1, Ordering::AcqRel);
                entry.expires_at > now
            }
            None => false,
        }
    }

    /// Removes every key matching the glob `pattern`; returns how many live entries went.
    pub(crate) fn remove_matching(&self, pattern: &str) -> usize {
        let now = self.now();
        let (mut live, mut removed) = (0, 0);
        self.map.retain(|key, entry| {
            if glob::matches(pattern, key) {
                removed += 1;
                live += usize::from(entry.expires_at > now);
                false
            } else {
                true
            }
        });
        self.len.fetch_sub(removed, Ordering::AcqRel);
        live
    }

    /// Removes every entry.
    pub(crate) fn clear(&self) {
        let mut policy = self.policy.lock();
        let mut removed = 0;
        self.map.retain(|_, _| {
            removed += 1;
            false
        });
        self.len.fetch_sub(removed, Ordering::AcqRel);
        *policy = Policy::new(self.max_size);
    }

    /// The number of entries held, expired ones not yet reclaimed included.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    fn remove_if_id(&self, key: &str, id: u64) -> bool {
        let removed = self.map.remove_if(key, |_, entry| entry.id == id).is_some();
        if removed {
            self.len.fetch_sub(1, Ordering::AcqRel);
        }
        removed
    }

    fn reclaim_expired(&self, policy: &mut Policy, now: Deadline) {
        for _ in 0..RECLAIM_PER_WRITE {
            match policy.expiry.first_key_value() {
                Some((&(at, id), _)) if at <= now => {
                    if let Some(((_, _), key)) = policy.expiry.pop_first() {
                        self.remove_if_id(&key, id);
                    }
                }
                _ => break,
            }
        }
    }

    /// Evicts one live entry by S3-FIFO; false when there is nothing left to evict.
    fn evict_one(&self, policy: &mut Policy) -> bool {
        loop {
            let from_small = policy.small.len() >= policy.small_cap || policy.main.is_empty();
            let slot = if from_small {
                policy.small.pop_front().or_else(|| policy.main.pop_front())
            } else {
                policy.main.pop_front()
            };
            let Some(slot) = slot else { return false };
            let freq = match self.map.get(&slot.key) {
                Some(entry) if entry.id == slot.id => entry.freq.load(Ordering::Relaxed),
                _ => continue,
            };
            if from_small {
                if freq > 0 {
                    self.set_freq(&slot, 0);
                    policy.main.push_back(slot);
                    continue;
                }
                policy
                    .ghost
                    .remember(self.map.hasher().hash_one(&*slot.key));
            } else if freq > 0 {
                self.set_freq(&slot, freq - 1);
                policy.main.push_back(slot);
                continue;
            }
            if self.remove_if_id(&slot.key, slot.id) {
                return true;
            }
        }
    }

    fn set_freq(&self, slot: &Slot, freq: u8) {
        if let Some(entry) = self.map.get(&slot.key) {
            entry.freq.store(freq, Ordering::Relaxed);
        }
    }
}

/// A queue position: the key and the id of the entry it was queued for, so that a position
/// left behind by a deleted and re-created key is recognised as stale.
struct Slot {
    key: Arc<str>,
    id: u64,
}

struct Policy {
    small: VecDeque<Slot>,
    main: VecDeque<Slot>,
    ghost: Ghost,
    /// Entries with an expiry, by deadline, so that writes reclaim the oldest without a scan.
    expiry: BTreeMap<(Deadline, u64), Arc<str>>,
    small_cap: usize,
    next_id: u64,
}

impl Policy {
    fn new(max_size: usize) -> Self {
        let small_cap = (max_size / 10).max(1);
        Self {
            small: VecDeque::new(),
            main: VecDeque::new(),
            ghost: Ghost::new(max_size.saturating_sub(small_cap).max(1)),
            expiry: BTreeMap::new(),
            small_cap,
            next_id: 0,
        }
    }

    /// Queues a new entry and returns its id.
    fn admit(&mut self, key: &Arc<str>, hash: u64, expires_at: Deadline) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let slot = Slot {
            key: Arc::clone(key),
            id,
        };
        if self.ghost.forget(hash) {
            self.main.push_back(slot);
        } else {
            self.small.push_back(slot);
        }
        if expires_at != NEVER {
            self.expiry.insert((expires_at, id), Arc::clone(key));
        }
        id
    }

    fn reschedule(&mut self, key: &str, id: u64, old: Deadline, new: Deadline) {
        let entry = self.expiry.remove(&(old, id));
        if new != NEVER {
            let key = entry.unwrap_or_else(|| Arc::from(key));
            self.expiry.insert((new, id), key);
        }
    }

    /// Drops positions of deleted entries once they outnumber the live ones, so that
    /// set-and-delete cycles cannot grow the queues without bound.
    fn compact_if_stale(&mut self, live: usize, is_live: impl Fn(&str, u64) -> bool) {
        let limit = live.saturating_mul(2).max(1024);
        if self.small.len() + self.main.len() > limit {
            self.small.retain(|slot| is_live(&slot.key, slot.id));
            self.main.retain(|slot| is_live(&slot.key, slot.id));
        }
        if self.expiry.len() > limit {
            self.expiry.retain(|&(_, id), key| is_live(key, id));
        }
    }
}

/// Hashes of keys recently evicted from the small queue, bounded FIFO.
struct Ghost {
    order: VecDeque<u64>,
    members: HashSet<u64>,
    capacity: usize,
}

impl Ghost {
    fn new(capacity: usize) -> Self {
        Self {
            order: VecDeque::new(),
            members: HashSet::new(),
            capacity,
        }
    }

    fn remember(&mut self, hash: u64) {
        if self.members.insert(hash) {
            self.order.push_back(hash);
            if self.order.len() > self.capacity
                && let Some(oldest) = self.order.pop_front()
            {
                self.members.remove(&oldest);
            }
        }
    }

    fn forget(&mut self, hash: u64) -> bool {
        self.members.remove(&hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::erase;

    const LONG: Duration = Duration::from_secs(3600);

    fn get_u64(store: &MemoryStore, key: &str) -> Option<u64> {
        store.get(key, |v| crate::value::read::<u64>(&**v).unwrap())
    }

    #[test]
    fn set_get_replace_remove() {
        let store = MemoryStore::new(10);
        store.set("a", erase(1_u64), LONG);
        assert_eq!(get_u64(&store, "a"), Some(1));
        store.set("a", erase(2_u64), LONG);
        assert_eq!(get_u64(&store, "a"), Some(2));
        assert_eq!(store.len(), 1);
        assert!(store.remove("a"));
        assert!(!store.remove("a"));
        assert_eq!(get_u64(&store, "a"), None);
        assert_eq!(store.len(), 0);
    }

    #[test]
    fn expired_entries_are_not_returned_and_are_reclaimed_by_writes() {
        let store = MemoryStore::new(100);
        for i in 0..5 {
            store.set(&format!("short{i}"), erase(1_u64), Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(get_u64(&store, "short0"), None);
        assert_eq!(store.ttl("short1"), Ttl::Absent);
        assert!(!store.contains("short1"));
        store.set("other", erase(1_u64), LONG);
        assert_eq!(store.len(), 1, "the write reclaimed the expired entries");
    }

    #[test]
    fn the_bound_holds_and_evictions_are_reported() {
        let store = MemoryStore::new(50);
        let evicted: u64 = (0..500)
            .map(|i| store.set(&i.to_string(), erase(i as u64), LONG))
            .sum();
        assert_eq!(store.len(), 50);
        assert_eq!(evicted, 450);
    }

    #[test]
    fn frequently_read_keys_survive_a_stream_of_new_keys() {
        let store = MemoryStore::new(100);
        for round in 0..50 {
            for hot in 0..20 {
                let key = format!("hot{hot}");
                if get_u64(&store, &key).is_none() {
                    store.set(&key, erase(1_u64), LONG);
                }
            }
            for cold in 0..100 {
                store.set(&format!("cold{round}:{cold}"), erase(1_u64), LONG);
            }
        }
        let survivors = (0..20)
            .filter(|hot| store.contains(&format!("hot{hot}")))
            .count();
        assert_eq!(survivors, 20);
    }

    #[test]
    fn set_and_delete_cycles_do_not_grow_the_queues() {
        let store = MemoryStore::new(10);
        for i in 0..10_000 {
            let key = format!("k{}", i % 3);
            store.set(&key, erase(1_u64), LONG);
            store.remove(&key);
        }
        let policy = store.policy.lock();
        assert!(policy.small.len() + policy.main.len() <= 1025);
        assert!(policy.expiry.len() <= 1025);
    }

    #[test]
    fn remove_matching_counts_live_matches() {
        let store = MemoryStore::new(100);
        for key in ["user:1", "user:2", "users", "post:1"] {
            store.set(key, erase(1_u64), LONG);
        }
        assert_eq!(store.remove_matching("user:*"), 2);
        assert!(store.contains("users"));
        assert_eq!(store.len(), 2);
        store.clear();
        assert_eq!(store.len(), 0);
        assert!(!store.contains("post:1"));
    }
}
