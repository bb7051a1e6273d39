//! Turning a response of the inner service into an entry: whether HTTP and the layer allow
//! storing it, its body collected within the limit, and where it goes; and the entry a
//! `304` makes of a stale one.

use std::sync::Arc;
use std::time::Duration;

use ::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use ::http::{Response, StatusCode};
use http_body::Body;

use super::body::{self, Collected, ResponseBody};
use super::cacheable::Cacheable;
use super::conditional;
use super::directives;
use super::entry::{Entry, Source, StoredResponse, combined, has_validator};
use super::freshness::{self, Exchange};
use super::lookup;
use super::settings::Config;
use super::url_tags::UrlTags;
use super::{X_CACHE, key, policy};
use crate::LOG_TARGET;
use crate::cache::Ticket;
use crate::store::Filled;

/// What HTTP and the layer allow for a response.
pub(crate) enum Admitted<B: Body> {
    /// Store it.
    Store(Admission),
    /// Send it on untouched.
    Pass(Response<ResponseBody<B>>),
}

/// A response to store, and where.
pub(crate) struct Admission {
    pub(crate) stored: Arc<StoredResponse>,
    ttl: Duration,
    primary: String,
    /// The request headers the response varies on (its own `Vary`, less the layer's).
    vary: Vec<HeaderName>,
    /// The key of its variant, when it varies.
    secondary: Option<String>,
}

/// Whether HTTP and the layer allow storing `response` (the answer, exchanged at
/// `exchange`, to `request`, with `headers`); if so its body is collected.
pub(crate) async fn admit<B: Body>(
    config: &Config,
    request: &Cacheable,
    headers: &HeaderMap,
    response: Response<B>,
    exchange: Exchange,
) -> Admitted<B> {
    let primary = request.primary.as_str();
    let generate_etag = config.etag && response.status() == StatusCode::OK;
    let validated = generate_etag || has_validator(response.headers());
    let storable = policy::storable(config, &response, &request.credentials, validated, exchange);
    let freshness = match storable {
        Ok(freshness) => freshness,
        Err(reason) => {
            tracing::debug!(target: LOG_TARGET, key = %primary, "response not stored: {reason}");
            let mut response = response.map(ResponseBody::untouched);
            mark_miss(response.headers_mut());
            return Admitted::Pass(response);
        }
    };
    let vary: Vec<HeaderName> = directives::vary(response.headers())
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
    // The age it arrived with is kept in its freshness, and added to on every replay.
    parts.headers.remove(header::AGE);
    if generate_etag && !parts.headers.contains_key(header::ETAG) {
        parts
            .headers
            .insert(header::ETAG, conditional::etag_of(&data));
    }
    let stored = Arc::new(StoredResponse {
        status: parts.status,
        headers: parts.headers,
        body: data,
        stored_at: exchange.received_at,
        varied: vary
            .iter()
            .map(|name| (name.clone(), combined(headers, name)))
            .collect(),
        freshness,
    });
    let ttl = freshness.retention(stored.has_validator());
    let secondary = (!vary.is_empty()).then(|| key::secondary(primary, &vary, headers));
    Admitted::Store(Admission {
        stored,
        ttl,
        primary: primary.to_owned(),
        vary,
        secondary,
    })
}

/// The entry `stale` becomes after the `304` with `update` (exchanged at `exchange`)
/// confirmed it, and how long to keep it; `None` when its new headers forbid storing it.
pub(crate) fn freshen(
    config: &Config,
    stale: &StoredResponse,
    update: &HeaderMap,
    exchange: Exchange,
) -> Option<(Arc<StoredResponse>, Duration)> {
    let mut headers = conditional::freshened_headers(stale, update.clone());
    if !update.contains_key(header::DATE) {
        let now = std::time::UNIX_EPOCH + Duration::from_millis(exchange.received_at);
        let date = HeaderValue::from_str(&httpdate::fmt_http_date(now)).ok()?;
        headers.insert(header::DATE, date);
    }
    let directives = directives::response(&headers);
    if directives.forbid_storing(stale.status) || directives.private {
        return None;
    }
    let freshness = freshness::assess(config, stale.status, &headers, &directives, exchange)?;
    headers.remove(header::AGE);
    let stored = StoredResponse {
        freshness,
        stored_at: exchange.received_at,
        ..conditional::with_headers(stale, headers)
    };
    let ttl = freshness.retention(stored.has_validator());
    Some((Arc::new(stored), ttl))
}

impl Admission {
    /// Where the response itself goes: its variant's key, or the primary key.
    fn target(&self) -> &str {
        self.secondary.as_deref().unwrap_or(&self.primary)
    }

    /// The response to send for the request that loaded it.
    pub(crate) fn response<B: Body>(&self) -> Response<ResponseBody<B>> {
        self.stored.replay(Source::Miss, false, ResponseBody::full)
    }

    /// Stores the response as a load of `ticket`'s key (which joined `tags` before the
    /// load), which only an invalidation-free load may fill. When the response varies and
    /// the load is of the primary key (the first request for it), the variant joins the
    /// tags and is written first and the marker filled after, so that the variant is
    /// reachable only through a marker no invalidation preceded; it is removed again if the
    /// fill is refused.
    pub(crate) async fn fill(
        self,
        config: &Config,
        ticket: Ticket<'_>,
        tags: &UrlTags<'_>,
    ) -> Filled {
        let cache = &config.cache;
        let entry = Entry::Response(Arc::clone(&self.stored));
        if ticket.key() == self.target() {
            match tags.cover(ticket.key(), self.ttl).await.ticket(ticket) {
                Ok(ticket) => ticket.fill(&entry, Some(self.ttl)).await,
                Err(ticket) => ticket.skip().await,
            }
        } else if ticket.key() == self.primary {
            let ticket = match tags.cover(ticket.key(), self.ttl).await.ticket(ticket) {
                Ok(ticket) => ticket,
                Err(ticket) => return ticket.skip().await,
            };
            let variant = self.target();
            if !lookup::store(cache, variant, &entry, self.ttl, tags.names()).await {
                return ticket.skip().await;
            }
            let marker = Entry::Vary(self.vary.as_slice().into());
            let filled = ticket.fill(&marker, Some(self.ttl)).await;
            if filled != Filled::Stored {
                cache.delete_quietly(variant).await;
            }
            filled
        } else {
            // The response's `Vary` is not the one its marker announced: store afresh.
            let filled = ticket.skip().await;
            self.write(cache, tags).await;
            filled
        }
    }

    /// Stores the response outside any load (a refresh the request asked for), each of its
    /// keys joined to `tags` as it is written.
    pub(crate) async fn write(self, cache: &crate::Cache, tags: &UrlTags<'_>) {
        let entry = Entry::Response(Arc::clone(&self.stored));
        match &self.secondary {
            None => {
                lookup::store(cache, &self.primary, &entry, self.ttl, tags.names()).await;
            }
            Some(secondary) => {
                let marker = Entry::Vary(self.vary.into());
                if lookup::store(cache, &self.primary, &marker, self.ttl, tags.names()).await {
                    lookup::store(cache, secondary, &entry, self.ttl, tags.names()).await;
                }
            }
        }
    }
}

/// Marks a response of the inner service that was not stored.
pub(crate) fn mark_miss(headers: &mut HeaderMap) {
    headers.insert(X_CACHE, HeaderValue::from_static("MISS"));
}
