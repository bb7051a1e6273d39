//! The layer's hit path in process, without HTTP: a `GET` answered from a memory cache by
//! `CacheResponseLayer` in front of a handler returning `hello`, against the handler called
//! directly. Nanoseconds per request (request built, service called, body read), the
//! fastest of 15 rounds of 100,000 requests each, on one current-thread runtime.
//!
//! Run with `cargo bench -p cached-tests --bench http_hit`; `BENCHMARKS.md` has the figures.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, Response};
use cached_core::http::CacheResponseLayer;
use cached_tests::memory_cache;
use http_body_util::BodyExt;
use tower::{Layer, Service, ServiceExt};

const ROUNDS: usize = 15;
const REQUESTS: u32 = 100_000;

fn request() -> Request<Body> {
    Request::get("/hello?page=2&lang=en")
        .header("host", "bench.example")
        .header("accept", "text/plain")
        .body(Body::empty())
        .unwrap()
}

/// The fastest round of `REQUESTS` requests through `service`, in nanoseconds per request.
async fn fastest<S, B>(mut service: S) -> f64
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let mut best = Duration::MAX;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        for _ in 0..REQUESTS {
            let response = service
                .ready()
                .await
                .unwrap()
                .call(request())
                .await
                .unwrap();
            std::hint::black_box(response.into_body().collect().await.unwrap());
        }
        best = best.min(started.elapsed());
    }
    best.as_nanos() as f64 / f64::from(REQUESTS)
}

fn hello()
-> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future = impl Send>
+ Clone
+ Send
+ 'static {
    tower::service_fn(|_: Request<Body>| async {
        let mut response = Response::new(Body::from("hello"));
        response
            .headers_mut()
            .insert("content-type", "text/plain".parse().unwrap());
        Ok::<_, Infallible>(response)
    })
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let direct = fastest(hello()).await;
        let layer = CacheResponseLayer::new(memory_cache(1_000)).ttl(Duration::from_secs(3600));
        let cached = layer.layer(hello());
        let hit = fastest(cached).await;
        println!("| handler called directly | {direct:.0} |");
        println!("| hit through the layer | {hit:.0} |");
        println!("| the layer's hit path | {:.0} |", hit - direct);
    });
}
