//! The maintenance thread: one per process, started with the first store. Every [`EVERY`]
//! it reclaims expired entries from every live store, one shard and one small batch at a
//! time, so that memory comes back even when the program makes no further calls and no call
//! ever waits on a long sweep.
//!
//! It waits for a shard's lock only briefly: a writer waiting on a slow reader holds up
//! every reader arriving after it. A shard still locked is left for a later round; reads
//! check deadlines themselves, so an entry left for later is only memory, never a stale
//! answer. The coarse clock is published by a thread of its own (see `clock.rs`), which no
//! lock can stop.

use std::sync::{Arc, Once, Weak};
use std::thread;
use std::time::Duration;

use parking_lot::Mutex;

/// How often expired entries are reclaimed.
const EVERY: Duration = Duration::from_millis(100);

/// A store the maintenance thread looks after.
pub(super) trait Maintained: Send + Sync {
    /// Takes out the entries that have expired, in small batches, leaving shards that stay
    /// locked for a later round.
    fn reclaim(&self);
}

static STORES: Mutex<Vec<Weak<dyn Maintained>>> = Mutex::new(Vec::new());

/// Puts `store` in the thread's care until it is dropped, starting the thread if need be.
pub(super) fn register(store: Weak<dyn Maintained>) {
    static START: Once = Once::new();
    START.call_once(|| {
        // Without the thread, expired entries are reclaimed when their slots are needed:
        // correct, only larger.
        let _ = thread::Builder::new()
            .name("cached-core-maintenance".to_owned())
            .spawn(run);
    });
    STORES.lock().push(store);
}

fn run() {
    loop {
        thread::sleep(EVERY);
        let stores: Vec<Arc<dyn Maintained>> = {
            let mut stores = STORES.lock();
            stores.retain(|store| store.strong_count() > 0);
            stores.iter().filter_map(Weak::upgrade).collect()
        };
        for store in stores {
            store.reclaim();
        }
    }
}
