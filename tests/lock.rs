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
