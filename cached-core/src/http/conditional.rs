//! Conditional requests: answering a client's `If-None-Match` / `If-Modified-Since` with
//! `304` from a stored response, revalidating a stale entry with the inner service, and
//! updating an entry from the `304` that confirms it (RFC 9111, sections 4.3.2 to 4.3.4).

use ::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use ::http::{Response, StatusCode};
use bytes::Bytes;
use headers::{ETag, HeaderMapExt, IfModifiedSince, IfNoneMatch, LastModified};

use super::entry::{Source, StoredResponse};
use super::policy;

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
/// stored `Last-Modified`.
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
    let (Some(since), Some(modified)) = (
        headers.typed_get::<IfModifiedSince>(),
        stored.headers.typed_get::<LastModified>(),
    ) else {
        return false;
    };
    !since.is_modified(modified.into())
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
