//! No poisoning through the request's authority: a request naming another host in
//! `X-Forwarded-Host`, `Forwarded` or an absolute-form target (with the right `Host`) gets
//! an entry of its own, which a plain request for the site is never served; through a real
//! server and client, and through `oneshot`.

#[path = "http/support.rs"]
mod support;

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{Method, Response};
use cached_core::http::CacheResponseLayer;
use cached_tests::memory_cache;
use http_body_util::BodyExt;
use support::{Calls, Server, client, x_cache};
use tower::{Layer, ServiceExt};

/// The host as an axum application reads it (axum-extra's `Host`): the `host` of the first
/// `Forwarded` element, else `X-Forwarded-Host`, else `Host`, else the target's authority.
fn host_of(request: &Parts) -> String {
    let headers = &request.headers;
    let forwarded = headers
        .get("forwarded")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                name.eq_ignore_ascii_case("host")
                    .then(|| value.trim_matches('"').to_owned())
            })
        });
    forwarded
        .or_else(|| header(headers, "x-forwarded-host"))
        .or_else(|| header(headers, "host"))
        .or_else(|| request.uri.authority().map(ToString::to_string))
        .unwrap_or_default()
}

fn header(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}

/// A page naming the host it was asked for, fresh for an hour, as its links would.
fn page(parts: &Parts) -> Response<Body> {
    let mut response = Response::new(Body::from(format!("page for {}", host_of(parts))));
    response
        .headers_mut()
        .insert("cache-control", "max-age=3600".parse().unwrap());
    response
}

fn layer() -> CacheResponseLayer {
    CacheResponseLayer::new(memory_cache(100)).ttl(Duration::from_secs(3600))
}

/// The site behind `layer` on a real server; every `GET` counted.
async fn site(layer: CacheResponseLayer) -> (Server, Calls) {
    let calls = Calls::default();
    let counter = calls.clone();
    let handler = move |request: Request| {
        counter.hit();
        let (parts, _) = request.into_parts();
        async move { page(&parts) }
    };
    let router = Router::new().fallback(handler).layer(layer);
    (Server::start(router).await, calls)
}

/// What a plain request for the site is answered, and from where.
async fn plain(server: &Server) -> (String, String) {
    let response = client().get(server.url("/page")).send().await.unwrap();
    (x_cache(&response), response.text().await.unwrap())
}

#[tokio::test]
async fn forwarded_hosts_cannot_poison_the_plain_page() {
    let attacks = [
        ("x-forwarded-host", "evil.example"),
        ("forwarded", "for=192.0.2.1;host=evil.example"),
        ("forwarded", "for=\"x;host=evil.example\""),
    ];
    for (name, value) in attacks {
        let (server, calls) = site(layer()).await;
        let own = format!("page for {}", server.url("").trim_start_matches("http://"));
        for expected in ["MISS", "HIT"] {
            let attack = client()
                .get(server.url("/page"))
                .header(name, value)
                .send()
                .await
                .unwrap();
            assert_eq!(x_cache(&attack), expected, "{name}: {value}");
            assert_eq!(attack.text().await.unwrap(), "page for evil.example");
        }
        assert_eq!(
            plain(&server).await,
            ("MISS".into(), own.clone()),
            "{value}"
        );
        assert_eq!(plain(&server).await, ("HIT".into(), own));
        assert_eq!(calls.count(), 2);
    }
}

#[tokio::test]
async fn a_request_in_absolute_form_cannot_poison_the_plain_page() {
    let (server, calls) = site(layer()).await;
    let own_host = server.url("").trim_start_matches("http://").to_owned();
    // Through a client that takes the site for a proxy: it sends the absolute form.
    let attacker = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(server.url("")).unwrap())
        .build()
        .unwrap();
    for expected in ["MISS", "HIT"] {
        let attack = attacker
            .get("http://evil.example/page")
            .header("host", &own_host)
            .send()
            .await
            .unwrap();
        assert_eq!(x_cache(&attack), expected);
        assert_eq!(attack.text().await.unwrap(), format!("page for {own_host}"));
    }
    let own = format!("page for {own_host}");
    assert_eq!(plain(&server).await, ("MISS".into(), own.clone()));
    assert_eq!(plain(&server).await, ("HIT".into(), own));
    assert_eq!(
        calls.count(),
        2,
        "the absolute form has an entry of its own"
    );
}

/// An application that reads the host as RFC 9112 says: the target's authority for a
/// request in absolute form, else `Host`.
fn rfc_9112_page(parts: &Parts) -> Response<Body> {
    let host = parts
        .uri
        .authority()
        .map(ToString::to_string)
        .or_else(|| header(&parts.headers, "host"))
        .unwrap_or_default();
    let mut response = Response::new(Body::from(format!("page for {host}")));
    response
        .headers_mut()
        .insert("cache-control", "max-age=3600".parse().unwrap());
    response
}

async fn oneshot(
    layer: &CacheResponseLayer,
    request: axum::http::Request<Body>,
) -> (String, String) {
    let app = tower::service_fn(|request: axum::http::Request<Body>| async move {
        let (parts, _) = request.into_parts();
        Ok::<_, Infallible>(if parts.uri.authority().is_some() {
            rfc_9112_page(&parts)
        } else {
            page(&parts)
        })
    });
    let response = layer.layer(app).oneshot(request).await.unwrap();
    let x_cache = response.headers()["x-cache"].to_str().unwrap().to_owned();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (x_cache, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn the_attacks_through_oneshot_in_both_key_forms() {
    let templated = layer().key("/{*rest}", "page:{host}:{path}");
    for layer in [layer(), templated] {
        let request = |uri: &str, extra: Option<(&str, &str)>| {
            let mut request = axum::http::Request::builder()
                .method(Method::GET)
                .uri(uri)
                .header("host", "good.example");
            if let Some((name, value)) = extra {
                request = request.header(name, value);
            }
            request.body(Body::empty()).unwrap()
        };
        let attacks = [
            request("http://evil.example/page", None),
            request("/page", Some(("x-forwarded-host", "evil.example"))),
            request("/page", Some(("forwarded", "host=evil.example"))),
        ];
        for attack in attacks {
            let (_, body) = oneshot(&layer, attack).await;
            assert_eq!(body, "page for evil.example");
        }
        let (x_cache, body) = oneshot(&layer, request("/page", None)).await;
        assert_eq!(
            (x_cache.as_str(), body.as_str()),
            ("MISS", "page for good.example")
        );
        let same_host = request("http://GOOD.example/page", None);
        let (x_cache, body) = oneshot(&layer, same_host).await;
        assert_eq!(
            (x_cache.as_str(), body.as_str()),
            ("HIT", "page for good.example"),
            "a target naming the Host shares its entry"
        );
    }
}

#[tokio::test]
async fn requests_through_one_proxy_share_entries_and_invalidate_them() {
    let (server, calls) = site(layer()).await;
    let client = client();
    let through_proxy = |method: Method, client_address: &str| {
        client
            .request(method, server.url("/page"))
            .header("x-forwarded-host", "good.example")
            .header("forwarded", format!("for={client_address};proto=https"))
            .send()
    };
    for (address, expected) in [("192.0.2.1", "MISS"), ("192.0.2.2", "HIT")] {
        let response = through_proxy(Method::GET, address).await.unwrap();
        assert_eq!(x_cache(&response), expected);
        assert_eq!(response.text().await.unwrap(), "page for good.example");
    }
    through_proxy(Method::POST, "192.0.2.3").await.unwrap();
    let after = through_proxy(Method::GET, "192.0.2.1").await.unwrap();
    assert_eq!(
        x_cache(&after),
        "MISS",
        "the POST through the proxy invalidated it"
    );
    assert_eq!(calls.count(), 3);
}
