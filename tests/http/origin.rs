//! A scripted origin behind the layer: every request (any method, any path) is recorded and
//! answered by the test's function of the call number and the request.

#![allow(dead_code, reason = "each test file uses a part of this module")]

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use cached_core::http::CacheResponseLayer;

use super::support::Server;

/// What the origin received.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
}

/// The requests the origin received, in order.
#[derive(Clone, Default)]
pub(crate) struct Log(Arc<Mutex<Vec<Received>>>);

impl Log {
    pub(crate) fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    pub(crate) fn last(&self) -> Received {
        self.0.lock().unwrap().last().cloned().expect("a request")
    }
}

/// An answer of the origin: status, headers and body.
pub(crate) fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    let mut response = Response::new(Body::from(body.to_owned()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    for (name, value) in headers {
        response.headers_mut().append(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    response
}

/// Serves `respond(call number, request)` for every request, behind `layer`.
pub(crate) async fn origin<F>(layer: CacheResponseLayer, respond: F) -> (Server, Log)
where
    F: Fn(usize, &Received) -> Response + Clone + Send + Sync + 'static,
{
    let log = Log::default();
    let recorder = log.clone();
    let handler = move |request: Request| {
        let (respond, recorder) = (respond.clone(), recorder.clone());
        async move {
            let received = Received {
                method: request.method().clone(),
                path: request.uri().path().to_owned(),
                headers: request.headers().clone(),
            };
            let number = {
                let mut log = recorder.0.lock().unwrap();
                log.push(received.clone());
                log.len()
            };
            respond(number, &received)
        }
    };
    let router = Router::new().fallback(handler).layer(layer);
    (Server::start(router).await, log)
}

/// An HTTP date `seconds` away from now (negative: in the past).
pub(crate) fn http_date(seconds: i64) -> String {
    let now = std::time::SystemTime::now();
    let offset = std::time::Duration::from_secs(seconds.unsigned_abs());
    let time = if seconds < 0 {
        now - offset
    } else {
        now + offset
    };
    httpdate::fmt_http_date(time)
}
