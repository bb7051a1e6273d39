//! Invalidations the store did not confirm (Redis down, paused, cut off): until they are
//! replayed, this process treats the keys they cover as missing. It neither reads them from
//! the store nor stores loads of them, so that a write here is never followed, here, by a
//! read of the value it replaced, however long the outage (a Redis that comes back with its
//! data still holds that value). They are replayed, in order, by the next invalidation or
//! read once the store answers again, and forgotten only when the store confirms them.
//!
//! Other processes are not told: they may read such a value from Redis until the replay
//! lands (or the value expires).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::Mutex;

use super::Cache;
use crate::LOG_TARGET;
use crate::error::BackendError;
use crate::glob;

/// The most keys remembered; past it, further unconfirmed keys are only logged, so that an
/// outage under heavy writing cannot grow memory without bound.
const MAX_KEYS: usize = 100_000;

/// An invalidation to replay.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Entry {
    Key(Box<str>),
    Pattern(Box<str>),
    All,
}

/// The unconfirmed invalidations of one cache.
#[derive(Default)]
pub(super) struct Unconfirmed {
    /// How many entries are held: read without the lock, so that a cache with none (the
    /// usual case) pays one atomic load per read.
    count: AtomicUsize,
    entries: Mutex<Entries>,
    replaying: AtomicBool,
}

/// Each entry with the number of the invalidation that last added it: a replay forgets an
/// entry only if no invalidation failed on it again while the replay ran.
#[derive(Default)]
struct Entries {
    keys: HashMap<Entry, u64>,
    /// Patterns and `clear`s, in order.
    wide: Vec<(Entry, u64)>,
    added: u64,
    overflowed: bool,
}

impl Unconfirmed {
    fn is_empty(&self) -> bool {
        self.count.load(Ordering::Acquire) == 0
    }

    /// Whether `key` is covered by an unconfirmed invalidation.
    pub(super) fn covers(&self, key: &str) -> bool {
        if self.is_empty() {
            return false;
        }
        let entries = self.entries.lock();
        entries.keys.contains_key(&Entry::Key(key.into()))
            || entries.wide.iter().any(|(entry, _)| match entry {
                Entry::All => true,
                Entry::Pattern(pattern) => glob::Pattern::new(pattern).matches(key),
                Entry::Key(_) => false,
            })
    }

    fn add(&self, cache: &str, new: impl IntoIterator<Item = Entry>) {
        let mut entries = self.entries.lock();
        entries.added += 1;
        let number = entries.added;
        for entry in new {
            match entry {
                Entry::Key(_)
                    if entries.keys.len() >= MAX_KEYS && !entries.keys.contains_key(&entry) =>
                {
                    if !entries.overflowed {
                        entries.overflowed = true;
                        tracing::error!(target: LOG_TARGET, cache, "too many invalidations unconfirmed during this outage to remember; keys invalidated from now on may be read stale here until the store confirms or they expire");
                    }
                }
                Entry::Key(_) => drop(entries.keys.insert(entry, number)),
                wide => {
                    entries.wide.retain(|(held, _)| *held != wide);
                    entries.wide.push((wide, number));
                }
            }
        }
        self.count
            .store(entries.keys.len() + entries.wide.len(), Ordering::Release);
    }

    fn snapshot(&self) -> Vec<(Entry, u64)> {
        let entries = self.entries.lock();
        let keys = entries
            .keys
            .iter()
            .map(|(entry, number)| (entry.clone(), *number));
        entries.wide.iter().cloned().chain(keys).collect()
    }

    /// Forgets `entry` if it was last added as invalidation `number`.
    fn confirm(&self, entry: &Entry, number: u64) {
        let mut entries = self.entries.lock();
        match entry {
            Entry::Key(_) => {
                if entries.keys.get(entry) == Some(&number) {
                    entries.keys.remove(entry);
                }
            }
            wide => entries
                .wide
                .retain(|(held, added)| !(held == wide && *added == number)),
        }
        if entries.keys.is_empty() && entries.wide.is_empty() {
            entries.overflowed = false;
        }
        self.count
            .store(entries.keys.len() + entries.wide.len(), Ordering::Release);
    }
}

/// Whether an invalidation that failed this way may still be confirmed later (the store
/// could not be asked or did not answer), rather than never (it cannot do it at all).
fn retryable(error: &BackendError) -> bool {
    !matches!(
        error,
        BackendError::Unsupported(_) | BackendError::NotAnInteger
    )
}

impl Cache {
    /// Remembers the invalidation of `keys` when it failed in a way a replay can mend.
    pub(super) fn unconfirmed_keys<T>(&self, keys: &[&str], result: &Result<T, BackendError>) {
        if let Err(error) = result
            && retryable(error)
        {
            let entries = keys.iter().map(|key| Entry::Key((*key).into()));
            self.inner.unconfirmed.add(&self.inner.name, entries);
        }
    }

    /// Remembers the invalidation of the keys matching `pattern` when it failed.
    pub(super) fn unconfirmed_pattern<T>(&self, pattern: &str, result: &Result<T, BackendError>) {
        if let Err(error) = result
            && retryable(error)
        {
            let entry = Entry::Pattern(pattern.into());
            self.inner.unconfirmed.add(&self.inner.name, [entry]);
        }
    }

    /// Remembers a failed `clear`.
    pub(super) fn unconfirmed_clear<T>(&self, result: &Result<T, BackendError>) {
        if let Err(error) = result
            && retryable(error)
        {
            self.inner.unconfirmed.add(&self.inner.name, [Entry::All]);
        }
    }

    /// Whether this process must treat `key` as missing (see the module documentation).
    pub(super) fn unconfirmed(&self, key: &str) -> bool {
        self.inner.unconfirmed.covers(key)
    }

    /// Starts [`replay_unconfirmed`](Cache::replay_unconfirmed) in the background (a read
    /// never waits for it), when there is something to replay and a runtime to run it.
    pub(super) fn replay_soon(&self) {
        let unconfirmed = &self.inner.unconfirmed;
        if unconfirmed.is_empty()
            || self.inner.store.refuses()
            || unconfirmed.replaying.load(Ordering::Acquire)
        {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let cache = self.clone();
            runtime.spawn(async move { cache.replay_unconfirmed().await });
        }
    }

    /// Replays the unconfirmed invalidations in order, forgetting each the store confirms
    /// and stopping at the first it does not; a no-op when there are none, while the store
    /// is known to be down, or while another call replays them.
    async fn replay_unconfirmed(&self) {
        let unconfirmed = &self.inner.unconfirmed;
        if unconfirmed.is_empty()
            || self.inner.store.refuses()
            || unconfirmed.replaying.swap(true, Ordering::AcqRel)
        {
            return;
        }
        // Cleared however the replay ends, its runtime's end included, so that the next
        // read starts it again.
        let _replaying = Replaying(&unconfirmed.replaying);
        let entries = unconfirmed.snapshot();
        let total = entries.len();
        let mut confirmed = 0;
        for (entry, number) in entries {
            let done = match &entry {
                Entry::Key(key) => self.inner.store.delete(key).await.map(drop),
                Entry::Pattern(pattern) => self.inner.store.delete_pattern(pattern).await.map(drop),
                Entry::All => self.inner.store.clear().await,
            };
            if done.is_err() {
                break;
            }
            unconfirmed.confirm(&entry, number);
            confirmed += 1;
        }
        if confirmed > 0 {
            tracing::info!(target: LOG_TARGET, cache = %self.inner.name, confirmed, total, "invalidations made during the outage replayed");
        }
    }
}

/// Marks a replay as running while it lives.
struct Replaying<'a>(&'a AtomicBool);

impl Drop for Replaying<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}
