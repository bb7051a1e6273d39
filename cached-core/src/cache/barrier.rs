//! For custom backends, which cannot compare and set: each fill holds its key's stripe for
//! reading while it checks its flight and writes, and each invalidation holds the stripes of
//! the keys it removes for writing while it detaches and deletes, so that the two never
//! interleave. Memory and Redis make the same check atomic in the store instead.

use std::hash::BuildHasher;

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Stripes: invalidations of different keys rarely wait on each other.
const STRIPES: usize = 64;

/// Striped read-write locks over keys.
pub(super) struct Barrier {
    stripes: Box<[RwLock<()>]>,
    hasher: foldhash::quality::RandomState,
}

impl Default for Barrier {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| RwLock::new(())).collect(),
            hasher: foldhash::quality::RandomState::default(),
        }
    }
}

impl Barrier {
    fn stripe(&self, key: &str) -> usize {
        self.hasher.hash_one(key) as usize % STRIPES
    }

    /// Held by a fill of `key`.
    pub(super) async fn fill(&self, key: &str) -> RwLockReadGuard<'_, ()> {
        self.stripes[self.stripe(key)].read().await
    }

    /// Held by an invalidation of `keys`; every stripe for `None` (a pattern, a clear).
    pub(super) async fn invalidate(&self, keys: Option<&[&str]>) -> Vec<RwLockWriteGuard<'_, ()>> {
        let mut stripes: Vec<usize> = match keys {
            Some(keys) => keys.iter().map(|key| self.stripe(key)).collect(),
            None => (0..STRIPES).collect(),
        };
        // In one order, so that two invalidations never wait on each other's stripes.
        stripes.sort_unstable();
        stripes.dedup();
        let mut guards = Vec::with_capacity(stripes.len());
        for stripe in stripes {
            guards.push(self.stripes[stripe].write().await);
        }
        guards
    }
}
