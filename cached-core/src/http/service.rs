//! [`CacheResponse`]: the service the layer builds, and the path of one request through it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ::http::{Method, Request, Response};
use http_body::Body;
use tower_service::Service;

use super::admit::{Admitted, admit, mark_miss};
use super::answer::answer;
use super::body::ResponseBody;
use super::cacheable::Cacheable;
use super::entry::{Source, Standing, now_millis};
use super::freshness::Exchange;
use super::invalidate::Invalidation;
use super::lookup::{self, Found};
use super::revalidate::load_once;
use super::settings::Config;
use super::url_tags::UrlTags;
use super::{directives, invalidate};

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

/// The path of one request: unsafe methods through, then invalidating their URL; other
/// methods and requests without a key straight through; the lookup, unless the request
/// asks for a fresh response; then one load (or revalidation) per key.
async fn respond<S, ReqBody, ResBody>(
    config: Arc<Config>,
    mut inner: S,
    request: Request<ReqBody>,
) -> Result<Response<ResponseBody<ResBody>>, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    ReqBody: Send + 'static,
    ResBody: Body + Send + 'static,
    ResBody::Data: Send,
    ResBody::Error: Send,
{
    let head = match *request.method() {
        Method::GET => false,
        Method::HEAD => true,
        ref method if invalidate::is_unsafe(method) => {
            return Box::pin(unsafe_request(&config, &mut inner, request)).await;
        }
        _ => return Ok(inner.call(request).await?.map(ResponseBody::untouched)),
    };
    let directives = directives::request(request.headers());
    let (parts, body) = request.into_parts();
    let cacheable = Cacheable::of(&config, &parts);
    let request = Request::from_parts(parts, body);
    let Some(cacheable) = cacheable else {
        return Box::pin(pass(&mut inner, request)).await;
    };
    if directives.no_cache {
        if head || directives.no_store {
            return Box::pin(pass(&mut inner, request)).await;
        }
        return Box::pin(refresh(&config, &mut inner, request, &cacheable)).await;
    }
    let found = lookup::find(
        &config.cache,
        &cacheable.primary,
        request.headers(),
        &cacheable.credentials,
        directives.max_age,
    )
    .await;
    let (stale, key) = match found {
        Found::Hit(stored) => return Ok(answer(&stored, Source::Hit, head, request.headers())),
        Found::Stale(stored, Standing::StaleWhileRevalidate, key)
            if tokio::runtime::Handle::try_current().is_ok() =>
        {
            let response = answer(&stored, Source::Stale, head, request.headers());
            refresh_in_background(config, inner, request, cacheable, key, stored);
            return Ok(response);
        }
        Found::Stale(stored, _, key) => (Some(stored), key),
        Found::Miss(key) => (None, key),
    };
    // A `HEAD` stores nothing of its own, but its answer may refresh a stale entry.
    if directives.no_store || (head && stale.is_none()) {
        return pass(&mut inner, request).await;
    }
    load_once(
        &config,
        inner,
        request,
        &cacheable,
        &key,
        stale,
        directives.max_age,
    )
    .await
}

/// Calls the inner service for a request that asked for a fresh response, and stores the
/// response outside any load when HTTP allows.
async fn refresh<S, ReqBody, ResBody>(
    config: &Config,
    inner: &mut S,
    request: Request<ReqBody>,
    cacheable: &Cacheable,
) -> Result<Response<ResponseBody<ResBody>>, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body,
{
    let headers = request.headers().clone();
    let tags = UrlTags::of(config, cacheable.base(), request.uri().path());
    let requested_at = now_millis();
    let response = inner.call(request).await?;
    let exchange = Exchange {
        requested_at,
        received_at: now_millis(),
    };
    Ok(
        match admit(config, cacheable, &headers, response, exchange).await {
            Admitted::Store(admission) => {
                let response = admission.response();
                admission.write(&config.cache, &tags).await;
                response
            }
            Admitted::Pass(response) => response,
        },
    )
}

/// Sends an unsafe request (`POST`, `PUT`, `DELETE`, ...) on, then invalidates the entries
/// of its URL (and of its response's `Location` and `Content-Location` on the same host)
/// when it succeeded.
async fn unsafe_request<S, ReqBody, ResBody>(
    config: &Config,
    inner: &mut S,
    request: Request<ReqBody>,
) -> Result<Response<ResponseBody<ResBody>>, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body,
{
    let (parts, body) = request.into_parts();
    let invalidation = Invalidation::of(config, &parts);
    let response = inner.call(Request::from_parts(parts, body)).await?;
    invalidation
        .after(config, response.status(), response.headers())
        .await;
    Ok(response.map(ResponseBody::untouched))
}

/// Refreshes the entry at `key` in the background with `request` (as a `GET`), at most once
/// at a time per key, while its callers are served the stale entry
/// (`stale-while-revalidate`).
fn refresh_in_background<S, ReqBody, ResBody>(
    config: Arc<Config>,
    inner: S,
    mut request: Request<ReqBody>,
    cacheable: Cacheable,
    key: String,
    stale: Arc<super::entry::StoredResponse>,
) where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    ReqBody: Send + 'static,
    ResBody: Body + Send + 'static,
    ResBody::Data: Send,
    ResBody::Error: Send,
{
    if !config.refreshing.insert(key.clone()) {
        return;
    }
    *request.method_mut() = Method::GET;
    tokio::spawn(async move {
        let _refreshing = Refreshing {
            config: &config,
            key: &key,
        };
        let refreshed =
            load_once(&config, inner, request, &cacheable, &key, Some(stale), None).await;
        drop(refreshed);
    });
}

/// Marks a key as no longer refreshing when its refresh ends, however it ends.
struct Refreshing<'a> {
    config: &'a Config,
    key: &'a str,
}

impl Drop for Refreshing<'_> {
    fn drop(&mut self) {
        self.config.refreshing.remove(self.key);
    }
}

/// Sends `request` to the inner service and its response back untouched, marked as a miss.
pub(crate) async fn pass<S, ReqBody, ResBody>(
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
