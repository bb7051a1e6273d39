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

use std::time::Duration;

use super::body::{self, Collected, ResponseBody};
use super::entry::{Entry, Source, StoredResponse, combined, now_millis};
use super::layer::Config;
use super::lookup::{self, Found};
use super::{X_CACHE, key, policy};
use crate::LOG_TARGET;
use crate::cache::{Flown, Loaded, Ticket};
use crate::store::Filled;

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
        return Ok(match admit(&config, &primary, &headers, response).await {
            Admitted::Store(admission) => admission.refresh(&config).await,
            Admitted::Pass(response) => response,
        });
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

/// Loads the response for a miss at `key` once for every concurrent request, through the
/// cache's load path: the first one calls the inner service; the others get what it stored,
/// or call the inner service themselves when nothing was stored (or the stored response
/// varies on a header they differ in).
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
    let headers = request.headers().clone();
    let mut waiting = Some(request);
    let flown = {
        let (waiting, inner, headers) = (&mut waiting, &mut inner, &headers);
        let accept = |entry: Entry| lookup::selected(entry, headers).map(Shared::Stored);
        config
            .cache
            .load(key, accept, None, |ticket| async move {
                let request = waiting.take().expect("only the leader calls the service");
                match inner.call(request).await {
                    Ok(response) => match admit(config, primary, headers, response).await {
                        Admitted::Store(admission) => {
                            let (stored, response, filled) = admission.fill(config, ticket).await;
                            Loaded::new(Ok(response), Some(Shared::Stored(stored)), filled)
                        }
                        Admitted::Pass(response) => {
                            Loaded::new(Ok(response), Some(Shared::Pass), ticket.skip().await)
                        }
                    },
                    Err(error) => Loaded::alone(Err(error), ticket.skip().await),
                }
            })
            .await
    };
    let shared = match flown {
        Flown::Own(response) => return response,
        Flown::Shared(shared) => shared,
    };
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

/// What HTTP and the layer allow for a response.
enum Admitted<B: Body> {
    /// Store it.
    Store(Admission),
    /// Send it on untouched.
    Pass(Response<ResponseBody<B>>),
}

/// A response to store, and where.
struct Admission {
    stored: Arc<StoredResponse>,
    ttl: Duration,
    primary: String,
    /// The request headers the response varies on (its own `Vary`, less the layer's).
    vary: Vec<HeaderName>,
    /// The key of its variant, when it varies.
    secondary: Option<String>,
}

/// Whether HTTP and the layer allow storing `response` (the answer to a request with
/// `headers`); if so its body is collected.
async fn admit<B: Body>(
    config: &Config,
    primary: &str,
    headers: &HeaderMap,
    response: Response<B>,
) -> Admitted<B> {
    let ttl = match policy::lifetime(config, &response) {
        Ok(ttl) => ttl,
        Err(reason) => {
            tracing::debug!(target: LOG_TARGET, key = %primary, "response not stored: {reason}");
            let mut response = response.map(ResponseBody::untouched);
            mark_miss(response.headers_mut());
            return Admitted::Pass(response);
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
            return Admitted::Pass(response);
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
    let secondary = (!vary.is_empty()).then(|| key::secondary(primary, &vary, headers));
    Admitted::Store(Admission {
        stored,
        ttl,
        primary: primary.to_owned(),
        vary,
        secondary,
    })
}

impl Admission {
    /// Where the response itself goes: its variant's key, or the primary key.
    fn target(&self) -> &str {
        self.secondary.as_deref().unwrap_or(&self.primary)
    }

    /// The response to send for the request that loaded it.
    fn response<B: Body>(&self) -> Response<ResponseBody<B>> {
        self.stored.replay(Source::Miss, false, ResponseBody::full)
    }

    /// Stores the response as a load of `ticket`'s key, which only an invalidation-free
    /// load may fill. When the response varies and the load is of the primary key (the
    /// first request for it), the variant is written first and the marker filled after, so
    /// that the variant is reachable only through a marker no invalidation preceded; it is
    /// removed again if the fill is refused.
    async fn fill<B: Body>(
        self,
        config: &Config,
        ticket: Ticket<'_>,
    ) -> (Arc<StoredResponse>, Response<ResponseBody<B>>, Filled) {
        let cache = &config.cache;
        let response = self.response();
        let stored = Arc::clone(&self.stored);
        let entry = Entry::Response(Arc::clone(&self.stored));
        let filled = if ticket.key() == self.target() {
            ticket.fill(&entry, Some(self.ttl)).await
        } else if ticket.key() == self.primary {
            let variant = self.target();
            lookup::store(cache, variant, &entry, self.ttl).await;
            let marker = Entry::Vary(self.vary.as_slice().into());
            let filled = ticket.fill(&marker, Some(self.ttl)).await;
            if filled != Filled::Stored {
                cache.delete_quietly(variant).await;
            }
            filled
        } else {
            // The response's `Vary` is not the one its marker announced: store afresh.
            let filled = ticket.skip().await;
            self.write(cache).await;
            filled
        };
        (stored, response, filled)
    }

    /// Stores the response outside any load (a refresh the request asked for).
    async fn refresh<B: Body>(self, config: &Config) -> Response<ResponseBody<B>> {
        let response = self.response();
        self.write(&config.cache).await;
        response
    }

    async fn write(self, cache: &crate::Cache) {
        let entry = Entry::Response(Arc::clone(&self.stored));
        match &self.secondary {
            None => lookup::store(cache, &self.primary, &entry, self.ttl).await,
            Some(secondary) => {
                let marker = Entry::Vary(self.vary.into());
                lookup::store(cache, &self.primary, &marker, self.ttl).await;
                lookup::store(cache, secondary, &entry, self.ttl).await;
            }
        }
    }
}

fn mark_miss(headers: &mut HeaderMap) {
    headers.insert(X_CACHE, HeaderValue::from_static("MISS"));
}
