//! Conditional requests through a real server and client: hits answer `If-None-Match` and
//! `If-Modified-Since` (against `Last-Modified`, or else `Date`) with `304`; stale entries
//! with a validator are revalidated with the origin, and a `304` refreshes the entry and
//! updates its stored headers, as does a `200` to a `HEAD` that describes the same response;
//! a `Range` is answered `206` from a stored complete response; a generated strong `ETag`
//! for responses that have none.

#[path = "http/support.rs"]
mod support;

#[path = "http/origin.rs"]
mod origin;

use std::time::Duration;

use axum::http::Method;
use axum::http::StatusCode;
use cached_core::http::{CacheResponseLayer, Mode};
use cached_tests::memory_cache;
use origin::{answer, http_date, origin};
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

#[tokio::test]
async fn if_modified_since_without_last_modified_is_compared_with_the_date() {
    for (mode, layer) in layers() {
        let date = http_date(-10);
        let (server, log) = origin(layer, move |_, _| {
            answer(
                200,
                &[("cache-control", "max-age=3600"), ("date", &date)],
                "body",
            )
        })
        .await;
        let client = client();
        client.get(server.url("/r")).send().await.unwrap();
        let since = |date: String| {
            client
                .get(server.url("/r"))
                .header("if-modified-since", date)
                .send()
        };
        let later = since(http_date(0)).await.unwrap();
        assert_eq!(later.status(), StatusCode::NOT_MODIFIED, "{mode:?}");
        assert_eq!(x_cache(&later), "HIT");
        let earlier = since(http_date(-100)).await.unwrap();
        assert_eq!(earlier.status(), StatusCode::OK, "{mode:?}");
        assert_eq!(earlier.text().await.unwrap(), "body");
        assert_eq!(log.count(), 1);
    }
}

#[tokio::test]
async fn a_range_is_answered_206_from_a_stored_complete_response() {
    for (mode, layer) in layers() {
        let (server, log) = origin(layer, |_, _| {
            answer(
                200,
                &[("cache-control", "max-age=3600"), ("etag", "\"v1\"")],
                "0123456789",
            )
        })
        .await;
        let client = client();
        client.get(server.url("/r")).send().await.unwrap();
        for (range, part, content_range) in [
            ("bytes=0-1", "01", "bytes 0-1/10"),
            ("bytes=3-", "3456789", "bytes 3-9/10"),
            ("bytes=-1", "9", "bytes 9-9/10"),
        ] {
            let response = client
                .get(server.url("/r"))
                .header("range", range)
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::PARTIAL_CONTENT,
                "{mode:?} {range}"
            );
            assert_eq!(x_cache(&response), "HIT");
            assert_eq!(header(&response, "content-range"), content_range);
            assert_eq!(response.text().await.unwrap(), part);
        }
        for (name, value) in [("if-range", "\"v1\""), ("if-range", "\"v0\"")] {
            let response = client
                .get(server.url("/r"))
                .header("range", "bytes=0-1")
                .header(name, value)
                .send()
                .await
                .unwrap();
            let expected = if value == "\"v1\"" {
                "01"
            } else {
                "0123456789"
            };
            assert_eq!(
                response.text().await.unwrap(),
                expected,
                "If-Range: {value}"
            );
        }
        let several = client
            .get(server.url("/r"))
            .header("range", "bytes=0-1,5-6")
            .send()
            .await
            .unwrap();
        assert_eq!(
            several.status(),
            StatusCode::OK,
            "several ranges: the whole"
        );
        assert_eq!(several.text().await.unwrap(), "0123456789");
        assert_eq!(log.count(), 1, "{mode:?}: all from the cache");
    }
}

/// The origin answers the first `GET` `body v1` (stale at once, `ETag` `"v1"`), a `HEAD` with
/// `head_etag` and fresh headers (whatever the conditions), and a conditional `GET` `304`.
fn head_site(
    head_etag: &'static str,
) -> impl Fn(usize, &origin::Received) -> axum::response::Response + Clone {
    move |n, request| match (n, &request.method) {
        (1, _) => answer(
            200,
            &[
                ("cache-control", "max-age=0"),
                ("etag", "\"v1\""),
                ("x-version", "1"),
            ],
            "body v1",
        ),
        (_, &Method::HEAD) => answer(
            200,
            &[
                ("cache-control", "max-age=3600"),
                ("etag", head_etag),
                ("x-version", "2"),
            ],
            "",
        ),
        _ if request.headers.contains_key("if-none-match") => {
            answer(304, &[("etag", "\"v1\"")], "")
        }
        _ => answer(500, &[], "unexpected"),
    }
}

#[tokio::test]
async fn a_head_response_that_describes_the_entry_updates_its_headers() {
    for (mode, layer) in layers() {
        let (server, log) = origin(layer, head_site("\"v1\"")).await;
        let client = client();
        client.get(server.url("/r")).send().await.unwrap();
        let head = client.head(server.url("/r")).send().await.unwrap();
        assert_eq!(
            log.last().method,
            Method::HEAD,
            "{mode:?}: sent on as a HEAD"
        );
        assert_eq!(x_cache(&head), "REVALIDATED");
        assert_eq!(header(&head, "x-version"), "2");
        let get = client.get(server.url("/r")).send().await.unwrap();
        assert_eq!(
            x_cache(&get),
            "HIT",
            "{mode:?}: the HEAD's max-age refreshed it"
        );
        assert_eq!(header(&get, "x-version"), "2");
        assert_eq!(get.text().await.unwrap(), "body v1");
        assert_eq!(log.count(), 2);
    }
}

#[tokio::test]
async fn a_head_response_for_another_version_updates_nothing() {
    for (mode, layer) in layers() {
        let (server, log) = origin(layer, head_site("\"v2\"")).await;
        let client = client();
        client.get(server.url("/r")).send().await.unwrap();
        let head = client.head(server.url("/r")).send().await.unwrap();
        assert_eq!(x_cache(&head), "MISS", "{mode:?}");
        assert_eq!(header(&head, "etag"), "\"v2\"");
        let get = client.get(server.url("/r")).send().await.unwrap();
        assert_eq!(x_cache(&get), "REVALIDATED", "{mode:?}: still stale");
        assert_eq!(header(&get, "x-version"), "1");
        assert_eq!(log.count(), 3);
    }
}
