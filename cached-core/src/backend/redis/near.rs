//! The near cache: a bounded in-process copy of what a Redis cache reads, kept typed so that
//! a near hit is a memory hit (a clone, no decoding, no round trip), and kept coherent by the
//! server (RESP3 client tracking).
//!
//! # Coherence
//!
//! Every read that may fill the near cache sends `CLIENT TRACKING ON` in the same pipeline as
//! its `GET`, on the same connection, so whichever connection serves the read (a first one, a
//! reconnection, a probe's fresh one) has the server remember the key for it and push an
//! invalidation when any client changes it. The pushes arrive on that connection (see
//! `connection.rs`) and drop the copy.
//!
//! A reply and a push travel separately: a value read just before another client's write can
//! reach the reader after the push that invalidates it. So a read takes a [`Ticket`] before it
//! is sent (the cache's epoch and its key's stripe counter), and its value is kept only if
//! neither moved, checked under the lock of the key's shard, which every invalidation of the
//! key takes to bump its stripe and drop the copy. Either the invalidation comes first and
//! the value is refused, or it comes second and removes it: an old value is never kept.
//!
//! Losing a connection (its close, a reconnection, a new connection replacing it, a timeout
//! or an unreachable server) may lose invalidations: the near cache is then emptied and its
//! epoch moved, so that no value read before it is kept either.

use std::any::Any;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_utils::CachePadded;
use redis::{PushInfo, PushKind, Value};

use crate::backend::memory::{Action, Expiry, MemoryStore};
use crate::glob;
use crate::stats::Counter;

/// Independent invalidation counters: a key's invalidation refuses the reads in flight of
/// the keys sharing its stripe, a cost in hit ratio only while they race.
const STRIPES: usize = 256;

/// A value as the near cache holds it: typed, read back by downcasting.
type Copy = Arc<dyn Any + Send + Sync>;

/// What a near cache is configured with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NearSettings {
    pub(crate) max_size: usize,
    /// The longest a copy lives, whatever the key's own expiry.
    pub(crate) ttl: Option<Duration>,
}

/// The near cache of one Redis cache.
pub(crate) struct Near {
    copies: MemoryStore<Box<str>, Copy>,
    ttl: Option<Duration>,
    /// The cache's key prefix, taken off the keys the server names in its pushes.
    prefix: Box<[u8]>,
    /// Moved by every reset and pattern invalidation: refuses every read in flight.
    epoch: CachePadded<AtomicU64>,
    stripes: Box<[CachePadded<AtomicU64>]>,
    hits: Counter,
}

/// The state a read saw before it was sent; its value is kept only if nothing moved since.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    epoch: u64,
    stripe: u64,
}

impl Near {
    pub(crate) fn new(settings: NearSettings, prefix: &str) -> Self {
        Self {
            copies: MemoryStore::new(settings.max_size),
            ttl: settings.ttl,
            prefix: prefix.as_bytes().into(),
            epoch: CachePadded::new(AtomicU64::new(0)),
            stripes: (0..STRIPES)
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect(),
            hits: Counter::default(),
        }
    }

    /// The copy of `key` read as `T`, counted as a near hit; `None` when there is none or it
    /// was kept as another type.
    #[inline]
    pub(crate) fn hit<T: Clone + 'static>(&self, key: &str) -> Option<T> {
        let value = self
            .copies
            .get(key, |copy| copy.downcast_ref::<T>().cloned())
            .flatten()?;
        self.hits.incr();
        Some(value)
    }

    /// Near hits since the cache was configured.
    pub(crate) fn hits(&self) -> u64 {
        self.hits.get()
    }

    /// The state to present when keeping the value of a read of `key` about to be sent.
    pub(crate) fn ticket(&self, key: &str) -> Ticket {
        Ticket {
            epoch: self.epoch.load(Ordering::Acquire),
            stripe: self.stripe(key).load(Ordering::Acquire),
        }
    }

    /// Keeps `value`, read for `key` under `ticket` from a connection that tracks the key,
    /// unless an invalidation of the key (or a reset) came since the ticket was taken.
    /// `left` is the key's remaining lifetime in Redis (`None`: no expiry).
    pub(crate) fn keep<T>(&self, key: &str, ticket: Ticket, value: T, left: Option<Duration>)
    where
        T: Send + Sync + 'static,
    {
        let ttl = match (left, self.ttl) {
            (Some(left), Some(ttl)) => left.min(ttl),
            (Some(ttl), None) | (None, Some(ttl)) => ttl,
            (None, None) => Duration::MAX,
        };
        if ttl.is_zero() {
            return;
        }
        let copy: Copy = Arc::new(value);
        let stripe = self.stripe(key);
        self.copies.compute(key, |_| {
            let current = Ticket {
                epoch: self.epoch.load(Ordering::Acquire),
                stripe: stripe.load(Ordering::Acquire),
            };
            if current == ticket {
                (Action::Put(copy, Expiry::After(ttl)), ())
            } else {
                (Action::Keep, ())
            }
        });
    }

    /// Drops the copy of `key` and refuses the reads of it in flight.
    pub(crate) fn invalidate(&self, key: &str) {
        let stripe = self.stripe(key);
        self.copies.compute(key, |_| {
            stripe.fetch_add(1, Ordering::AcqRel);
            (Action::Remove, ())
        });
    }

    /// Drops the copies of the keys matching the glob `pattern`, and refuses every read in
    /// flight.
    pub(crate) fn invalidate_matching(&self, pattern: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let pattern = glob::Pattern::new(pattern);
        self.copies.remove_where(|key| pattern.matches(key));
    }

    /// Drops every copy and refuses every read in flight: invalidations may have been lost.
    pub(crate) fn reset(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.copies.clear();
    }

    /// Acts on a push from a connection: an invalidation drops the keys it names (all of
    /// them for a flush), a disconnection empties the near cache.
    pub(crate) fn push(&self, push: PushInfo) {
        match push.kind {
            PushKind::Invalidate => match push.data.first() {
                Some(Value::Array(keys)) => {
                    for key in keys {
                        if let Value::BulkString(key) = key {
                            self.invalidate_pushed(key);
                        }
                    }
                }
                _ => self.reset(),
            },
            PushKind::Disconnection => self.reset(),
            _ => {}
        }
    }

    /// Invalidates a key as the server names it (with the cache's prefix); other keys are
    /// not this cache's.
    fn invalidate_pushed(&self, key: &[u8]) {
        let Some(key) = key.strip_prefix(&*self.prefix) else {
            return;
        };
        if let Ok(key) = std::str::from_utf8(key) {
            self.invalidate(key);
        }
    }

    fn stripe(&self, key: &str) -> &AtomicU64 {
        let hash = foldhash::fast::FixedState::with_seed(0x6e65_6172).hash_one(key);
        &self.stripes[hash as usize % STRIPES]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near() -> Near {
        Near::new(
            NearSettings {
                max_size: 100,
                ttl: None,
            },
            "p:",
        )
    }

    fn invalidation(keys: &[&str]) -> PushInfo {
        PushInfo {
            kind: PushKind::Invalidate,
            data: vec![Value::Array(
                keys.iter()
                    .map(|key| Value::BulkString(key.as_bytes().to_vec()))
                    .collect(),
            )],
        }
    }

    #[test]
    fn a_value_read_before_an_invalidation_is_not_kept() {
        let near = near();
        let ticket = near.ticket("a");
        near.push(invalidation(&["p:a"]));
        near.keep("a", ticket, 1_u32, None);
        assert_eq!(near.hit::<u32>("a"), None);

        let ticket = near.ticket("a");
        near.keep("a", ticket, 2_u32, None);
        assert_eq!(near.hit::<u32>("a"), Some(2));
        near.push(invalidation(&["p:a"]));
        assert_eq!(near.hit::<u32>("a"), None);
    }

    #[test]
    fn pushes_for_other_prefixes_and_other_keys_leave_copies_alone() {
        let near = near();
        near.keep("a", near.ticket("a"), 1_u32, None);
        near.push(invalidation(&["q:a", "a"]));
        assert_eq!(near.hit::<u32>("a"), Some(1));
    }

    #[test]
    fn a_flush_a_disconnection_and_a_pattern_empty_what_they_cover() {
        let near = near();
        for push in [
            PushInfo {
                kind: PushKind::Invalidate,
                data: vec![Value::Nil],
            },
            PushInfo {
                kind: PushKind::Disconnection,
                data: Vec::new(),
            },
        ] {
            near.keep("a", near.ticket("a"), 1_u32, None);
            let ticket = near.ticket("b");
            near.push(push);
            near.keep("b", ticket, 1_u32, None);
            assert_eq!((near.hit::<u32>("a"), near.hit::<u32>("b")), (None, None));
        }
        near.keep("user:1", near.ticket("user:1"), 1_u32, None);
        near.keep("post:1", near.ticket("post:1"), 1_u32, None);
        near.invalidate_matching("user:*");
        assert_eq!(near.hit::<u32>("user:1"), None);
        assert_eq!(near.hit::<u32>("post:1"), Some(1));
    }

    #[test]
    fn copies_live_no_longer_than_the_key_nor_the_near_ttl() {
        let near = Near::new(
            NearSettings {
                max_size: 10,
                ttl: Some(Duration::from_secs(60)),
            },
            "",
        );
        near.keep("gone", near.ticket("gone"), 1_u32, Some(Duration::ZERO));
        assert_eq!(near.hit::<u32>("gone"), None);
        near.keep("a", near.ticket("a"), 1_u32, None);
        let left = near.copies.get_aged("a", |_| ()).and_then(|(_, left)| left);
        assert!(left.is_some_and(|left| left <= Duration::from_secs(60)));
    }

    #[test]
    fn a_copy_read_as_another_type_is_a_near_miss() {
        let near = near();
        near.keep("a", near.ticket("a"), 1_u32, None);
        assert_eq!(near.hit::<String>("a"), None);
        assert_eq!(near.hits(), 0);
        assert_eq!(near.hit::<u32>("a"), Some(1));
        assert_eq!(near.hits(), 1);
    }
}
