//! The seed's Redis configuration: a Redis "default" cache on database 0, a Redis
//! "sessions" cache on database 1 (24-hour TTL), and a memory "queries" cache; then the
//! cache API and a lock, against the Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`,
//! given without a database number).
//!
//! Run with `cargo run --example redis` next to a local `redis-server`; add
//! `RUST_LOG=cached_core=debug` to see every hit, miss and write. Every key is written under
//! the prefix `example:`, so the final `clear` leaves the rest of your Redis alone.

use std::time::Duration;

use cached_core::{CacheSettings, Ttl};
use serde::{Deserialize, Serialize};

/// What a run did, for the test that runs this example against its own server.
#[derive(Debug)]
pub struct Summary {
    /// Hits of the "default" cache.
    pub hits: u64,
    /// Misses of the "default" cache.
    pub misses: u64,
    /// The counter after two `incr` and one `decr`.
    pub counter: i64,
    /// Whether a second `try_lock` was refused while the lock was held.
    pub lock_was_exclusive: bool,
    /// Keys removed by `delete_pattern("user:*")`.
    pub pattern_deleted: usize,
    /// The remaining TTL of the session written to the "sessions" cache.
    pub session_ttl: Option<Duration>,
}

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

/// The seed's "Multiple Caches" configuration, on the Redis at `base_url`.
fn settings(base_url: &str) -> Result<CacheSettings, cached_core::ConfigError> {
    let base = base_url.trim_end_matches('/');
    CacheSettings::from_toml(&format!(
        r#"
        [default]
        backend = "redis"
        url = "{base}/0"
        ttl = 300
        key_prefix = "example:"

        [sessions]
        backend = "redis"
        url = "{base}/1"
        ttl = 86400  # 24 hours
        key_prefix = "example:"

        [queries]
        backend = "memory"
        max_size = 1000
        ttl = 60
        "#
    ))
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

/// Configures the three caches on the Redis at `base_url` and walks through the API.
pub async fn run(base_url: &str) -> cached_core::Result<Summary> {
    cached_core::configure(settings(base_url)?)?;
    let cache = cached_core::cache();
    let sessions = cached_core::get_cache("sessions")?;
    let queries = cached_core::get_cache("queries")?;
    cache.clear().await?;
    sessions.clear().await?;

    for _ in 0..3 {
        let user = get_user("abc123").await?;
        println!("get_user(abc123) -> {}", user.name);
    }

    let active = cache
        .get_or_set(
            "active_users",
            || async { vec![load_user("abc123").await, load_user("def456").await] },
            Some(Duration::from_secs(300)),
        )
        .await;
    println!("active_users -> {} users", active.len());

    let value: String = cache.get_or("key", "not_found".to_owned()).await?;
    println!("get_or(key) -> {value}");
    println!(
        "exists(user:abc123) -> {}",
        cache.exists("user:abc123").await?
    );
    if let Ttl::Expires(left) = cache.ttl("user:abc123").await? {
        println!("ttl(user:abc123) -> {}s left", left.as_secs());
    }

    cache.incr("counter", 1).await?;
    cache.incr("counter", 1).await?;
    let counter = cache.decr("counter", 1).await?;
    println!("counter after incr, incr, decr -> {counter}");
    let was_set = cache
        .set_nx("lock:task", "1", Some(Duration::from_secs(60)))
        .await?;
    println!("set_nx(lock:task) -> {was_set}");

    // A distributed lock: other processes on the same Redis wait for it.
    let guard = cache.lock("process:task", Duration::from_secs(30)).await?;
    let lock_was_exclusive = cache
        .try_lock("process:task", Duration::from_secs(30))
        .await?
        .is_none();
    println!("holding process:task; a second try_lock refused -> {lock_was_exclusive}");
    guard.release().await?;

    sessions
        .set(
            "session:abc123",
            &User {
                id: "abc123".into(),
                name: "Ada".into(),
            },
            None,
        )
        .await?;
    let session_ttl = sessions.ttl("session:abc123").await?.remaining();
    println!(
        "sessions: session:abc123 expires in {}s",
        session_ttl.map_or(0, |left| left.as_secs())
    );
    queries.set("popular_posts", &vec![1, 2, 3], None).await?;
    println!(
        "queries (memory): {} entries",
        queries.entry_count().unwrap_or_default()
    );

    get_user("def456").await?;
    println!(
        "delete(user:abc123) -> {}",
        cache.delete("user:abc123").await?
    );
    println!(
        "delete_many -> {}",
        cache.delete_many(&["user:abc123", "active_users"]).await?
    );
    cache.set("user:1:profile", "a", None).await?;
    cache.set("user:2:profile", "b", None).await?;
    let pattern_deleted = cache.delete_pattern("user:*").await?;
    println!("delete_pattern(user:*) -> {pattern_deleted}");

    let stats = cache.stats();
    println!("Hits: {}", stats.hits);
    println!("Misses: {}", stats.misses);
    println!("Hit ratio: {:.2}%", stats.hit_ratio() * 100.0);

    cache.clear().await?;
    sessions.clear().await?;
    Ok(Summary {
        hits: stats.hits,
        misses: stats.misses,
        counter,
        lock_was_exclusive,
        pattern_deleted,
        session_ttl,
    })
}

#[tokio::main]
async fn main() -> cached_core::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    run(&url).await?;
    Ok(())
}
