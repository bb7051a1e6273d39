//! The maintenance thread: one per process, started with the first store. Every tick it
//! publishes the coarse clock; every few ticks it reclaims expired entries from every live
//! store, one shard and one small batch at a time, so that memory comes back even when the
//! program makes no further calls and no call ever waits on a long sweep.

use std::sync::{Arc, Once, Weak};
use std::thread;
use std::time::Duration;

use parking_lot::Mutex;

use super::clock;

/// How often the coarse clock is published.
const TICK: Duration = Duration::from_millis(5);

/// Reclaim every this many ticks.
const RECLAIM_EVERY: u32 = 20;

/// A store the maintenance thread looks after.
pub(super) trait Maintained: Send + Sync {
    /// Takes out the entries that have expired, in small batches.
    fn reclaim(&self);
}

static STORES: Mutex<Vec<Weak<dyn Maintained>>> = Mutex::new(Vec::new());

/// Puts `store` in the thread's care until it is dropped, starting the thread if need be.
pub(super) fn register(store: Weak<dyn Maintained>) {
    static START: Once = Once::new();
    START.call_once(|| {
        // Without the thread, reads use the precise clock and expired entries are
        // reclaimed when their slots are needed: correct, only slower and larger.
        let _ = thread::Builder::new()
            .name("cached-core-maintenance".to_owned())
            .spawn(run);
    });
    STORES.lock().push(store);
}

fn run() {
    let mut ticks = 0_u32;
    loop {
        thread::sleep(TICK);
        clock::tick();
        ticks = ticks.wrapping_add(1);
        if ticks.is_multiple_of(RECLAIM_EVERY) {
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
}
