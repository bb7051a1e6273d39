//! A caching reverse proxy: forwards every request to an origin and caches its responses as
//! a shared cache that follows RFC 9111 (`CacheResponseLayer` in shared-cache mode).
//!
//! ```sh
//! cargo run -p cached-examples --example http_proxy -- http://127.0.0.1:8000 127.0.0.1:8080
//! ```
//!
//! A third argument, `application`, runs the layer in application mode instead (a 60 s
//! `ttl`, as in the README), to compare the two modes.

use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cached_core::http::{CacheResponseLayer, Mode};

/// Where requests go, and the client that sends them there.
#[derive(Clone)]
struct Origin {
    base: String,
    client: reqwest::Client,
}

/// Sends `request` to the origin as it came (less the hop-by-hop headers and `Host`) and
/// returns the origin's answer as it came; `502 Bad Gateway` when the origin cannot be
/// reached.
async fn forward(State(origin): State<Origin>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut headers = parts.headers;
    strip_hop_by_hop(&mut headers);
    headers.remove(header::HOST);
    let sent = origin
        .client
        .request(parts.method, format!("{}{path}", origin.base))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let Ok(answer) = sent else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = answer.status();
    let mut headers = answer.headers().clone();
    strip_hop_by_hop(&mut headers);
    let body = answer.bytes().await.unwrap_or_else(|_| Bytes::new());
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// Headers that describe one connection, not the message: the standard ones and those
/// named in `Connection`.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    for name in named {
        headers.remove(name.as_str());
    }
    for name in [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::CONTENT_LENGTH,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8000".into());
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let layer = CacheResponseLayer::new(cached_core::cache());
    let layer = match args.next().as_deref() {
        Some("application") => layer.ttl(Duration::from_secs(60)),
        _ => layer.mode(Mode::SharedCache),
    };
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let origin = Origin {
        base: base.trim_end_matches('/').to_owned(),
        client,
    };
    let app = Router::new()
        .fallback(forward)
        .with_state(origin)
        .layer(layer);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("caching {base} on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
