//! What HTTP says may be stored: the status, `Cache-Control`, `Set-Cookie`, `Vary`, the
//! request's credentials and the size of a response, and which of its headers are not.

use ::http::header::{self, HeaderMap, HeaderName};
use ::http::{Response, StatusCode};
use http_body::Body;

use super::credentials::Credentials;
use super::directives::{self, directives};
use super::freshness::{self, Exchange, Freshness};
use super::settings::{Config, Mode};

/// How long `response` (to a request with `credentials`) stays fresh and may be served
/// stale, or why it may not be stored. `validated` tells whether it will carry a validator
/// (its own or a generated `ETag`).
pub(crate) fn storable<B: Body>(
    config: &Config,
    response: &Response<B>,
    credentials: &Credentials,
    validated: bool,
    exchange: Exchange,
) -> Result<Freshness, &'static str> {
    let status = response.status();
    let storable_status = match config.mode {
        Mode::Application => config.statuses.contains(&status),
        Mode::SharedCache => {
            !(status.is_informational()
                || status == StatusCode::PARTIAL_CONTENT
                || status == StatusCode::NOT_MODIFIED)
        }
    };
    if !storable_status {
        return Err("its status is not cached");
    }
    let headers = response.headers();
    if headers.contains_key(header::SET_COOKIE) {
        return Err("it sets a cookie");
    }
    let directives = directives::response(headers);
    if directives.forbid_storing(status) {
        return Err("it is marked no-store");
    }
    if directives.private {
        return Err("it is marked private");
    }
    if !credentials.allow(headers) {
        return Err("its request carries credentials and it does not say it may be shared");
    }
    let Some(freshness) = freshness::assess(config, status, headers, &directives, exchange) else {
        return Err(
            "it has no freshness information and its status is not heuristically cacheable",
        );
    };
    let reusable = freshness.fresh_for > 0
        || validated
        || freshness.stale_while_revalidate > 0
        || freshness.stale_if_error > 0;
    if !reusable {
        return Err("it is stale on arrival and has no validator");
    }
    if directives::vary(headers).is_none() {
        return Err("it varies on `*` or an invalid header name");
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .unwrap_or_else(|| response.body().size_hint().lower());
    if declared > config.max_body_size as u64 {
        return Err("its body is larger than the limit");
    }
    Ok(freshness)
}

/// The statuses stored unless configured otherwise: `200 OK`.
pub(crate) const DEFAULT_STATUSES: [StatusCode; 1] = [StatusCode::OK];

/// Removes the hop-by-hop headers, which describe one connection and so are not stored:
/// the standard ones and any named in `Connection`.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = directives(headers, &header::CONNECTION)
        .filter_map(|(name, _)| HeaderName::from_bytes(name.as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        HeaderName::from_static("keep-alive"),
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        HeaderName::from_static("proxy-connection"),
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::CacheConfig;
    use crate::http::CacheResponseLayer;
    use crate::http::header_map as headers;

    fn config(mode: Mode) -> Config {
        let cache = crate::Cache::new(
            "p",
            &CacheConfig::memory().with_ttl(Duration::from_secs(300)),
        )
        .unwrap();
        (*CacheResponseLayer::new(cache)
            .mode(mode)
            .max_body_size(10)
            .config())
        .clone()
    }

    fn response(
        status: u16,
        pairs: &[(&'static str, &'static str)],
        body: &str,
    ) -> Response<String> {
        let mut response = Response::new(body.to_owned());
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        *response.headers_mut() = headers(pairs);
        response
    }

    const NOW: Exchange = Exchange {
        requested_at: 1_700_000_000_000,
        received_at: 1_700_000_000_000,
    };

    /// How long a response stays fresh in seconds, or why it is not stored.
    fn fresh_for(
        config: &Config,
        status: u16,
        pairs: &[(&'static str, &'static str)],
        body: &str,
    ) -> Result<u64, &'static str> {
        let response = response(status, pairs, body);
        let validated = has_validator(response.headers());
        storable(config, &response, &Credentials::default(), validated, NOW)
            .map(|f| f.fresh_for / 1000)
    }

    fn has_validator(headers: &HeaderMap) -> bool {
        headers.contains_key(header::ETAG) || headers.contains_key(header::LAST_MODIFIED)
    }

    #[test]
    fn responses_are_stored_only_when_http_allows_in_both_modes() {
        for mode in [Mode::Application, Mode::SharedCache] {
            let config = config(mode);
            let ttl = |status: u16, pairs: &[(&'static str, &'static str)], body: &str| {
                fresh_for(&config, status, pairs, body)
            };
            let cc = |value: &'static str| [("cache-control", value)];
            assert!(ttl(200, &cc("max-age=60, no-store"), "").is_err());
            assert!(ttl(200, &cc("public, private, max-age=60"), "").is_err());
            assert!(ttl(200, &cc("no-cache"), "").is_err(), "no validator");
            assert!(ttl(200, &[("pragma", "no-cache")], "").is_err(), "{mode:?}");
            assert_eq!(
                ttl(200, &[("cache-control", "no-cache"), ("etag", "\"a\"")], ""),
                Ok(0),
                "stored to be revalidated"
            );
            assert!(
                ttl(
                    200,
                    &[("set-cookie", "a=b"), ("cache-control", "max-age=60")],
                    ""
                )
                .is_err()
            );
            assert!(
                ttl(
                    200,
                    &[("vary", "accept, *"), ("cache-control", "max-age=60")],
                    ""
                )
                .is_err()
            );
            assert!(ttl(200, &cc("max-age=0"), "").is_err());
            assert!(
                ttl(200, &cc("max-age=-3600"), "").is_err(),
                "invalid is stale"
            );
            assert!(
                ttl(200, &cc("max-age='3600'"), "").is_err(),
                "invalid is stale"
            );
            assert!(
                ttl(200, &[("expires", "0")], "").is_err(),
                "invalid Expires is stale"
            );
            assert_eq!(ttl(200, &cc("max-age=60"), ""), Ok(60));
            assert_eq!(ttl(200, &cc("max-age=\"60\""), ""), Ok(60));
            assert_eq!(ttl(200, &cc("max-age=60, s-maxage=30"), ""), Ok(30));
            assert_eq!(
                ttl(200, &cc("max-age=60, s-maxage=soon"), ""),
                Err("it is stale on arrival and has no validator"),
                "an invalid s-maxage is stale"
            );
            assert!(ttl(200, &cc("max-age=60"), "more than ten bytes").is_err());
            assert!(
                ttl(
                    200,
                    &[("content-length", "11"), ("cache-control", "max-age=60")],
                    ""
                )
                .is_err()
            );
        }
    }

    #[test]
    fn the_application_mode_caps_freshness_at_the_route_ttl() {
        let config = config(Mode::Application);
        let ttl = |status: u16, pairs: &[(&'static str, &'static str)]| {
            fresh_for(&config, status, pairs, "")
        };
        assert_eq!(ttl(200, &[]), Ok(300), "no freshness information: the ttl");
        assert_eq!(ttl(200, &[("cache-control", "max-age=9999")]), Ok(300));
        assert_eq!(
            ttl(200, &[("cache-control", "max-age=99999999999999999999999")]),
            Ok(300),
            "an age past u64::MAX is the largest age"
        );
        assert!(
            ttl(404, &[("cache-control", "max-age=60")]).is_err(),
            "status not configured"
        );
    }

    #[test]
    fn the_shared_mode_stores_only_what_rfc_9111_allows() {
        let config = config(Mode::SharedCache);
        let ttl = |status: u16, pairs: &[(&'static str, &'static str)]| {
            fresh_for(&config, status, pairs, "")
        };
        assert!(ttl(200, &[]).is_err(), "no freshness, no validator");
        assert_eq!(ttl(200, &[("etag", "\"v1\"")]), Ok(0), "kept to revalidate");
        assert_eq!(ttl(404, &[("cache-control", "max-age=60")]), Ok(60));
        assert_eq!(ttl(299, &[("cache-control", "max-age=60")]), Ok(60));
        assert!(
            ttl(299, &[("etag", "\"v1\"")]).is_err(),
            "not heuristically cacheable"
        );
        assert!(ttl(206, &[("cache-control", "max-age=60")]).is_err());
        assert!(ttl(304, &[("cache-control", "max-age=60")]).is_err());
        assert_eq!(
            ttl(200, &[("cache-control", "max-age=9999")]),
            Ok(9999),
            "no route ttl"
        );
    }

    #[test]
    fn hop_by_hop_headers_are_not_stored() {
        let mut map = headers(&[
            ("connection", "keep-alive, x-conn"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("x-conn", "1"),
            ("content-type", "text/plain"),
        ]);
        strip_hop_by_hop(&mut map);
        assert_eq!(map, headers(&[("content-type", "text/plain")]));
    }
}
