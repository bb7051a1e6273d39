//! `#[invalidates]`: the rendered keys and the pattern matches are deleted after success,
//! and nothing else; arguments cannot widen a pattern; failures are logged at `error`,
//! counted, and never fail the function.

use std::sync::Once;

use cached_core::{
    Cache, CacheConfig, CacheSettings, cached, get_cache, invalidates, register_backend,
};
use cached_tests::down::Down;
use cached_tests::logs::capture;
use tracing::Level;

/// One cache per test, configured once before any test runs.
fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        register_backend("down", |_| Ok(Down));
        let mut settings = CacheSettings::new().with_cache("down", CacheConfig::backend("down"));
        for name in [
            "posts",
            "failed",
            "hostile",
            "plain",
            "methods",
            "companion",
        ] {
            settings = settings.with_cache(name, CacheConfig::memory());
        }
        cached_core::configure(settings).unwrap();
    });
}

async fn fill(cache: &Cache, keys: &[&str]) {
    for key in keys {
        cache.set(key, "value", None).await.unwrap();
    }
}

async fn present(cache: &Cache, keys: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for key in keys {
        if cache.exists(key).await.unwrap() {
            out.push((*key).to_owned());
        }
    }
    out
}

const POST_KEYS: &[&str] = &[
    "posts:all",
    "post:7",
    "posts:author:ada",
    "posts:author:bob:drafts",
    "post:8",
    "post:70",
    "posts:authors",
    "posts:all:v2",
    "user:7",
];

#[invalidates("posts:all", "post:{post_id}", "posts:author:*", cache = "posts")]
async fn update_post(post_id: u64, title: String) -> Result<String, String> {
    if title.is_empty() {
        return Err("a title is required".to_owned());
    }
    Ok(format!("{post_id}: {title}"))
}

#[tokio::test]
async fn rendered_keys_and_pattern_matches_are_deleted_and_nothing_else() {
    setup();
    let cache = get_cache("posts").unwrap();
    fill(&cache, POST_KEYS).await;

    assert_eq!(
        update_post(7, String::new()).await,
        Err("a title is required".into())
    );
    assert_eq!(
        present(&cache, POST_KEYS).await,
        POST_KEYS,
        "an Err invalidates nothing"
    );

    assert_eq!(update_post(7, "New".into()).await.unwrap(), "7: New");
    assert_eq!(
        present(&cache, POST_KEYS).await,
        [
            "post:8",
            "post:70",
            "posts:authors",
            "posts:all:v2",
            "user:7"
        ]
    );
    assert_eq!(cache.stats().deletes, 4);
}

#[invalidates("user:{name}:*", "name:{name}", cache = "hostile")]
async fn rename(name: String) -> String {
    name
}

#[tokio::test]
async fn an_argument_cannot_widen_a_pattern_or_reach_another_key() {
    setup();
    let cache = get_cache("hostile").unwrap();
    let keys = [
        "user:ada:profile",
        "user:%2A:profile",
        "user:a%3Fa:x",
        "name:ada",
        "name:%2A",
    ];
    fill(&cache, &keys).await;
    rename("*".into()).await;
    assert_eq!(
        present(&cache, &keys).await,
        ["user:ada:profile", "user:a%3Fa:x", "name:ada"]
    );
    rename("a?a".into()).await;
    assert_eq!(
        present(&cache, &keys).await,
        ["user:ada:profile", "name:ada"]
    );
}

/// The body consumes its argument: the keys were rendered before it ran.
#[invalidates("item:{id}", cache = "plain")]
async fn consume(id: String) -> usize {
    let owned: String = id;
    owned.len()
}

#[tokio::test]
async fn keys_are_rendered_before_the_body_and_any_return_invalidates() {
    setup();
    let cache = get_cache("plain").unwrap();
    fill(&cache, &["item:abc", "item:abd"]).await;
    assert_eq!(consume("abc".into()).await, 3);
    assert_eq!(
        present(&cache, &["item:abc", "item:abd"]).await,
        ["item:abd"]
    );
}

struct Team {
    id: u32,
}

impl Team {
    #[invalidates(
        "team:{self.id}:members",
        "team:{self.id}:member:{user}",
        cache = "methods"
    )]
    async fn remove(&mut self, user: &str) -> bool {
        !user.is_empty()
    }
}

#[tokio::test]
async fn methods_reach_fields_of_self() {
    setup();
    let cache = get_cache("methods").unwrap();
    let keys = [
        "team:1:members",
        "team:1:member:ada",
        "team:1:member:bob",
        "team:2:members",
    ];
    fill(&cache, &keys).await;
    Team { id: 1 }.remove("ada").await;
    assert_eq!(
        present(&cache, &keys).await,
        ["team:1:member:bob", "team:2:members"]
    );
}

#[cached(ttl = 300, cache = "companion")]
async fn get_post(post_id: u64) -> String {
    format!("post {post_id}")
}

#[invalidates("posts:all", cache = "companion")]
async fn edit_post(post_id: u64) {
    get_post_invalidate(&post_id).await;
}

#[tokio::test]
async fn the_cached_companion_invalidates_without_retyping_the_key() {
    setup();
    let cache = get_cache("companion").unwrap();
    get_post(1).await;
    get_post(2).await;
    edit_post(1).await;
    assert_eq!(
        present(&cache, &["get_post:post_id=1", "get_post:post_id=2"]).await,
        ["get_post:post_id=2"]
    );
}

#[invalidates("session:{user}", "sessions:{user}:*", cache = "down")]
async fn logout(user: &str) -> Result<u32, String> {
    Ok(user.len() as u32)
}

#[invalidates("thing:{id}", cache = "missing")]
async fn unconfigured(id: u32) -> u32 {
    id
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_invalidation_is_logged_at_error_counted_and_survived() {
    setup();
    let captured = capture(Level::ERROR);

    assert_eq!(logout("ada").await, Ok(3));
    assert_eq!(get_cache("down").unwrap().stats().errors, 2);
    assert_eq!(unconfigured(5).await, 5);

    let log = captured.text();
    let lines = captured.lines();
    assert_eq!(lines.len(), 3, "{log}");
    assert!(lines.iter().all(|l| l.contains(" ERROR ")), "{log}");
    assert!(
        lines[0].contains("[\"session:ada\"]") && lines[0].contains("connection refused"),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains("sessions:ada:*"), "{}", lines[1]);
    assert!(
        lines[2].contains("not configured") && lines[2].contains("thing:5"),
        "{}",
        lines[2]
    );
}
