//! Invalidation by unsafe requests through a real server and client: a successful `POST`,
//! `PUT`, `PATCH`, `DELETE` (or extension method) removes every variant of its URL's entry,
//! and those of its `Location` and `Content-Location` on the same host; a failed one removes
//! nothing; and one that comes while a `GET` loads keeps the loaded response from being
//! stored.

#[path = "http/support.rs"]
mod support;

#[path = "http/origin.rs"]
mod origin;

use std::time::Duration;

use axum::Router;
use axum::http::Method;
use axum::routing::get;
use cached_core::Cache;
use cached_core::http::{CacheResponseLayer, Mode};
use cached_tests::memory_cache;
use cached_tests::redis_server::RedisServer;
use origin::{Received, answer, origin};
use support::{Calls, Server, client, eventually, x_cache};

fn layers() -> [(Mode, CacheResponseLayer); 2] {
    [
        (
            Mode::Application,
            CacheResponseLayer::new(memory_cache(100))
                .ttl(Duration::from_secs(3600))
                .vary_headers(["X-Team"]),
        ),
        (
            Mode::SharedCache,
            CacheResponseLayer::new(memory_cache(100))
                .mode(Mode::SharedCache)
                .vary_headers(["X-Team"]),
        ),
    ]
}

/// GETs are fresh for an hour and vary on `Accept-Language`; unsafe requests are answered
/// with `status`, and `location` as their `Location` and `Content-Location`.
fn site(
    status: u16,
    location: &'static str,
) -> impl Fn(usize, &Received) -> axum::response::Response + Clone {
    move |n, request| {
        if request.method == Method::GET {
            answer(
                200,
                &[
                    ("cache-control", "max-age=3600"),
                    ("vary", "accept-language"),
                ],
                &format!("{} v{n}", request.path),
            )
        } else {
            answer(
                status,
                &[("location", location), ("content-location", location)],
                "",
            )
        }
    }
}

#[tokio::test]
async fn successful_unsafe_requests_invalidate_every_variant_of_their_url() {
    for method in ["POST", "PUT", "PATCH", "DELETE", "M-SEARCH"] {
        for (mode, layer) in layers() {
            let (server, _) = origin(layer, site(200, "")).await;
            let client = client();
            let get = |path: &str, team: &str, language: &str| {
                client
                    .get(server.url(path))
                    .header("x-team", team)
                    .header("accept-language", language)
                    .send()
            };
            let variants = [("red", "en"), ("red", "fr"), ("blue", "en")];
            for (team, language) in variants {
                get("/posts/1", team, language).await.unwrap();
                assert_eq!(
                    x_cache(&get("/posts/1", team, language).await.unwrap()),
                    "HIT"
                );
            }
            get("/posts/2", "red", "en").await.unwrap();
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            client
                .request(method.clone(), server.url("/posts/1"))
                .send()
                .await
                .unwrap();
            for (team, language) in variants {
                let response = get("/posts/1", team, language).await.unwrap();
                assert_eq!(
                    x_cache(&response),
                    "MISS",
                    "{mode:?} {method} {team} {language}"
                );
            }
            let other = get("/posts/2", "red", "en").await.unwrap();
            assert_eq!(x_cache(&other), "HIT", "{mode:?} {method}: other URLs stay");
        }
    }
}

#[tokio::test]
async fn failed_unsafe_requests_and_safe_methods_invalidate_nothing() {
    for (status, method) in [
        (500, Method::POST),
        (404, Method::DELETE),
        (200, Method::OPTIONS),
    ] {
        let layer = CacheResponseLayer::new(memory_cache(100)).mode(Mode::SharedCache);
        let (server, _) = origin(layer, site(status, "")).await;
        let client = client();
        client.get(server.url("/p")).send().await.unwrap();
        client
            .request(method.clone(), server.url("/p"))
            .send()
            .await
            .unwrap();
        let response = client.get(server.url("/p")).send().await.unwrap();
        assert_eq!(x_cache(&response), "HIT", "{method} answered {status}");
    }
}

#[tokio::test]
async fn relative_locations_and_content_locations_are_invalidated() {
    for (location, target) in [("/target", "/target"), ("target", "/dir/target")] {
        let layer = CacheResponseLayer::new(memory_cache(100)).mode(Mode::SharedCache);
        let (server, _) = origin(layer, site(201, location)).await;
        let client = client();
        client.get(server.url(target)).send().await.unwrap();
        client.get(server.url("/untouched")).send().await.unwrap();
        client.post(server.url("/dir/create")).send().await.unwrap();
        let response = client.get(server.url(target)).send().await.unwrap();
        assert_eq!(x_cache(&response), "MISS", "Location: {location}");
        let response = client.get(server.url("/untouched")).send().await.unwrap();
        assert_eq!(x_cache(&response), "HIT");
    }
}

#[tokio::test]
async fn an_absolute_location_on_this_host_is_invalidated_and_on_another_is_not() {
    let layer = CacheResponseLayer::new(memory_cache(100)).mode(Mode::SharedCache);
    let (server, _) = origin(layer, |n, request| {
        if request.method == Method::GET {
            return answer(200, &[("cache-control", "max-age=3600")], &format!("v{n}"));
        }
        let location = request.headers["x-location"].to_str().unwrap().to_owned();
        answer(200, &[("location", &location)], "")
    })
    .await;
    let client = client();
    let own = server.url("/target");
    for (location, expected) in [
        ("http://elsewhere.example/target", "HIT"),
        (own.as_str(), "MISS"),
    ] {
        client.get(server.url("/target")).send().await.unwrap();
        client
            .post(server.url("/create"))
            .header("x-location", location)
            .send()
            .await
            .unwrap();
        let target = client.get(server.url("/target")).send().await.unwrap();
        assert_eq!(x_cache(&target), expected, "Location: {location}");
    }
}

/// A `GET` whose handler is still running when a `POST` for its URL succeeds: what it
/// loaded began before the invalidation, so it is answered but never stored.
async fn an_unsafe_request_during_a_load_wins(cache: Cache) {
    let (release, gate) = tokio::sync::watch::channel(false);
    let calls = Calls::default();
    let counter = calls.clone();
    let show = move || {
        let (mut gate, n) = (gate.clone(), counter.hit());
        async move {
            if n == 1 {
                gate.wait_for(|open| *open).await.unwrap();
            }
            format!("v{n}")
        }
    };
    let layer = CacheResponseLayer::new(cache).ttl(Duration::from_secs(3600));
    let router = Router::new().route("/post", get(show).put(|| async {}).layer(layer));
    let server = Server::start(router).await;
    let client = client();
    let loading = tokio::spawn(client.get(server.url("/post")).send());
    eventually("the load to reach the handler", || calls.count() == 1).await;
    let saved = client.put(server.url("/post")).send().await.unwrap();
    assert!(saved.status().is_success());
    release.send(true).unwrap();
    let loaded = loading.await.unwrap().unwrap();
    assert_eq!(loaded.text().await.unwrap(), "v1");
    let after = client.get(server.url("/post")).send().await.unwrap();
    assert_eq!(
        x_cache(&after),
        "MISS",
        "the load that began before the PUT stored nothing"
    );
    assert_eq!(after.text().await.unwrap(), "v2");
    let again = client.get(server.url("/post")).send().await.unwrap();
    assert_eq!(x_cache(&again), "HIT");
}

#[tokio::test]
async fn an_unsafe_request_during_a_load_wins_in_memory() {
    an_unsafe_request_during_a_load_wins(memory_cache(100)).await;
}

#[tokio::test]
async fn an_unsafe_request_during_a_load_wins_on_redis() {
    let redis = RedisServer::start();
    an_unsafe_request_during_a_load_wins(redis.cache("")).await;
}
