//! Claims in the in-process store, through its public API as `store.rs` uses it: a
//! `set_nx` (or lock) claim is pinned, so no flood of other writes evicts it while it
//! lives, and it still expires.

use std::time::Duration;

use cached_core::memory::{Action, Expiry, MemoryStore};

/// `set_nx` as a claim: stores `token` at `key` pinned for `ttl` unless a live entry is
/// there; returns whether it did.
fn claim(store: &MemoryStore<String, String>, key: &str, token: &str, ttl: Duration) -> bool {
    let (claimed, evicted) = store.compute(key, |current| match current {
        Some(_) => (Action::Keep, false),
        None => (Action::Pin(token.to_owned(), Expiry::After(ttl)), true),
    });
    assert_eq!(evicted, 0, "a claim makes no room");
    claimed
}

#[test]
fn a_held_claim_outlasts_a_flood_of_writes_then_expires() {
    let store: MemoryStore<String, String> = MemoryStore::new(1_000);
    let ttl = Duration::from_millis(300);
    assert!(claim(&store, "lock:report", "a", ttl));
    for i in 0..50_000 {
        store.set(
            format!("page:{i}").as_str(),
            String::new(),
            Duration::from_secs(60),
        );
    }
    assert!(
        !claim(&store, "lock:report", "b", ttl),
        "the claim is still held"
    );
    assert_eq!(
        store.get("lock:report", String::clone).as_deref(),
        Some("a")
    );
    assert_eq!(store.pinned(), 1);
    assert_eq!(store.len(), 1_001, "held in addition to max_size");
    std::thread::sleep(ttl + Duration::from_millis(50));
    assert!(
        claim(&store, "lock:report", "b", ttl),
        "the expired claim is free again"
    );
}
