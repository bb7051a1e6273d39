//! Loading a response after a miss or for a stale entry, once per key among concurrent
//! requests (through the cache's load path): the inner service asked unconditionally, or,
//! for a stale entry with a validator, whether it changed (a `304` refreshes the entry); a
//! `HEAD` for a stale entry sent on as a `HEAD`, whose `200` refreshes the entry's headers
//! when it describes the same response (RFC 9111, section 4.3.5); a failure answered with
//! the stale entry while `stale-if-error` allows.

use std::sync::Arc;

use ::http::header::HeaderMap;
use ::http::{Method, Request, Response, StatusCode};
use http_body::Body;
use tower_service::Service;

use super::admit::{Admitted, admit, freshen, mark_miss};
use super::answer::answer;
use super::body::ResponseBody;
use super::cacheable::Cacheable;
use super::conditional;
use super::entry::{Entry, Source, StoredResponse, now_millis};
use super::freshness::Exchange;
use super::lookup;
use super::service::pass;
use super::settings::Config;
use super::url_tags::UrlTags;
use crate::cache::{Flown, Loaded, Ticket};

/// What one request in flight shares with the others for the same key.
#[derive(Clone)]
enum Shared {
    /// The stored response.
    Stored(Arc<StoredResponse>),
    /// Nothing was stored: each waiting request calls the inner service itself.
    Pass,
}

/// Loads the response for `key` (the entry of `request`, as `cacheable` describes it) once
/// for every concurrent request, through the cache's load path, the key joined to the tags
/// of its URL first: the first one calls the inner service (asking whether `stale` changed,
/// when it has a validator); the others get what it stored, or call the inner service
/// themselves when nothing was stored (or the stored response may not answer them: it
/// varies on a header they differ in, or they carry credentials it may not be shared
/// with). A response another load stored meanwhile is taken when it may answer the request
/// and is fresh for `max_age` (the request's own `max-age`).
pub(crate) async fn load_once<S, ReqBody, ResBody>(
    config: &Config,
    mut inner: S,
    request: Request<ReqBody>,
    cacheable: &Cacheable,
    key: &str,
    stale: Option<Arc<StoredResponse>>,
    max_age: Option<u64>,
) -> Result<Response<ResponseBody<ResBody>>, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body,
{
    let tags = UrlTags::of(config, cacheable.base(), request.uri().path());
    let Some(joined) = tags.join(key).await else {
        return pass(&mut inner, request).await;
    };
    let headers = request.headers().clone();
    let credentials = &cacheable.credentials;
    let mut waiting = Some(request);
    let flown = {
        let (waiting, inner, headers, tags) = (&mut waiting, &mut inner, &headers, &tags);
        let accept =
            |entry: Entry| lookup::fresh(entry, headers, credentials, max_age).map(Shared::Stored);
        config
            .cache
            .load(key, accept, None, joined, |ticket| async move {
                let request = waiting.take().expect("only the leader calls the service");
                let led = Led {
                    config,
                    cacheable,
                    headers,
                    tags,
                };
                led.lead(inner, request, stale, ticket).await
            })
            .await
    };
    let shared = match flown {
        Flown::Own(response) => return response,
        Flown::Shared(shared) => shared,
    };
    let request = waiting.expect("a request that did not lead is still waiting");
    match shared {
        Shared::Stored(stored) if lookup::answers(&stored, request.headers(), credentials) => {
            let head = request.method() == Method::HEAD;
            Ok(answer(&stored, Source::Hit, head, request.headers()))
        }
        _ => pass(&mut inner, request).await,
    }
}

type Lead<B, E> = Loaded<Shared, Result<Response<ResponseBody<B>>, E>>;

/// What the leader of a load knows of its request besides the request itself.
struct Led<'a> {
    config: &'a Config,
    cacheable: &'a Cacheable,
    /// The request's headers, as it came (before revalidation replaced its conditions).
    headers: &'a HeaderMap,
    tags: &'a UrlTags<'a>,
}

impl Led<'_> {
    /// The leader's load: the inner service's answer stored (or the stale entry refreshed
    /// by a `304`, or by a `200` to a `HEAD` that describes it), or the stale entry when the
    /// inner service fails and `stale-if-error` allows.
    async fn lead<S, ReqBody, ResBody>(
        self,
        inner: &mut S,
        mut request: Request<ReqBody>,
        stale: Option<Arc<StoredResponse>>,
        ticket: Ticket<'_>,
    ) -> Lead<ResBody, S::Error>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
        ResBody: Body,
    {
        let head = request.method() == Method::HEAD;
        let validated = stale.as_ref().filter(|stale| stale.has_validator());
        if let Some(stale) = validated {
            conditional::ask_for_changes(request.headers_mut(), stale);
        }
        let requested_at = now_millis();
        let result = inner.call(request).await;
        let exchange = Exchange {
            requested_at,
            received_at: now_millis(),
        };
        let serve_stale = |failed: bool| {
            stale
                .as_ref()
                .filter(|stale| failed && stale.serves_on_error(exchange.received_at))
        };
        let response = match result {
            Err(error) => {
                if let Some(stale) = serve_stale(true) {
                    let response = answer(stale, Source::Stale, head, self.headers);
                    return Loaded::alone(Ok(response), ticket.skip().await);
                }
                return Loaded::alone(Err(error), ticket.skip().await);
            }
            Ok(response) => response,
        };
        if let Some(stale) = serve_stale(response.status().is_server_error()) {
            let answered = answer(stale, Source::Stale, head, self.headers);
            return Loaded::alone(Ok(answered), ticket.skip().await);
        }
        let confirmed = match response.status() {
            StatusCode::NOT_MODIFIED => validated,
            StatusCode::OK if head => stale
                .as_ref()
                .filter(|stale| conditional::describes(stale, response.headers())),
            _ => None,
        };
        if let Some(stale) = confirmed {
            return self.update(stale, response, head, exchange, ticket).await;
        }
        if head {
            // A `HEAD` stores nothing of its own: its answer has no body.
            let mut response = response.map(ResponseBody::untouched);
            mark_miss(response.headers_mut());
            return Loaded::new(Ok(response), Some(Shared::Pass), ticket.skip().await);
        }
        let Self {
            config,
            cacheable,
            headers,
            tags,
        } = self;
        match admit(config, cacheable, headers, response, exchange).await {
            Admitted::Store(admission) => {
                let stored = Arc::clone(&admission.stored);
                let response = admission.response();
                let filled = admission.fill(config, ticket, tags).await;
                Loaded::new(Ok(response), Some(Shared::Stored(stored)), filled)
            }
            Admitted::Pass(response) => {
                Loaded::new(Ok(response), Some(Shared::Pass), ticket.skip().await)
            }
        }
    }

    /// Updates `stale` with the headers of `response` (a `304`, or a `200` to a `HEAD`),
    /// which confirmed it, and answers from it: the entry refilled when its new headers
    /// allow, removed when they forbid storing it.
    async fn update<B: Body, E>(
        self,
        stale: &Arc<StoredResponse>,
        response: Response<B>,
        head: bool,
        exchange: Exchange,
        ticket: Ticket<'_>,
    ) -> Lead<B, E> {
        let Self {
            config,
            cacheable,
            headers,
            tags,
        } = self;
        let Some((fresh, ttl)) = freshen(config, stale, response.headers(), exchange) else {
            config.cache.delete_quietly(ticket.key()).await;
            let answered = if response.status() == StatusCode::NOT_MODIFIED {
                answer(stale, Source::Revalidated, head, headers)
            } else {
                let mut response = response.map(ResponseBody::untouched);
                mark_miss(response.headers_mut());
                response
            };
            return Loaded::alone(Ok(answered), ticket.skip().await);
        };
        let answered = answer(&fresh, Source::Revalidated, head, headers);
        if !cacheable.credentials.allow(&fresh.headers) {
            return Loaded::alone(Ok(answered), ticket.skip().await);
        }
        let ticket = match tags.cover(ticket.key(), ttl).await.ticket(ticket) {
            Ok(ticket) => ticket,
            Err(ticket) => return Loaded::alone(Ok(answered), ticket.skip().await),
        };
        let filled = ticket
            .fill(&Entry::Response(Arc::clone(&fresh)), Some(ttl))
            .await;
        Loaded::new(Ok(answered), Some(Shared::Stored(fresh)), filled)
    }
}
