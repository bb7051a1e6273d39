//! Key safety on Redis: `#[cached]` keys built from hostile argument values are stored
//! apart, and an `#[invalidates]` pattern built from one of them never matches the key of
//! another, with a key prefix full of glob characters around them all.

use cached_core::{CacheConfig, CacheSettings, cached, configure, get_cache, invalidates};
use cached_tests::redis_server::{PATIENT, RedisServer};

#[cached(cache = "keys", key = "item:{q}:v")]
async fn item(q: &str) -> usize {
    q.chars().count()
}

#[invalidates("item:{q}:*", cache = "keys")]
async fn forget(q: &str) -> Result<(), String> {
    let _ = q;
    Ok(())
}

fn hostile() -> Vec<String> {
    let mut values: Vec<String> = [
        "*",
        "?",
        "[",
        "]",
        "\\",
        ":",
        "=",
        " ",
        "a b",
        "\n",
        "line\r\nbreak",
        "\t\0\u{7}",
        "",
        "%2A",
        "a*",
        "[a-z]",
        "\\*",
        "ünïcødé ✓",
        "日本語",
        "🦀",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    values.push("x".repeat(10 * 1024));
    values.push(format!("{}*", "y".repeat(10 * 1024)));
    values
}

#[tokio::test]
async fn hostile_argument_values_never_match_each_others_keys() {
    let server = RedisServer::start();
    let config = CacheConfig::redis(&server.url())
        .with_key_prefix("app[1]*:")
        .with_connect_timeout(PATIENT)
        .with_response_timeout(PATIENT);
    configure(CacheSettings::new().with_cache("keys", config)).unwrap();
    server.cli(&["SET", "app1:item:a:v", "0"]);
    server.cli(&["SET", "item:*:v", "0"]);

    let values = hostile();
    for value in &values {
        assert_eq!(item(value).await, value.chars().count());
    }
    let stored = values.len() + 2;
    assert_eq!(
        server.cli(&["DBSIZE"]),
        stored.to_string(),
        "one key per value"
    );
    for value in &values {
        assert_eq!(item(value).await, value.chars().count(), "{value:?} hits");
    }
    assert_eq!(get_cache("keys").unwrap().stats().hits, values.len() as u64);

    let mut left = stored;
    for value in &values {
        forget(value).await.unwrap();
        left -= 1;
        assert_eq!(
            server.cli(&["DBSIZE"]),
            left.to_string(),
            "the pattern of {value:?} (long ones shortened as in the key) matched exactly its \
             own key"
        );
    }
    assert_eq!(
        server.cli(&["DBSIZE"]),
        "2",
        "only the keys written by others"
    );
    configure(CacheSettings::new()).unwrap();
}
