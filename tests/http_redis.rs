//! Response caching on a real Redis, through a real server and client: entries shared by
//! every instance of a service, replayed exactly after serialization, fail-open while
//! Redis is stopped, and invalidated without a scan of the keyspace.

#[path = "http/support.rs"]
mod support;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use cached_core::Cache;
use cached_core::http::{CacheResponseLayer, invalidate, invalidate_path};
use cached_tests::redis_server::RedisServer;
use support::{Calls, Server, client, header, x_cache};

/// A service instance answering `/r` with `call <n>`, caching in `cache`.
async fn instance(cache: Cache, calls: &Calls) -> Server {
    let counter = calls.clone();
    let handler = move || {
        let n = counter.hit();
        async move {
            (
                [("content-type", "text/plain; charset=utf-8")],
                format!("call {n}"),
            )
        }
    };
    Server::start(
        Router::new()
            .route("/r", get(handler))
            .layer(CacheResponseLayer::new(cache)),
    )
    .await
}

#[tokio::test]
async fn instances_share_entries_on_redis() {
    let redis = RedisServer::start();
    let calls = Calls::default();
    let first = instance(redis.cache("app:"), &calls).await;
    let second = instance(redis.cache("app:"), &calls).await;
    let client = client();

    // Instances behind one load balancer see the same `Host`.
    let host = "app.example";
    let response = client
        .get(first.url("/r"))
        .header("host", host)
        .send()
        .await
        .unwrap();
    assert_eq!(x_cache(&response), "MISS");
    assert_eq!(response.text().await.unwrap(), "call 1");
    let response = client
        .get(second.url("/r"))
        .header("host", host)
        .send()
        .await
        .unwrap();
    assert_eq!(x_cache(&response), "HIT", "stored by the other instance");
    assert_eq!(
        header(&response, "content-type"),
        "text/plain; charset=utf-8"
    );
    header(&response, "age").parse::<u64>().unwrap();
    assert_eq!(response.text().await.unwrap(), "call 1");
    assert_eq!(calls.count(), 1);

    let stored = redis.cli(&["GET", "app:http:GET:app.example:/r"]);
    // The entry is stored with the versions of its URL's tags, then the JSON.
    let at = stored.find("{\"").expect("a JSON object");
    assert!(stored.starts_with('\u{2}'), "with its tags' versions");
    let json: serde_json::Value = serde_json::from_str(&stored[at..]).unwrap();
    assert_eq!(json["response"]["status"], 200);
    assert_eq!(
        json["response"]["body"], "call 1",
        "a text body is stored as text"
    );
}

#[tokio::test]
async fn a_stopped_redis_serves_the_handlers_response_and_recovers() {
    let mut redis = RedisServer::start();
    let cache = redis.cache("");
    let calls = Calls::default();
    let server = instance(cache.clone(), &calls).await;
    let client = client();
    let get = || async {
        let response = client.get(server.url("/r")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        (x_cache(&response), response.text().await.unwrap())
    };

    assert_eq!(get().await, ("MISS".into(), "call 1".into()));
    assert_eq!(get().await, ("HIT".into(), "call 1".into()));

    redis.stop();
    for n in 2..=4 {
        assert_eq!(
            get().await,
            ("MISS".into(), format!("call {n}")),
            "fail-open"
        );
    }
    assert!(cache.stats().errors > 0, "the failures are counted");

    redis.restart();
    let mut recovered = false;
    for _ in 0..400 {
        if get().await.0 == "HIT" {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        recovered,
        "entries are stored and served again once Redis is back"
    );
}

/// How many times Redis ran `SCAN` and `KEYS` since its statistics were last reset.
fn scans(redis: &RedisServer) -> Vec<String> {
    redis
        .cli(&["INFO", "commandstats"])
        .lines()
        .filter(|line| line.starts_with("cmdstat_scan:") || line.starts_with("cmdstat_keys:"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn unsafe_requests_and_invalidation_remove_variants_without_a_scan() {
    let redis = RedisServer::start();
    let cache = redis.cache("app:");
    let calls = Calls::default();
    let counter = calls.clone();
    let show = move |Path(id): Path<String>| {
        counter.hit();
        async move { format!("post {id}") }
    };
    let layer = CacheResponseLayer::new(cache.clone()).vary_headers(["Accept-Language"]);
    let router = Router::new().route(
        "/posts/{id}",
        get(show).post(|| async { "saved" }).layer(layer),
    );
    let server = Server::start(router).await;
    let client = client();
    let get = |id: &str, language: &str| {
        client
            .get(server.url(&format!("/posts/{id}")))
            .header("accept-language", language)
            .send()
    };
    let fill = || async {
        for (id, language) in [("1", "en"), ("1", "fr"), ("2", "en")] {
            get(id, language).await.unwrap();
            assert_eq!(x_cache(&get(id, language).await.unwrap()), "HIT");
        }
    };
    fill().await;
    redis.cli(&["CONFIG", "RESETSTAT"]);
    let saved = client.post(server.url("/posts/1")).send().await.unwrap();
    assert_eq!(saved.text().await.unwrap(), "saved");
    assert_eq!(x_cache(&get("1", "en").await.unwrap()), "MISS");
    assert_eq!(x_cache(&get("1", "fr").await.unwrap()), "MISS");
    assert_eq!(x_cache(&get("2", "en").await.unwrap()), "HIT");
    assert_eq!(scans(&redis), Vec::<String>::new(), "a POST scans nothing");

    fill().await;
    let host = server.key_host();
    redis.cli(&["CONFIG", "RESETSTAT"]);
    let key = format!("GET:{host}:/posts/1");
    assert_eq!(invalidate(&cache, &key).await.unwrap(), 2, "both variants");
    assert_eq!(invalidate_path(&cache, "/posts/2").await.unwrap(), 1);
    assert_eq!(
        scans(&redis),
        Vec::<String>::new(),
        "invalidation scans nothing"
    );
    assert_eq!(x_cache(&get("1", "fr").await.unwrap()), "MISS");
    assert_eq!(x_cache(&get("2", "en").await.unwrap()), "MISS");
    assert_eq!(calls.count(), 7);

    // Redis evicts the URLs' tags (removed here by hand): a POST names nothing to remove,
    // yet no page stored before it is served after it, since each carries its tags'
    // versions.
    fill().await;
    let raw = redis::Client::open(redis.url()).unwrap();
    let mut conn = raw.get_multiplexed_async_connection().await.unwrap();
    let tags: Vec<Vec<u8>> = redis::cmd("KEYS")
        .arg("app:\0cached:tag:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!tags.is_empty(), "the URLs joined tags");
    let _: u64 = redis::cmd("DEL")
        .arg(&tags)
        .query_async(&mut conn)
        .await
        .unwrap();
    client.post(server.url("/posts/1")).send().await.unwrap();
    assert_eq!(
        x_cache(&get("1", "en").await.unwrap()),
        "MISS",
        "not the page before the POST"
    );
    assert_eq!(x_cache(&get("1", "fr").await.unwrap()), "MISS");
}
