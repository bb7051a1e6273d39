//! Range requests answered from a stored complete response (RFC 9110, section 14): a `GET`
//! for one satisfiable byte range of a stored `200` gets `206 Partial Content` with that
//! part of the body and its `Content-Range`. Several ranges, none satisfiable, or an
//! `If-Range` the stored response does not match get the whole response, as a server may
//! answer (section 14.2). Ranges are parsed by the `headers` crate.
//!
//! Sits on `entry.rs`.

use std::ops::Bound;

use ::http::header::{self, HeaderMap, HeaderValue};
use ::http::{Response, StatusCode};
use bytes::Bytes;
use headers::{ETag, HeaderMapExt, IfRange, LastModified, Range};

use super::entry::{Source, StoredResponse};

/// The one byte range (first and last byte, inclusive) of `stored` that a request with
/// `headers` asks for, if it asks for exactly one that `stored` can answer.
pub(crate) fn requested(stored: &StoredResponse, headers: &HeaderMap) -> Option<(u64, u64)> {
    if stored.status != StatusCode::OK || !headers.contains_key(header::RANGE) {
        return None;
    }
    if let Some(condition) = headers.typed_get::<IfRange>() {
        let etag = stored.headers.typed_get::<ETag>();
        let modified = stored.headers.typed_get::<LastModified>();
        if condition.is_modified(etag.as_ref(), modified.as_ref()) {
            return None;
        }
    }
    let length = stored.body.len() as u64;
    let range = headers.typed_get::<Range>()?;
    let mut ranges = range
        .satisfiable_ranges(length)
        .map(|bounds| satisfiable(bounds, length));
    match (ranges.next(), ranges.next()) {
        (Some(only), None) => only,
        _ => None,
    }
}

/// A range as first and last byte within a body of `length` bytes, if it has any byte in it.
fn satisfiable((start, end): (Bound<u64>, Bound<u64>), length: u64) -> Option<(u64, u64)> {
    let first = match start {
        Bound::Included(first) => first,
        Bound::Excluded(before) => before.checked_add(1)?,
        Bound::Unbounded => 0,
    };
    let last = match end {
        Bound::Included(last) => last.min(length.checked_sub(1)?),
        Bound::Excluded(after) => after.checked_sub(1)?.min(length.checked_sub(1)?),
        Bound::Unbounded => length.checked_sub(1)?,
    };
    (first <= last).then_some((first, last))
}

/// The `206 Partial Content` answering the range `first..=last` of `stored`.
pub(crate) fn replay_part<B>(
    stored: &StoredResponse,
    source: Source,
    (first, last): (u64, u64),
    body: impl FnOnce(Bytes) -> B,
) -> Response<B> {
    let (start, end) = (first as usize, last as usize);
    let mut response = stored.replay(source, false, |whole| body(whole.slice(start..=end)));
    *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    let headers = response.headers_mut();
    let content_range = format!("bytes {first}-{last}/{}", stored.body.len());
    headers.insert(
        header::CONTENT_RANGE,
        HeaderValue::from_str(&content_range).expect("digits, a dash and a slash"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start + 1));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::freshness::Freshness;
    use crate::http::header_map as headers;

    fn stored(pairs: &[(&'static str, &'static str)]) -> StoredResponse {
        StoredResponse {
            status: StatusCode::OK,
            headers: headers(pairs),
            body: Bytes::from_static(b"0123456789"),
            stored_at: 0,
            varied: Vec::new(),
            freshness: Freshness::default(),
        }
    }

    fn asked(entry: &StoredResponse, range: &'static str) -> Option<(u64, u64)> {
        requested(entry, &headers(&[("range", range)]))
    }

    #[test]
    fn one_satisfiable_range_is_answered() {
        let entry = stored(&[]);
        assert_eq!(asked(&entry, "bytes=0-1"), Some((0, 1)));
        assert_eq!(asked(&entry, "bytes=1-"), Some((1, 9)));
        assert_eq!(asked(&entry, "bytes=-1"), Some((9, 9)));
        assert_eq!(asked(&entry, "bytes=5-99"), Some((5, 9)));
        assert_eq!(asked(&entry, "bytes=10-"), None, "past the end");
        assert_eq!(asked(&entry, "bytes=4-2"), None);
        assert_eq!(asked(&entry, "bytes=0-1,4-5"), None, "several: the whole");
        assert_eq!(asked(&entry, "items=0-1"), None);
        assert_eq!(requested(&entry, &headers(&[])), None);
        let mut not_ok = stored(&[]);
        not_ok.status = StatusCode::NOT_FOUND;
        assert_eq!(asked(&not_ok, "bytes=0-1"), None);
    }

    #[test]
    fn if_range_must_match_the_stored_response() {
        let entry = stored(&[("etag", "\"v1\"")]);
        let asked = |if_range| {
            requested(
                &entry,
                &headers(&[("range", "bytes=0-1"), ("if-range", if_range)]),
            )
        };
        assert_eq!(asked("\"v1\""), Some((0, 1)));
        assert_eq!(asked("\"v2\""), None);
        assert_eq!(asked("W/\"v1\""), None, "a weak tag never matches");
    }

    #[test]
    fn a_part_carries_its_range_and_length() {
        let entry = stored(&[("content-length", "10"), ("content-type", "text/plain")]);
        let part = replay_part(&entry, Source::Hit, (2, 4), |b| b);
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(part.headers()["content-range"], "bytes 2-4/10");
        assert_eq!(part.headers()["content-length"], "3");
        assert_eq!(part.headers()["content-type"], "text/plain");
        assert_eq!(part.body().as_ref(), b"234");
    }
}
