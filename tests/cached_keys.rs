//! `#[cached]` keys: templates (`{arg}`, `{arg.field}`, `<arg>`, `{{`), `key_func`, escaping
//! of hostile values, the digest of over-long keys, and the `_cache_key` companion.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use cached_core::key::MAX_VALUE_LEN;
use cached_core::{cache, cached};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct User {
    id: String,
    org: (String, u32),
}

#[cached(ttl = 300, key = "posts:{user_id}")]
async fn posts(user_id: &str) -> Vec<String> {
    vec![format!("post by {user_id}")]
}

#[cached(ttl = 300, key = "user:{user.id}:org:{user.org.1}")]
async fn profile(user: User) -> String {
    format!("profile of {}", user.id)
}

#[cached(ttl = 300, key = "post:<post_id>:{{v2}}:<<raw>>")]
async fn post(post_id: u64) -> u64 {
    post_id
}

#[tokio::test]
async fn templates_render_placeholders_fields_and_literal_braces() {
    posts("abc123").await;
    assert!(cache().exists("posts:abc123").await.unwrap());

    let user = User {
        id: "u1".into(),
        org: ("acme".into(), 42),
    };
    profile(user.clone()).await;
    assert!(cache().exists("user:u1:org:42").await.unwrap());
    assert_eq!(profile_cache_key(&user).unwrap(), "user:u1:org:42");

    post(7).await;
    assert!(cache().exists("post:7:{v2}:<raw>").await.unwrap());
}

fn make_key(user_id: &str, status: &Option<String>) -> String {
    format!(
        "user_posts:{user_id}:{}",
        status.as_deref().unwrap_or("all")
    )
}

static BY_STATUS_LOADS: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = 300, key_func = make_key)]
async fn by_status(user_id: &str, status: Option<String>) -> Vec<String> {
    BY_STATUS_LOADS.fetch_add(1, SeqCst);
    vec![format!("{user_id}:{status:?}")]
}

#[tokio::test]
async fn key_func_receives_the_arguments_by_reference() {
    by_status("abc123", None).await;
    by_status("abc123", None).await;
    by_status("abc123", Some("draft".into())).await;
    assert_eq!(BY_STATUS_LOADS.load(SeqCst), 2);
    assert!(cache().exists("user_posts:abc123:all").await.unwrap());
    assert!(cache().exists("user_posts:abc123:draft").await.unwrap());
    assert_eq!(
        by_status_cache_key("abc123", &None).unwrap(),
        "user_posts:abc123:all"
    );
}

static PAIR_LOADS: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = 300)]
async fn pair(user_id: &str, section: &str) -> String {
    PAIR_LOADS.fetch_add(1, SeqCst);
    format!("{user_id}|{section}")
}

#[tokio::test]
async fn a_value_holding_separators_cannot_forge_another_key() {
    // Without escaping both would be "pair:user_id=abc:section=profile:section=x".
    let honest = pair("abc", "profile:section=x").await;
    let forged = pair("abc:section=profile", "x").await;
    assert_eq!(honest, "abc|profile:section=x");
    assert_eq!(forged, "abc:section=profile|x");
    assert_eq!(PAIR_LOADS.load(SeqCst), 2);
    assert_eq!(
        pair_cache_key("abc:section=profile", "x").unwrap(),
        "pair:user_id=abc%3Asection%3Dprofile:section=x"
    );
    assert!(
        cache()
            .exists("pair:user_id=abc:section=profile%3Asection%3Dx")
            .await
            .unwrap()
    );
}

#[cached(ttl = 300)]
async fn search(query: String) -> usize {
    query.len()
}

#[tokio::test]
async fn over_long_values_keep_a_readable_prefix_and_a_digest() {
    let query = "rust ".repeat(100);
    assert_eq!(search(query.clone()).await, 500);
    let key = search_cache_key(&query).unwrap();
    let value = key
        .strip_prefix("search:query=")
        .expect("the literal text stays");
    assert!(value.len() <= MAX_VALUE_LEN, "{}", value.len());
    assert!(value.starts_with("rust%20rust%20"), "{key}");
    let (_, digest) = key.rsplit_once('~').unwrap();
    assert_eq!(digest.len(), 32);
    assert_eq!(
        key,
        format!("search:query={}", cached_core::key::render(&query).unwrap())
    );
    let stored: Option<usize> = cache().get(&key).await.unwrap();
    assert_eq!(stored, Some(500));
    let other = search_cache_key(&format!("{query}!")).unwrap();
    assert_ne!(other, key);
}

static VALUE_LOADS: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = 300)]
async fn greeting(name: &str) -> String {
    VALUE_LOADS.fetch_add(1, SeqCst);
    format!("hello {name}")
}

#[tokio::test]
async fn the_companion_deletes_exactly_the_functions_entry() {
    greeting("ada").await;
    greeting("grace").await;
    assert!(greeting_invalidate("ada").await);
    assert!(!greeting_invalidate("ada").await, "already gone");
    assert!(!cache().exists("greeting:name=ada").await.unwrap());
    assert!(cache().exists("greeting:name=grace").await.unwrap());
    greeting("ada").await;
    greeting("grace").await;
    assert_eq!(VALUE_LOADS.load(SeqCst), 3);
}

static HYGIENE_LOADS: AtomicUsize = AtomicUsize::new(0);

/// Arguments named like the expansion's own bindings.
#[cached(ttl = 300)]
async fn hygiene(key: &str, cache: u32, value: bool, __site: char) -> String {
    HYGIENE_LOADS.fetch_add(1, SeqCst);
    format!("{key}{cache}{value}{__site}")
}

#[tokio::test]
async fn arguments_named_like_internal_bindings_are_keyed_normally() {
    assert_eq!(hygiene("k", 1, true, 'x').await, "k1truex");
    assert_eq!(hygiene("k", 1, true, 'x').await, "k1truex");
    assert_eq!(hygiene("k", 2, true, 'x').await, "k2truex");
    assert_eq!(HYGIENE_LOADS.load(SeqCst), 2);
    assert!(
        cache()
            .exists("hygiene:key=k:cache=1:value=true:__site=x")
            .await
            .unwrap()
    );
}
