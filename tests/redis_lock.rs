//! Locks over Redis: `SET NX PX` with a token, released by a Lua compare-and-delete. Several
//! independent `Cache` handles stand for several processes: they share nothing but the
//! server, so only Redis keeps their holders apart.

use std::time::Duration;

use cached_core::{Cache, Error};
use cached_tests::contention::{Release, compute_behind_lock, take_in_turn};
use cached_tests::redis_server::RedisServer;

const TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_tasks_in_five_processes_never_overlap() {
    let server = RedisServer::start();
    let processes: Vec<Cache> = (0..5).map(|_| server.cache("locks:")).collect();
    let entries = take_in_turn(&processes, "process:task", 50, TIMEOUT, Release::Call).await;
    assert_eq!(entries, 50);
    assert_eq!(server.cli(&["EXISTS", "locks:process:task"]), "0");
}

#[tokio::test]
async fn the_lock_is_a_token_with_an_expiry_on_the_server() {
    let server = RedisServer::start();
    let cache = server.cache("");
    let guard = cache.lock("job", Duration::from_secs(30)).await.unwrap();
    let token = server.cli(&["GET", "job"]);
    assert!(token.starts_with('"') && token.len() > 10, "{token}");
    let left: u64 = server.cli(&["PTTL", "job"]).parse().unwrap();
    assert!(left > 29_000 && left <= 30_000, "{left}");

    let other_process = server.cache("");
    assert!(
        other_process
            .try_lock("job", TIMEOUT)
            .await
            .unwrap()
            .is_none()
    );
    assert!(guard.release().await.unwrap());
    assert_eq!(server.cli(&["EXISTS", "job"]), "0");
}

#[tokio::test]
async fn an_expired_holder_cannot_release_the_next_holders_lock() {
    let server = RedisServer::start();
    let first_process = server.cache("");
    let second_process = server.cache("");
    let first = first_process
        .lock("job", Duration::from_millis(100))
        .await
        .unwrap();
    let second = second_process.lock("job", TIMEOUT).await.unwrap();
    let held = server.cli(&["GET", "job"]);
    assert!(
        !first.release().await.unwrap(),
        "the first lock had expired"
    );
    assert_eq!(
        server.cli(&["GET", "job"]),
        held,
        "the second holder's token is still there"
    );
    assert!(second.release().await.unwrap());
}

#[tokio::test]
async fn waiting_past_the_deadline_is_a_clear_error() {
    let server = RedisServer::start();
    let holder = server.cache("");
    let _guard = holder.lock("job", TIMEOUT).await.unwrap();
    let waiter = server.cache("");
    let error = waiter
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
async fn a_dropped_guard_releases_the_lock_in_the_background() {
    let server = RedisServer::start();
    let cache = server.cache("");
    drop(cache.lock("job", TIMEOUT).await.unwrap());
    let other_process = server.cache("");
    let guard = other_process
        .lock_with_wait("job", TIMEOUT, Duration::from_secs(5))
        .await
        .expect("the drop released the lock long before its 10 s timeout");
    guard.release().await.unwrap();
}

#[tokio::test]
async fn the_seed_stampede_pattern_computes_once_across_processes() {
    let server = RedisServer::start();
    let processes: Vec<Cache> = (0..10).map(|_| server.cache("")).collect();
    assert_eq!(compute_behind_lock(&processes, TIMEOUT).await, 1);
}
