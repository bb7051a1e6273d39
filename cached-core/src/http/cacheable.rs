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
    /// The base key of its entry: what its URL's tag is named after.
    pub(crate) base: String,
    /// The key of its entry, variants of the route included.
    pub(crate) primary: String,
    /// The private headers it carries that the key does not cover.
    pub(crate) credentials: Credentials,
}

impl Cacheable {
    /// `request` as the layer caches it; `None` when the key rule does not apply to it.
    pub(crate) fn of(config: &Config, request: &Parts) -> Option<Self> {
        let base = key::base(config, request)?;
        let primary = key::primary(config, request, &base);
        Some(Self {
            base,
            primary,
            credentials: Credentials::of(config, &request.headers),
        })
    }
}
