//! What HTTP says may be cached: `Cache-Control` of requests and responses, `Set-Cookie`,
//! `Vary`, and the lifetime of an entry.

use std::num::IntErrorKind;
use std::time::Duration;

use ::http::header::{self, HeaderMap, HeaderName};
use ::http::{Response, StatusCode};
use http_body::Body;

use super::layer::Config;

/// What a request's headers ask of the cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RequestDirectives {
    /// Skip the lookup: `Cache-Control: no-cache` or `max-age=0`, or `Pragma: no-cache`.
    pub(crate) no_cache: bool,
    /// Do not store the response: `Cache-Control: no-store`.
    pub(crate) no_store: bool,
}

pub(crate) fn request_directives(headers: &HeaderMap) -> RequestDirectives {
    let mut found = RequestDirectives::default();
    let mut has_cache_control = false;
    for (name, value) in directives(headers, &header::CACHE_CONTROL) {
        has_cache_control = true;
        match name.as_str() {
            "no-cache" => found.no_cache = true,
            "no-store" => found.no_store = true,
            "max-age" if value.as_deref() == Some("0") => found.no_cache = true,
            _ => {}
        }
    }
    if !has_cache_control {
        found.no_cache = directives(headers, &header::PRAGMA).any(|(name, _)| name == "no-cache");
    }
    found
}

/// How long `response` may be stored, or why it may not be.
pub(crate) fn lifetime<B: Body>(
    config: &Config,
    response: &Response<B>,
) -> Result<Duration, &'static str> {
    if !config.statuses.contains(&response.status()) {
        return Err("its status is not cached");
    }
    let headers = response.headers();
    if headers.contains_key(header::SET_COOKIE) {
        return Err("it sets a cookie");
    }
    let mut ttl = config.ttl.unwrap_or_else(|| config.cache.default_ttl());
    let (mut max_age, mut s_maxage) = (None, None);
    for (name, value) in directives(headers, &header::CACHE_CONTROL) {
        match name.as_str() {
            "no-store" => return Err("it is marked no-store"),
            "private" => return Err("it is marked private"),
            "no-cache" => return Err("it is marked no-cache"),
            "max-age" => max_age = value.as_deref().and_then(delta_seconds),
            "s-maxage" => s_maxage = value.as_deref().and_then(delta_seconds),
            _ => {}
        }
    }
    if let Some(seconds) = s_maxage.or(max_age) {
        ttl = ttl.min(Duration::from_secs(seconds));
    }
    if ttl.is_zero() {
        return Err("its lifetime is zero");
    }
    if vary(headers).is_none() {
        return Err("it varies on `*` or an invalid header name");
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .unwrap_or_else(|| response.body().size_hint().lower());
    if declared > config.max_body_size as u64 {
        return Err("its body is larger than the limit");
    }
    Ok(ttl)
}

/// A `delta-seconds` argument. One too large for a `u64` is the largest, not an invalid
/// one, as RFC 9111 (1.2.2) asks: an `s-maxage` beyond it still overrides `max-age`.
fn delta_seconds(value: &str) -> Option<u64> {
    match value.parse::<u64>() {
        Ok(seconds) => Some(seconds),
        Err(error) if *error.kind() == IntErrorKind::PosOverflow => Some(u64::MAX),
        Err(_) => None,
    }
}

/// The request headers a response varies on (its `Vary` header), lowercased, sorted and
/// without duplicates; `None` for `Vary: *` or a name that is not a header name.
pub(crate) fn vary(headers: &HeaderMap) -> Option<Vec<HeaderName>> {
    let mut names = Vec::new();
    for value in headers.get_all(header::VARY) {
        let value = value.to_str().ok()?;
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "*" {
                return None;
            }
            names.push(HeaderName::from_bytes(name.as_bytes()).ok()?);
        }
    }
    names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    names.dedup();
    Some(names)
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

/// The directives of every `name` header: lowercased names and unquoted values.
fn directives<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> impl Iterator<Item = (String, Option<String>)> + 'h {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(split_directives)
}

/// Splits `no-cache, max-age=60, private="set-cookie, x"` into its directives, honouring
/// quoted strings.
fn split_directives(value: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ',' || c.is_whitespace()).is_some() {}
        let mut name = String::new();
        while let Some(c) = chars.next_if(|c| *c != ',' && *c != '=') {
            name.push(c);
        }
        if name.is_empty() && chars.peek().is_none() {
            return out;
        }
        let mut argument = None;
        if chars.next_if_eq(&'=').is_some() {
            let mut text = String::new();
            if chars.next_if_eq(&'"').is_some() {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => text.extend(chars.next()),
                        c => text.push(c),
                    }
                }
                while chars.next_if(|c| *c != ',').is_some() {}
            } else {
                while let Some(c) = chars.next_if(|c| *c != ',') {
                    text.push(c);
                }
            }
            argument = Some(text.trim().to_owned());
        }
        let name = name.trim().to_ascii_lowercase();
        if !name.is_empty() {
            out.push((name, argument));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CacheConfig;
    use crate::http::CacheResponseLayer;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| (HeaderName::from_static(n), v.parse().unwrap()))
            .collect()
    }

    fn config() -> Config {
        let cache = crate::Cache::new(
            "p",
            &CacheConfig::memory().with_ttl(Duration::from_secs(300)),
        )
        .unwrap();
        (*CacheResponseLayer::new(cache).max_body_size(10).config()).clone()
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

    #[test]
    fn directives_split_on_commas_outside_quotes() {
        assert_eq!(
            split_directives(r#"No-Cache, max-age=60 ,private="set-cookie, x", ,public"#),
            vec![
                ("no-cache".to_owned(), None),
                ("max-age".to_owned(), Some("60".to_owned())),
                ("private".to_owned(), Some("set-cookie, x".to_owned())),
                ("public".to_owned(), None),
            ]
        );
        assert_eq!(split_directives(""), vec![]);
    }

    #[test]
    fn request_no_cache_no_store_and_pragma() {
        let read = |pairs| request_directives(&headers(pairs));
        assert_eq!(read(&[]), RequestDirectives::default());
        assert!(read(&[("cache-control", "no-cache")]).no_cache);
        assert!(read(&[("cache-control", "max-age=0")]).no_cache);
        assert!(!read(&[("cache-control", "max-age=10")]).no_cache);
        assert!(read(&[("cache-control", "no-store")]).no_store);
        assert!(read(&[("pragma", "no-cache")]).no_cache);
        assert!(!read(&[("pragma", "no-cache"), ("cache-control", "max-age=5")]).no_cache);
    }

    #[test]
    fn responses_are_stored_only_when_http_allows() {
        let config = config();
        let ttl = |status, pairs, body| lifetime(&config, &response(status, pairs, body));
        assert_eq!(ttl(200, &[], "ok"), Ok(Duration::from_secs(300)));
        assert!(ttl(404, &[], "").is_err());
        assert!(ttl(500, &[], "").is_err());
        assert!(ttl(200, &[("cache-control", "no-store")], "").is_err());
        assert!(ttl(200, &[("cache-control", "public, private")], "").is_err());
        assert!(ttl(200, &[("cache-control", "no-cache")], "").is_err());
        assert!(ttl(200, &[("set-cookie", "a=b")], "").is_err());
        assert!(ttl(200, &[("vary", "accept, *")], "").is_err());
        assert!(ttl(200, &[("cache-control", "max-age=0")], "").is_err());
        assert_eq!(
            ttl(200, &[("cache-control", "max-age=60")], ""),
            Ok(Duration::from_secs(60))
        );
        assert_eq!(
            ttl(200, &[("cache-control", "max-age=60, s-maxage=30")], ""),
            Ok(Duration::from_secs(30))
        );
        assert_eq!(
            ttl(200, &[("cache-control", "max-age=9999")], ""),
            Ok(Duration::from_secs(300))
        );
        assert_eq!(
            ttl(
                200,
                &[("cache-control", "max-age=99999999999999999999999")],
                ""
            ),
            Ok(Duration::from_secs(300)),
            "an age past u64::MAX is the largest age"
        );
        assert_eq!(
            ttl(
                200,
                &[(
                    "cache-control",
                    "max-age=60, s-maxage=99999999999999999999999"
                )],
                ""
            ),
            Ok(Duration::from_secs(300)),
            "a huge s-maxage still overrides max-age"
        );
        assert_eq!(
            ttl(200, &[("cache-control", "max-age=60, s-maxage=soon")], ""),
            Ok(Duration::from_secs(60)),
            "an invalid s-maxage is ignored"
        );
        assert!(ttl(200, &[], "more than ten bytes").is_err());
        assert!(ttl(200, &[("content-length", "11")], "").is_err());
    }

    #[test]
    fn vary_names_are_canonical() {
        assert_eq!(
            vary(&headers(&[(
                "vary",
                "Accept-Language, accept-encoding,Accept-Language"
            )])),
            Some(vec![
                HeaderName::from_static("accept-encoding"),
                HeaderName::from_static("accept-language"),
            ])
        );
        assert_eq!(vary(&headers(&[])), Some(vec![]));
        assert_eq!(vary(&headers(&[("vary", "*")])), None);
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
