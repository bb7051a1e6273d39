//! Locks: exclusion, release on drop and by call, expiry of a vanished holder, waiting in
//! turn, and the waiting deadline.

use std::sync::Arc;
use std::time::Duration;

use cached_core::Error;
use cached_tests::contention::{Release, compute_behind_lock, take_in_turn};
use cached_tests::memory_cache;
use tokio::sync::Mutex;

const TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn holders_never_overlap() {
    let cache = memory_cache(100);
    let handles = [cache.clone()];
    let entries = take_in_turn(&handles, "process:task", 50, TIMEOUT, Release::Drop).await;
    assert_eq!(entries, 50);
    assert!(
        !cache.exists("process:task").await.unwrap(),
        "the last holder released"
    );
}

#[tokio::test]
async fn a_held_lock_excludes_and_release_frees_it() {
    let cache = memory_cache(100);
    let guard = cache.lock("job", TIMEOUT).await.unwrap();
    assert!(cache.try_lock("job", TIMEOUT).await.unwrap().is_none());
    assert!(guard.release().await.unwrap());
    let again = cache.try_lock("job", TIMEOUT).await.unwrap();
    assert!(again.is_some());
    drop(again);
    assert!(
        cache.try_lock("job", TIMEOUT).await.unwrap().is_some(),
        "drop released it"
    );
}

#[tokio::test]
async fn a_vanished_holder_expires_after_its_timeout() {
    let cache = memory_cache(100);
    let timeout = Duration::from_millis(200);
    std::mem::forget(cache.lock("job", timeout).await.unwrap());
    assert!(cache.try_lock("job", timeout).await.unwrap().is_none());
    let started = tokio::time::Instant::now();
    let guard = cache.lock("job", Duration::from_secs(2)).await.unwrap();
    assert!(started.elapsed() <= Duration::from_secs(2));
    guard.release().await.unwrap();
}

#[tokio::test]
async fn an_expired_holder_cannot_release_the_next_holders_lock() {
    let cache = memory_cache(100);
    let first = cache.lock("job", Duration::from_millis(100)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = cache.lock("job", TIMEOUT).await.unwrap();
    assert!(
        !first.release().await.unwrap(),
        "the first lock had expired"
    );
    assert!(
        cache.try_lock("job", TIMEOUT).await.unwrap().is_none(),
        "the second still holds"
    );
    assert!(second.release().await.unwrap());
}

#[tokio::test]
async fn waiters_get_the_lock_in_turn() {
    let cache = memory_cache(100);
    let order = Arc::new(Mutex::new(Vec::new()));
    let holder = cache.lock("job", TIMEOUT).await.unwrap();
    let mut waiters = Vec::new();
    for i in 0..5 {
        let (cache, order) = (cache.clone(), order.clone());
        waiters.push(tokio::spawn(async move {
            let guard = cache.lock("job", TIMEOUT).await.unwrap();
            order.lock().await.push(i);
            guard.release().await.unwrap();
        }));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    holder.release().await.unwrap();
    for waiter in waiters {
        waiter.await.unwrap();
    }
    assert_eq!(*order.lock().await, vec![0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn waiting_past_the_deadline_is_a_lock_timeout() {
    let cache = memory_cache(100);
    let _holder = cache.lock("job", TIMEOUT).await.unwrap();
    let error = cache
        .lock_with_wait("job", TIMEOUT, Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::LockTimeout { ref name, .. } if name == "job"));
    assert!(
        error
            .to_string()
            .starts_with("cache `test`: lock `job` was not acquired within")
    );
}

#[tokio::test]
async fn the_seed_stampede_pattern_computes_once() {
    let handles = [memory_cache(100)];
    assert_eq!(compute_behind_lock(&handles, TIMEOUT).await, 1);
}

/// Critical sections that also cache values, on a small memory cache: the writes evict
/// constantly, yet a held lock is never evicted, so sections never overlap and every
/// holder's release finds its own lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_locks_survive_eviction_by_the_values_cached_meanwhile() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    let cache = memory_cache(100);
    let inside = Arc::new(AtomicUsize::new(0));
    let overlaps = Arc::new(AtomicUsize::new(0));
    let lost = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..10)
        .map(|task| {
            let (cache, inside, overlaps, lost) = (
                cache.clone(),
                inside.clone(),
                overlaps.clone(),
                lost.clone(),
            );
            tokio::spawn(async move {
                for section in 0..5 {
                    let guard = cache
                        .lock("lock:report", Duration::from_secs(30))
                        .await
                        .unwrap();
                    if inside.fetch_add(1, Ordering::SeqCst) != 0 {
                        overlaps.fetch_add(1, Ordering::SeqCst);
                    }
                    for i in 0..500 {
                        let key = format!("page:{task}:{section}:{i}");
                        cache.set(&key, &i, None).await.unwrap();
                    }
                    assert!(
                        cache
                            .try_lock("lock:report", Duration::from_secs(30))
                            .await
                            .unwrap()
                            .is_none(),
                        "taken by a second caller while held"
                    );
                    tokio::task::yield_now().await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                    if !guard.release().await.unwrap() {
                        lost.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        overlaps.load(Ordering::SeqCst),
        0,
        "overlapping critical sections"
    );
    assert_eq!(
        lost.load(Ordering::SeqCst),
        0,
        "releases that found the lock gone"
    );
    assert!(
        cache.stats().evictions >= 20_000,
        "the values were evicted meanwhile"
    );
}

/// Claims are bounded: a memory cache of 1,000 holds at most 1,000 claims (`set_nx` values
/// and locks together). 100,000 idempotency keys stored with `set_nx` for a day keep it at
/// that size, each claim past the bound refused with an error naming it; held locks are
/// never evicted, neither by the claims nor by 100,000 cached values; a released lock
/// frees room for the next claim.
#[tokio::test]
async fn claims_are_bounded_and_held_locks_are_never_evicted() {
    let cache = memory_cache(1_000);
    let day = Some(Duration::from_secs(86_400));
    let locks: Vec<_> = (0..10).map(|i| format!("lock:{i}")).collect();
    let mut guards = Vec::new();
    for name in &locks {
        guards.push(cache.lock(name, Duration::from_secs(600)).await.unwrap());
    }
    let (mut accepted, mut refused) = (0, 0);
    for request in 0..100_000 {
        match cache
            .set_nx(&format!("request:{request}"), "seen", day)
            .await
        {
            Ok(true) => accepted += 1,
            Ok(false) => panic!("request:{request} was never claimed before"),
            Err(Error::Backend { source, .. }) => {
                assert!(source.to_string().contains("max_size"), "{source}");
                refused += 1;
            }
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(
        accepted, 990,
        "as many claims as max_size, the locks counted"
    );
    assert_eq!(refused, 100_000 - 990);
    for i in 0..100_000 {
        cache.set(&format!("page:{i}"), &i, None).await.unwrap();
    }
    let held = cache.entry_count().unwrap();
    assert!(held <= 2_000, "the cache stays bounded: {held} entries");
    for name in &locks {
        assert!(
            cache.try_lock(name, TIMEOUT).await.unwrap().is_none(),
            "{name} is still held"
        );
    }
    assert!(
        matches!(
            cache.try_lock("lock:new", TIMEOUT).await,
            Err(Error::Backend { .. })
        ),
        "a lock past the bound is refused, not waited for"
    );
    guards.pop().unwrap().release().await.unwrap();
    assert!(
        cache.set_nx("request:last", "seen", day).await.unwrap(),
        "room again"
    );
}
