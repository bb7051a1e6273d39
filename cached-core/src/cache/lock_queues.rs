//! The in-process waiters of a cache's locks (see `lock.rs`): one fair queue per lock name,
//! so that waiters take turns and a release wakes the next one at once.

use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::{Mutex, Notify};

/// The in-process waiters of each lock of one cache.
#[derive(Default)]
pub(crate) struct LockQueues {
    queues: DashMap<Box<str>, Arc<LockQueue>>,
}

#[derive(Default)]
pub(crate) struct LockQueue {
    /// Held by the waiter whose turn it is to poll the store; tokio's mutex is fair, so
    /// waiters take turns in arrival order.
    pub(crate) turn: Mutex<()>,
    /// Signalled when a holder in this process releases the lock.
    pub(crate) released: Notify,
}

impl LockQueues {
    /// The queue of `name`, joined.
    pub(crate) fn join(&self, name: &str) -> Arc<LockQueue> {
        Arc::clone(self.queues.entry(name.into()).or_default().value())
    }

    /// Forgets the queue of `name` once nobody waits in it.
    pub(crate) fn leave(&self, name: &str) {
        self.queues
            .remove_if(name, |_, queue| Arc::strong_count(queue) == 1);
    }

    /// Lets the next waiter of `name` in this process try at once.
    pub(crate) fn wake_next(&self, name: &str) {
        if let Some(queue) = self.queues.get(name) {
            queue.released.notify_one();
        }
    }
}
