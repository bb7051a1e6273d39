//! The settings of a [`CacheResponseLayer`](super::CacheResponseLayer), shared by every
//! service it builds and read by the modules that key, judge and store responses.

use std::sync::Arc;
use std::time::Duration;

use ::http::request::Parts;
use ::http::{HeaderName, StatusCode};

use super::template::KeyTemplate;
use crate::Cache;

/// A function of the request: a key, or a user's identity.
pub(crate) type RequestFn = Arc<dyn Fn(&Parts) -> Option<String> + Send + Sync>;

/// How the layer decides how long a response stays fresh, chosen with
/// [`CacheResponseLayer::mode`](super::CacheResponseLayer::mode).
///
/// In both modes `Expires` in the past or invalid and an unparsable `max-age` mean stale,
/// `Age` and `Date` count against the response's freshness, `Pragma: no-cache` (without
/// `Cache-Control`) means `no-cache`, and stale entries with a validator are revalidated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// The application's cache for its own routes: an entry is fresh for the route's
    /// [`ttl`](super::CacheResponseLayer::ttl), which the response's own freshness
    /// (`s-maxage`, `max-age`, `Expires`, less its `Age`) can only shorten; only the
    /// configured [`statuses`](super::CacheResponseLayer::statuses) are stored.
    #[default]
    Application,
    /// A shared cache in front of an origin, as RFC 9111 describes: freshness comes from
    /// the response alone (`s-maxage`, `max-age`, `Expires` against `Date`, less its `Age`,
    /// or a heuristic from `Last-Modified` for heuristically cacheable statuses), and a
    /// response without any is stored only to be revalidated (when it has a validator).
    SharedCache,
}

/// The settings shared by every service a layer builds.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) cache: Cache,
    pub(crate) mode: Mode,
    pub(crate) ttl: Option<Duration>,
    pub(crate) key: KeyRule,
    pub(crate) vary_headers: Vec<HeaderName>,
    pub(crate) vary_on: Option<RequestFn>,
    /// The request headers that say who the user is (see `credentials.rs`).
    pub(crate) private_headers: Vec<HeaderName>,
    pub(crate) statuses: Vec<StatusCode>,
    pub(crate) max_body_size: usize,
    pub(crate) etag: bool,
    /// The keys being refreshed in the background (`stale-while-revalidate`).
    pub(crate) refreshing: Arc<dashmap::DashSet<String>>,
}

impl Config {
    /// The route's lifetime for entries in [`Mode::Application`].
    pub(crate) fn route_ttl(&self) -> Duration {
        self.ttl.unwrap_or_else(|| self.cache.default_ttl())
    }
}

/// How the base of a key is made from the request.
#[derive(Clone)]
pub(crate) enum KeyRule {
    /// Host, method, path and sorted query.
    Default,
    Template(KeyTemplate),
    Func(RequestFn),
}
