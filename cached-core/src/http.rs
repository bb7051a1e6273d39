//! HTTP response caching: [`CacheResponseLayer`], a tower layer that stores the responses
//! of `GET` routes in any [`Cache`](crate::Cache) (memory, Redis or custom) and replays
//! them, usable from axum per route (`route_layer`) or per router (`layer`).
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//!
//! use axum::{Router, routing::get};
//! use cached_core::http::CacheResponseLayer;
//!
//! async fn list_posts() -> &'static str {
//!     "[]"
//! }
//!
//! async fn show_post() -> &'static str {
//!     "{}"
//! }
//!
//! let pages = cached_core::cache();
//! let app: Router = Router::new()
//!     .route(
//!         "/posts",
//!         get(list_posts).route_layer(
//!             CacheResponseLayer::new(pages.clone())
//!                 .ttl(Duration::from_secs(60))
//!                 .vary_headers(["Accept-Language"]),
//!         ),
//!     )
//!     .route(
//!         "/posts/{id}",
//!         get(show_post).route_layer(
//!             CacheResponseLayer::new(pages).key("/posts/{id}", "post:{id}"),
//!         ),
//!     );
//! # drop(app);
//! ```
//!
//! # Private requests
//!
//! A request carrying `Authorization` or `Cookie` says who the user is, so its response may
//! be theirs alone: such a request is neither answered from nor stored in the cache, unless
//!
//! - the response says it may be shared: `Cache-Control: public` or `s-maxage`, or, for
//!   `Authorization`, `must-revalidate` (RFC 9111, section 3.5);
//! - the response varies on the header (`Vary: Cookie`): its entries are kept per cookie;
//! - the route keys on the user: [`vary_on`](CacheResponseLayer::vary_on), or the header in
//!   [`vary_headers`](CacheResponseLayer::vary_headers) (`vary_headers(["Cookie"])`);
//! - the application says otherwise:
//!   [`private_headers`](CacheResponseLayer::private_headers) replaces the list (an empty
//!   list shares every request, for routes whose responses never depend on who asks).
//!
//! An entry stored for another request is invisible to a private one: it is not served to
//! it, nor revalidated with its credentials. Sharing is opted into, never stumbled into.
//!
//! # Modes
//!
//! [`Mode::Application`] (the default) caches an application's own routes: an entry is fresh
//! for the route's [`ttl`](CacheResponseLayer::ttl), which the response's own freshness
//! (`s-maxage`, `max-age`, `Expires`, less its `Age`) can only shorten. [`Mode::SharedCache`]
//! is a cache in front of an origin, as RFC 9111 describes: freshness comes from the
//! response alone, or from a heuristic (a tenth of the time since `Last-Modified`, at most a
//! day) for heuristically cacheable statuses; a response with neither is stored only when it
//! has a validator, to be revalidated.
//!
//! # What is cached
//!
//! - Only `GET` requests are stored. A `HEAD` request is answered from the entry of the same
//!   `GET` when it is fresh; for a stale one it is sent on as a `HEAD`, and a `200` that
//!   describes the stored response (the same `ETag`, `Last-Modified` and `Content-Length`
//!   when it has them) updates the entry's headers and freshness (RFC 9111, section
//!   4.3.5); otherwise it passes through without storing anything.
//! - A successful (`2xx`, `3xx`) request of an unsafe method (`POST`, `PUT`, `PATCH`,
//!   `DELETE`, or any method but `GET`, `HEAD`, `OPTIONS` and `TRACE`) removes the entries
//!   (every variant) of its URL, and of its response's `Location` and `Content-Location`
//!   when they are on the same host. Other methods pass through untouched.
//! - In [`Mode::Application`] only responses whose status is in
//!   [`statuses`](CacheResponseLayer::statuses) (default: `200 OK`) are stored; in
//!   [`Mode::SharedCache`] any final status but `206` and `304`. Never one with
//!   `Cache-Control: no-store` (unless with `must-understand` and a status the `http` crate
//!   knows) or `private`, with `Set-Cookie`, with `Vary: *`, or with a body larger than
//!   [`max_body_size`](CacheResponseLayer::max_body_size).
//! - `Date` and `Expires` are read in any case and with a weekday that does not match the
//!   date, as RFC 9111 (section 4.2) asks of caches; a zone other than `GMT` is invalid.
//! - `Expires` in the past or invalid, an invalid `max-age` or `s-maxage`, and `no-cache`
//!   (or `Pragma: no-cache` without `Cache-Control`) mean stale on arrival: such a response
//!   is stored only when it has a validator (`ETag`, `Last-Modified`, or the generated `ETag`
//!   of [`generate_etag`](CacheResponseLayer::generate_etag)).
//! - An incoming `Age` (or a `Date` in the past) counts against freshness; the outgoing `Age`
//!   adds the time the entry spent here to it.
//! - A request with `Cache-Control: no-cache` (or `max-age=0`, or `Pragma: no-cache`) skips
//!   the lookup and refreshes the entry; one with `max-age=N` takes no entry older than `N`
//!   seconds; one with `Cache-Control: no-store` is answered from the cache but never stored.
//! - A request with `Authorization` or `Cookie` is private (see
//!   [above](#private-requests)).
//! - A response's own `Vary` header is honoured: its entry is kept per value of those request
//!   headers.
//!
//! # Conditional requests and stale entries
//!
//! A fresh entry answers `If-None-Match` (weak comparison) and, without it,
//! `If-Modified-Since` (compared with its `Last-Modified`, or else its `Date`, or else when
//! it was stored) with `304 Not Modified`, and a `Range` for one satisfiable byte range of
//! a stored `200` with `206 Partial Content` (unless an `If-Range` does not match it;
//! several ranges get the whole response). A stale entry with a validator is
//! revalidated: the inner service gets the entry's `If-None-Match` / `If-Modified-Since`
//! instead of the client's, and a `304` refreshes the entry, updating its stored headers.
//! Within `stale-while-revalidate` the stale entry is served at once while one background
//! request refreshes it; within `stale-if-error` a `5xx` or an error of the inner service is
//! answered with the stale entry. `must-revalidate`, `proxy-revalidate` and, in
//! [`Mode::SharedCache`], `s-maxage` forbid both. An entry is kept while it is fresh, while
//! it may be served stale, and five minutes more when it has a validator.
//!
//! Replayed responses carry the stored status, headers and body, the current `Age`, and
//! `X-Cache: HIT` (fresh), `REVALIDATED` (confirmed by a `304`) or `STALE`; responses from
//! the inner service carry `X-Cache: MISS`.
//!
//! # Keys
//!
//! Every key starts with `http:`. The default key covers the host, the path and the query
//! with its parameters sorted by name: `/posts/42?page=2&lang=en` on `example.com` is stored
//! under `http:GET:example.com:/posts/42:lang=en&page=2`. The host part covers every
//! authority the application may read its host from, lowercased:
//!
//! - the `Host` header, or in HTTP/2 the `:authority` that stands for it (an HTTP/1
//!   request in absolute form without `Host` keys apart from one with it);
//! - the target's authority when the request is in absolute form and names another host
//!   than `Host` (`GET http://evil.example/page` with `Host: example.com` is
//!   `example.com&target=evil.example`), since RFC 9112 (section 3.2.2) makes it win;
//! - `X-Forwarded-Host` and `Forwarded` (when it mentions `host`), which axum-extra's
//!   `Host` reads first (`example.com&x-forwarded-host=evil.example`).
//!
//! So a request naming another authority anywhere gets an entry of its own, which no plain
//! request for the site is served. Requests through one proxy share entries as long as the
//! proxy writes the same values for all of them (`X-Forwarded-Host: example.com`); a
//! `Forwarded` header that differs per client and names a host (`for=192.0.2.1;host=...`)
//! gives each client its own entries, so have such a proxy leave `host` out, or key with a
//! [`key_fn`](CacheResponseLayer::key_fn) that reads the host your application trusts.
//!
//! The default key does not cover the scheme, the fragment, or request headers other than
//! these (`X-Forwarded-Proto` included: add it with
//! [`vary_headers`](CacheResponseLayer::vary_headers) if your pages depend on it), and a
//! `HEAD` request reads the `GET` key. A [`KeyTemplate`] chooses another key, such as
//! `http:post:42`; it covers exactly what its placeholders name (`{host}` renders the host
//! part above), so a template without `{host}` gives every host the same entry. Configured
//! vary headers and the user identity follow after `|`
//! (`http:GET:example.com:/feed|accept-language=fr|user=ada`), and a response's own `Vary`
//! headers after `>`. Every value taken from the request is escaped with
//! [`crate::key::escape`], so that no request can produce the key of another.
//!
//! Every entry joins the tag of its URL (its base key) before the load that stores it, and
//! under a default key the tag of its path: [`invalidate`], [`invalidate_path`] and unsafe
//! requests remove an entry with all of its variants through
//! [`Cache::delete_tags`](crate::Cache::delete_tags), in proportion to the entries removed
//! and never by a scan of the keyspace, and an invalidation that comes while a response
//! loads keeps it from being stored.
//!
//! # Concurrent misses
//!
//! Concurrent misses of one key in this process call the inner service once; the other
//! requests are answered with its response when it is stored, and call the inner service
//! themselves when it is not.
//!
//! # Failures
//!
//! The cache never fails a request: a backend error on read is a miss and on write is
//! skipped, both logged at `warn` and counted in the cache's statistics.

mod admit;
mod answer;
mod authority;
mod body;
mod cacheable;
mod conditional;
mod credentials;
mod date;
mod directives;
mod entry;
mod freshness;
mod invalidate;
mod key;
mod layer;
mod lookup;
mod policy;
mod range;
mod revalidate;
mod service;
mod settings;
mod template;
mod url_tags;
mod wire;

use ::http::HeaderName;

pub use body::ResponseBody;
pub use invalidate::{invalidate, invalidate_path};
pub use layer::CacheResponseLayer;
pub use service::CacheResponse;
pub use settings::Mode;
pub use template::{KeyTemplate, KeyTemplateError};

/// The header that tells whether a response came from the cache (`HIT`) or from the inner
/// service (`MISS`).
pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// The largest body stored by default: 1 MiB. Larger bodies are streamed through untouched.
pub const DEFAULT_MAX_BODY_SIZE: usize = 1024 * 1024;

/// A header map of `(name, value)` pairs, for the tests of this module's parts.
#[cfg(test)]
fn header_map(pairs: &[(&'static str, &'static str)]) -> ::http::HeaderMap {
    pairs
        .iter()
        .map(|(n, v)| {
            (
                HeaderName::from_static(n),
                ::http::HeaderValue::from_static(v),
            )
        })
        .collect()
}
