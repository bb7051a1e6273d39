//! A cached entity on Redis, saved and deleted in one process and read in another (a second
//! connection): write-through and the declared invalidations reach every process.

use std::sync::atomic::{AtomicUsize, Ordering};

use cached_core::{Cache, CacheConfig, CacheSettings, CachedEntity, configure};
use cached_tests::redis_server::RedisServer;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, CachedEntity)]
#[cache(key = "user:{tenant}:{id}", cache = "entities-redis", invalidates = ["team:{team.0}"])]
struct User {
    tenant: String,
    id: u64,
    team: (u64, String),
    name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, CachedEntity)]
#[cache(key = "book:{id}", cache = "entities-redis", tags = ["author:{author}"])]
struct Book {
    id: u64,
    author: String,
}

#[tokio::test]
async fn a_save_in_one_process_reaches_another_through_redis() {
    let server = RedisServer::start();
    configure(CacheSettings::new().with_cache("entities-redis", CacheConfig::redis(&server.url())))
        .unwrap();
    let other: Cache = server.cache("");
    let mut ada = User {
        tenant: "acme:eu".into(),
        id: 1,
        team: (7, "core".into()),
        name: "Ada".into(),
    };
    let loads = AtomicUsize::new(0);
    let load = |user: User| {
        loads.fetch_add(1, Ordering::SeqCst);
        async move { Ok::<_, ()>(Some(user)) }
    };
    // A handler, as another part of the application would register it, invalidating what
    // the user's change makes stale in a second cache, seen by the other process.
    {
        let other = other.clone();
        cached_core::entity::on_saved(move |user: User| {
            let other = other.clone();
            async move {
                other
                    .delete(&format!("directory:{}", user.tenant))
                    .await
                    .map(drop)
            }
        });
    }
    let found = User::cached_get("acme:eu", &1, || load(ada.clone())).await;
    assert_eq!(found, Ok(Some(ada.clone())));
    let key = User::cache_key_for("acme:eu", &1).unwrap();
    assert_eq!(key, "user:acme%3Aeu:1");
    assert_eq!(other.get::<User>(&key).await.unwrap(), Some(ada.clone()));

    other.set("team:7", "members", None).await.unwrap();
    other
        .set("directory:acme:eu", "entries", None)
        .await
        .unwrap();
    ada.name = "Ada L.".into();
    ada.saved().await;
    assert_eq!(
        other.get::<User>(&key).await.unwrap(),
        Some(ada.clone()),
        "the other process reads the saved object"
    );
    assert!(!other.exists("team:7").await.unwrap());
    assert!(
        !other.exists("directory:acme:eu").await.unwrap(),
        "the handler ran"
    );
    let again = User::cached_get("acme:eu", &1, || load(ada.clone())).await;
    assert_eq!(again, Ok(Some(ada.clone())));
    assert_eq!(loads.load(Ordering::SeqCst), 1);

    other.set("team:7", "members", None).await.unwrap();
    ada.deleted().await;
    assert!(!other.exists(&key).await.unwrap());
    assert!(!other.exists("team:7").await.unwrap());
    a_save_that_cannot_be_written_through_removes_the_old_entry(&other).await;
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, CachedEntity)]
#[cache(key = "reading:{id}", cache = "entities-redis")]
struct Reading {
    id: u64,
    value: f64,
}

/// With the registry configured by the test above (a second test configuring it would
/// replace the cache under the first).
async fn a_save_that_cannot_be_written_through_removes_the_old_entry(other: &Cache) {
    let mut reading = Reading { id: 1, value: 1.5 };
    reading.saved().await;
    assert_eq!(
        other.get::<Reading>("reading:1").await.unwrap(),
        Some(reading.clone())
    );
    // JSON cannot hold a NaN exactly, so the cache refuses to store it: the old value must
    // not stay behind.
    reading.value = f64::NAN;
    reading.saved().await;
    assert_eq!(other.get::<Reading>("reading:1").await.unwrap(), None);

    // An entity's entry joins the tags rendered from it, on Redis as in memory: a tag
    // invalidation in another process drops it; a tag invalidated while the object loads
    // leaves it unstored; a saved object's entry joins them too.
    let book = Book {
        id: 1,
        author: "ada".into(),
    };
    let found = Book::cached_get(&1, || async { Ok::<_, ()>(Some(book.clone())) }).await;
    assert_eq!(found, Ok(Some(book.clone())));
    assert!(other.exists("book:1").await.unwrap(), "stored");
    assert_eq!(other.delete_tags(&["author:ada"]).await.unwrap(), 1);
    assert!(
        !other.exists("book:1").await.unwrap(),
        "dropped by its tag, from another process"
    );
    let (started, release) = (tokio::sync::Notify::new(), tokio::sync::Notify::new());
    let (loaded, ()) = tokio::join!(
        Book::cached_get(&1, || async {
            started.notify_one();
            release.notified().await;
            Ok::<_, ()>(Some(book.clone()))
        }),
        async {
            started.notified().await;
            other.delete_tags(&["author:ada"]).await.unwrap();
            release.notify_one();
        }
    );
    assert_eq!(loaded, Ok(Some(book.clone())));
    assert!(
        !other.exists("book:1").await.unwrap(),
        "invalidated while it loaded: not stored"
    );
    book.saved().await;
    assert!(other.exists("book:1").await.unwrap());
    other.delete_tags(&["author:ada"]).await.unwrap();
    assert!(
        !other.exists("book:1").await.unwrap(),
        "the saved entry joined its tag"
    );
}
