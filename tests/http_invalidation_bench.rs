//! What a `POST` costs the layer on Redis: the unsafe request through `CacheResponseLayer`
//! in front of a handler that answers at once, invalidating the three variants
//! (`Accept-Language`) of its URL's entry, with the Redis holding nothing else and then
//! 100,000 unrelated keys. Microseconds per `POST` (the variants stored again before each
//! one, outside the measure), the median of 101 `POST`s, called in process through tower
//! (no HTTP) against a `redis-server` of its own on a loopback port.
//!
//! Run with `cargo bench -p cached-tests --bench http_invalidation`; `BENCHMARKS.md` has
//! the figures.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, Response};
use cached_core::http::CacheResponseLayer;
use cached_tests::redis_server::RedisServer;
use cached_tests::timing::{median, runtime};
use http_body_util::BodyExt;
use tower::{Layer, Service, ServiceExt};

const POSTS: usize = 101;
const UNRELATED: usize = 100_000;
const LANGUAGES: [&str; 3] = ["en", "fr", "de"];

fn request(method: Method, language: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri("/posts/1")
        .header("host", "bench.example")
        .header("accept-language", language)
        .body(Body::empty())
        .unwrap()
}

/// A handler answering every request at once: `page` to a `GET`, `done` to anything else.
fn site()
-> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future = impl Send>
+ Clone
+ Send
+ 'static {
    tower::service_fn(|request: Request<Body>| async move {
        let body = if request.method() == Method::GET {
            "page"
        } else {
            "done"
        };
        Ok::<_, Infallible>(Response::new(Body::from(body)))
    })
}

/// Sends `request` through `service` and returns its `X-Cache`, the body read.
async fn send<S>(service: &mut S, request: Request<Body>) -> String
where
    S: Service<Request<Body>, Response = Response<cached_core::http::ResponseBody<Body>>>,
    S::Error: std::fmt::Debug,
{
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    let x_cache = response
        .headers()
        .get("x-cache")
        .map_or(String::new(), |v| v.to_str().unwrap().to_owned());
    response.into_body().collect().await.unwrap();
    x_cache
}

/// The median time of a `POST` that invalidates the stored variants, in microseconds.
async fn posts<S>(service: &mut S) -> f64
where
    S: Service<Request<Body>, Response = Response<cached_core::http::ResponseBody<Body>>>,
    S::Error: std::fmt::Debug,
{
    let mut samples = Vec::with_capacity(POSTS);
    for _ in 0..POSTS {
        for language in LANGUAGES {
            send(service, request(Method::GET, language)).await;
            assert_eq!(send(service, request(Method::GET, language)).await, "HIT");
        }
        let started = Instant::now();
        send(service, request(Method::POST, "en")).await;
        samples.push(started.elapsed().as_secs_f64() * 1e6);
        for language in LANGUAGES {
            let after = send(service, request(Method::GET, language)).await;
            assert_eq!(after, "MISS", "the POST invalidated every variant");
        }
    }
    median(samples)
}

/// Writes `count` keys that no response entry is related to, in pipelines of 1,000 `SET`s.
async fn fill_unrelated(server: &RedisServer, count: usize) {
    let client = redis::Client::open(server.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    for start in (0..count).step_by(1_000) {
        let mut pipe = redis::pipe();
        for i in start..(start + 1_000).min(count) {
            pipe.set(format!("bench:unrelated:{i}"), "x").ignore();
        }
        let () = pipe.query_async(&mut connection).await.unwrap();
    }
}

fn main() {
    runtime().block_on(async {
        let server = RedisServer::start();
        let layer = CacheResponseLayer::new(server.cache("bench:"))
            .ttl(Duration::from_secs(3600))
            .vary_headers(["Accept-Language"]);
        let mut service = layer.layer(site());
        let empty = posts(&mut service).await;
        fill_unrelated(&server, UNRELATED).await;
        let keys = server.cli(&["DBSIZE"]);
        let full = posts(&mut service).await;
        println!("| keys in Redis | POST (µs, median of {POSTS}) |");
        println!("| --- | ---: |");
        println!("| the entries alone | {empty:.0} |");
        println!("| {} | {full:.0} |", keys.trim());
    });
}
