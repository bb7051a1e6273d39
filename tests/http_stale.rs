//! Serving stale entries, and never across hosts: `stale-while-revalidate` answers at once
//! and refreshes once in the background; `stale-if-error` answers a `5xx` or an error of the
//! inner service with the stale entry; `must-revalidate` forbids both; two virtual hosts
//! never share an entry.

#[path = "http/support.rs"]
mod support;

#[path = "http/origin.rs"]
mod origin;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use cached_core::http::{CacheResponseLayer, Mode};
use cached_tests::memory_cache;
use http_body_util::BodyExt;
use origin::{answer, origin};
use support::{client, eventually, x_cache};
use tower::{Layer, Service, ServiceExt};

fn shared() -> CacheResponseLayer {
    CacheResponseLayer::new(memory_cache(100)).mode(Mode::SharedCache)
}

/// The origin answers `v1` (stale at once, `stale-while-revalidate` for an hour), then
/// holds the next request until the test opens the gate and answers it `503` (not stored),
/// then answers `v{n}`, fresh for an hour.
#[tokio::test]
async fn stale_while_revalidate_answers_at_once_and_refreshes_once_at_a_time() {
    let (release, gate) = tokio::sync::watch::channel(false);
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let handler = move || {
        let (mut gate, counter) = (gate.clone(), Arc::clone(&counter));
        async move {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            if n > 1 {
                gate.wait_for(|open| *open).await.unwrap();
            }
            match n {
                1 => answer(
                    200,
                    &[("cache-control", "max-age=0, stale-while-revalidate=3600")],
                    "v1",
                ),
                2 => answer(503, &[], "down"),
                n => answer(200, &[("cache-control", "max-age=3600")], &format!("v{n}")),
            }
        }
    };
    let router = axum::Router::new().route("/r", axum::routing::get(handler).layer(shared()));
    let server = support::Server::start(router).await;
    let client = client();
    client.get(server.url("/r")).send().await.unwrap();
    for _ in 0..5 {
        let stale = client.get(server.url("/r")).send().await.unwrap();
        assert_eq!(x_cache(&stale), "STALE", "answered at once");
        assert_eq!(stale.text().await.unwrap(), "v1");
    }
    eventually("the background refresh", || {
        calls.load(Ordering::SeqCst) == 2
    })
    .await;
    release.send(true).unwrap();
    let mut last = String::new();
    for _ in 0..2000 {
        let response = client.get(server.url("/r")).send().await.unwrap();
        last = format!("{} {}", x_cache(&response), response.text().await.unwrap());
        if last != "STALE v1" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // Five stale answers made one refresh (which failed, so the entry stayed stale); the
    // next stale answer made the second, which stored `v3`.
    assert_eq!(last, "HIT v3");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn stale_if_error_answers_a_5xx_with_the_stale_entry() {
    let (server, log) = origin(shared(), |n, _| match n {
        1 => answer(
            200,
            &[("cache-control", "max-age=0, stale-if-error=3600")],
            "good",
        ),
        _ => answer(503, &[], "down"),
    })
    .await;
    let client = client();
    client.get(server.url("/r")).send().await.unwrap();
    let response = client.get(server.url("/r")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(x_cache(&response), "STALE");
    assert_eq!(response.text().await.unwrap(), "good");
    assert_eq!(log.count(), 2, "the origin was asked first");
}

#[tokio::test]
async fn must_revalidate_forbids_serving_stale() {
    let (server, _) = origin(shared(), |n, _| match n {
        1 => answer(
            200,
            &[(
                "cache-control",
                "max-age=0, stale-if-error=3600, stale-while-revalidate=3600, must-revalidate",
            )],
            "good",
        ),
        _ => answer(503, &[], "down"),
    })
    .await;
    let client = client();
    client.get(server.url("/r")).send().await.unwrap();
    let response = client.get(server.url("/r")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.text().await.unwrap(), "down");
}

#[tokio::test]
async fn stale_if_error_answers_an_error_of_the_inner_service() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let inner = tower::service_fn(move |_: Request<Body>| {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            if n == 1 {
                let mut response = Response::new(Body::from("good"));
                response.headers_mut().insert(
                    "cache-control",
                    "max-age=0, stale-if-error=3600".parse().unwrap(),
                );
                Ok(response)
            } else {
                Err("connection refused")
            }
        }
    });
    let mut service = shared().layer(inner);
    let get = || {
        Request::get("/r")
            .header("host", "origin.example")
            .body(Body::empty())
            .unwrap()
    };
    let first = service.ready().await.unwrap().call(get()).await.unwrap();
    assert_eq!(first.headers()["x-cache"], "MISS");
    let stale = service.ready().await.unwrap().call(get()).await.unwrap();
    assert_eq!(stale.headers()["x-cache"], "STALE");
    let body = stale.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.as_ref(), b"good");
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let mut plain = shared().layer(tower::service_fn(|_: Request<Body>| async {
        Err::<Response<Body>, _>("connection refused")
    }));
    let error = plain.ready().await.unwrap().call(get()).await.unwrap_err();
    assert_eq!(
        error, "connection refused",
        "without an entry the error goes through"
    );
}

#[tokio::test]
async fn two_virtual_hosts_never_share_an_entry() {
    for layer in [
        shared(),
        CacheResponseLayer::new(memory_cache(100)),
        CacheResponseLayer::new(memory_cache(100)).key("/{*rest}", "page:{host}:{path}"),
    ] {
        let (server, log) = origin(layer, |_, request| {
            let host = request.headers["host"].to_str().unwrap().to_owned();
            answer(
                200,
                &[("cache-control", "max-age=3600")],
                &format!("page of {host}"),
            )
        })
        .await;
        let client = client();
        for _ in 0..2 {
            for host in ["site-a.example", "site-b.example", "SITE-B.example"] {
                let response = client
                    .get(server.url("/index"))
                    .header("host", host)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    response.text().await.unwrap(),
                    format!(
                        "page of {}",
                        if host == "SITE-B.example" {
                            "site-b.example"
                        } else {
                            host
                        }
                    ),
                    "{host}"
                );
            }
        }
        assert_eq!(log.count(), 2, "host names are case-insensitive");
    }
}
