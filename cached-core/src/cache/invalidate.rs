//! The one invalidation step: every write or removal of keys (`set`, `set_nx`, `incr`,
//! `delete`, `delete_many`, `delete_pattern`, `clear`, and the attributes built on them)
//! detaches the loads in flight for those keys before it touches the store and again after,
//! so that no load that began before it stores afterwards, and no caller arriving after it
//! joins such a load (see `flight.rs`).

use std::future::Future;

use super::Cache;
use crate::flight::Flights;
use crate::glob;

impl Cache {
    /// Runs `op`, which writes or removes `key`, as an invalidation of `key`.
    pub(super) async fn invalidating_key<R>(&self, key: &str, op: impl Future<Output = R>) -> R {
        self.invalidating(Some(&[key]), |flights| flights.detach(key), op)
            .await
    }

    /// Runs `op`, which removes `keys`, as an invalidation of them.
    pub(super) async fn invalidating_keys<R>(
        &self,
        keys: &[&str],
        op: impl Future<Output = R>,
    ) -> R {
        let detach = |flights: &Flights| keys.iter().for_each(|key| flights.detach(key));
        self.invalidating(Some(keys), detach, op).await
    }

    /// Runs `op`, which removes the keys matching `pattern`, as an invalidation of them.
    pub(super) async fn invalidating_pattern<R>(
        &self,
        pattern: &str,
        op: impl Future<Output = R>,
    ) -> R {
        let compiled = glob::Pattern::new(pattern);
        let detach = |flights: &Flights| flights.detach_where(|key| compiled.matches(key));
        self.invalidating(None, detach, op).await
    }

    /// Runs `op`, which removes every key, as an invalidation of all of them.
    pub(super) async fn invalidating_all<R>(&self, op: impl Future<Output = R>) -> R {
        self.invalidating(None, |flights| flights.detach_where(|_| true), op)
            .await
    }

    async fn invalidating<R>(
        &self,
        keys: Option<&[&str]>,
        detach: impl Fn(&Flights),
        op: impl Future<Output = R>,
    ) -> R {
        let _barrier = match &self.inner.barrier {
            Some(barrier) => barrier.invalidate(keys).await,
            None => Vec::new(),
        };
        detach(&self.inner.flights);
        let result = op.await;
        detach(&self.inner.flights);
        self.replay_soon();
        result
    }
}
