//! What the HTTP tests share: a real server on a loopback port, a real client, handler call
//! counters, and bodies that stream on the test's signal.

#![allow(dead_code, reason = "each test file uses a part of this module")]

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use bytes::Bytes;
use http_body::Frame;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A router served over HTTP/1.1 on a free loopback port until dropped.
pub(crate) struct Server {
    base: String,
    task: JoinHandle<()>,
}

impl Server {
    /// Serves `router` on `127.0.0.1` at a port the system picks.
    pub(crate) async fn start(router: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            base: format!("http://{address}"),
            task,
        }
    }

    /// The host part of the default key of this server's responses (`127.0.0.1%3A{port}`,
    /// the `Host` header escaped).
    pub(crate) fn key_host(&self) -> String {
        self.base.trim_start_matches("http://").replace(':', "%3A")
    }

    /// The absolute URL of `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A client with no connection reuse surprises: a fresh pool per test.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The `X-Cache` header of `response` (`""` when absent).
pub(crate) fn x_cache(response: &reqwest::Response) -> String {
    header(response, "x-cache")
}

/// The header `name` of `response` as text (`""` when absent).
pub(crate) fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Counts the calls of a handler.
#[derive(Clone, Default)]
pub(crate) struct Calls(Arc<AtomicUsize>);

impl Calls {
    /// Counts one call and returns how many there were, this one included.
    pub(crate) fn hit(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// How many calls there were.
    pub(crate) fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A body whose chunks the test sends one by one, so that a test can tell whether the
/// client receives a chunk before the next one exists (i.e. whether the body streams).
pub(crate) struct ChannelBody(mpsc::UnboundedReceiver<Bytes>);

impl ChannelBody {
    /// The body, and the sender of its chunks; dropping the sender ends the body.
    pub(crate) fn new() -> (Self, mpsc::UnboundedSender<Bytes>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Self(receiver), sender)
    }
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}

/// Waits for `condition`, checking every few milliseconds, for at most ten seconds.
pub(crate) async fn eventually(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..2000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Reads the next chunk of a streamed response, failing if it does not arrive within ten
/// seconds (a guard against a hang, not a timing assertion).
pub(crate) async fn next_chunk(response: &mut reqwest::Response) -> Option<Bytes> {
    tokio::time::timeout(Duration::from_secs(10), response.chunk())
        .await
        .expect("the chunk arrived: the body streams")
        .unwrap()
}

/// A byte-oriented store, as Redis is: values arrive serialized.
#[allow(unused_imports, reason = "each test file uses a part of this module")]
pub(crate) use cached_tests::map_backend::MapBackend as ByteStore;
