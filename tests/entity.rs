//! Cached entities (`#[derive(CachedEntity)]`) on the default memory cache, with a real
//! SQLite database behind them: `cached_get` is cache-aside with single-flight (only found
//! objects stored), `saved` writes through and runs the declared invalidations (keys,
//! patterns, tags, rendered from the object's fields), `deleted` removes the entry and runs
//! them too. `entity_redis.rs` has the same across two processes on Redis (its own binary:
//! it configures the registry, which replaces the default cache).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cached_core::CachedEntity;
use serde::{Deserialize, Serialize};
use sqlx::SqlitePool;
use sqlx::sqlite::SqlitePoolOptions;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow, CachedEntity)]
#[cache(
    key = "entity:post:{id}",
    ttl = "10m",
    invalidates = ["entity:posts:all", "entity:posts:author:{author}", "entity:search:*"],
    tags = ["entity:author:{author}"]
)]
struct Post {
    id: i64,
    author: String,
    title: String,
}

/// The posts table, counting the queries it answers.
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
        sqlx::query("CREATE TABLE posts (id INTEGER PRIMARY KEY, author TEXT, title TEXT)")
            .execute(&pool)
            .await
            .unwrap();
        Self {
            pool,
            queries: Arc::default(),
        }
    }

    async fn save(&self, post: &Post) {
        sqlx::query("INSERT OR REPLACE INTO posts (id, author, title) VALUES (?, ?, ?)")
            .bind(post.id)
            .bind(&post.author)
            .bind(&post.title)
            .execute(&self.pool)
            .await
            .unwrap();
    }

    async fn post(&self, id: i64) -> Result<Option<Post>, sqlx::Error> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        sqlx::query_as("SELECT id, author, title FROM posts WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_get_loads_once_and_stores_only_found_objects() {
    let db = Db::open().await;
    let post = Post {
        id: 1,
        author: "ada".into(),
        title: "Notes".into(),
    };
    db.save(&post).await;
    assert_eq!(Post::cache_key_for(&1).unwrap(), "entity:post:1");
    assert_eq!(post.cache_key().unwrap(), "entity:post:1");
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                Post::cached_get(&1, || async {
                    let found = db.post(1).await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    found
                })
                .await
            })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.unwrap().unwrap(), Some(post.clone()));
    }
    assert_eq!(db.queries(), 1, "concurrent misses ran one query");
    assert_eq!(
        Post::cached_get(&1, || db.post(1)).await.unwrap(),
        Some(post)
    );
    assert_eq!(db.queries(), 1, "then hits");

    for _ in 0..2 {
        assert_eq!(Post::cached_get(&2, || db.post(2)).await.unwrap(), None);
    }
    assert_eq!(db.queries(), 3, "a missing object is not cached");
    for _ in 0..2 {
        let failed = Post::cached_get(&3, || async { Err::<Option<Post>, _>("db down") }).await;
        assert_eq!(failed, Err("db down"));
    }
}

#[tokio::test]
async fn saved_writes_through_and_runs_the_declared_invalidations() {
    let db = Db::open().await;
    let cache = cached_core::cache();
    let mut post = Post {
        id: 10,
        author: "grace".into(),
        title: "Compilers".into(),
    };
    db.save(&post).await;
    assert!(
        Post::cached_get(&10, || db.post(10))
            .await
            .unwrap()
            .is_some()
    );
    for key in [
        "entity:posts:all",
        "entity:posts:author:grace",
        "entity:posts:author:ada",
        "entity:search:cobol",
        "untouched",
    ] {
        cache.set(key, &1u64, None).await.unwrap();
    }
    cache
        .tag("entity:tagged", &["entity:author:grace"], None)
        .await
        .unwrap();
    cache.set("entity:tagged", &1u64, None).await.unwrap();

    post.title = "COBOL".into();
    db.save(&post).await;
    post.saved().await;
    assert_eq!(
        Post::cached_get(&10, || db.post(10)).await.unwrap(),
        Some(post.clone()),
        "write-through: the new object"
    );
    assert_eq!(db.queries(), 1, "without a query");
    for gone in [
        "entity:posts:all",
        "entity:posts:author:grace",
        "entity:search:cobol",
        "entity:tagged",
    ] {
        assert!(!cache.exists(gone).await.unwrap(), "{gone} is invalidated");
    }
    for kept in ["entity:posts:author:ada", "untouched"] {
        assert!(cache.exists(kept).await.unwrap(), "{kept} is not");
    }

    cache.set("entity:posts:all", &1u64, None).await.unwrap();
    post.deleted().await;
    assert!(!cache.exists("entity:post:10").await.unwrap());
    assert!(!cache.exists("entity:posts:all").await.unwrap());
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, CachedEntity)]
#[cache(key = "signal:comment:{id}", invalidates = ["signal:comments:all"])]
struct Comment {
    id: u64,
    post_id: u64,
}

/// Held by the tests that count the default cache's errors, so that they count their own.
static COUNTING_ERRORS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn change_handlers_run_after_the_invalidations_and_fail_open() {
    let _counting = COUNTING_ERRORS.lock().await;
    let cache = cached_core::cache();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let seen = Arc::clone(&seen);
        cached_core::entity::on_saved(move |comment: Comment| {
            let seen = Arc::clone(&seen);
            async move {
                let cache = cached_core::cache();
                // The declared invalidation ran first.
                let all_gone = !cache.exists("signal:comments:all").await.unwrap();
                seen.lock().unwrap().push(("saved", comment.id, all_gone));
                cache
                    .delete(&format!("signal:post:{}:comments", comment.post_id))
                    .await
                    .map(drop)
            }
        });
    }
    cached_core::entity::on_saved(|_: Comment| async { Err::<(), _>("the search index is down") });
    {
        let seen = Arc::clone(&seen);
        cached_core::entity::on_deleted(move |comment: Comment| {
            let seen = Arc::clone(&seen);
            async move {
                seen.lock().unwrap().push(("deleted", comment.id, true));
                Ok::<_, String>(())
            }
        });
    }
    let comment = Comment { id: 5, post_id: 9 };
    cache.set("signal:comments:all", &1u64, None).await.unwrap();
    cache
        .set("signal:post:9:comments", &1u64, None)
        .await
        .unwrap();
    let errors = cache.stats().errors;
    comment.saved().await;
    assert!(
        !cache.exists("signal:post:9:comments").await.unwrap(),
        "the handler ran"
    );
    assert_eq!(
        cache.stats().errors - errors,
        1,
        "the failing handler is counted"
    );
    comment.deleted().await;
    assert_eq!(
        *seen.lock().unwrap(),
        [("saved", 5, true), ("deleted", 5, true)],
        "each change's handlers, after its invalidations"
    );
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, CachedEntity)]
#[cache(key = "panicky:{id}", invalidates = ["panicky:all"])]
struct Panicky {
    id: u64,
}

/// A handler that panics, in its future or before it returns one, is caught: logged at
/// `error` with the entity and the handler, counted, and the handlers after it run; the
/// write-through and the invalidations, done before any handler, stand.
#[tokio::test]
async fn a_panicking_handler_is_caught_logged_counted_and_isolated() {
    let _counting = COUNTING_ERRORS.lock().await;
    let captured = cached_tests::logs::capture(tracing::Level::ERROR);
    let cache = cached_core::cache();
    let ran = Arc::new(AtomicUsize::new(0));
    cached_core::entity::on_saved(|_: Panicky| async {
        if true {
            panic!("the search index broke");
        }
        Ok::<(), String>(())
    });
    cached_core::entity::on_saved(|_: Panicky| -> std::future::Ready<Result<(), String>> {
        panic!("no future at all")
    });
    for counted in [true, false] {
        let ran = Arc::clone(&ran);
        let count = move |_: Panicky| {
            ran.fetch_add(1, Ordering::SeqCst);
            async { Ok::<(), String>(()) }
        };
        if counted {
            cached_core::entity::on_saved(count);
        } else {
            cached_core::entity::on_deleted(count);
        }
    }
    cached_core::entity::on_deleted(|_: Panicky| async {
        if true {
            panic!("the audit log broke");
        }
        Ok::<(), String>(())
    });

    let object = Panicky { id: 7 };
    cache.set("panicky:all", &1u64, None).await.unwrap();
    let errors = cache.stats().errors;
    object.saved().await;
    assert_eq!(
        cache.get::<Panicky>("panicky:7").await.unwrap(),
        Some(object.clone()),
        "the write-through stands"
    );
    assert!(
        !cache.exists("panicky:all").await.unwrap(),
        "the invalidation stands"
    );
    assert_eq!(
        ran.load(Ordering::SeqCst),
        1,
        "the handler after the panics ran"
    );
    assert_eq!(cache.stats().errors - errors, 2, "each panic counted");
    object.deleted().await;
    assert_eq!(ran.load(Ordering::SeqCst), 2, "deleted's handlers ran");
    assert!(!cache.exists("panicky:7").await.unwrap());
    assert_eq!(cache.stats().errors - errors, 3);
    let log = captured.text();
    for message in [
        "the search index broke",
        "no future at all",
        "the audit log broke",
    ] {
        assert!(
            log.lines().any(|line| line.contains("ERROR")
                && line.contains(message)
                && line.contains("Panicky")
                && line.contains("handler=")),
            "{message} logged with the entity and the handler:\n{log}"
        );
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, CachedEntity)]
#[cache(key = "tagged:book:{id}", tags = ["tagged:author:{author}"])]
struct Book {
    id: u64,
    author: String,
}

/// An entity's entry joins the tags rendered from it: `delete_tags` of one drops it,
/// whether `cached_get` stored it or `saved` wrote it through; a tag invalidated while the
/// object loads leaves the loaded object unstored (it could not reach the entry, which had
/// not joined yet), and the next load stores.
#[tokio::test]
async fn an_entitys_entry_joins_its_tags() {
    let cache = cached_core::cache();
    let loads = Arc::new(AtomicUsize::new(0));
    let load = |book: Book| {
        let loads = Arc::clone(&loads);
        async move {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(Some(book))
        }
    };
    let ada = Book {
        id: 1,
        author: "ada".into(),
    };
    assert_eq!(
        Book::cached_get(&1, || load(ada.clone())).await,
        Ok(Some(ada.clone()))
    );
    assert!(cache.exists("tagged:book:1").await.unwrap(), "stored");
    assert_eq!(cache.delete_tags(&["tagged:author:ada"]).await.unwrap(), 1);
    assert!(
        !cache.exists("tagged:book:1").await.unwrap(),
        "dropped by its tag"
    );
    assert_eq!(
        Book::cached_get(&1, || load(ada.clone())).await,
        Ok(Some(ada.clone()))
    );
    assert!(cache.exists("tagged:book:1").await.unwrap(), "stored again");
    assert_eq!(loads.load(Ordering::SeqCst), 2);

    // The tag is invalidated while the object loads.
    let grace = Book {
        id: 2,
        author: "grace".into(),
    };
    let (started, release) = (
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(tokio::sync::Notify::new()),
    );
    let loading = {
        let (started, release, grace) = (Arc::clone(&started), Arc::clone(&release), grace.clone());
        tokio::spawn(async move {
            Book::cached_get(&2, || async {
                started.notify_one();
                release.notified().await;
                Ok::<_, ()>(Some(grace))
            })
            .await
        })
    };
    started.notified().await;
    cache.delete_tags(&["tagged:author:grace"]).await.unwrap();
    release.notify_one();
    assert_eq!(loading.await.unwrap(), Ok(Some(grace.clone())), "returned");
    assert!(!cache.exists("tagged:book:2").await.unwrap(), "not stored");
    assert_eq!(
        Book::cached_get(&2, || load(grace.clone())).await,
        Ok(Some(grace.clone()))
    );
    assert!(
        cache.exists("tagged:book:2").await.unwrap(),
        "the next load stores"
    );

    // Written through by a save: joined too.
    let moved = Book {
        id: 2,
        author: "ada".into(),
    };
    moved.saved().await;
    assert_eq!(
        cache.get::<Book>("tagged:book:2").await.unwrap(),
        Some(moved)
    );
    cache.delete_tags(&["tagged:author:ada"]).await.unwrap();
    assert!(
        !cache.exists("tagged:book:2").await.unwrap(),
        "the saved entry joined its tag"
    );
}
