//! Stored responses: what an entry holds and how it is replayed.
//!
//! An entry is shared behind an `Arc`, so a memory hit is a reference count, never a copy of
//! the body; `wire.rs` writes it for byte-oriented backends.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use ::http::{Response, StatusCode};
use bytes::Bytes;

use super::X_CACHE;
use super::freshness::Freshness;

/// What is stored under a response key.
#[derive(Clone, Debug)]
pub(crate) enum Entry {
    Response(Arc<StoredResponse>),
    /// The response for this key varies on these request headers; its variants live under
    /// secondary keys.
    Vary(Arc<[HeaderName]>),
}

#[derive(Debug)]
pub(crate) struct StoredResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// When the response was stored, in milliseconds since the Unix epoch (so that `Age` is
    /// right in every process sharing the store).
    pub(crate) stored_at: u64,
    /// The request's values of the headers the response varies on (its own `Vary`), so that
    /// a response shared in flight goes only to requests that would have selected it.
    pub(crate) varied: Vec<(HeaderName, Option<HeaderValue>)>,
    /// How long it stays fresh and may be served stale, fixed when it was received.
    pub(crate) freshness: Freshness,
}

/// Whether a replayed response was found in the cache or produced for this request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// Found fresh in the cache.
    Hit,
    /// Produced by the inner service for this request.
    Miss,
    /// Found in the cache and confirmed by the inner service (a `304`).
    Revalidated,
    /// Found stale in the cache and served as allowed by `stale-while-revalidate` or
    /// `stale-if-error`.
    Stale,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::Hit => "HIT",
            Source::Miss => "MISS",
            Source::Revalidated => "REVALIDATED",
            Source::Stale => "STALE",
        }
    }
}

/// Where an entry stands at a given moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Standing {
    Fresh,
    /// Stale, but within `stale-while-revalidate`.
    StaleWhileRevalidate,
    /// Stale, and to be revalidated or refetched.
    Stale,
}

impl StoredResponse {
    /// Whether `headers` (a request's) select this response among its `Vary` variants.
    pub(crate) fn selected_by(&self, headers: &HeaderMap) -> bool {
        self.varied
            .iter()
            .all(|(name, value)| combined(headers, name) == *value)
    }

    /// The response to send: the stored status, headers and body (none for `HEAD`), with
    /// `X-Cache` and, on a hit, `Age`.
    pub(crate) fn replay<B>(
        &self,
        source: Source,
        head: bool,
        body: impl FnOnce(Bytes) -> B,
    ) -> Response<B> {
        let mut response = Response::new(body(if head {
            Bytes::new()
        } else {
            self.body.clone()
        }));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.reserve(self.headers.len() + 2);
        for (name, value) in &self.headers {
            headers.append(name, value.clone());
        }
        if head && !headers.contains_key(header::CONTENT_LENGTH) {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(self.body.len()));
        }
        self.mark(headers, source);
        response
    }

    /// Sets `X-Cache` and the current `Age` (which adds the time the entry spent here to the
    /// age it arrived with) on the headers of a response made from this entry.
    pub(crate) fn mark(&self, headers: &mut HeaderMap, source: Source) {
        if self.freshness.initial_age > 0 || source != Source::Miss {
            headers.insert(header::AGE, HeaderValue::from(self.age(now_millis())));
        }
        headers.insert(X_CACHE, HeaderValue::from_static(source.label()));
    }

    /// The current age in seconds (RFC 9111, section 4.2.3).
    pub(crate) fn age(&self, now: u64) -> u64 {
        let resident = Duration::from_millis(now.saturating_sub(self.stored_at)).as_secs();
        self.freshness.initial_age.saturating_add(resident)
    }

    /// Where the entry stands at `now`, for a request that accepts ages up to `max_age`.
    pub(crate) fn standing(&self, now: u64, max_age: Option<u64>) -> Standing {
        let resident = now.saturating_sub(self.stored_at);
        let too_old = max_age.is_some_and(|max_age| self.age(now) > max_age);
        if resident < self.freshness.fresh_for && !too_old {
            return Standing::Fresh;
        }
        let swr = self.freshness.stale_while_revalidate.saturating_mul(1000);
        if !too_old && resident < self.freshness.fresh_for.saturating_add(swr) {
            Standing::StaleWhileRevalidate
        } else {
            Standing::Stale
        }
    }

    /// Whether the entry may answer for an origin that failed at `now` (`stale-if-error`).
    pub(crate) fn serves_on_error(&self, now: u64) -> bool {
        let resident = now.saturating_sub(self.stored_at);
        let sie = self.freshness.stale_if_error.saturating_mul(1000);
        resident < self.freshness.fresh_for.saturating_add(sie)
    }

    /// Whether the entry can be revalidated: it has an `ETag` or a `Last-Modified`.
    pub(crate) fn has_validator(&self) -> bool {
        has_validator(&self.headers)
    }
}

/// Whether `headers` carry a validator: an `ETag` or a `Last-Modified`.
pub(crate) fn has_validator(headers: &HeaderMap) -> bool {
    headers.contains_key(header::ETAG) || headers.contains_key(header::LAST_MODIFIED)
}

/// Every value of the header `name` as one value, joined by `, ` as HTTP allows.
pub(crate) fn combined(headers: &HeaderMap, name: &HeaderName) -> Option<HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    let Some(second) = values.next() else {
        return Some(first.clone());
    };
    let mut joined = first.as_bytes().to_vec();
    for value in std::iter::once(second).chain(values) {
        joined.extend_from_slice(b", ");
        joined.extend_from_slice(value.as_bytes());
    }
    HeaderValue::from_bytes(&joined).ok()
}

/// The current time in milliseconds since the Unix epoch.
pub(crate) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Entries shared by the tests of this module and of `wire`.
#[cfg(test)]
pub(super) mod fixtures {
    use super::*;

    pub(crate) fn sample(body: &'static [u8]) -> Entry {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        headers.append("x-tag", HeaderValue::from_static("a"));
        headers.append("x-tag", HeaderValue::from_static("b"));
        headers.insert("x-raw", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        Entry::Response(Arc::new(StoredResponse {
            status: StatusCode::CREATED,
            headers,
            body: Bytes::from_static(body),
            stored_at: 1_700_000_000_000,
            varied: vec![
                (
                    HeaderName::from_static("accept-language"),
                    Some(HeaderValue::from_static("fr")),
                ),
                (HeaderName::from_static("dnt"), None),
            ],
            freshness: Freshness {
                initial_age: 7,
                fresh_for: 60_000,
                stale_while_revalidate: 5,
                stale_if_error: 30,
            },
        }))
    }

    pub(crate) fn response(entry: &Entry) -> &StoredResponse {
        match entry {
            Entry::Response(response) => response,
            Entry::Vary(_) => panic!("not a response"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{response, sample};
    use super::*;

    #[test]
    fn replays_carry_x_cache_and_age_on_hits_and_no_body_for_head() {
        let entry = sample(b"hello");
        let stored = response(&entry);
        let hit = stored.replay(Source::Hit, false, |b| b);
        assert_eq!(hit.status(), StatusCode::CREATED);
        assert_eq!(hit.headers()[X_CACHE], "HIT");
        assert!(
            hit.headers()[header::AGE]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > 0
        );
        assert_eq!(hit.headers().get_all("x-tag").iter().count(), 2);
        assert_eq!(hit.body().as_ref(), b"hello");

        let head = stored.replay(Source::Miss, true, |b| b);
        assert_eq!(head.headers()[X_CACHE], "MISS");
        assert_eq!(head.headers()[header::CONTENT_LENGTH], "5");
        assert!(head.body().is_empty());
    }

    #[test]
    fn the_age_adds_the_time_stored_to_the_age_on_arrival() {
        let entry = sample(b"");
        let stored = response(&entry);
        let at = |seconds: u64| stored.stored_at + seconds * 1000;
        assert_eq!(stored.age(at(0)), 7, "the age it arrived with");
        assert_eq!(stored.age(at(3) + 500), 10);
        assert_eq!(stored.standing(at(59), None), Standing::Fresh);
        assert_eq!(stored.standing(at(50), Some(60)), Standing::Fresh);
        assert_eq!(
            stored.standing(at(59), Some(60)),
            Standing::Stale,
            "66 s old: older than the request accepts"
        );
        assert_eq!(
            stored.standing(at(60), None),
            Standing::StaleWhileRevalidate
        );
        assert_eq!(stored.standing(at(65), None), Standing::Stale);
        assert!(stored.serves_on_error(at(89)));
        assert!(!stored.serves_on_error(at(90)));

        let mut fresh = StoredResponse {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            stored_at: now_millis(),
            varied: Vec::new(),
            freshness: Freshness::default(),
        };
        let miss = fresh.replay(Source::Miss, false, |b| b);
        assert!(!miss.headers().contains_key(header::AGE), "nothing to tell");
        fresh.freshness.initial_age = 30;
        let miss = fresh.replay(Source::Miss, false, |b| b);
        let age: u64 = miss.headers()[header::AGE]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(age >= 30, "the age it arrived with is passed on");
    }

    #[test]
    fn selection_compares_the_varied_request_headers() {
        let entry = sample(b"");
        let stored = response(&entry);
        let mut headers = HeaderMap::new();
        headers.insert("accept-language", HeaderValue::from_static("fr"));
        assert!(stored.selected_by(&headers));
        headers.insert("dnt", HeaderValue::from_static("1"));
        assert!(!stored.selected_by(&headers));
        headers.remove("dnt");
        headers.append("accept-language", HeaderValue::from_static("en"));
        assert!(!stored.selected_by(&headers), "fr, en is not fr");
        headers.insert("accept-language", HeaderValue::from_static("en"));
        assert!(!stored.selected_by(&headers));
    }
}
