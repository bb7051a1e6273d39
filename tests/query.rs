//! Caching a query where it is written (`.cached(key, ttl)` on a future), against a real
//! SQLite database through sqlx: a hit never touches the database, only `Ok` is stored, a
//! condition can refuse a value, concurrent callers run one query, keys from `cache_key!`
//! match `#[cached]` and `#[invalidates]` templates, and a cache that is not configured or a
//! key that cannot be rendered runs the query uncached.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cached_core::{QueryExt, cache_key, invalidates};
use sqlx::SqlitePool;
use sqlx::sqlite::SqlitePoolOptions;

const TTL: Duration = Duration::from_secs(300);

/// A database of posts, counting the queries it answers.
#[derive(Clone)]
struct Db {
    pool: SqlitePool,
    queries: Arc<AtomicUsize>,
}

impl Db {
    async fn open() -> Self {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query("CREATE TABLE posts (id INTEGER PRIMARY KEY, author TEXT, title TEXT, published INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
        Self {
            pool,
            queries: Arc::default(),
        }
    }

    async fn add(&self, author: &str, title: &str, published: bool) {
        sqlx::query("INSERT INTO posts (author, title, published) VALUES (?, ?, ?)")
            .bind(author)
            .bind(title)
            .bind(published)
            .execute(&self.pool)
            .await
            .unwrap();
    }

    /// The titles an author published: a query, counted when it runs.
    async fn published(&self, author: &str) -> Result<Vec<String>, sqlx::Error> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        sqlx::query_scalar("SELECT title FROM posts WHERE author = ? AND published = 1 ORDER BY id")
            .bind(author)
            .fetch_all(&self.pool)
            .await
    }

    fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

async fn a_cached_query_runs_once_until_its_key_is_invalidated() {
    let db = Db::open().await;
    db.add("ada:l", "Notes", true).await;
    let author = "ada:l";
    let posts = db
        .published(author)
        .cached(cache_key!("query:posts:author:{author}"), TTL)
        .await
        .unwrap();
    assert_eq!(posts, ["Notes"]);
    db.add("ada:l", "Engine", true).await;
    let again = db
        .published(author)
        .cached(cache_key!("query:posts:author:{author}"), TTL)
        .await
        .unwrap();
    assert_eq!(again, ["Notes"], "answered from the cache");
    assert_eq!(db.queries(), 1, "the hit never ran the query");
    assert!(
        cached_core::cache()
            .exists("query:posts:author:ada%3Al")
            .await
            .unwrap(),
        "the key is escaped as #[cached] keys are"
    );

    publish("ada:l").await;
    let fresh = db
        .published(author)
        .cached(cache_key!("query:posts:author:{author}"), TTL)
        .await
        .unwrap();
    assert_eq!(fresh, ["Notes", "Engine"]);
    assert_eq!(db.queries(), 2);
}

/// Invalidates with the same template the query's key was rendered from.
#[invalidates("query:posts:author:{author}")]
async fn publish(author: &str) {
    let _ = author;
}

async fn only_ok_values_that_pass_the_condition_are_stored() {
    let db = Db::open().await;
    let broken = || async {
        db.queries.fetch_add(1, Ordering::SeqCst);
        sqlx::query_scalar::<_, String>("SELECT title FROM no_such_table")
            .fetch_all(&db.pool)
            .await
    };
    for _ in 0..2 {
        let result = broken().cached("query:broken", TTL).await;
        assert!(result.is_err());
    }
    assert_eq!(db.queries(), 2, "an Err is never stored");

    for _ in 0..2 {
        let posts = db
            .published("nobody")
            .cached("query:nobody", TTL)
            .condition(|posts: &Vec<String>| !posts.is_empty())
            .await
            .unwrap();
        assert!(posts.is_empty());
    }
    assert_eq!(db.queries(), 4, "the condition refused the empty list");
}

async fn concurrent_callers_run_one_query() {
    let db = Db::open().await;
    db.add("grace", "Compilers", true).await;
    let slow = |db: Db| async move {
        let titles = db.published("grace").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        titles
    };
    let callers: Vec<_> = (0..16)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { slow(db).cached("query:grace", TTL).await.unwrap() })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.unwrap(), ["Compilers"]);
    }
    assert_eq!(db.queries(), 1);
}

async fn named_caches_unknown_caches_and_unrenderable_keys() {
    cached_core::configure(
        cached_core::CacheSettings::new().with_cache("queries", cached_core::CacheConfig::memory()),
    )
    .unwrap();
    let db = Db::open().await;
    db.add("linus", "Kernel", true).await;
    let posts = db
        .published("linus")
        .cached("query:linus", TTL)
        .in_cache("queries")
        .await
        .unwrap();
    assert_eq!(posts, ["Kernel"]);
    let queries = cached_core::get_cache("queries").unwrap();
    assert!(queries.exists("query:linus").await.unwrap());
    assert!(!cached_core::cache().exists("query:linus").await.unwrap());

    for _ in 0..2 {
        let posts = db
            .published("linus")
            .cached("query:linus", TTL)
            .in_cache("not-configured")
            .await
            .unwrap();
        assert_eq!(posts, ["Kernel"], "an unknown cache runs the query");
    }
    // A value whose serialization fails does not render: the query runs uncached.
    let unrenderable = Unrenderable;
    for _ in 0..2 {
        let posts = db
            .published("linus")
            .cached(cache_key!("query:{unrenderable}"), TTL)
            .await
            .unwrap();
        assert_eq!(posts, ["Kernel"]);
    }
    assert_eq!(db.queries(), 5);
}

/// A value that refuses to serialize.
struct Unrenderable;

impl serde::Serialize for Unrenderable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("not renderable"))
    }
}

/// One test, the scenarios in turn: the last configures the registry, which replaces the
/// default cache the others use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_caching() {
    a_cached_query_runs_once_until_its_key_is_invalidated().await;
    only_ok_values_that_pass_the_condition_are_stored().await;
    concurrent_callers_run_one_query().await;
    named_caches_unknown_caches_and_unrenderable_keys().await;
}
