//! Tags: names for groups of entries (`user:42`, `posts`), invalidated together with
//! [`Cache::delete_tags`] without a scan of the keyspace.
//!
//! A tag is the set of keys it names: on Redis a set in a key of its own
//! (`backend/redis/tags.rs`), shared by every process; on memory and custom backends an index
//! in this process. A key joins its tags before its value is loaded or written, so that a tag
//! invalidation that comes after reaches the load too (it removes the key, and with it the
//! load's claim, as any invalidation does). Each membership lasts as long as the entry it
//! was made for, so the index of an entry that expired or was evicted goes by itself.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Cache, Fill};
use crate::LOG_TARGET;
use crate::error::Result;
use crate::outcome::Joined;
use crate::store::Store;

/// The tags of a memory or custom cache: tag → when it was last invalidated, and key → when
/// the membership ends (`None`: never). An invalidated tag stays, without members, for
/// [`TOMBSTONE_LIFE`], so that a load that joins its tags after it ran (an entity's) sees
/// that one was invalidated meanwhile.
#[derive(Default)]
pub(super) struct TagIndex {
    inner: Mutex<Index>,
}

#[derive(Default)]
struct Index {
    tags: HashMap<Box<str>, Tag>,
    members: usize,
    /// The member count past which ended memberships are swept: twice what the last sweep
    /// left, so that sweeping costs O(1) per membership made.
    sweep_at: usize,
}

struct Tag {
    invalidated: Option<Instant>,
    members: HashMap<Box<str>, Option<Instant>>,
}

/// The fewest members an index holds before it sweeps.
const SWEEP_FLOOR: usize = 1024;

/// How long an invalidated tag is remembered: longer than loads take (a load slower than
/// this that joins its tags afterwards may store a value a tag invalidation during it
/// should have stopped).
const TOMBSTONE_LIFE: Duration = Duration::from_secs(60);

impl TagIndex {
    /// Names `key` under `tags` for `ttl`; returns how long ago the most recently
    /// invalidated of the tags was invalidated (`Duration::MAX` for tags never invalidated).
    fn add(&self, key: &str, tags: &[String], ttl: Duration) -> Option<Duration> {
        let now = Instant::now();
        let until = now.checked_add(ttl);
        let mut index = self.inner.lock();
        let mut youngest: Option<Duration> = None;
        for tag in tags {
            // Looked up before inserting, so that joining a known tag allocates nothing.
            if !index.tags.contains_key(tag.as_str()) {
                let created = Tag {
                    invalidated: None,
                    members: HashMap::new(),
                };
                index.tags.insert(tag.as_str().into(), created);
            }
            let held = index
                .tags
                .get_mut(tag.as_str())
                .expect("inserted above when missing");
            let age = held
                .invalidated
                .map_or(Duration::MAX, |at| now.saturating_duration_since(at));
            youngest = Some(youngest.map_or(age, |young| young.min(age)));
            let added = match held.members.get_mut(key) {
                Some(held) => {
                    *held = later(*held, until);
                    false
                }
                None => {
                    held.members.insert(key.into(), until);
                    true
                }
            };
            index.members += usize::from(added);
        }
        if index.members > index.sweep_at.max(SWEEP_FLOOR) {
            index.sweep();
        }
        youngest
    }

    fn take(&self, tag: &str) -> Vec<String> {
        let now = Instant::now();
        let tombstone = Tag {
            invalidated: Some(now),
            members: HashMap::new(),
        };
        let mut index = self.inner.lock();
        let Some(tag) = index.tags.insert(tag.into(), tombstone) else {
            return Vec::new();
        };
        index.members -= tag.members.len();
        tag.members
            .into_iter()
            .filter(|(_, until)| until.is_none_or(|until| until > now))
            .map(|(key, _)| key.into())
            .collect()
    }

    fn clear(&self) {
        *self.inner.lock() = Index::default();
    }
}

impl Index {
    fn sweep(&mut self) {
        let now = Instant::now();
        self.tags.retain(|_, tag| {
            tag.members
                .retain(|_, until| until.is_none_or(|until| until > now));
            !tag.members.is_empty()
                || tag
                    .invalidated
                    .is_some_and(|at| now.saturating_duration_since(at) < TOMBSTONE_LIFE)
        });
        self.members = self.tags.values().map(|tag| tag.members.len()).sum();
        self.sweep_at = self.members * 2;
    }
}

/// Tags as the cache keeps them.
fn owned<S: AsRef<str>>(tags: &[S]) -> Vec<String> {
    tags.iter().map(|tag| tag.as_ref().to_owned()).collect()
}

/// The later of two membership ends (`None` is never).
fn later(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    }
}

impl Cache {
    /// Names `key` under each of `tags` for `ttl` (the cache's default when `None`): the
    /// lifetime of the entry being written. Call it *before* the write or load of `key`
    /// that it tags, so that a [`delete_tags`](Cache::delete_tags) coming after reaches it
    /// even while the value is still loading.
    pub async fn tag<T: AsRef<str>>(
        &self,
        key: &str,
        tags: &[T],
        ttl: Option<Duration>,
    ) -> Result<()> {
        let tags = owned(tags);
        self.add_tags(key, &tags, ttl)
            .await
            .map(drop)
            .map_err(|error| self.backend_error("tag", key, error))
    }

    /// Stores `value` at `key` as [`set`](Cache::set) does, joined to `tags` first and
    /// stored with their versions: on Redis, once one of them is invalidated the entry is
    /// never read again, even if Redis evicted the tag's own key (see
    /// [`delete_tags`](Cache::delete_tags)).
    pub async fn set_tagged<T, S>(
        &self,
        key: &str,
        value: &T,
        tags: &[S],
        ttl: Option<Duration>,
    ) -> Result<()>
    where
        T: ?Sized + Serialize + ToOwned,
        T::Owned: Serialize + DeserializeOwned + Send + Sync + 'static,
        S: AsRef<str>,
    {
        let tags = owned(tags);
        self.set_joining(key, value, ttl, &tags).await
    }

    /// [`get_or_set`](Cache::get_or_set) whose key joins `tags` before its value is loaded,
    /// and is stored with their versions (see [`set_tagged`](Cache::set_tagged)). A key
    /// that cannot join them (Redis could not be asked) is loaded but not stored.
    pub async fn get_or_set_tagged<T, S, F, Fut>(
        &self,
        key: &str,
        tags: &[S],
        loader: F,
        ttl: Option<Duration>,
    ) -> T
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        S: AsRef<str>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        if let Some(value) = self.lookup(key).await {
            return value;
        }
        let tags = owned(tags);
        match self.add_tags(key, &tags, ttl).await {
            Ok(joined) => {
                let fill = Fill {
                    ttl,
                    over: None,
                    joined,
                };
                self.load_value(key, fill, |_| true, loader).await
            }
            Err(error) => {
                self.inner.stats.errors.incr();
                tracing::warn!(target: LOG_TARGET, cache = %self.inner.name, %key, %error, "the key could not join its tags; loaded, not stored");
                loader().await
            }
        }
    }

    /// Removes every entry named by any of `tags`; returns how many were removed. The work
    /// is in proportion to the keys the tags name: no scan of the keyspace, on Redis Cluster
    /// too. An invalidation like any other: no load that began before it stores after it.
    ///
    /// # Eviction
    ///
    /// Redis may evict a tag's own key (under `allkeys-lru` or `volatile-lru`), after which
    /// the tag names nothing to remove. Entries written by `#[cached(tags = ..)]`,
    /// [`set_tagged`](Cache::set_tagged), [`get_or_set_tagged`](Cache::get_or_set_tagged)
    /// and cached entities carry their tags' versions, and a read takes such an entry as
    /// absent once a tag of it was invalidated or evicted: nothing of an invalidated tag is
    /// read again. (Entries named by [`tag`](Cache::tag) and written by `set` carry none.)
    /// A tagged hit stays one round trip on one server (a script checks the versions); on a
    /// cluster, where a tag lives in another slot than its entries, it takes a second.
    pub async fn delete_tags<T: AsRef<str>>(&self, tags: &[T]) -> Result<usize> {
        let mut keys = Vec::new();
        for tag in tags {
            let tag = tag.as_ref();
            let taken = match &self.inner.store {
                #[cfg(feature = "redis")]
                Store::Redis(redis) => redis
                    .take_tag(tag)
                    .await
                    .map_err(|error| self.backend_error("delete_tags", tag, error))?,
                _ => self.inner.tags.take(tag),
            };
            keys.extend(taken);
        }
        keys.sort_unstable();
        keys.dedup();
        if keys.is_empty() {
            return Ok(0);
        }
        self.delete_many(&keys).await
    }

    /// [`tag`](Cache::tag) for a load or write, with the tags rendered; a load whose key
    /// could not join them must not store its value. Returns what the write or fill that
    /// follows is stored with (see [`Joined`]).
    pub(crate) async fn add_tags(
        &self,
        key: &str,
        tags: &[String],
        ttl: Option<Duration>,
    ) -> std::result::Result<Joined, crate::error::BackendError> {
        if tags.is_empty() {
            return Ok(Joined::default());
        }
        let ttl = ttl.unwrap_or(self.inner.default_ttl);
        match &self.inner.store {
            #[cfg(feature = "redis")]
            Store::Redis(redis) => redis.tag(key, tags, ttl).await,
            _ => Ok(Joined {
                versions: Vec::new(),
                youngest: self.inner.tags.add(key, tags, ttl),
            }),
        }
    }

    /// Forgets every tag of this process's index (the cache was cleared).
    pub(super) fn clear_tags(&self) {
        self.inner.tags.clear();
        tracing::trace!(target: LOG_TARGET, cache = %self.inner.name, "tag index cleared");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn a_tag_names_its_keys_until_taken() {
        let index = TagIndex::default();
        index.add("a", &tags(&["t", "u"]), Duration::from_secs(60));
        index.add("b", &tags(&["t"]), Duration::from_secs(60));
        let mut taken = index.take("t");
        taken.sort();
        assert_eq!(taken, ["a", "b"]);
        assert!(index.take("t").is_empty());
        assert_eq!(index.take("u"), ["a"]);
    }

    #[test]
    fn ended_memberships_are_neither_taken_nor_kept() {
        let index = TagIndex::default();
        index.add("gone", &tags(&["t"]), Duration::ZERO);
        index.add("kept", &tags(&["t"]), Duration::MAX);
        assert_eq!(index.take("t"), ["kept"]);
        for i in 0..10 * SWEEP_FLOOR {
            index.add(&format!("k{i}"), &tags(&[&format!("t{i}")]), Duration::ZERO);
        }
        let held = index.inner.lock().members;
        assert!(
            held <= SWEEP_FLOOR + 1,
            "sweeps keep the index small: {held}"
        );
    }
}
