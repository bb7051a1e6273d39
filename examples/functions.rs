//! Function caching, as in the seed's "Function Caching", "Cache Keys", "Conditional
//! Caching" and "Decorator-Based Invalidation" sections: `#[cached]` and `#[invalidates]`
//! over the default in-memory cache, so nothing needs to be installed.
//!
//! Run with `cargo run --example functions`; add `RUST_LOG=cached_core=debug` to see every
//! hit, miss, write and delete.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cached_core::{cached, invalidates};
use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Post {
    id: u64,
    author_id: String,
    title: String,
    status: String,
}

#[derive(Debug)]
struct NotFound(u64);

/// How many times the "database" was queried.
static QUERIES: AtomicUsize = AtomicUsize::new(0);

/// Stands in for a database table.
async fn query_posts() -> Vec<Post> {
    QUERIES.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let post = |id, author: &str, title: &str, status: &str| Post {
        id,
        author_id: author.to_owned(),
        title: title.to_owned(),
        status: status.to_owned(),
    };
    vec![
        post(1, "abc123", "Caching in Rust", "published"),
        post(2, "abc123", "Single-flight", "draft"),
        post(3, "def456", "Hello", "published"),
    ]
}

// Function caching: the first call queries, the next ones return the cached result.
#[cached(ttl = 300)]
async fn get_popular_posts() -> Vec<Post> {
    query_posts().await
}

// Cache keys: automatic key "get_user_posts:user_id=abc123".
#[cached(ttl = 300)]
async fn get_user_posts(user_id: &str) -> Vec<Post> {
    let posts = query_posts().await;
    posts
        .into_iter()
        .filter(|p| p.author_id == user_id)
        .collect()
}

// A custom key template.
#[cached(ttl = 300, key = "posts:{user_id}")]
async fn get_user_posts_by_template(user_id: &str) -> Vec<Post> {
    get_user_posts(user_id).await
}

// A custom key function, taking the arguments by reference.
fn make_key(user_id: &str, status: &Option<String>) -> String {
    format!(
        "user_posts:{user_id}:{}",
        status.as_deref().unwrap_or("all")
    )
}

#[cached(ttl = 300, key_func = make_key)]
async fn get_user_posts_by_status(user_id: &str, status: Option<String>) -> Vec<Post> {
    let posts = query_posts().await;
    posts
        .into_iter()
        .filter(|p| p.author_id == user_id)
        .filter(|p| status.as_ref().is_none_or(|s| &p.status == s))
        .collect()
}

// Conditional caching: only non-empty results are cached.
#[cached(ttl = 300, condition = |posts: &Vec<Post>| !posts.is_empty())]
async fn search_posts(query: &str) -> Vec<Post> {
    let posts = query_posts().await;
    posts
        .into_iter()
        .filter(|p| p.title.contains(query))
        .collect()
}

// A `Result`: only `Ok` is cached.
#[cached(ttl = 600)]
async fn get_post(post_id: u64) -> Result<Post, NotFound> {
    let posts = query_posts().await;
    posts
        .into_iter()
        .find(|p| p.id == post_id)
        .ok_or(NotFound(post_id))
}

// Decorator-based invalidation: after a successful update, the listed keys are deleted;
// `posts:author:*` is a pattern. The companion `get_post_invalidate` deletes the entry
// `get_post` cached for this id without writing its key again.
#[invalidates("posts:all", "posts:{post_id}", "posts:author:*")]
async fn update_post(post_id: u64, title: &str) -> Result<Post, NotFound> {
    let mut post = get_post(post_id).await?;
    post.title = title.to_owned();
    get_post_invalidate(&post_id).await;
    Ok(post)
}

fn queries() -> usize {
    QUERIES.load(Ordering::Relaxed)
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .init();
    let cache = cached_core::cache();

    println!("== Function caching");
    get_popular_posts().await;
    get_popular_posts().await;
    println!("get_popular_posts() twice -> {} query", queries());

    println!("== Cache keys");
    let posts = get_user_posts("abc123").await;
    get_user_posts("abc123").await;
    println!("get_user_posts(abc123) -> {} posts", posts.len());
    println!(
        "  stored under {:?}: {}",
        get_user_posts_cache_key("abc123").unwrap(),
        cache.exists("get_user_posts:user_id=abc123").await.unwrap()
    );
    get_user_posts_by_template("abc123").await;
    println!(
        "  template key posts:abc123 -> {}",
        cache.exists("posts:abc123").await.unwrap()
    );
    get_user_posts_by_status("abc123", None).await;
    get_user_posts_by_status("abc123", Some("draft".into())).await;
    println!(
        "  key_func keys -> {} {}",
        cache.exists("user_posts:abc123:all").await.unwrap(),
        cache.exists("user_posts:abc123:draft").await.unwrap()
    );
    get_user_posts("abc:profile").await;
    println!(
        "  a hostile argument is escaped -> {:?}",
        get_user_posts_cache_key("abc:profile").unwrap()
    );

    println!("== Conditional caching");
    let before = queries();
    search_posts("nothing matches").await;
    search_posts("nothing matches").await;
    search_posts("Rust").await;
    search_posts("Rust").await;
    println!(
        "  2 empty + 2 non-empty searches -> {} queries",
        queries() - before
    );

    println!("== Results");
    let before = queries();
    println!("  get_post(1) -> {:?}", get_post(1).await.map(|p| p.title));
    get_post(1).await.unwrap();
    match get_post(9).await {
        Ok(post) => println!("  get_post(9) -> {:?}", post.title),
        Err(NotFound(id)) => println!("  get_post(9) -> no post {id}"),
    }
    get_post(9).await.unwrap_err();
    println!(
        "  4 calls -> {} queries (errors are not cached)",
        queries() - before
    );

    println!("== Decorator-based invalidation");
    cache.set("posts:all", &vec![1, 2, 3], None).await.unwrap();
    cache
        .set("posts:author:abc123", &vec![1, 2], None)
        .await
        .unwrap();
    cache
        .set("posts:author:def456", &vec![3], None)
        .await
        .unwrap();
    let post = update_post(1, "Caching in Rust, revised").await.unwrap();
    println!("  update_post(1) -> {:?}", post.title);
    for key in [
        "posts:all",
        "posts:author:abc123",
        "posts:author:def456",
        "get_post:post_id=1",
    ] {
        println!("  {key} still cached: {}", cache.exists(key).await.unwrap());
    }

    let stats = cache.stats();
    println!("Hits: {}", stats.hits);
    println!("Misses: {}", stats.misses);
    println!("Hit ratio: {:.2}%", stats.hit_ratio() * 100.0);
}
