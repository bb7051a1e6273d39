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
}

/// Whether a replayed response was found in the cache or produced for this request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    Hit,
    Miss,
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
        match source {
            Source::Hit => {
                headers.insert(header::AGE, HeaderValue::from(self.age().as_secs()));
                headers.insert(X_CACHE, HeaderValue::from_static("HIT"));
            }
            Source::Miss => {
                headers.insert(X_CACHE, HeaderValue::from_static("MISS"));
            }
        }
        response
    }

    fn age(&self) -> Duration {
        Duration::from_millis(now_millis().saturating_sub(self.stored_at))
    }
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
        assert!(!head.headers().contains_key(header::AGE));
        assert_eq!(head.headers()[header::CONTENT_LENGTH], "5");
        assert!(head.body().is_empty());
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
