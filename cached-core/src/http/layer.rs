//! [`CacheResponseLayer`]: the layer and its settings.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ::http::header::{AUTHORIZATION, COOKIE};
use ::http::request::Parts;
use ::http::{HeaderName, StatusCode};
use tower_layer::Layer;

use super::service::CacheResponse;
use super::settings::{Config, KeyRule, Mode};
use super::template::KeyTemplate;
use super::{DEFAULT_MAX_BODY_SIZE, policy};
use crate::Cache;

/// A tower [`Layer`] that caches the responses of the service it wraps in a [`Cache`].
///
/// See [the module documentation](super) for what is cached and how keys are formed.
///
/// # Example
///
/// ```
/// use std::time::Duration;
///
/// use axum::{Extension, Router, http::request::Parts, routing::get};
/// use cached_core::http::CacheResponseLayer;
///
/// /// Set by the authentication middleware.
/// #[derive(Clone)]
/// struct CurrentUser(String);
///
/// async fn feed(user: Option<Extension<CurrentUser>>) -> String {
///     format!("feed of {}", user.map_or("anonymous".into(), |u| u.0.0.clone()))
/// }
///
/// let app: Router = Router::new().route(
///     "/feed",
///     get(feed).route_layer(
///         CacheResponseLayer::new(cached_core::cache())
///             .ttl(Duration::from_secs(60))
///             .vary_headers(["Accept-Language"])
///             .vary_on(|request: &Parts| {
///                 request.extensions.get::<CurrentUser>().map(|user| user.0.clone())
///             }),
///     ),
/// );
/// # drop(app);
/// ```
#[derive(Clone)]
pub struct CacheResponseLayer {
    config: Arc<Config>,
}

impl CacheResponseLayer {
    /// A layer storing responses in `cache` with the defaults: [`Mode::Application`] with the
    /// cache's default TTL, keys of host, method, path and sorted query, no variants,
    /// requests with `Authorization` or `Cookie` kept private, only `200 OK` stored, bodies
    /// up to [`DEFAULT_MAX_BODY_SIZE`], no generated `ETag`.
    pub fn new(cache: Cache) -> Self {
        Self {
            config: Arc::new(Config {
                cache,
                mode: Mode::Application,
                ttl: None,
                key: KeyRule::Default,
                vary_headers: Vec::new(),
                vary_on: None,
                private_headers: vec![AUTHORIZATION, COOKIE],
                statuses: policy::DEFAULT_STATUSES.to_vec(),
                max_body_size: DEFAULT_MAX_BODY_SIZE,
                etag: false,
                refreshing: Arc::default(),
            }),
        }
    }

    /// How responses' freshness is decided: the route's [`ttl`](Self::ttl) shortened by the
    /// response ([`Mode::Application`], the default), or the response alone, as a shared
    /// cache in front of an origin ([`Mode::SharedCache`]).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.config_mut().mode = mode;
        self
    }

    /// Gives stored `200 OK` responses without a validator a strong `ETag` (the blake3 digest
    /// of the body), so that clients can revalidate them with `If-None-Match` and get `304`.
    pub fn generate_etag(mut self, enabled: bool) -> Self {
        self.config_mut().etag = enabled;
        self
    }

    /// How long responses stay fresh in [`Mode::Application`] (at most: a response's own
    /// freshness can shorten it); the cache's default TTL when unset. Unused in
    /// [`Mode::SharedCache`].
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.config_mut().ttl = Some(ttl);
        self
    }

    /// Keys responses with `template`, rendered from requests routed by `route`: for
    /// instance `key("/posts/{id}", "post:{id}")` stores `/posts/42` under `http:post:42`.
    /// See [`KeyTemplate`] for the placeholders.
    ///
    /// # Panics
    ///
    /// When the route or the template is invalid, with the reason; use
    /// [`KeyTemplate::parse`] and [`key_template`](Self::key_template) to handle the error.
    pub fn key(self, route: &str, template: &str) -> Self {
        match KeyTemplate::parse(route, template) {
            Ok(template) => self.key_template(template),
            Err(error) => panic!("{error}"),
        }
    }

    /// Keys responses with a parsed [`KeyTemplate`].
    pub fn key_template(mut self, template: KeyTemplate) -> Self {
        self.config_mut().key = KeyRule::Template(template);
        self
    }

    /// Keys responses with `key`, a function of the request's parts; a request for which it
    /// returns `None` is not cached. Escape values taken from the request with
    /// [`crate::key::escape`], so that no request can produce another's key.
    pub fn key_fn<F>(mut self, key: F) -> Self
    where
        F: Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    {
        self.config_mut().key = KeyRule::Func(Arc::new(key));
        self
    }

    /// Keeps a separate entry per value of each of these request headers (for instance
    /// `Accept-Language`), added to any varied on before.
    ///
    /// # Panics
    ///
    /// When a name is not a valid header name.
    pub fn vary_headers<I>(mut self, names: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let config = self.config_mut();
        for name in names {
            let name = header_name(name.as_ref());
            if !config.vary_headers.contains(&name) {
                config.vary_headers.push(name);
            }
        }
        self
    }

    /// Keeps a separate entry per user: `user` returns the identity of the request's user
    /// (typically from an extension set by authentication middleware), or `None` for the
    /// shared "anonymous" entry. The route then keys on the user, so requests carrying
    /// [`private_headers`](Self::private_headers) are cached like any other.
    pub fn vary_on<F>(mut self, user: F) -> Self
    where
        F: Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    {
        self.config_mut().vary_on = Some(Arc::new(user));
        self
    }

    /// The request headers that say who the user is (default: `Authorization` and
    /// `Cookie`), replacing the list. A request carrying one of them is private: it is
    /// neither answered from nor stored in the cache unless the response says it may be
    /// shared (`Cache-Control: public` or `s-maxage`, or for `Authorization`
    /// `must-revalidate`, as RFC 9111 section 3.5 allows) or varies on that header (`Vary:
    /// Cookie`), or the route keys on the user ([`vary_on`](Self::vary_on), or the header
    /// in [`vary_headers`](Self::vary_headers)).
    ///
    /// An empty list opts out: requests are cached whatever they carry, which is right only
    /// when no response of the route depends on who asks.
    ///
    /// # Panics
    ///
    /// When a name is not a valid header name.
    pub fn private_headers<I>(mut self, names: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.config_mut().private_headers = names
            .into_iter()
            .map(|name| header_name(name.as_ref()))
            .collect();
        self
    }

    /// The response statuses that are stored in [`Mode::Application`] (default: `200 OK`
    /// only). [`Mode::SharedCache`] stores any final status but `206` and `304` that
    /// RFC 9111 allows.
    pub fn statuses<I>(mut self, statuses: I) -> Self
    where
        I: IntoIterator<Item = StatusCode>,
    {
        self.config_mut().statuses = statuses.into_iter().collect();
        self
    }

    /// The largest body stored, in bytes (default [`DEFAULT_MAX_BODY_SIZE`]). A larger body is
    /// streamed through and not stored.
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.config_mut().max_body_size = bytes;
        self
    }

    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    #[cfg(test)]
    pub(crate) fn config(&self) -> Arc<Config> {
        Arc::clone(&self.config)
    }
}

impl fmt::Debug for CacheResponseLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.config;
        let key = match &config.key {
            KeyRule::Default => "host, method, path and sorted query",
            KeyRule::Template(template) => template.as_str(),
            KeyRule::Func(_) => "a function of the request",
        };
        f.debug_struct("CacheResponseLayer")
            .field("cache", &config.cache.name())
            .field("mode", &config.mode)
            .field("ttl", &config.ttl)
            .field("key", &key)
            .field("vary_headers", &config.vary_headers)
            .field("vary_on_user", &config.vary_on.is_some())
            .field("private_headers", &config.private_headers)
            .field("statuses", &config.statuses)
            .field("max_body_size", &config.max_body_size)
            .field("generate_etag", &config.etag)
            .finish()
    }
}

/// `name` as a header name.
///
/// # Panics
///
/// When it is not one.
fn header_name(name: &str) -> HeaderName {
    HeaderName::from_bytes(name.as_bytes())
        .unwrap_or_else(|_| panic!("`{name}` is not a valid header name"))
}

impl<S> Layer<S> for CacheResponseLayer {
    type Service = CacheResponse<S>;

    fn layer(&self, inner: S) -> CacheResponse<S> {
        CacheResponse::new(inner, Arc::clone(&self.config))
    }
}
