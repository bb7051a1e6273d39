//! Caching for async Rust: one attribute makes an async function cached, one makes a
//! mutating function invalidate what it changed, and a complete cache API runs over an
//! in-process store, Redis, or a backend of your own.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> cached_core::Result<()> {
//! use std::time::Duration;
//!
//! let cache = cached_core::cache(); // "default": in memory unless configured otherwise
//! cache.set("user:abc123", "Ada", Some(Duration::from_secs(600))).await?;
//! let name: String = cache.get_or("user:abc123", String::new()).await?;
//! assert_eq!(name, "Ada");
//!
//! let report = cache
//!     .get_or_set("report", || async { vec![1, 2, 3] }, None)
//!     .await;
//! assert_eq!(report, vec![1, 2, 3]);
//! assert!(cache.stats().hits >= 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Function caching
//!
//! [`#[cached]`](cached) caches an async function's result under a key built from its
//! arguments (`get_user_posts:user_id=abc123`), and [`#[invalidates]`](invalidates) deletes
//! keys after a mutating function succeeds:
//!
//! ```
//! use cached_core::{cached, invalidates};
//!
//! #[cached(ttl = 300)]
//! async fn get_user_posts(user_id: &str) -> Vec<String> {
//!     vec![format!("first post of {user_id}")]
//! }
//!
//! #[invalidates("get_user_posts:user_id={user_id}")]
//! async fn add_post(user_id: &str, title: &str) {
//!     let _ = (user_id, title);
//! }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! get_user_posts("abc123").await; // runs the body
//! get_user_posts("abc123").await; // a hit
//! add_post("abc123", "second post").await; // deletes the entry
//! # assert!(!cached_core::cache().exists("get_user_posts:user_id=abc123").await.unwrap());
//! # }
//! ```
//!
//! # More
//!
//! - Freshness without stampedes: `stale`, `stale_if_error` and `early_refresh` on
//!   `#[cached]`, [`Freshness`] on [`Cache::get_or_set_fresh`]; tags with
//!   `#[cached(tags = [...])]`, [`Cache::tag`] and [`Cache::delete_tags`].
//! - A query cached where it is written: [`QueryExt::cached`], with [`cache_key!`] for keys.
//! - Objects cached under a key written once, write-through on save and change handlers:
//!   [`CachedEntity`] and the [`entity`] module.
//!
//! # Debug logging
//!
//! Every hit, miss and write is a `tracing` event at `debug` under the target `cached_core`
//! (`Cache HIT: key`, `Cache MISS: key`, `Cache SET: key (ttl=300)`); failures the cache
//! survived are at `warn`. With `tracing-subscriber`, `RUST_LOG=cached_core=debug` shows them.
//!
//! # Features
//!
//! - `http`: [`http::CacheResponseLayer`], response caching as a tower layer for axum.

#![cfg_attr(docsrs, feature(doc_cfg))]

/// The `tracing` target of every event the cache emits: filter with `cached_core=debug` to
/// see each hit, miss and write.
pub const LOG_TARGET: &str = "cached_core";

mod backend;
mod build;
mod cache;
pub mod codec;
mod config;
pub mod entity;
mod error;
mod flight;
mod freshness;
mod glob;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
pub mod key;
mod lock;
mod outcome;
mod query;
mod registry;
mod stats;
mod store;
mod token;
mod ttl;
mod value;

/// The bounded in-process store behind memory caches, usable on its own: typed values,
/// per-entry TTL, S3-FIFO eviction, and expired entries reclaimed in the background.
pub mod memory {
    pub use crate::backend::memory::{
        Action, Current, DEFAULT_MAX_SIZE, DefaultHashBuilder, Expiry, MemoryStore,
    };
}

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use async_trait::async_trait;
pub use backend::Backend;
pub use backend::memory::DEFAULT_MAX_SIZE;
pub use build::register_backend;
pub use cache::Cache;
#[doc(inline)]
pub use cached_macros::{CachedEntity, cache_key, cached, invalidates};
pub use config::{
    CacheConfig, CacheSettings, ConfigError, ConfigProblem, DEFAULT_TTL, InvalidField, KeySource,
    NearConfig,
};
pub use entity::CachedEntity;
pub use error::{BackendError, Error, Result};
pub use freshness::Freshness;
pub use lock::LockGuard;
pub use query::{Cached, IntoCacheKey, QueryExt};
pub use registry::{DEFAULT_CACHE, cache, configure, get_cache};
pub use stats::CacheStats;
pub use ttl::Ttl;

/// The README's examples, compiled and run as doc tests (they use every feature, as
/// `scripts/test` does).
#[cfg(all(doctest, feature = "http", feature = "redis"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
