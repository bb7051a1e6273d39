//! The quick start: the default cache (in memory, nothing to install) and the methods of
//! the cache API, ending with the cache's statistics.
//!
//! Run with `cargo run --example quickstart`; add `RUST_LOG=cached_core=debug` to see every
//! hit, miss and write.

use std::time::Duration;

use cached_core::Ttl;
use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct User {
    id: String,
    name: String,
}

/// Stands in for a database query.
async fn load_user(id: &str) -> User {
    tokio::time::sleep(Duration::from_millis(20)).await;
    User {
        id: id.to_owned(),
        name: format!("User {id}"),
    }
}

/// Cache-aside, as in the seed: try the cache, load on a miss, store for ten minutes.
async fn get_user(id: &str) -> cached_core::Result<User> {
    let cache = cached_core::cache();
    let key = format!("user:{id}");
    if let Some(user) = cache.get::<User>(&key).await? {
        return Ok(user);
    }
    let user = load_user(id).await;
    cache
        .set(&key, &user, Some(Duration::from_secs(600)))
        .await?;
    Ok(user)
}

#[tokio::main]
async fn main() -> cached_core::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .init();
    let cache = cached_core::cache();

    // Cache-aside: the first call loads, the next ones hit.
    for _ in 0..3 {
        let user = get_user("abc123").await?;
        println!("get_user(abc123) -> {}", user.name);
    }

    // get_or_set: one call does the same.
    let active = cache
        .get_or_set(
            "active_users",
            || async { vec![load_user("abc123").await, load_user("def456").await] },
            Some(Duration::from_secs(300)),
        )
        .await;
    println!("active_users -> {} users", active.len());

    // Get with default, existence, remaining TTL.
    let value: String = cache.get_or("key", "not_found".to_owned()).await?;
    println!("get_or(key) -> {value}");
    println!(
        "exists(user:abc123) -> {}",
        cache.exists("user:abc123").await?
    );
    match cache.ttl("user:abc123").await? {
        Ttl::Expires(left) => println!("ttl(user:abc123) -> {}s left", left.as_secs()),
        other => println!("ttl(user:abc123) -> {other:?}"),
    }

    // Counters and set-if-absent.
    cache.incr("counter", 1).await?;
    let counter = cache.incr("counter", 1).await?;
    println!(
        "counter after two incr -> {counter}, after decr -> {}",
        cache.decr("counter", 1).await?
    );
    let was_set = cache
        .set_nx("lock:task", "1", Some(Duration::from_secs(60)))
        .await?;
    let again = cache
        .set_nx("lock:task", "1", Some(Duration::from_secs(60)))
        .await?;
    println!("set_nx(lock:task) -> {was_set}, then {again}");

    // A lock, released when the guard is dropped.
    {
        let _guard = cache.lock("process:task", Duration::from_secs(30)).await?;
        println!(
            "holding process:task; try_lock elsewhere -> {:?}",
            cache
                .try_lock("process:task", Duration::from_secs(30))
                .await?
                .is_some()
        );
    }

    // Invalidation.
    get_user("def456").await?;
    println!(
        "delete(user:abc123) -> {}",
        cache.delete("user:abc123").await?
    );
    println!(
        "delete_many -> {}",
        cache.delete_many(&["user:abc123", "user:def456"]).await?
    );
    cache.set("user:1:profile", "a", None).await?;
    cache.set("user:2:profile", "b", None).await?;
    println!(
        "delete_pattern(user:*) -> {}",
        cache.delete_pattern("user:*").await?
    );

    let queries = cached_core::get_cache("default")?;
    let stats = queries.stats();
    println!("Hits: {}", stats.hits);
    println!("Misses: {}", stats.misses);
    println!("Hit ratio: {:.2}%", stats.hit_ratio() * 100.0);

    cache.clear().await?;
    Ok(())
}
