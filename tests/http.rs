//! HTTP response caching through a real server and client: misses and hits, what HTTP says
//! is not stored, HEAD, bypass, exact replay, streaming and the body size limit.

#[path = "http/support.rs"]
mod support;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use cached_core::http::CacheResponseLayer;
use cached_tests::memory_cache;
use support::{ByteStore, Calls, ChannelBody, Server, client, header, next_chunk, x_cache};

/// One route at `/r` answering with `respond(call number)`, behind `layer`.
async fn serve<F, R>(layer: CacheResponseLayer, respond: F) -> (Server, Calls)
where
    F: Fn(usize) -> R + Clone + Send + Sync + 'static,
    R: IntoResponse,
{
    let calls = Calls::default();
    let counter = calls.clone();
    let handler = move || {
        let (respond, counter) = (respond.clone(), counter.clone());
        async move { respond(counter.hit()) }
    };
    let router = Router::new().route("/r", get(handler.clone()).post(handler).route_layer(layer));
    (Server::start(router).await, calls)
}

#[tokio::test]
async fn a_miss_then_hits_with_x_cache_and_age() {
    let cache = memory_cache(100);
    let (server, calls) = serve(CacheResponseLayer::new(cache.clone()), |n| {
        format!("call {n}")
    })
    .await;
    let client = client();

    let first = client.get(server.url("/r")).send().await.unwrap();
    assert_eq!(x_cache(&first), "MISS");
    assert_eq!(header(&first, "age"), "", "a miss has no Age");
    assert_eq!(first.text().await.unwrap(), "call 1");

    for _ in 0..3 {
        let hit = client.get(server.url("/r")).send().await.unwrap();
        assert_eq!(hit.status(), StatusCode::OK);
        assert_eq!(x_cache(&hit), "HIT");
        header(&hit, "age")
            .parse::<u64>()
            .expect("Age is a number of seconds");
        assert_eq!(hit.text().await.unwrap(), "call 1");
    }
    assert_eq!(calls.count(), 1);
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.sets), (3, 1, 1));
}

#[tokio::test]
async fn the_default_key_covers_host_path_and_sorted_query() {
    let cache = memory_cache(100);
    let calls = Calls::default();
    let counter = calls.clone();
    let router = Router::new()
        .route("/a", get(|| async { "a" }))
        .route(
            "/b",
            get(move || {
                counter.hit();
                async { "b" }
            }),
        )
        .layer(CacheResponseLayer::new(cache.clone()));
    let server = Server::start(router).await;
    let client = client();
    let get = |path: &str| client.get(server.url(path)).send();

    assert_eq!(x_cache(&get("/a").await.unwrap()), "MISS");
    assert_eq!(x_cache(&get("/b?x=1&y=2").await.unwrap()), "MISS");
    assert_eq!(
        x_cache(&get("/b?y=2&x=1").await.unwrap()),
        "HIT",
        "query order is irrelevant"
    );
    assert_eq!(x_cache(&get("/b?x=1").await.unwrap()), "MISS");
    assert_eq!(x_cache(&get("/b").await.unwrap()), "MISS");
    assert_eq!(x_cache(&get("/a").await.unwrap()), "HIT");
    assert_eq!(calls.count(), 3);
    let key = format!("http:GET:{}:/b:x=1&y=2", server.key_host());
    assert!(cache.exists(&key).await.unwrap());
}

#[tokio::test]
async fn post_is_never_cached_nor_marked() {
    let (server, calls) = serve(CacheResponseLayer::new(memory_cache(100)), |n| {
        format!("call {n}")
    })
    .await;
    let client = client();
    for n in 1..=2 {
        let response = client.post(server.url("/r")).send().await.unwrap();
        assert_eq!(x_cache(&response), "", "the cache is not involved");
        assert_eq!(response.text().await.unwrap(), format!("call {n}"));
    }
    assert_eq!(calls.count(), 2);
}

#[tokio::test]
async fn no_store_private_and_set_cookie_responses_are_not_stored() {
    let cases: [(&str, &str); 4] = [
        ("cache-control", "no-store"),
        ("cache-control", "private, max-age=60"),
        ("cache-control", "no-cache"),
        ("set-cookie", "session=abc"),
    ];
    for (name, value) in cases {
        let (server, calls) = serve(CacheResponseLayer::new(memory_cache(100)), move |n| {
            ([(name, value)], format!("call {n}"))
        })
        .await;
        let client = client();
        for n in 1..=2 {
            let response = client.get(server.url("/r")).send().await.unwrap();
            assert_eq!(x_cache(&response), "MISS", "{name}: {value}");
            assert_eq!(header(&response, name), value);
            assert_eq!(response.text().await.unwrap(), format!("call {n}"));
        }
        assert_eq!(calls.count(), 2, "{name}: {value}");
    }
}

#[tokio::test]
async fn errors_and_not_found_are_not_stored_unless_configured() {
    for status in [StatusCode::NOT_FOUND, StatusCode::INTERNAL_SERVER_ERROR] {
        let (server, calls) = serve(CacheResponseLayer::new(memory_cache(100)), move |n| {
            (status, format!("call {n}"))
        })
        .await;
        let client = client();
        for n in 1..=2 {
            let response = client.get(server.url("/r")).send().await.unwrap();
            assert_eq!(response.status(), status);
            assert_eq!(x_cache(&response), "MISS");
            assert_eq!(response.text().await.unwrap(), format!("call {n}"));
        }
        assert_eq!(calls.count(), 2);
    }

    let layer = CacheResponseLayer::new(memory_cache(100))
        .statuses([StatusCode::OK, StatusCode::NOT_FOUND]);
    let (server, calls) = serve(layer, |n| (StatusCode::NOT_FOUND, format!("gone {n}"))).await;
    let client = client();
    let first = client.get(server.url("/r")).send().await.unwrap();
    assert_eq!(
        (first.status(), x_cache(&first)),
        (StatusCode::NOT_FOUND, "MISS".into())
    );
    let second = client.get(server.url("/r")).send().await.unwrap();
    assert_eq!(
        (second.status(), x_cache(&second)),
        (StatusCode::NOT_FOUND, "HIT".into())
    );
    assert_eq!(second.text().await.unwrap(), "gone 1");
    assert_eq!(calls.count(), 1);
}

#[tokio::test]
async fn request_no_cache_bypasses_the_lookup_and_refreshes_the_entry() {
    let (server, calls) = serve(CacheResponseLayer::new(memory_cache(100)), |n| {
        format!("v{n}")
    })
    .await;
    let client = client();
    let get = |cache_control: Option<&'static str>| {
        let mut request = client.get(server.url("/r"));
        if let Some(value) = cache_control {
            request = request.header("cache-control", value);
        }
        async move {
            let response = request.send().await.unwrap();
            (x_cache(&response), response.text().await.unwrap())
        }
    };
    assert_eq!(get(None).await, ("MISS".into(), "v1".into()));
    assert_eq!(get(None).await, ("HIT".into(), "v1".into()));
    assert_eq!(get(Some("no-cache")).await, ("MISS".into(), "v2".into()));
    assert_eq!(
        get(None).await,
        ("HIT".into(), "v2".into()),
        "the bypass refreshed the entry"
    );
    assert_eq!(get(Some("max-age=0")).await, ("MISS".into(), "v3".into()));
    assert_eq!(get(Some("no-store")).await, ("HIT".into(), "v3".into()));
    assert_eq!(calls.count(), 3);
}

#[tokio::test]
async fn request_no_store_is_never_stored() {
    let (server, calls) = serve(CacheResponseLayer::new(memory_cache(100)), |n| {
        format!("v{n}")
    })
    .await;
    let client = client();
    for _ in 0..2 {
        let response = client
            .get(server.url("/r"))
            .header("cache-control", "no-store")
            .send()
            .await
            .unwrap();
        assert_eq!(x_cache(&response), "MISS");
    }
    let response = client.get(server.url("/r")).send().await.unwrap();
    assert_eq!(x_cache(&response), "MISS");
    assert_eq!(calls.count(), 3);
}

#[tokio::test]
async fn head_is_answered_from_the_get_entry_and_never_stores() {
    let (server, calls) = serve(CacheResponseLayer::new(memory_cache(100)), |n| {
        format!("body {n}")
    })
    .await;
    let client = client();

    let head = client.head(server.url("/r")).send().await.unwrap();
    assert_eq!(x_cache(&head), "MISS");
    let get = client.get(server.url("/r")).send().await.unwrap();
    assert_eq!(x_cache(&get), "MISS", "HEAD stored nothing");
    assert_eq!(get.text().await.unwrap(), "body 2");

    let head = client.head(server.url("/r")).send().await.unwrap();
    assert_eq!(x_cache(&head), "HIT");
    assert_eq!(header(&head, "content-length"), "6");
    assert!(head.bytes().await.unwrap().is_empty());
    assert_eq!(calls.count(), 2);
}

#[tokio::test]
async fn requests_with_authorization_pass_through_without_vary_on() {
    let (server, calls) = serve(CacheResponseLayer::new(memory_cache(100)), |n| {
        format!("v{n}")
    })
    .await;
    let client = client();
    assert_eq!(
        x_cache(&client.get(server.url("/r")).send().await.unwrap()),
        "MISS"
    );
    for _ in 0..2 {
        let response = client
            .get(server.url("/r"))
            .bearer_auth("secret")
            .send()
            .await
            .unwrap();
        assert_eq!(x_cache(&response), "MISS");
    }
    assert_eq!(calls.count(), 3);
}

/// A response with a status, repeated headers and a binary body, as the handler sent it.
fn exotic(n: usize) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.append("x-multi", HeaderValue::from_static("one"));
    headers.append("x-multi", HeaderValue::from_static("two"));
    headers.insert("x-raw", HeaderValue::from_bytes(b"caf\xe9").unwrap());
    headers.insert(header::ETAG, HeaderValue::from_static("\"v1\""));
    let body = Bytes::from(vec![0, 159, 146, 150, 255, u8::try_from(n).unwrap()]);
    (StatusCode::NON_AUTHORITATIVE_INFORMATION, headers, body).into_response()
}

async fn assert_exact_replay(cache: cached_core::Cache) {
    let layer =
        CacheResponseLayer::new(cache).statuses([StatusCode::NON_AUTHORITATIVE_INFORMATION]);
    let (server, calls) = serve(layer, exotic).await;
    let client = client();
    let mut seen = Vec::new();
    for expected in ["MISS", "HIT"] {
        let response = client.get(server.url("/r")).send().await.unwrap();
        assert_eq!(x_cache(&response), expected);
        assert_eq!(response.status(), StatusCode::NON_AUTHORITATIVE_INFORMATION);
        let multi: Vec<_> = response
            .headers()
            .get_all("x-multi")
            .iter()
            .cloned()
            .collect();
        assert_eq!(multi, ["one", "two"]);
        assert_eq!(response.headers()["x-raw"].as_bytes(), b"caf\xe9");
        assert_eq!(header(&response, "etag"), "\"v1\"");
        assert_eq!(
            header(&response, "content-type"),
            "application/octet-stream"
        );
        seen.push(response.bytes().await.unwrap());
    }
    assert_eq!(seen[0].as_ref(), &[0, 159, 146, 150, 255, 1]);
    assert_eq!(seen[0], seen[1]);
    assert_eq!(calls.count(), 1);
}

#[tokio::test]
async fn status_headers_and_body_are_replayed_exactly() {
    assert_exact_replay(memory_cache(100)).await;
}

#[tokio::test]
async fn replay_is_exact_through_a_serializing_backend() {
    let (store, cache) = ByteStore::cache(
        "http-replay-bytes",
        cached_core::CacheConfig::backend("http-replay-bytes"),
    );
    assert_exact_replay(cache).await;
    assert_eq!(store.contents().len(), 1);
}

#[tokio::test]
async fn response_max_age_shortens_and_zero_forbids_storing() {
    let (server, calls) = serve(CacheResponseLayer::new(memory_cache(100)), |n| {
        ([("cache-control", "public, max-age=0")], format!("v{n}"))
    })
    .await;
    let client = client();
    for _ in 0..2 {
        assert_eq!(
            x_cache(&client.get(server.url("/r")).send().await.unwrap()),
            "MISS"
        );
    }
    assert_eq!(calls.count(), 2);

    let cache = memory_cache(100);
    let (server, _) = serve(
        CacheResponseLayer::new(cache.clone()).ttl(Duration::from_secs(600)),
        |n| ([("cache-control", "max-age=30")], format!("v{n}")),
    )
    .await;
    client.get(server.url("/r")).send().await.unwrap();
    let key = format!("http:GET:{}:/r", server.key_host());
    let left = cache.ttl(&key).await.unwrap().remaining().unwrap();
    assert!(
        left <= Duration::from_secs(30) && left > Duration::from_secs(0),
        "{left:?}"
    );
}

#[tokio::test]
async fn bodies_over_the_limit_stream_through_and_are_not_stored() {
    let calls = Calls::default();
    let (senders_tx, mut senders) = tokio::sync::mpsc::unbounded_channel();
    let counter = calls.clone();
    let handler = move || {
        counter.hit();
        let (body, sender) = ChannelBody::new();
        senders_tx.send(sender).unwrap();
        async move { Body::new(body) }
    };
    let layer = CacheResponseLayer::new(memory_cache(100)).max_body_size(8);
    let server = Server::start(Router::new().route("/r", get(handler).route_layer(layer))).await;
    let client = client();

    for round in 1..=2 {
        let request = tokio::spawn(client.get(server.url("/r")).send());
        let sender = senders.recv().await.unwrap();
        sender.send(Bytes::from_static(b"0123456789")).unwrap();
        let mut response = request.await.unwrap().unwrap();
        assert_eq!(x_cache(&response), "MISS", "round {round}");
        assert_eq!(
            next_chunk(&mut response).await.unwrap().as_ref(),
            b"0123456789"
        );
        sender.send(Bytes::from_static(b"rest")).unwrap();
        assert_eq!(next_chunk(&mut response).await.unwrap().as_ref(), b"rest");
        drop(sender);
        assert_eq!(next_chunk(&mut response).await, None);
    }
    assert_eq!(calls.count(), 2, "the large body was not stored");
}

#[tokio::test]
async fn uncacheable_responses_stream_untouched() {
    let (senders_tx, mut senders) = tokio::sync::mpsc::unbounded_channel();
    let handler = move || {
        let (body, sender) = ChannelBody::new();
        senders_tx.send(sender).unwrap();
        async move { ([("cache-control", "no-store")], Body::new(body)) }
    };
    let layer = CacheResponseLayer::new(memory_cache(100));
    let server = Server::start(
        Router::new().route("/r", get(handler.clone()).post(handler).route_layer(layer)),
    )
    .await;
    let client = client();

    for request in [client.get(server.url("/r")), client.post(server.url("/r"))] {
        let request = tokio::spawn(request.send());
        let sender = senders.recv().await.unwrap();
        sender.send(Bytes::from_static(b"first")).unwrap();
        let mut response = request.await.unwrap().unwrap();
        assert_eq!(next_chunk(&mut response).await.unwrap().as_ref(), b"first");
        sender.send(Bytes::from_static(b"second")).unwrap();
        assert_eq!(next_chunk(&mut response).await.unwrap().as_ref(), b"second");
        drop(sender);
        assert_eq!(next_chunk(&mut response).await, None);
    }
}
