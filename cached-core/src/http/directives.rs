//! The `Cache-Control` directives of requests and responses (and `Pragma: no-cache`), and
//! the request headers a response's `Vary` names.
//!
//! Parsed here rather than with the `headers` crate's typed `CacheControl`, which was
//! measured against what RFC 9111 asks (see the tests): it rejects the whole header when one
//! directive has an invalid argument (so `no-store, max-age=-1` would lose its `no-store`),
//! matches directive names case-sensitively, splits quoted arguments at their commas, and
//! has no `stale-while-revalidate` or `stale-if-error`.

use std::num::IntErrorKind;

use ::http::StatusCode;
use ::http::header::{self, HeaderMap, HeaderName};

/// A `delta-seconds` argument as found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delta {
    /// Seconds; one too large for a `u64` is the largest, as RFC 9111 (1.2.2) asks.
    Seconds(u64),
    /// Missing or not a number: the response is to be considered stale (RFC 9111, 4.2.1).
    Invalid,
}

impl Delta {
    pub(crate) fn parse(value: Option<&str>) -> Self {
        let Some(value) = value else {
            return Delta::Invalid;
        };
        if !value.bytes().all(|b| b.is_ascii_digit()) {
            return Delta::Invalid;
        }
        match value.parse::<u64>() {
            Ok(seconds) => Delta::Seconds(seconds),
            Err(error) if *error.kind() == IntErrorKind::PosOverflow => Delta::Seconds(u64::MAX),
            Err(_) => Delta::Invalid,
        }
    }

    /// The seconds, an invalid argument counting as zero.
    pub(crate) fn seconds(self) -> u64 {
        match self {
            Delta::Seconds(seconds) => seconds,
            Delta::Invalid => 0,
        }
    }
}

/// What a request's headers ask of the cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RequestDirectives {
    /// Skip the lookup: `Cache-Control: no-cache` or `max-age=0`, or `Pragma: no-cache`.
    pub(crate) no_cache: bool,
    /// Do not store the response: `Cache-Control: no-store`.
    pub(crate) no_store: bool,
    /// Accept a stored response only up to this age (`max-age`).
    pub(crate) max_age: Option<u64>,
}

pub(crate) fn request(headers: &HeaderMap) -> RequestDirectives {
    let mut found = RequestDirectives::default();
    let mut has_cache_control = false;
    for (name, value) in directives(headers, &header::CACHE_CONTROL) {
        has_cache_control = true;
        match name.as_str() {
            "no-cache" => found.no_cache = true,
            "no-store" => found.no_store = true,
            "max-age" => match Delta::parse(value.as_deref()) {
                Delta::Seconds(0) => found.no_cache = true,
                Delta::Seconds(seconds) => found.max_age = Some(seconds),
                Delta::Invalid => {}
            },
            _ => {}
        }
    }
    if !has_cache_control {
        found.no_cache = pragma_no_cache(headers);
    }
    found
}

/// What a response's headers say about storing and reusing it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ResponseDirectives {
    pub(crate) no_store: bool,
    /// `no-cache` (without field names), or `Pragma: no-cache` without `Cache-Control`:
    /// stored only to be revalidated.
    pub(crate) no_cache: bool,
    pub(crate) private: bool,
    pub(crate) public: bool,
    /// `must-revalidate`: never served stale; and a response to a request with
    /// `Authorization` may be shared (RFC 9111, 3.5).
    pub(crate) must_revalidate: bool,
    /// `proxy-revalidate`: never served stale by a shared cache.
    pub(crate) proxy_revalidate: bool,
    /// `must-understand`: store it only if its status is understood, and then regardless of
    /// `no-store`.
    pub(crate) must_understand: bool,
    pub(crate) max_age: Option<Delta>,
    pub(crate) s_maxage: Option<Delta>,
    pub(crate) stale_while_revalidate: Option<u64>,
    pub(crate) stale_if_error: Option<u64>,
}

pub(crate) fn response(headers: &HeaderMap) -> ResponseDirectives {
    let mut found = ResponseDirectives::default();
    let mut has_cache_control = false;
    for (name, value) in directives(headers, &header::CACHE_CONTROL) {
        has_cache_control = true;
        let delta = || Delta::parse(value.as_deref());
        match name.as_str() {
            "no-store" => found.no_store = true,
            // `no-cache="Set-Cookie"` only forbids reusing those fields without
            // revalidation; treating it as plain `no-cache` is the safe reading.
            "no-cache" => found.no_cache = true,
            "private" => found.private = true,
            "public" => found.public = true,
            "must-revalidate" => found.must_revalidate = true,
            "proxy-revalidate" => found.proxy_revalidate = true,
            "must-understand" => found.must_understand = true,
            "max-age" => found.max_age = Some(found.max_age.map_or(delta(), |d| d.min(delta()))),
            "s-maxage" => {
                found.s_maxage = Some(found.s_maxage.map_or(delta(), |d| d.min(delta())));
            }
            "stale-while-revalidate" => found.stale_while_revalidate = Some(delta().seconds()),
            "stale-if-error" => found.stale_if_error = Some(delta().seconds()),
            _ => {}
        }
    }
    if !has_cache_control && pragma_no_cache(headers) {
        found.no_cache = true;
    }
    found
}

impl ResponseDirectives {
    /// Whether a response with these directives and `status` may not be stored: `no-store`,
    /// unless `must-understand` comes with a status this cache understands (one the `http`
    /// crate knows the reason phrase of; RFC 9111, 5.2.2.3).
    pub(crate) fn forbid_storing(&self, status: StatusCode) -> bool {
        self.no_store && !(self.must_understand && status.canonical_reason().is_some())
    }

    /// Whether the response is never to be served stale: `must-revalidate` or
    /// `proxy-revalidate`.
    pub(crate) fn never_stale(&self) -> bool {
        self.must_revalidate || self.proxy_revalidate
    }
}

impl PartialOrd for Delta {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Invalid is the least: of two conflicting arguments, the one meaning "stale sooner" wins.
impl Ord for Delta {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.seconds_or_none().cmp(&other.seconds_or_none())
    }
}

impl Delta {
    fn seconds_or_none(self) -> Option<u64> {
        match self {
            Delta::Seconds(seconds) => Some(seconds),
            Delta::Invalid => None,
        }
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

fn pragma_no_cache(headers: &HeaderMap) -> bool {
    directives(headers, &header::PRAGMA).any(|(name, _)| name == "no-cache")
}

/// The directives of every `name` header: lowercased names and unquoted values.
pub(crate) fn directives<'h>(
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
    use ::headers::HeaderMapExt;

    use super::*;
    use crate::http::header_map as headers;

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
    fn request_no_cache_no_store_max_age_and_pragma() {
        let read = |pairs| request(&headers(pairs));
        assert_eq!(read(&[]), RequestDirectives::default());
        assert!(read(&[("cache-control", "no-cache")]).no_cache);
        assert!(read(&[("cache-control", "max-age=0")]).no_cache);
        assert_eq!(read(&[("cache-control", "max-age=10")]).max_age, Some(10));
        assert!(!read(&[("cache-control", "max-age=10")]).no_cache);
        assert!(read(&[("cache-control", "no-store")]).no_store);
        assert!(read(&[("pragma", "no-cache")]).no_cache);
        assert!(!read(&[("pragma", "no-cache"), ("cache-control", "max-age=5")]).no_cache);
    }

    #[test]
    fn response_directives_keep_invalid_arguments_as_stale() {
        let read = |value| response(&headers(&[("cache-control", value)]));
        assert_eq!(read("max-age=-3600").max_age, Some(Delta::Invalid));
        assert_eq!(read("max-age='3600'").max_age, Some(Delta::Invalid));
        assert_eq!(read("max-age=3600a").max_age, Some(Delta::Invalid));
        assert_eq!(read("max-age").max_age, Some(Delta::Invalid));
        assert_eq!(read("max-age=\"3600\"").max_age, Some(Delta::Seconds(3600)));
        assert_eq!(read("max-age=003600").max_age, Some(Delta::Seconds(3600)));
        assert_eq!(
            read("max-age=99999999999999999999").max_age,
            Some(Delta::Seconds(u64::MAX))
        );
        assert_eq!(
            read(r#"extension="max-age=3600", max-age=1"#).max_age,
            Some(Delta::Seconds(1))
        );
        assert_eq!(
            read("max-age=1800, max-age=1").max_age,
            Some(Delta::Seconds(1))
        );
        assert_eq!(
            read("max-age=1800, max-age=x").max_age,
            Some(Delta::Invalid)
        );
        let all = read("Stale-While-Revalidate=30, stale-if-error=60, Must-Revalidate, public");
        assert_eq!(all.stale_while_revalidate, Some(30));
        assert_eq!(all.stale_if_error, Some(60));
        assert!(all.must_revalidate && all.public && !all.proxy_revalidate);
        assert!(read("proxy-revalidate").never_stale());
        let understood = read("no-store, must-understand");
        assert!(!understood.forbid_storing(StatusCode::OK));
        assert!(understood.forbid_storing(StatusCode::from_u16(599).unwrap()));
        assert!(read("no-store").forbid_storing(StatusCode::OK));
        assert!(response(&headers(&[("pragma", "no-cache")])).no_cache);
        assert!(
            !response(&headers(&[
                ("pragma", "no-cache"),
                ("cache-control", "max-age=5")
            ]))
            .no_cache
        );
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

    /// Why this module parses `Cache-Control` itself: the `headers` crate's typed
    /// `CacheControl` drops a `no-store` next to one invalid argument, and reads neither
    /// upper-case directive names nor `stale-while-revalidate`.
    #[test]
    fn the_typed_cache_control_of_the_headers_crate_loses_directives() {
        let map = headers(&[("cache-control", "no-store, max-age=-1")]);
        assert!(map.typed_get::<::headers::CacheControl>().is_none());
        assert!(response(&map).no_store);

        let map = headers(&[("cache-control", "No-Store")]);
        assert!(
            !map.typed_get::<::headers::CacheControl>()
                .unwrap()
                .no_store()
        );
        assert!(response(&map).no_store);
    }
}
