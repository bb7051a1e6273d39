//! The answer to a request from a stored response: `304 Not Modified` when the request's
//! conditions say it has the response already, `206 Partial Content` for one byte range of
//! it, otherwise the response (without a body for `HEAD`).
//!
//! Sits on `body.rs`, `conditional.rs`, `entry.rs` and `range.rs`.

use ::http::Response;
use ::http::header::HeaderMap;
use http_body::Body;

use super::body::ResponseBody;
use super::entry::{Source, StoredResponse};
use super::{conditional, range};

/// The answer to a request with `headers` (a `HEAD` when `head`) from `stored`, found or
/// made as `source` says.
pub(crate) fn answer<B: Body>(
    stored: &StoredResponse,
    source: Source,
    head: bool,
    headers: &HeaderMap,
) -> Response<ResponseBody<B>> {
    if conditional::not_modified(stored, headers) {
        return conditional::replay_not_modified(stored, source, ResponseBody::full);
    }
    match range::requested(stored, headers) {
        Some(part) if !head => range::replay_part(stored, source, part, ResponseBody::full),
        _ => stored.replay(source, head, ResponseBody::full),
    }
}
