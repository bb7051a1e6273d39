//! Concurrent misses of one key run the body once; the others get its result. An `Err` is
//! shared with the waiters when the error type is `Clone`, never stored; with an error type
//! that is not `Clone`, each waiter runs the body itself after a failure.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cached_core::{cache, cached};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

static REPORT_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = 300)]
async fn report(id: u32) -> Vec<u32> {
    REPORT_RUNS.fetch_add(1, SeqCst);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    vec![id; 3]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_callers_run_the_body_once() {
    let mut tasks = JoinSet::new();
    for _ in 0..100 {
        tasks.spawn(report(9));
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap(), vec![9, 9, 9]);
    }
    assert_eq!(REPORT_RUNS.load(SeqCst), 1);
    assert!(cache().exists("report:id=9").await.unwrap());
}

/// Holds every body until the test opens it, so that all callers are waiting first.
static GATE: Semaphore = Semaphore::const_new(0);

/// Lets every spawned task on this current-thread runtime run until it waits.
async fn let_everyone_wait() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Unavailable(u32);

static SHARED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = 300)]
async fn shared_failure(id: u32) -> Result<u32, Unavailable> {
    let run = SHARED_RUNS.fetch_add(1, SeqCst);
    GATE.acquire().await.unwrap().forget();
    if run == 0 {
        Err(Unavailable(id))
    } else {
        Ok(id)
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_clone_error_is_shared_with_the_waiters_and_not_stored() {
    let mut tasks = JoinSet::new();
    for _ in 0..100 {
        tasks.spawn(shared_failure(1));
    }
    let_everyone_wait().await;
    GATE.add_permits(100);
    let mut errors = 0;
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap(), Err(Unavailable(1)));
        errors += 1;
    }
    assert_eq!(errors, 100);
    assert_eq!(SHARED_RUNS.load(SeqCst), 1);
    assert!(!cache().exists("shared_failure:id=1").await.unwrap());
    assert_eq!(shared_failure(1).await, Ok(1), "the error was not cached");
}

/// Not `Clone`: it cannot be handed to the waiters.
#[derive(Debug)]
struct Fatal;

static OWN_RUNS: AtomicUsize = AtomicUsize::new(0);
static OWN_GATE: Semaphore = Semaphore::const_new(0);

#[cached(ttl = 300)]
async fn own_failure(id: u32) -> Result<u32, Fatal> {
    let run = OWN_RUNS.fetch_add(1, SeqCst);
    OWN_GATE.acquire().await.unwrap().forget();
    if run == 0 { Err(Fatal) } else { Ok(id) }
}

#[tokio::test(flavor = "current_thread")]
async fn after_a_non_clone_error_a_waiter_runs_the_body_and_shares_its_value() {
    let mut tasks = JoinSet::new();
    for _ in 0..100 {
        tasks.spawn(own_failure(2));
    }
    let_everyone_wait().await;
    OWN_GATE.add_permits(100);
    let (mut ok, mut failed) = (0, 0);
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(value) => {
                assert_eq!(value, 2);
                ok += 1;
            }
            Err(Fatal) => failed += 1,
        }
    }
    assert_eq!((ok, failed), (99, 1));
    assert_eq!(
        OWN_RUNS.load(SeqCst),
        2,
        "one failed run, then one shared success"
    );
}

static DROPPED_RUNS: AtomicUsize = AtomicUsize::new(0);
static DROPPED_GATE: Semaphore = Semaphore::const_new(0);

#[cached(ttl = 300)]
async fn slow(id: u32) -> u32 {
    DROPPED_RUNS.fetch_add(1, SeqCst);
    DROPPED_GATE.acquire().await.unwrap().forget();
    id
}

#[tokio::test(flavor = "current_thread")]
async fn a_cancelled_caller_hands_the_load_to_a_waiter() {
    let leader = tokio::spawn(slow(3));
    let_everyone_wait().await;
    let waiter = tokio::spawn(slow(3));
    let_everyone_wait().await;
    leader.abort();
    let_everyone_wait().await;
    DROPPED_GATE.add_permits(1);
    assert_eq!(waiter.await.unwrap(), 3);
    assert_eq!(DROPPED_RUNS.load(SeqCst), 2);
}
