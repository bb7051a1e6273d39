//! `examples/redis.rs`, run against a server of its own: the example works as written.

#[allow(
    dead_code,
    unreachable_pub,
    reason = "the example's `main` and its public summary"
)]
#[path = "../examples/redis.rs"]
mod example;

use std::time::Duration;

use cached_tests::redis_server::RedisServer;

#[tokio::test]
async fn the_redis_example_runs_against_a_real_server() {
    let server = RedisServer::start();
    server.cli(&["SET", "not:the:example", "kept"]);
    let summary = example::run(&server.url()).await.unwrap();

    assert_eq!(summary.counter, 1);
    assert!(summary.lock_was_exclusive);
    assert_eq!(summary.pattern_deleted, 3, "user:def456 and two profiles");
    assert_eq!((summary.hits, summary.misses), (2, 4));
    let session_ttl = summary.session_ttl.unwrap();
    assert!(
        session_ttl > Duration::from_secs(86_000) && session_ttl <= Duration::from_secs(86_400)
    );

    assert_eq!(
        server.cli(&["DBSIZE"]),
        "1",
        "only the key the example did not write"
    );
    assert_eq!(server.cli(&["-n", "1", "DBSIZE"]), "0");
}
