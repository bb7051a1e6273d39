//! `#[cached]` on functions and methods: hits and misses by call count, the default key
//! under its exact name, `skip`, `ttl`, and named caches.

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use cached_core::{CacheConfig, CacheSettings, cached, get_cache};
use cached_tests::outlive_short_ttl;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Post {
    author: String,
    title: String,
}

static POSTS_LOADED: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = 300)]
async fn get_user_posts(user_id: &str) -> Vec<Post> {
    POSTS_LOADED.fetch_add(1, SeqCst);
    vec![Post {
        author: user_id.to_owned(),
        title: format!("Hello from {user_id}"),
    }]
}

#[tokio::test]
async fn a_second_call_is_a_hit_and_other_arguments_miss() {
    setup();
    let first = get_user_posts("abc123").await;
    let second = get_user_posts("abc123").await;
    assert_eq!(first, second);
    assert_eq!(POSTS_LOADED.load(SeqCst), 1);

    get_user_posts("def456").await;
    assert_eq!(POSTS_LOADED.load(SeqCst), 2);
    get_user_posts("def456").await;
    assert_eq!(POSTS_LOADED.load(SeqCst), 2);
}

static POPULAR_LOADED: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = 300)]
async fn get_popular_posts() -> Vec<String> {
    POPULAR_LOADED.fetch_add(1, SeqCst);
    vec!["first".to_owned(), "second".to_owned()]
}

#[tokio::test]
async fn the_default_key_is_the_seeds_and_holds_the_value() {
    setup();
    let posts = get_user_posts("key-test").await;
    let cache = cached_core::cache();
    let stored: Option<Vec<Post>> = cache.get("get_user_posts:user_id=key-test").await.unwrap();
    assert_eq!(stored, Some(posts));
    assert_eq!(
        get_user_posts_cache_key("key-test").unwrap(),
        "get_user_posts:user_id=key-test"
    );

    get_popular_posts().await;
    get_popular_posts().await;
    assert_eq!(POPULAR_LOADED.load(SeqCst), 1);
    let stored: Option<Vec<String>> = cache.get("get_popular_posts").await.unwrap();
    assert_eq!(stored.unwrap(), ["first", "second"]);
}

#[cached(ttl = "5m")]
async fn by_status(user_id: &str, status: Option<String>, page: u32) -> String {
    format!("{user_id}/{status:?}/{page}")
}

#[tokio::test]
async fn every_argument_is_in_the_default_key_in_order() {
    setup();
    by_status("abc123", Some("draft".into()), 2).await;
    by_status("abc123", None, 1).await;
    let cache = cached_core::cache();
    assert!(
        cache
            .exists("by_status:user_id=abc123:status=draft:page=2")
            .await
            .unwrap()
    );
    assert!(
        cache
            .exists("by_status:user_id=abc123:status=!:page=1")
            .await
            .unwrap()
    );
}

/// Stands in for a connection pool: not serializable, so it must be skipped.
struct Pool {
    queries: AtomicUsize,
}

#[cached(ttl = 300, skip(db))]
async fn count_posts(db: &Pool, user_id: u64) -> u64 {
    db.queries.fetch_add(1, SeqCst);
    user_id * 10
}

#[tokio::test]
async fn skipped_arguments_are_left_out_of_the_key() {
    setup();
    let db = Pool {
        queries: AtomicUsize::new(0),
    };
    let other = Pool {
        queries: AtomicUsize::new(0),
    };
    assert_eq!(count_posts(&db, 7).await, 70);
    assert_eq!(count_posts(&other, 7).await, 70);
    assert_eq!(db.queries.load(SeqCst) + other.queries.load(SeqCst), 1);
    assert!(
        cached_core::cache()
            .exists("count_posts:user_id=7")
            .await
            .unwrap()
    );
    assert_eq!(count_posts_cache_key(&7).unwrap(), "count_posts:user_id=7");
}

struct Repository {
    name: &'static str,
    loads: AtomicUsize,
}

impl Repository {
    #[cached(ttl = 300)]
    async fn find(&self, id: u32) -> String {
        self.loads.fetch_add(1, SeqCst);
        format!("{}-{id}", self.name)
    }

    #[cached(ttl = 300, key = "repo:{self.name}:{id}")]
    async fn find_in(&mut self, id: u32) -> String {
        self.loads.fetch_add(1, SeqCst);
        format!("{}-{id}", self.name)
    }
}

#[tokio::test]
async fn methods_leave_self_out_of_the_default_key() {
    setup();
    let repo = Repository {
        name: "users",
        loads: AtomicUsize::new(0),
    };
    assert_eq!(repo.find(1).await, "users-1");
    assert_eq!(repo.find(1).await, "users-1");
    assert_eq!(repo.loads.load(SeqCst), 1);
    assert!(cached_core::cache().exists("find:id=1").await.unwrap());
    assert_eq!(Repository::find_cache_key(&1).unwrap(), "find:id=1");

    let mut repo = repo;
    repo.find_in(2).await;
    repo.find_in(2).await;
    assert_eq!(repo.loads.load(SeqCst), 2);
    assert_eq!(repo.find_in_cache_key(&2).unwrap(), "repo:users:2");
    assert!(cached_core::cache().exists("repo:users:2").await.unwrap());
}

static SHORT_LOADS: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = "150ms")]
async fn short_lived(id: u32) -> u32 {
    SHORT_LOADS.fetch_add(1, SeqCst);
    id
}

#[tokio::test]
async fn values_expire_after_the_ttl() {
    setup();
    short_lived(1).await;
    short_lived(1).await;
    assert_eq!(SHORT_LOADS.load(SeqCst), 1);
    outlive_short_ttl().await;
    short_lived(1).await;
    assert_eq!(SHORT_LOADS.load(SeqCst), 2);
}

static NAMED_LOADS: AtomicUsize = AtomicUsize::new(0);

#[cached(cache = "queries")]
async fn search(query: &str) -> Vec<String> {
    NAMED_LOADS.fetch_add(1, SeqCst);
    vec![query.to_owned()]
}

/// Configures this file's caches once, before any test touches a cache: reconfiguring
/// later would replace the default cache under the other tests.
fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let settings = CacheSettings::new().with_cache(
            "queries",
            CacheConfig::memory().with_ttl(Duration::from_secs(60)),
        );
        cached_core::configure(settings).unwrap();
    });
}

#[tokio::test]
async fn a_named_cache_is_used_with_its_default_ttl() {
    setup();
    search("rust").await;
    search("rust").await;
    assert_eq!(NAMED_LOADS.load(SeqCst), 1);
    let queries = get_cache("queries").unwrap();
    assert!(queries.exists("search:query=rust").await.unwrap());
    let left = queries
        .ttl("search:query=rust")
        .await
        .unwrap()
        .remaining()
        .unwrap();
    assert!(left.as_secs() <= 60 && left.as_secs() > 50, "{left:?}");
    let stats = queries.stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.sets),
        (1, 1, 1),
        "one miss, counted once, then one hit"
    );
}
