//! Conditional requests through a real server and client: hits answer `If-None-Match` and
//! `If-Modified-Since` with `304`; stale entries with a validator are revalidated with the
//! origin, and a `304` refreshes the entry and updates its stored headers; a generated
//! strong `ETag` for responses that have none.

#[path = "http/support.rs"]
mod support;

#[path = "http/origin.rs"]
mod origin;

use std::time::Duration;

use axum::http::StatusCode;
use cached_core::http::{CacheResponseLayer, Mode};
use cached_tests::memory_cache;
use origin::{answer, origin};
use support::{client, header, x_cache};

const LAST_MODIFIED: &str = "Wed, 01 Jan 2020 00:00:00 GMT";

fn layers() -> [(Mode, CacheResponseLayer); 2] {
    [
        (
            Mode::Application,
            CacheResponseLayer::new(memory_cache(100)).ttl(Duration::from_secs(3600)),
        ),
        (
            Mode::SharedCache,
            CacheResponseLayer::new(memory_cache(100)).mode(Mode::SharedCache),
        ),
    ]
}

#[tokio::test]
async fn hits_answer_conditional_requests_with_304() {
    for (mode, layer) in layers() {
        let (server, log) = origin(layer, |_, _| {
            answer(
                200,
                &[
                    ("cache-control", "max-age=3600"),
                    ("etag", "\"v1\""),
                    ("last-modified", LAST_MODIFIED),
                    ("content-type", "text/plain"),
                ],
                "body",
            )
        })
        .await;
        let client = client();
        client.get(server.url("/r")).send().await.unwrap();
        let conditional = |name: &'static str, value: &'static str| {
            client.get(server.url("/r")).header(name, value).send()
        };

        for etags in ["\"v1\"", "W/\"v1\"", "\"v0\", \"v1\"", "*"] {
            let response = conditional("if-none-match", etags).await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::NOT_MODIFIED,
                "{mode:?} {etags}"
            );
            assert_eq!(x_cache(&response), "HIT");
            assert_eq!(header(&response, "etag"), "\"v1\"");
            assert!(response.text().await.unwrap().is_empty());
        }
        let other = conditional("if-none-match", "\"v2\"").await.unwrap();
        assert_eq!(other.status(), StatusCode::OK, "{mode:?}");
        assert_eq!(other.text().await.unwrap(), "body");

        let since = conditional("if-modified-since", "Thu, 02 Jan 2020 00:00:00 GMT");
        assert_eq!(since.await.unwrap().status(), StatusCode::NOT_MODIFIED);
        let before = conditional("if-modified-since", "Tue, 31 Dec 2019 00:00:00 GMT");
        assert_eq!(before.await.unwrap().status(), StatusCode::OK);
        assert_eq!(log.count(), 1, "{mode:?}: all from the cache");
    }
}

#[tokio::test]
async fn stale_entries_with_a_validator_are_revalidated_and_a_304_updates_them() {
    for (mode, layer) in layers() {
        let (server, log) = origin(layer, |n, request| {
            let current = request
                .headers
                .get("if-none-match")
                .map(|v| v.to_str().unwrap());
            match (n, current) {
                (1, _) => answer(
                    200,
                    &[
                        ("cache-control", "max-age=0"),
                        ("etag", "\"v1\""),
                        ("x-version", "1"),
                    ],
                    "body v1",
                ),
                (_, Some("\"v1\"")) => answer(
                    304,
                    &[
                        ("cache-control", "max-age=3600"),
                        ("etag", "\"v1\""),
                        ("x-version", "2"),
                    ],
                    "",
                ),
                _ => answer(500, &[], "unconditional"),
            }
        })
        .await;
        let client = client();
        client.get(server.url("/r")).send().await.unwrap();

        let revalidated = client.get(server.url("/r")).send().await.unwrap();
        assert_eq!(log.count(), 2, "{mode:?}");
        assert_eq!(log.last().headers["if-none-match"], "\"v1\"");
        assert_eq!(revalidated.status(), StatusCode::OK);
        assert_eq!(x_cache(&revalidated), "REVALIDATED");
        assert_eq!(header(&revalidated, "x-version"), "2", "headers updated");
        assert_eq!(revalidated.text().await.unwrap(), "body v1");

        let hit = client.get(server.url("/r")).send().await.unwrap();
        assert_eq!(
            x_cache(&hit),
            "HIT",
            "{mode:?}: the 304's max-age refreshed it"
        );
        assert_eq!(header(&hit, "x-version"), "2");
        assert_eq!(hit.text().await.unwrap(), "body v1");
        assert_eq!(log.count(), 2);
    }
}

#[tokio::test]
async fn revalidation_replaces_the_clients_conditions_and_answers_them_itself() {
    let layer = CacheResponseLayer::new(memory_cache(100)).mode(Mode::SharedCache);
    let (server, log) = origin(layer, |n, request| {
        if n == 1 {
            return answer(
                200,
                &[
                    ("cache-control", "no-cache"),
                    ("last-modified", LAST_MODIFIED),
                ],
                "body",
            );
        }
        assert!(
            !request.headers.contains_key("if-none-match"),
            "not the client's"
        );
        assert_eq!(request.headers["if-modified-since"], LAST_MODIFIED);
        answer(304, &[("cache-control", "no-cache")], "")
    })
    .await;
    let client = client();
    client.get(server.url("/r")).send().await.unwrap();
    let response = client
        .get(server.url("/r"))
        .header("if-none-match", "\"mine\"")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the client's ETag does not match"
    );
    assert_eq!(response.text().await.unwrap(), "body");
    let response = client
        .get(server.url("/r"))
        .header("if-modified-since", LAST_MODIFIED)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(x_cache(&response), "REVALIDATED");
    assert_eq!(log.count(), 3, "no-cache: revalidated every time");
}

#[tokio::test]
async fn a_200_to_a_revalidation_replaces_the_entry() {
    let layer = CacheResponseLayer::new(memory_cache(100)).mode(Mode::SharedCache);
    let (server, _) = origin(layer, |n, _| {
        let etag = format!("\"v{n}\"");
        let max_age = if n == 1 { "max-age=0" } else { "max-age=3600" };
        answer(
            200,
            &[("cache-control", max_age), ("etag", &etag)],
            &format!("v{n}"),
        )
    })
    .await;
    let client = client();
    client.get(server.url("/r")).send().await.unwrap();
    let changed = client.get(server.url("/r")).send().await.unwrap();
    assert_eq!(x_cache(&changed), "MISS");
    assert_eq!(changed.text().await.unwrap(), "v2");
    let hit = client.get(server.url("/r")).send().await.unwrap();
    assert_eq!(x_cache(&hit), "HIT");
    assert_eq!(header(&hit, "etag"), "\"v2\"");
}

#[tokio::test]
async fn a_generated_strong_etag_lets_clients_revalidate() {
    let layer = CacheResponseLayer::new(memory_cache(100)).generate_etag(true);
    let (server, log) = origin(layer, |_, _| answer(200, &[], "same body")).await;
    let client = client();
    let first = client.get(server.url("/r")).send().await.unwrap();
    let etag = header(&first, "etag");
    assert!(
        etag.starts_with('"') && etag.len() > 10 && !etag.starts_with("W/"),
        "{etag}"
    );
    let again = client
        .get(server.url("/r"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(log.count(), 1);

    let other = CacheResponseLayer::new(memory_cache(100)).generate_etag(true);
    let (server, _) = origin(other, |_, _| answer(200, &[], "another body")).await;
    let other_etag = header(&client.get(server.url("/r")).send().await.unwrap(), "etag");
    assert_ne!(etag, other_etag, "the digest of the body");

    let (server, _) = origin(CacheResponseLayer::new(memory_cache(100)), |_, _| {
        answer(200, &[], "same body")
    })
    .await;
    let plain = client.get(server.url("/r")).send().await.unwrap();
    assert_eq!(header(&plain, "etag"), "", "off unless asked for");
}
