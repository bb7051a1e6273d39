//! Conditional requests: answering a client's `If-None-Match` / `If-Modified-Since` with
//! `304` from a stored response, revalidating a stale entry with the inner service, and
//! updating an entry from the `304` that confirms it (RFC 9111, sections 4.3.2 to 4.3.4).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use ::http::{Response, StatusCode};
use bytes::Bytes;
use headers::{ETag, HeaderMapExt, IfModifiedSince, IfNoneMatch, LastModified};

use super::entry::{Source, StoredResponse};
use super::{date, policy};

/// The request headers that make a request conditional; replaced by the cache's own when it
/// revalidates an entry.
const CONDITIONS: [HeaderName; 5] = [
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    header::IF_MATCH,
    header::IF_UNMODIFIED_SINCE,
    header::IF_RANGE,
];

/// Whether a request with `headers` asks only for a change that `stored` does not have, so
/// that `304 Not Modified` answers it: its `If-None-Match` names the stored `ETag` (weak
/// comparison), or, without `If-None-Match`, its `If-Modified-Since` is not before the
/// stored `Last-Modified` or, without one, the stored `Date`, or, without one, the time
/// the response was stored (RFC 9111, section 4.3.2).
pub(crate) fn not_modified(stored: &StoredResponse, headers: &HeaderMap) -> bool {
    if stored.status != StatusCode::OK {
        return false;
    }
    if headers.contains_key(header::IF_NONE_MATCH) {
        let (Some(condition), Some(etag)) = (
            headers.typed_get::<IfNoneMatch>(),
            stored.headers.typed_get::<ETag>(),
        ) else {
            return false;
        };
        return !condition.precondition_passes(&etag);
    }
    let Some(since) = headers.typed_get::<IfModifiedSince>() else {
        return false;
    };
    !since.is_modified(modified(stored))
}

/// When `stored` last changed, as far as the cache knows.
fn modified(stored: &StoredResponse) -> SystemTime {
    if let Some(modified) = stored.headers.typed_get::<LastModified>() {
        return modified.into();
    }
    match date::header(&stored.headers, &header::DATE) {
        Some(Some(date)) => date,
        _ => UNIX_EPOCH + Duration::from_millis(stored.stored_at),
    }
}

/// Whether a `200` to a `HEAD` request, with `headers`, describes `stored`, so that its
/// headers may update it (RFC 9111, section 4.3.5): each validator it carries (`ETag`,
/// `Last-Modified`) is the stored one, and its `Content-Length`, if any, the stored body's.
pub(crate) fn describes(stored: &StoredResponse, headers: &HeaderMap) -> bool {
    let validators_match = [header::ETAG, header::LAST_MODIFIED].iter().all(|name| {
        headers
            .get(name)
            .is_none_or(|v| stored.headers.get(name) == Some(v))
    });
    let length = headers
        .get(header::CONTENT_LENGTH)
        .map(|v| v.to_str().ok().and_then(|v| v.parse::<usize>().ok()));
    validators_match && length.is_none_or(|length| length == Some(stored.body.len()))
}

/// The `304 Not Modified` made from `stored`: its headers without the body's own.
pub(crate) fn replay_not_modified<B>(
    stored: &StoredResponse,
    source: Source,
    body: impl FnOnce(Bytes) -> B,
) -> Response<B> {
    let mut response = Response::new(body(Bytes::new()));
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    let headers = response.headers_mut();
    for (name, value) in &stored.headers {
        if !matches!(
            *name,
            header::CONTENT_LENGTH | header::CONTENT_TYPE | header::CONTENT_ENCODING
        ) {
            headers.append(name, value.clone());
        }
    }
    stored.mark(headers, source);
    response
}

/// Makes `headers` (a request's) ask the inner service whether `stored` is still current:
/// the client's own conditions are replaced by the stored `ETag` and `Last-Modified`.
pub(crate) fn ask_for_changes(headers: &mut HeaderMap, stored: &StoredResponse) {
    for name in CONDITIONS {
        headers.remove(name);
    }
    if let Some(etag) = stored.headers.get(header::ETAG) {
        headers.insert(header::IF_NONE_MATCH, etag.clone());
    }
    if let Some(modified) = stored.headers.get(header::LAST_MODIFIED) {
        headers.insert(header::IF_MODIFIED_SINCE, modified.clone());
    }
}

/// The stored headers updated with those of the `304` that confirmed them: each header the
/// `304` carries replaces the stored one, except `Content-Length` (which describes the
/// `304`'s own empty body), cookies and the hop-by-hop headers.
pub(crate) fn freshened_headers(stored: &StoredResponse, mut update: HeaderMap) -> HeaderMap {
    policy::strip_hop_by_hop(&mut update);
    for name in [header::CONTENT_LENGTH, header::SET_COOKIE, super::X_CACHE] {
        update.remove(name);
    }
    let mut headers = stored.headers.clone();
    for name in update.keys() {
        headers.remove(name);
    }
    for (name, value) in &update {
        headers.append(name, value.clone());
    }
    headers
}

/// A strong `ETag` for a body: its blake3 digest.
pub(crate) fn etag_of(body: &[u8]) -> HeaderValue {
    let digest = blake3::hash(body);
    let mut value = String::with_capacity(2 + 32);
    value.push('"');
    value.push_str(&digest.to_hex()[..32]);
    value.push('"');
    HeaderValue::from_str(&value).expect("hexadecimal digits make a valid header value")
}

/// `stored` with `headers` in place of its own.
pub(crate) fn with_headers(stored: &StoredResponse, headers: HeaderMap) -> StoredResponse {
    StoredResponse {
        status: stored.status,
        headers,
        body: stored.body.clone(),
        stored_at: stored.stored_at,
        varied: stored.varied.clone(),
        freshness: stored.freshness,
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::http::freshness::Freshness;
    use crate::http::header_map as headers;

    fn stored(pairs: &[(&'static str, &'static str)]) -> StoredResponse {
        StoredResponse {
            status: StatusCode::OK,
            headers: headers(pairs),
            body: Bytes::from_static(b"body"),
            stored_at: 0,
            varied: Vec::new(),
            freshness: Freshness::default(),
        }
    }

    const MODIFIED: &str = "Wed, 01 Jan 2020 00:00:00 GMT";

    #[test]
    fn if_none_match_compares_weakly_and_takes_precedence() {
        let entry = stored(&[("etag", "W/\"a\""), ("last-modified", MODIFIED)]);
        let asks = |pairs| not_modified(&entry, &headers(pairs));
        assert!(asks(&[("if-none-match", "\"a\"")]));
        assert!(asks(&[("if-none-match", "\"x\", W/\"a\"")]));
        assert!(asks(&[("if-none-match", "*")]));
        assert!(!asks(&[("if-none-match", "\"b\"")]));
        assert!(
            !asks(&[
                ("if-none-match", "\"b\""),
                ("if-modified-since", "Thu, 02 Jan 2020 00:00:00 GMT")
            ]),
            "If-Modified-Since is ignored beside If-None-Match"
        );
        assert!(asks(&[("if-modified-since", MODIFIED)]));
        assert!(!asks(&[(
            "if-modified-since",
            "Tue, 31 Dec 2019 23:59:59 GMT"
        )]));
        assert!(!asks(&[("if-modified-since", "yesterday")]));
        assert!(!asks(&[]));
        let mut not_ok = stored(&[("etag", "\"a\"")]);
        not_ok.status = StatusCode::NOT_FOUND;
        assert!(!not_modified(
            &not_ok,
            &headers(&[("if-none-match", "\"a\"")])
        ));
        let without = stored(&[]);
        assert!(!not_modified(&without, &headers(&[("if-none-match", "*")])));
    }

    #[test]
    fn if_modified_since_without_last_modified_compares_the_date_or_the_time_stored() {
        let dated = stored(&[("date", MODIFIED)]);
        let asks = |entry: &StoredResponse, since| {
            not_modified(entry, &headers(&[("if-modified-since", since)]))
        };
        assert!(asks(&dated, MODIFIED));
        assert!(asks(&dated, "Thu, 02 Jan 2020 00:00:00 GMT"));
        assert!(!asks(&dated, "Tue, 31 Dec 2019 23:59:59 GMT"));
        let mut undated = stored(&[]);
        undated.stored_at = 1_577_836_800_000; // MODIFIED
        assert!(asks(&undated, MODIFIED));
        assert!(!asks(&undated, "Tue, 31 Dec 2019 23:59:59 GMT"));
    }

    #[test]
    fn a_304_replaces_the_headers_it_carries_but_not_the_bodys_length() {
        let entry = stored(&[
            ("content-length", "4"),
            ("x-a", "old"),
            ("x-b", "kept"),
            ("cache-control", "max-age=1"),
        ]);
        let update = headers(&[
            ("content-length", "0"),
            ("x-a", "new"),
            ("cache-control", "max-age=3600"),
            ("set-cookie", "a=b"),
            ("connection", "x-hop"),
            ("x-hop", "1"),
        ]);
        let updated = freshened_headers(&entry, update);
        assert_eq!(
            updated,
            headers(&[
                ("content-length", "4"),
                ("x-a", "new"),
                ("x-b", "kept"),
                ("cache-control", "max-age=3600"),
            ])
        );
    }

    #[test]
    fn revalidation_asks_with_the_stored_validators_only() {
        let entry = stored(&[("etag", "\"a\""), ("last-modified", MODIFIED)]);
        let mut request = headers(&[
            ("if-none-match", "\"mine\""),
            ("if-match", "\"x\""),
            ("if-range", "\"x\""),
            ("accept", "text/html"),
        ]);
        ask_for_changes(&mut request, &entry);
        assert_eq!(
            request,
            headers(&[
                ("if-none-match", "\"a\""),
                ("accept", "text/html"),
                ("if-modified-since", MODIFIED),
            ])
        );
    }

    #[test]
    fn a_head_response_describes_the_stored_one_when_its_validators_and_length_match() {
        let entry = stored(&[("etag", "\"a\""), ("last-modified", MODIFIED)]);
        let describes = |pairs| describes(&entry, &headers(pairs));
        assert!(describes(&[]));
        assert!(describes(&[("etag", "\"a\""), ("content-length", "4")]));
        assert!(describes(&[("last-modified", MODIFIED), ("x-new", "1")]));
        assert!(!describes(&[("etag", "\"b\"")]));
        assert!(!describes(&[(
            "last-modified",
            "Thu, 02 Jan 2020 00:00:00 GMT"
        )]));
        assert!(!describes(&[("content-length", "5")]), "the body changed");
        assert!(!describes(&[("content-length", "four")]));
        let without = stored(&[]);
        assert!(!describes_with(&without, &[("etag", "\"a\"")]));
    }

    fn describes_with(entry: &StoredResponse, pairs: &[(&'static str, &'static str)]) -> bool {
        describes(entry, &headers(pairs))
    }

    #[test]
    fn generated_etags_are_strong_digests_of_the_body() {
        let etag = etag_of(b"body");
        assert_eq!(etag, etag_of(b"body"));
        assert_ne!(etag, etag_of(b"bodz"));
        let parsed: ETag = etag.to_str().unwrap().parse().unwrap();
        assert!(!parsed.is_weak());
    }

    #[test]
    fn a_304_from_the_cache_has_no_body_and_no_body_headers() {
        let entry = stored(&[
            ("etag", "\"a\""),
            ("content-type", "text/plain"),
            ("content-length", "4"),
        ]);
        let response = replay_not_modified(&entry, Source::Hit, |b| b);
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert!(response.body().is_empty());
        assert_eq!(response.headers()["etag"], "\"a\"");
        assert!(!response.headers().contains_key(header::CONTENT_TYPE));
        assert!(!response.headers().contains_key(header::CONTENT_LENGTH));
        assert_eq!(response.headers()[super::super::X_CACHE], "HIT");
    }
}
