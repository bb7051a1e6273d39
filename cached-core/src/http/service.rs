//! [`CacheResponse`]: the service the layer builds, and the path of one request through it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ::http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use ::http::{Method, Request, Response};
use http_body::Body;
use tower_service::Service;

use super::body::{self, Collected, ResponseBody};
use super::entry::{Entry, Source, StoredResponse, combined, now_millis};
use super::layer::Config;
use super::lookup::{self, Found};
use super::{X_CACHE, key, policy};
use crate::cache::LOG_TARGET;

/// The service built by [`CacheResponseLayer`](super::CacheResponseLayer): answers `GET`
/// and `HEAD` requests from the cache when it can, and stores what the inner service returns
/// when HTTP allows.
#[derive(Clone)]
pub struct CacheResponse<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> CacheResponse<S> {
    pub(crate) fn new(inner: S, config: Arc<Config>) -> Self {
        Self { inner, config }
    }
}

impl<S: fmt::Debug> fmt::Debug for CacheResponse<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheResponse")
            .field("inner", &self.inner)
            .field("cache", &self.config.cache.name())
            .finish_non_exhaustive()
    }
}

type Respond<B, E> = Pin<Box<dyn Future<Output = Result<Response<ResponseBody<B>>, E>> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CacheResponse<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Body + Send + 'static,
    ResBody::Data: Send,
    ResBody::Error: Send,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = Respond<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The service that was polled ready answers this request; a fresh clone waits for
        // the next one.
        let fresh = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, fresh);
        Box::pin(respond(Arc::clone(&self.config), ready, request))
    }
}

/// What one request in flight shares with the others for the same key.
#[derive(Clone)]
enum Shared {
    /// The stored response.
    Stored(Arc<StoredResponse>),
    /// Nothing was stored: each waiting request calls the inner service itself.
    Pass,
}

/// The path of one request: straight through for other methods and requests without a key;
/// the lookup, unless the request asks for a fresh response; then one load per key.
async fn respond<S, ReqBody, ResBody>(
    config: Arc<Config>,
    mut inner: S,
    request: Request<ReqBody>,
) -> Result<Response<ResponseBody<ResBody>>, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body,
{
    let head = match *request.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => return Ok(inner.call(request).await?.map(ResponseBody::untouched)),
    };
    let directives = policy::request_directives(request.headers());
    let (request, primary) = key_of(&config, request);
    let Some(primary) = primary else {
        return pass(&mut inner, request).await;
    };
    if directives.no_cache {
        if head || directives.no_store {
            return pass(&mut inner, request).await;
        }
        let headers = request.headers().clone();
        let response = inner.call(request).await?;
        return Ok(admit(&config, &primary, &headers, response).await.1);
    }
    let key = match lookup::find(&config.cache, &primary, request.headers()).await {
        Found::Hit(stored) => return Ok(stored.replay(Source::Hit, head, ResponseBody::full)),
        Found::Miss(key) => key,
    };
    if head || directives.no_store {
        return pass(&mut inner, request).await;
    }
    load_once(&config, inner, request, &primary, &key).await
}

/// The primary key of `request`; none when the key rule does not apply, or when the request
/// carries credentials and the layer does not vary on the user.
fn key_of<B>(config: &Config, request: Request<B>) -> (Request<B>, Option<String>) {
    let (parts, body) = request.into_parts();
    let personal = config.vary_on.is_none() && parts.headers.contains_key(AUTHORIZATION);
    let primary = if personal {
        None
    } else {
        key::primary(config, &parts)
    };
    (Request::from_parts(parts, body), primary)
}

/// Loads the response for a miss at `key` once for every concurrent request: the first one
/// calls the inner service; the others get what it stored, or call the inner service
/// themselves when nothing was stored (or the stored response varies on a header they
/// differ in).
async fn load_once<S, ReqBody, ResBody>(
    config: &Config,
    mut inner: S,
    request: Request<ReqBody>,
    primary: &str,
    key: &str,
) -> Result<Response<ResponseBody<ResBody>>, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body,
{
    let mut waiting = Some(request);
    let mut own = None;
    let shared = {
        let (waiting, own, inner) = (&mut waiting, &mut own, &mut inner);
        config
            .cache
            .inner
            .flights
            .run(key, move || async move {
                let request = waiting.take().expect("only the leader runs");
                let stored = lookup::recheck(&config.cache, key, request.headers()).await;
                if let Some(stored) = stored {
                    *waiting = Some(request);
                    return Shared::Stored(stored);
                }
                let headers = request.headers().clone();
                match inner.call(request).await {
                    Ok(response) => {
                        let (shared, response) = admit(config, primary, &headers, response).await;
                        *own = Some(Ok(response));
                        shared
                    }
                    Err(error) => {
                        *own = Some(Err(error));
                        Shared::Pass
                    }
                }
            })
            .await
    };
    if let Some(response) = own {
        return response;
    }
    let request = waiting.expect("a request that did not lead is still waiting");
    match shared {
        Shared::Stored(stored) if stored.selected_by(request.headers()) => {
            Ok(stored.replay(Source::Hit, false, ResponseBody::full))
        }
        _ => pass(&mut inner, request).await,
    }
}

/// Sends `request` to the inner service and its response back untouched, marked as a miss.
async fn pass<S, ReqBody, ResBody>(
    inner: &mut S,
    request: Request<ReqBody>,
) -> Result<Response<ResponseBody<ResBody>>, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body,
{
    let mut response = inner.call(request).await?.map(ResponseBody::untouched);
    mark_miss(response.headers_mut());
    Ok(response)
}

/// Stores `response` (the answer to a request with `headers`) when HTTP and the layer allow,
/// and returns what to share with waiting requests and the response to send.
async fn admit<B: Body>(
    config: &Config,
    primary: &str,
    headers: &HeaderMap,
    response: Response<B>,
) -> (Shared, Response<ResponseBody<B>>) {
    let ttl = match policy::lifetime(config, &response) {
        Ok(ttl) => ttl,
        Err(reason) => {
            tracing::debug!(target: LOG_TARGET, key = %primary, "response not stored: {reason}");
            let mut response = response.map(ResponseBody::untouched);
            mark_miss(response.headers_mut());
            return (Shared::Pass, response);
        }
    };
    let vary: Vec<HeaderName> = policy::vary(response.headers())
        .unwrap_or_default()
        .into_iter()
        .filter(|name| !config.vary_headers.contains(name))
        .collect();
    let (mut parts, body) = response.into_parts();
    let data = match body::collect(body, config.max_body_size).await {
        Collected::Complete(data) => data,
        Collected::Incomplete(body) => {
            tracing::debug!(target: LOG_TARGET, key = %primary, "response not stored: its body is over the limit, failed or has trailers");
            let mut response = Response::from_parts(parts, body);
            mark_miss(response.headers_mut());
            return (Shared::Pass, response);
        }
    };
    policy::strip_hop_by_hop(&mut parts.headers);
    let stored = Arc::new(StoredResponse {
        status: parts.status,
        headers: parts.headers,
        body: data,
        stored_at: now_millis(),
        varied: vary
            .iter()
            .map(|name| (name.clone(), combined(headers, name)))
            .collect(),
    });
    let cache = &config.cache;
    let entry = Entry::Response(Arc::clone(&stored));
    if vary.is_empty() {
        lookup::store(cache, primary, &entry, ttl).await;
    } else {
        let secondary = key::secondary(primary, &vary, headers);
        lookup::store(cache, primary, &Entry::Vary(vary.into()), ttl).await;
        lookup::store(cache, &secondary, &entry, ttl).await;
    }
    let response = stored.replay(Source::Miss, false, ResponseBody::full);
    (Shared::Stored(stored), response)
}

fn mark_miss(headers: &mut HeaderMap) {
    headers.insert(X_CACHE, HeaderValue::from_static("MISS"));
}
