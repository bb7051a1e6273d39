//! Lock workloads shared by the lock tests of every backend. Several `Cache` handles stand
//! for several processes when they share nothing but the store.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cached_core::Cache;

/// How a holder lets go of the lock.
#[derive(Clone, Copy)]
pub enum Release {
    /// Dropping the guard.
    Drop,
    /// `release().await`, which must find the lock still held by this guard.
    Call,
}

/// `tasks` tasks spread over `handles` take lock `name` at once, each holding it for a
/// millisecond; panics when two hold it at the same time. Returns how many held it.
pub async fn take_in_turn(
    handles: &[Cache],
    name: &str,
    tasks: usize,
    timeout: Duration,
    release: Release,
) -> usize {
    let inside = Arc::new(AtomicUsize::new(0));
    let entries = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..tasks)
        .map(|i| {
            let cache = handles[i % handles.len()].clone();
            let (inside, entries, name) = (inside.clone(), entries.clone(), name.to_owned());
            tokio::spawn(async move {
                let guard = cache.lock(&name, timeout).await.unwrap();
                assert_eq!(
                    inside.fetch_add(1, Ordering::SeqCst),
                    0,
                    "two holders at once"
                );
                tokio::task::yield_now().await;
                tokio::time::sleep(Duration::from_millis(1)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
                entries.fetch_add(1, Ordering::SeqCst);
                match release {
                    Release::Drop => drop(guard),
                    Release::Call => {
                        assert!(guard.release().await.unwrap(), "still ours when released");
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    entries.load(Ordering::SeqCst)
}

/// The seed's stampede prevention, by ten tasks spread over `handles` at once: take the
/// lock, read, and on a miss compute (slowly) and write. Every task must read or compute
/// 99; returns how many computed.
pub async fn compute_behind_lock(handles: &[Cache], timeout: Duration) -> usize {
    let computed = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let (cache, computed) = (handles[i % handles.len()].clone(), computed.clone());
            tokio::spawn(async move {
                let _guard = cache.lock("lock:expensive_data", timeout).await.unwrap();
                match cache.get::<u64>("expensive_data").await.unwrap() {
                    Some(data) => data,
                    None => {
                        computed.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        cache.set("expensive_data", &99_u64, None).await.unwrap();
                        99
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 99);
    }
    computed.load(Ordering::SeqCst)
}
