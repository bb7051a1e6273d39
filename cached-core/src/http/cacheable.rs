//! What the layer makes of a request it may answer from the cache: the base and primary keys
//! of its entry and the credentials that may keep it private.
//!
//! Sits on `credentials.rs`, `key.rs` and `settings.rs`.

use ::http::request::Parts;

use super::credentials::Credentials;
use super::key;
use super::settings::Config;

/// A request the key rule applies to.
pub(crate) struct Cacheable {
    /// The key of its entry, variants of the route included.
    pub(crate) primary: String,
    /// Where its base key is.
    base: Base,
    /// The private headers it carries that the key does not cover.
    pub(crate) credentials: Credentials,
}

/// The base key of a request's entry (what its URL's tag is named after), kept without a
/// copy of its own on the hit path: it starts the primary key unless that was shortened.
enum Base {
    Prefix(usize),
    Own(String),
}

impl Cacheable {
    /// `request` as the layer caches it; `None` when the key rule does not apply to it.
    pub(crate) fn of(config: &Config, request: &Parts) -> Option<Self> {
        let base = key::base(config, request)?;
        let base_len = base.len();
        let full = key::primary(config, request, base);
        let (primary, base) = if full.len() <= key::MAX_KEY_LEN {
            (full, Base::Prefix(base_len))
        } else {
            let base = Base::Own(full[..base_len].to_owned());
            (key::shorten(full), base)
        };
        Some(Self {
            primary,
            base,
            credentials: Credentials::of(config, &request.headers),
        })
    }

    /// The base key of its entry.
    pub(crate) fn base(&self) -> &str {
        match &self.base {
            Base::Prefix(len) => &self.primary[..*len],
            Base::Own(base) => base,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ::http::Request;

    use super::*;
    use crate::CacheConfig;
    use crate::http::CacheResponseLayer;

    #[test]
    fn the_base_key_survives_a_shortened_primary_key() {
        let cache = crate::Cache::new("c", &CacheConfig::memory()).unwrap();
        let layer = CacheResponseLayer::new(cache)
            .ttl(Duration::from_secs(60))
            .vary_headers(["X-Team"]);
        let config = layer.config();
        let of = |team: String| {
            let request = Request::get("/posts").header("x-team", team);
            Cacheable::of(&config, &request.body(()).unwrap().into_parts().0).unwrap()
        };
        let short = of("red".to_owned());
        assert_eq!(short.primary, "http:GET::/posts|x-team=red");
        assert_eq!(short.base(), "http:GET::/posts");
        let long = of("x".repeat(400));
        assert!(long.primary.len() <= key::MAX_KEY_LEN);
        assert_eq!(long.base(), "http:GET::/posts");
    }
}
