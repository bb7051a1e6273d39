//! Concurrent misses call the handler once; a failing cache never fails a request; entries
//! survive a byte-oriented backend (JSON) exactly. Through a real server and client.

#[path = "http/support.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use cached_core::http::CacheResponseLayer;
use cached_core::{Backend, BackendError, Cache, CacheConfig, register_backend};
use cached_tests::memory_cache;
use support::{ByteStore, Calls, Server, client, eventually, x_cache};
use tokio::sync::Semaphore;

/// A handler that counts its calls and answers only when the test releases it.
fn gated(calls: Calls, gate: Arc<Semaphore>, status: StatusCode) -> Router {
    Router::new().route(
        "/slow",
        get(move || {
            let (calls, gate) = (calls.clone(), gate.clone());
            async move {
                let n = calls.hit();
                gate.acquire().await.unwrap().forget();
                (status, format!("computed by call {n}"))
            }
        }),
    )
}

#[tokio::test]
async fn twenty_concurrent_misses_reach_the_handler_once() {
    let cache = memory_cache(100);
    let (calls, gate) = (Calls::default(), Arc::new(Semaphore::new(0)));
    let router = gated(calls.clone(), gate.clone(), StatusCode::OK)
        .layer(CacheResponseLayer::new(cache.clone()));
    let server = Server::start(router).await;
    let client = client();

    let requests: Vec<_> = (0..20)
        .map(|_| {
            let request = client.get(server.url("/slow"));
            tokio::spawn(async move {
                let response = request.send().await.unwrap();
                (x_cache(&response), response.text().await.unwrap())
            })
        })
        .collect();
    // Every request has looked up and missed before the handler may answer.
    eventually("20 lookups", || cache.stats().misses == 20).await;
    gate.add_permits(20);

    let mut misses = 0;
    for request in requests {
        let (x_cache, body) = request.await.unwrap();
        assert_eq!(body, "computed by call 1");
        misses += usize::from(x_cache == "MISS");
    }
    assert_eq!(calls.count(), 1, "single-flight: one handler call");
    assert_eq!(misses, 1, "the leader's response is the only miss");
}

#[tokio::test]
async fn concurrent_misses_of_an_uncacheable_response_each_get_their_own() {
    let cache = memory_cache(100);
    let (calls, gate) = (Calls::default(), Arc::new(Semaphore::new(0)));
    let router = gated(
        calls.clone(),
        gate.clone(),
        StatusCode::INTERNAL_SERVER_ERROR,
    )
    .layer(CacheResponseLayer::new(cache.clone()));
    let server = Server::start(router).await;
    let client = client();

    let requests: Vec<_> = (0..5)
        .map(|_| tokio::spawn(client.get(server.url("/slow")).send()))
        .collect();
    eventually("5 lookups", || cache.stats().misses == 5).await;
    gate.add_permits(5);
    let mut bodies = Vec::new();
    for request in requests {
        let response = request.await.unwrap().unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(x_cache(&response), "MISS");
        bodies.push(response.text().await.unwrap());
    }
    bodies.sort();
    bodies.dedup();
    assert_eq!(
        bodies.len(),
        5,
        "a 500 is never shared: each request got its own"
    );
    assert_eq!(calls.count(), 5);
}

/// A backend whose every operation fails, as a store that is down.
struct Down;

#[cached_core::async_trait]
impl Backend for Down {
    async fn get(&self, _: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Err(BackendError::new("connection refused"))
    }
    async fn set(&self, _: &str, _: Vec<u8>, _: Option<Duration>) -> Result<(), BackendError> {
        Err(BackendError::new("connection refused"))
    }
    async fn delete(&self, _: &str) -> Result<bool, BackendError> {
        Err(BackendError::new("connection refused"))
    }
    async fn clear(&self) -> Result<(), BackendError> {
        Err(BackendError::new("connection refused"))
    }
}

#[tokio::test]
async fn a_failing_backend_serves_the_handlers_response() {
    register_backend("http-test-down", |_| Ok(Down));
    let cache = Cache::new("down", &CacheConfig::backend("http-test-down")).unwrap();
    let calls = Calls::default();
    let counter = calls.clone();
    let handler = move || {
        let n = counter.hit();
        async move { format!("fresh {n}") }
    };
    let server = Server::start(
        Router::new()
            .route("/r", get(handler))
            .layer(CacheResponseLayer::new(cache.clone())),
    )
    .await;
    let client = client();
    for n in 1..=3 {
        let response = client.get(server.url("/r")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(x_cache(&response), "MISS");
        assert_eq!(response.text().await.unwrap(), format!("fresh {n}"));
    }
    assert_eq!(calls.count(), 3);
    let stats = cache.stats();
    assert_eq!(stats.misses, 3);
    assert!(
        stats.errors >= 6,
        "each failed read and write is counted: {stats:?}"
    );
}

#[tokio::test]
async fn entries_are_compact_json_on_a_byte_backend_and_replay_exactly() {
    let (store, cache) = ByteStore::cache(
        "http-flight-bytes",
        cached_core::CacheConfig::backend("http-flight-bytes"),
    );
    let body = "{\"title\":\"Hello\"}".repeat(100);
    let expected = body.clone();
    let router = Router::new()
        .route(
            "/post",
            get(move || {
                let body = body.clone();
                async move {
                    (
                        [("content-type", "application/json"), ("vary", "X-Theme")],
                        body,
                    )
                }
            }),
        )
        .layer(CacheResponseLayer::new(cache.clone()));
    let server = Server::start(router).await;
    let client = client();
    for expected_x_cache in ["MISS", "HIT"] {
        let response = client
            .get(server.url("/post"))
            .header("x-theme", "dark")
            .send()
            .await
            .unwrap();
        assert_eq!(x_cache(&response), expected_x_cache);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.text().await.unwrap(), expected);
    }

    let stored = store.contents();
    let primary = format!("http:GET:{}:/post", server.key_host());
    let marker = String::from_utf8(stored[&primary].clone()).unwrap();
    assert_eq!(marker, r#"{"vary":["x-theme"]}"#);
    let entry = &stored[&format!("{primary}>x-theme=dark")];
    let json: serde_json::Value = serde_json::from_slice(entry).unwrap();
    assert_eq!(
        json["response"]["body"],
        expected.as_str(),
        "a text body is a JSON string"
    );
    assert!(
        entry.len() < expected.len() * 3 / 2,
        "compact: {} bytes for {}",
        entry.len(),
        expected.len()
    );
}
