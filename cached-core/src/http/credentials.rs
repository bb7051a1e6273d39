//! Requests that carry who the user is (`Authorization`, `Cookie`, or the headers the layer
//! is given): private unless the route keys on the user or the response says it may be
//! shared. The rule of Varnish's built-in configuration and of Rack::Cache, with RFC 9111's
//! exceptions (section 3.5): a response may be shared when it says `public` or `s-maxage`,
//! and, for `Authorization`, `must-revalidate`; and a response whose `Vary` names the header
//! is kept per value of it, hence per user.
//!
//! A private request is neither answered from nor stored in an entry that does not say so:
//! an entry another request stored is invisible to it (not even revalidated with its
//! credentials, which would serve it another user's body), and its own response is stored
//! only when it says it may be shared.
//!
//! Sits on `directives.rs` and `settings.rs`.

use ::http::HeaderName;
use ::http::header::{self, HeaderMap};

use super::directives;
use super::settings::Config;

/// The private headers a request carries that its key does not cover; empty for most
/// requests, and then every check passes at no cost.
#[derive(Clone, Debug, Default)]
pub(crate) struct Credentials {
    carried: Vec<HeaderName>,
}

impl Credentials {
    /// The credentials of a request with `headers`: the layer's private headers it carries,
    /// less those the route keys on (all of them with `vary_on`, a header named in
    /// `vary_headers`).
    pub(crate) fn of(config: &Config, headers: &HeaderMap) -> Self {
        if config.vary_on.is_some() {
            return Self::default();
        }
        let carried = config
            .private_headers
            .iter()
            .filter(|name| headers.contains_key(*name) && !config.vary_headers.contains(name))
            .cloned()
            .collect();
        Self { carried }
    }

    /// Whether a response with `headers` may answer this request from the cache, or be
    /// stored from it: every credential it carries is one the response says may be shared,
    /// or one the response varies on.
    pub(crate) fn allow(&self, headers: &HeaderMap) -> bool {
        if self.carried.is_empty() {
            return true;
        }
        let said = directives::response(headers);
        if said.public || said.s_maxage.is_some() {
            return true;
        }
        let varied = directives::vary(headers).unwrap_or_default();
        self.carried.iter().all(|name| {
            varied.contains(name) || (*name == header::AUTHORIZATION && said.must_revalidate)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::CacheConfig;
    use crate::http::CacheResponseLayer;
    use crate::http::header_map as headers;

    fn layer() -> CacheResponseLayer {
        let cache = crate::Cache::new("c", &CacheConfig::memory()).unwrap();
        CacheResponseLayer::new(cache).ttl(Duration::from_secs(60))
    }

    fn of(layer: CacheResponseLayer, pairs: &[(&'static str, &'static str)]) -> Credentials {
        Credentials::of(&layer.config(), &headers(pairs))
    }

    /// Whether a request with `pairs` is private: a response that says nothing of sharing
    /// may not answer it.
    fn private(layer: CacheResponseLayer, pairs: &[(&'static str, &'static str)]) -> bool {
        !of(layer, pairs).allow(&HeaderMap::new())
    }

    #[test]
    fn cookies_and_authorization_are_private_unless_the_route_keys_on_them() {
        assert!(!private(layer(), &[("accept", "text/html")]));
        assert!(private(layer(), &[("cookie", "session=ada")]));
        assert!(private(layer(), &[("authorization", "Bearer ada")]));
        let by_cookie = layer().vary_headers(["Cookie"]);
        assert!(!private(by_cookie.clone(), &[("cookie", "session=ada")]));
        assert!(
            private(by_cookie, &[("cookie", "a=1"), ("authorization", "x")]),
            "keying on the cookie does not cover Authorization"
        );
        let by_user = layer().vary_on(|_| None);
        assert!(!private(
            by_user,
            &[("cookie", "a=1"), ("authorization", "x")]
        ));
        let opted_out = layer().private_headers::<[&str; 0]>([]);
        assert!(!private(
            opted_out,
            &[("cookie", "a=1"), ("authorization", "x")]
        ));
        let own = layer().private_headers(["X-Api-Key"]);
        assert!(!private(own.clone(), &[("cookie", "a=1")]));
        assert!(private(own, &[("x-api-key", "k")]));
    }

    #[test]
    fn only_a_response_that_says_so_is_shared() {
        let cookie = of(layer(), &[("cookie", "session=ada")]);
        let authorization = of(layer(), &[("authorization", "Bearer ada")]);
        let allow = |credentials: &Credentials, pairs| credentials.allow(&headers(pairs));
        for credentials in [&cookie, &authorization] {
            assert!(!allow(credentials, &[("cache-control", "max-age=60")]));
            assert!(allow(
                credentials,
                &[("cache-control", "public, max-age=60")]
            ));
            assert!(allow(credentials, &[("cache-control", "s-maxage=60")]));
            assert!(!allow(credentials, &[("vary", "accept-language")]));
        }
        assert!(allow(&cookie, &[("vary", "Accept-Language, Cookie")]));
        assert!(!allow(&authorization, &[("vary", "cookie")]));
        let must_revalidate = [("cache-control", "max-age=60, must-revalidate")];
        assert!(allow(&authorization, &must_revalidate), "RFC 9111, 3.5");
        assert!(!allow(&cookie, &must_revalidate));
        let both = of(layer(), &[("cookie", "a=1"), ("authorization", "x")]);
        assert!(!allow(&both, &[("vary", "cookie")]), "each one is covered");
        assert!(allow(
            &both,
            &[("vary", "cookie"), ("cache-control", "must-revalidate")]
        ));
    }
}
