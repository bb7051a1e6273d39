//! The keys of response entries: the base key (default or template), the configured
//! variants after `|` and a response's own `Vary` variants after `>`.
//!
//! The default base key is `GET:{host}:{path}` with `:{query}` (sorted) when there is one:
//! the host part (see `authority.rs`) covers every authority the request names (`Host`, the
//! target's authority, `Forwarded`, `X-Forwarded-Host`), which keeps the pages of two
//! virtual hosts apart and a request naming another authority away from the plain ones.
//!
//! Escaped values never contain `:`, `/`, `=`, `&`, `,`, `|` or `>`, so each of those in a
//! key is a separator this module wrote, and two different requests never share a key.
//!
//! Sits on `authority.rs`, `settings.rs` and [`crate::key`]; a key template (through the
//! key rule of `settings.rs`) renders itself with this module's helpers.

use ::http::header::{HeaderMap, HeaderName};
use ::http::request::Parts;

use super::authority;
use super::settings::{Config, KeyRule};
use crate::key::{escape_bytes_into, escape_into};

/// The prefix of every response key.
pub(crate) const PREFIX: &str = "http:";

/// Response keys longer than this many bytes are shortened to a readable prefix and a digest.
pub(crate) const MAX_KEY_LEN: usize = 250;

/// How many bytes of an over-long response key are kept in front of its digest.
const KEPT_PREFIX_LEN: usize = 180;

/// Shortens a response key longer than [`MAX_KEY_LEN`] to its first bytes, `~`, and the
/// blake3 digest of the whole key in hexadecimal. Escaped request values never contain `~`,
/// so no request's key is the shortened key of another.
pub(crate) fn shorten(key: String) -> String {
    if key.len() <= MAX_KEY_LEN {
        return key;
    }
    let mut cut = KEPT_PREFIX_LEN;
    while !key.is_char_boundary(cut) {
        cut -= 1;
    }
    let digest = blake3::hash(key.as_bytes());
    let mut short = String::with_capacity(cut + 1 + 64);
    short.push_str(&key[..cut]);
    short.push('~');
    short.push_str(digest.to_hex().as_str());
    short
}

/// The base of the key of `request`'s entry, as if its method were `GET`, with the prefix
/// and without any variant; `None` when the key rule does not apply to it. Every variant of
/// the entry has a key that starts with it followed by `|` or `>`.
pub(crate) fn base(config: &Config, request: &Parts) -> Option<String> {
    let mut key = String::from(PREFIX);
    match &config.key {
        KeyRule::Default => {
            key.push_str("GET:");
            push_host(&mut key, request);
            key.push(':');
            push_path(&mut key, request.uri.path());
            if let Some(query) = request.uri.query().filter(|q| !q.is_empty()) {
                key.push(':');
                push_query(&mut key, query);
            }
        }
        KeyRule::Template(template) => key.push_str(&template.render("GET", request)?),
        KeyRule::Func(func) => key.push_str(&func(request)?),
    }
    Some(key)
}

/// Appends the host part of the request's key: every authority it names, lowercased and
/// escaped (see `authority.rs`).
pub(crate) fn push_host(out: &mut String, request: &Parts) {
    authority::push(out, request);
}

/// The key of the entry for `request`, whose [`base`] key is `base`: the base and the
/// route's variants, not yet [shortened](shorten).
pub(crate) fn primary(config: &Config, request: &Parts, base: String) -> String {
    let mut key = base;
    for name in &config.vary_headers {
        key.push('|');
        push_header(&mut key, name, &request.headers);
    }
    if let Some(user) = &config.vary_on {
        match user(request) {
            Some(id) => {
                key.push_str("|user=");
                escape_into(&mut key, &id);
            }
            None => key.push_str("|anonymous"),
        }
    }
    key
}

/// The key of the variant of `primary` selected by the request headers `names` (a response's
/// own `Vary`).
pub(crate) fn secondary(primary: &str, names: &[HeaderName], headers: &HeaderMap) -> String {
    let mut key = String::from(primary);
    for name in names {
        key.push('>');
        push_header(&mut key, name, headers);
    }
    shorten(key)
}

/// `name=value` for a request header (the values of its lines joined by `,`, so that one line
/// `a,b` and two lines `a` and `b` stay apart), or `name` alone when the request does not
/// carry it.
fn push_header(out: &mut String, name: &HeaderName, headers: &HeaderMap) {
    escape_into(out, name.as_str());
    for (index, value) in headers.get_all(name).iter().enumerate() {
        out.push(if index == 0 { '=' } else { ',' });
        escape_bytes_into(out, value.as_bytes());
    }
}

/// Appends `path` with each segment escaped and the `/` between segments kept.
pub(crate) fn push_path(out: &mut String, path: &str) {
    for (index, segment) in path.split('/').enumerate() {
        if index > 0 {
            out.push('/');
        }
        escape_into(out, segment);
    }
}

/// Appends `query` with its parameters sorted by name (the values of a repeated name keep
/// their order) and each name and value escaped.
pub(crate) fn push_query(out: &mut String, query: &str) {
    let mut pairs: Vec<(&str, Option<&str>)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (pair, None),
        })
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    for (index, (name, value)) in pairs.into_iter().enumerate() {
        if index > 0 {
            out.push('&');
        }
        escape_into(out, name);
        if let Some(value) = value {
            out.push('=');
            escape_into(out, value);
        }
    }
}

/// Appends the value of the first query parameter called `name`, escaped; nothing when
/// there is none.
pub(crate) fn push_query_param(out: &mut String, query: &str, name: &str) {
    let value = query
        .split('&')
        .find_map(|pair| match pair.split_once('=') {
            Some((n, value)) if n == name => Some(value),
            None if pair == name => Some(""),
            _ => None,
        });
    if let Some(value) = value {
        escape_into(out, value);
    }
}

#[cfg(test)]
mod tests {
    use ::http::{HeaderValue, Request};

    use super::*;
    use crate::CacheConfig;
    use crate::http::CacheResponseLayer;

    fn config(layer: CacheResponseLayer) -> Config {
        (*layer.config()).clone()
    }

    fn layer() -> CacheResponseLayer {
        CacheResponseLayer::new(crate::Cache::new("k", &CacheConfig::memory()).unwrap())
    }

    fn parts(request: ::http::request::Builder) -> Parts {
        request.body(()).unwrap().into_parts().0
    }

    /// The primary key of `request`, when the key rule applies.
    fn primary_of(config: &Config, request: &Parts) -> Option<String> {
        base(config, request).map(|base| shorten(primary(config, request, base)))
    }

    #[test]
    fn the_default_key_covers_method_path_and_sorted_query() {
        let config = config(layer());
        let key = |uri: &str| primary_of(&config, &parts(Request::get(uri))).unwrap();
        assert_eq!(key("/posts/42"), "http:GET::/posts/42");
        assert_eq!(key("/posts/42?"), "http:GET::/posts/42");
        assert_eq!(
            key("/posts?page=2&lang=en&tag=b&tag=a"),
            "http:GET::/posts:lang=en&page=2&tag=b&tag=a"
        );
        assert_eq!(key("/posts?lang=en&page=2"), key("/posts?page=2&lang=en"));
        assert_ne!(key("/posts?a"), key("/posts?a="));
        assert_eq!(key("/a%3Ab/c%20d:e"), "http:GET::/a%253Ab/c%2520d%3Ae");
        assert_eq!(
            primary_of(&config, &parts(Request::head("/posts/42"))).unwrap(),
            key("/posts/42"),
            "HEAD reads the GET entry"
        );
    }

    #[test]
    fn the_default_key_covers_the_host() {
        let config = config(layer());
        let key = |request: ::http::request::Builder| primary_of(&config, &parts(request)).unwrap();
        let site_a = key(Request::get("/p").header("host", "Site-A.example"));
        assert_eq!(site_a, "http:GET:site-a.example:/p");
        assert_ne!(
            site_a,
            key(Request::get("/p").header("host", "site-b.example"))
        );
        assert_eq!(
            key(Request::get("http://site-a.example/p").version(::http::Version::HTTP_2)),
            site_a,
            "HTTP/2's :authority when there is no Host"
        );
        assert_eq!(
            key(Request::get("/p").header("host", "h:8080")),
            "http:GET:h%3A8080:/p"
        );
        assert_ne!(
            key(Request::get("/b").header("host", "a:")),
            key(Request::get("/p").header("host", "a:/p")),
            "a host cannot forge a path"
        );
    }

    #[test]
    fn request_values_cannot_forge_separators() {
        let config = config(layer().vary_headers(["X-Team"]).vary_on(|p: &Parts| {
            p.headers
                .get("x-user")
                .map(|v| v.to_str().unwrap().to_owned())
        }));
        let key = |uri: &str, team: Option<&str>, user: Option<&str>| {
            let mut request = Request::get(uri);
            if let Some(team) = team {
                request = request.header("x-team", team);
            }
            if let Some(user) = user {
                request = request.header("x-user", user);
            }
            primary_of(&config, &parts(request)).unwrap()
        };
        assert_eq!(
            key("/p", Some("red"), Some("ada")),
            "http:GET::/p|x-team=red|user=ada"
        );
        assert_eq!(key("/p", None, None), "http:GET::/p|x-team|anonymous");
        assert_ne!(key("/p", None, Some("anonymous")), key("/p", None, None));
        assert_ne!(
            key("/p", Some("red|user=ada"), None),
            key("/p", Some("red"), Some("ada"))
        );
        assert_ne!(key("/p:x", None, None), key("/p?x", None, None));
        assert!(!key("/*?x=[a]", Some("*"), Some("?")).contains(['*', '?', '[', ']']));
    }

    #[test]
    fn secondary_keys_extend_the_primary_after_gt() {
        let mut headers = HeaderMap::new();
        headers.append("accept-encoding", "gzip".parse().unwrap());
        headers.append("accept-encoding", "br".parse().unwrap());
        let names = [
            HeaderName::from_static("accept-encoding"),
            HeaderName::from_static("dnt"),
        ];
        assert_eq!(
            secondary("http:GET:/p", &names, &headers),
            "http:GET:/p>accept-encoding=gzip,br>dnt"
        );
        let mut latin1 = HeaderMap::new();
        latin1.insert("dnt", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        let mut unicode = HeaderMap::new();
        unicode.insert("dnt", HeaderValue::from_bytes("café".as_bytes()).unwrap());
        assert_eq!(secondary("k", &names[1..], &latin1), "k>dnt=caf%E9");
        assert_eq!(secondary("k", &names[1..], &unicode), "k>dnt=café");
    }

    #[test]
    fn key_functions_and_long_keys() {
        let custom = config(layer().key_fn(|p: &Parts| {
            (p.uri.path() != "/skip").then(|| format!("custom:{}", p.uri.path().len()))
        }));
        assert_eq!(
            primary_of(&custom, &parts(Request::get("/abc"))).as_deref(),
            Some("http:custom:4")
        );
        assert_eq!(primary_of(&custom, &parts(Request::get("/skip"))), None);

        let plain = config(layer());
        let long = format!("/{}", "x".repeat(400));
        let key = primary_of(&plain, &parts(Request::get(long.as_str()))).unwrap();
        assert!(key.len() <= MAX_KEY_LEN && key.starts_with("http:GET::/xxx"));
    }
}
