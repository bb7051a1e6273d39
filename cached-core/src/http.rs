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
//! # What is cached
//!
//! - Only `GET` requests are stored. A `HEAD` request is answered from the entry of the same
//!   `GET` when there is one, and otherwise passes through without storing anything; other
//!   methods always pass through untouched.
//! - Only responses whose status is in [`statuses`](CacheResponseLayer::statuses) (default:
//!   `200 OK`) are stored, and never one with `Cache-Control: no-store`, `private` or
//!   `no-cache`, with `Set-Cookie`, with `Vary: *`, or with a body larger than
//!   [`max_body_size`](CacheResponseLayer::max_body_size).
//! - A request with `Cache-Control: no-cache` (or `max-age=0`, or `Pragma: no-cache`) skips
//!   the lookup and refreshes the entry; one with `Cache-Control: no-store` is answered from
//!   the cache but never stored.
//! - A request with an `Authorization` header passes through unless the layer varies on the
//!   user ([`vary_on`](CacheResponseLayer::vary_on)), so that a personal response is never
//!   stored where another user could be served it.
//! - A response's own `Vary` header is honoured: its entry is kept per value of those request
//!   headers.
//! - Entries live for [`ttl`](CacheResponseLayer::ttl) (the cache's default TTL when unset),
//!   shortened by a response's `s-maxage` or `max-age`.
//!
//! Replayed responses carry the stored status, headers and body exactly, plus `Age` and
//! `X-Cache: HIT`; responses from the inner service carry `X-Cache: MISS`.
//!
//! # Keys
//!
//! Every key starts with `http:`. The default key covers the method, the path and the query
//! with its parameters sorted by name: `/posts/42?page=2&lang=en` is stored under
//! `http:GET:/posts/42:lang=en&page=2`. A [`KeyTemplate`] chooses another key, such as
//! `http:post:42`. Configured vary headers and the user identity follow after `|`
//! (`http:GET:/feed|accept-language=fr|user=ada`), and a response's own `Vary` headers after
//! `>`. Every value taken from the request is escaped with [`crate::key::escape`], so that no
//! request can produce the key of another. [`invalidate`] and [`invalidate_path`] remove an
//! entry together with all of its variants.
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
mod body;
mod conditional;
mod directives;
mod entry;
mod freshness;
mod invalidate;
mod key;
mod layer;
mod lookup;
mod policy;
mod revalidate;
mod service;
mod settings;
mod template;
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
