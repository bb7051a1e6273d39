//! Requests per second of cached endpoints against the same handlers uncached, in one run:
//! an axum server on a loopback port and a real HTTP client (keep-alive connections, a
//! fixed number of concurrent workers), both in this process.
//!
//! ```sh
//! cargo run --release -p cached-examples --example http_bench -- [requests] [concurrency] [redis-url]
//! ```
//!
//! Endpoints, each measured with the same number of requests:
//! - `/posts`: a handler that waits 2 ms (a database round trip) and renders 50 posts as
//!   JSON (about 6 KiB); `/posts/cached` is the same handler behind `CacheResponseLayer`;
//! - `/hello`: a handler returning a short string; `/hello/cached` is it behind the layer,
//!   which shows what the layer's hit path costs against the cheapest possible handler;
//! - with a Redis URL, `/posts/redis`: the `/posts` handler behind the layer over a Redis
//!   cache (keys under `http_bench:`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use cached_core::http::CacheResponseLayer;
use cached_core::{Cache, CacheConfig};
use serde::Serialize;

#[derive(Serialize)]
struct Post {
    id: u32,
    author: String,
    title: String,
    body: String,
    views: u64,
}

/// How many times the `/posts` handler ran, cached route included.
static POSTS_CALLS: AtomicU64 = AtomicU64::new(0);

async fn posts() -> axum::Json<Vec<Post>> {
    POSTS_CALLS.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(2)).await;
    axum::Json(
        (0..50)
            .map(|id| Post {
                id,
                author: format!("author-{}", id % 7),
                title: format!("Post number {id}"),
                body: "Lorem ipsum dolor sit amet, consectetur adipiscing elit.".to_owned(),
                views: u64::from(id) * 37,
            })
            .collect(),
    )
}

async fn hello() -> &'static str {
    "hello"
}

/// Sends `requests` GETs to `url` from `concurrency` workers; returns requests per second.
async fn measure(client: &reqwest::Client, url: &str, requests: usize, concurrency: usize) -> f64 {
    let per_worker = requests / concurrency;
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url) = (client.clone(), url.to_owned());
            tokio::spawn(async move {
                for _ in 0..per_worker {
                    let response = client.get(&url).send().await.expect("request");
                    assert!(response.status().is_success());
                    response.bytes().await.expect("body");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
    (per_worker * concurrency) as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let requests: usize = args.next().map_or(20_000, |a| a.parse().expect("requests"));
    let concurrency: usize = args.next().map_or(32, |a| a.parse().expect("concurrency"));
    let redis_url = args.next();

    let cache = Cache::new("bench", &CacheConfig::memory()).expect("memory cache");
    let layer = || CacheResponseLayer::new(cache.clone()).ttl(Duration::from_secs(600));
    let mut router = Router::new()
        .route("/posts", get(posts))
        .route("/posts/cached", get(posts).route_layer(layer()))
        .route("/hello", get(hello))
        .route("/hello/cached", get(hello).route_layer(layer()));
    let mut paths = vec!["/posts", "/posts/cached", "/hello", "/hello/cached"];
    if let Some(url) = &redis_url {
        let config = CacheConfig::redis(url).with_key_prefix("http_bench:");
        let redis = Cache::new("bench-redis", &config).expect("redis cache");
        redis.clear().await.expect("a reachable Redis");
        let layer = CacheResponseLayer::new(redis).ttl(Duration::from_secs(600));
        router = router.route("/posts/redis", get(posts).route_layer(layer));
        paths.push("/posts/redis");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    println!(
        "{requests} requests per endpoint, {concurrency} concurrent workers, loopback HTTP/1.1"
    );
    println!("| endpoint | requests/s |");
    println!("| --- | ---: |");
    for path in paths {
        let url = format!("{base}{path}");
        let calls_before = POSTS_CALLS.load(Ordering::Relaxed);
        measure(&client, &url, concurrency * 20, concurrency).await;
        let rate = measure(&client, &url, requests, concurrency).await;
        let calls = POSTS_CALLS.load(Ordering::Relaxed) - calls_before;
        println!("| `{path}` | {rate:.0} |");
        if path.starts_with("/posts/") {
            eprintln!("`{path}`: the handler ran {calls} time(s)");
        }
    }
    let stats = cache.stats();
    eprintln!("cache: {} hits, {} misses", stats.hits, stats.misses);
}
