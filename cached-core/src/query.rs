//! Caching a query where it is written: `.cached(key, ttl)` on any future that returns a
//! `Result` (a sqlx `fetch_all`, a SeaORM `all`, an HTTP call), the Rust form of the seed's
//! `QuerySet.cache(ttl=300)`.
//!
//! ```
//! use std::time::Duration;
//! use cached_core::{QueryExt, cache_key};
//!
//! # #[derive(Clone, serde::Serialize, serde::Deserialize)] struct Post { title: String }
//! # #[derive(Debug)] struct DbError;
//! # async fn published_posts(_author: &str) -> Result<Vec<Post>, DbError> { Ok(vec![]) }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), DbError> {
//! let author = "ada";
//! let posts = published_posts(author)
//!     .cached(cache_key!("posts:author:{author}"), Duration::from_secs(300))
//!     .await?;
//! # assert!(posts.is_empty());
//! # assert!(cached_core::cache().exists("posts:author:ada").await.unwrap());
//! # Ok(())
//! # }
//! ```
//!
//! It is `#[cached]` without the function: the same lookup, single-flight, invalidation-wins
//! load path and fail-open rules. Only an `Ok` value (that the optional condition accepts)
//! is stored; an `Err` is returned to its caller, and each caller that waited on it runs its
//! own query. The future is not polled at all on a hit.

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::LOG_TARGET;
use crate::key::RenderError;
use crate::registry;

/// A cache key as `.cached(...)` takes it: text, or what [`cache_key!`](crate::cache_key)
/// renders (a key that failed to render makes the query run uncached, logged and counted).
pub trait IntoCacheKey {
    /// The key, or why it could not be rendered.
    fn into_cache_key(self) -> Result<String, RenderError>;
}

impl IntoCacheKey for &str {
    fn into_cache_key(self) -> Result<String, RenderError> {
        Ok(self.to_owned())
    }
}

impl IntoCacheKey for String {
    fn into_cache_key(self) -> Result<String, RenderError> {
        Ok(self)
    }
}

impl IntoCacheKey for &String {
    fn into_cache_key(self) -> Result<String, RenderError> {
        Ok(self.clone())
    }
}

impl IntoCacheKey for Result<String, RenderError> {
    fn into_cache_key(self) -> Result<String, RenderError> {
        self
    }
}

/// `.cached(key, ttl)` on every future returning a `Result`.
pub trait QueryExt: Future + Sized {
    /// Caches this future's `Ok` value at `key` for `ttl`, in the default cache unless
    /// [`in_cache`](Cached::in_cache) names another; `.await` the result.
    fn cached<'a, T, E>(self, key: impl IntoCacheKey, ttl: Duration) -> Cached<'a, Self, T>
    where
        Self: Future<Output = Result<T, E>> + 'a,
    {
        Cached {
            future: self,
            key: key.into_cache_key(),
            ttl,
            cache: None,
            condition: None,
            ok: PhantomData,
        }
    }
}

impl<F: Future> QueryExt for F {}

/// A query to run through the cache: built by [`QueryExt::cached`], run by `.await`.
#[must_use = "a cached query does nothing until it is awaited"]
pub struct Cached<'a, F, T> {
    future: F,
    key: Result<String, RenderError>,
    ttl: Duration,
    cache: Option<String>,
    condition: Option<Condition<'a, T>>,
    ok: PhantomData<fn() -> T>,
}

type Condition<'a, T> = Box<dyn FnOnce(&T) -> bool + Send + 'a>;

impl<'a, F, T> Cached<'a, F, T> {
    /// Uses the named cache (see [`configure`](crate::configure)) instead of the default one.
    /// A name that is not configured makes the query run uncached (logged at `warn`).
    pub fn in_cache(mut self, name: &str) -> Self {
        self.cache = Some(name.to_owned());
        self
    }

    /// Stores an `Ok` value only when `condition` accepts it (`#[cached]`'s `condition`).
    pub fn condition(mut self, condition: impl FnOnce(&T) -> bool + Send + 'a) -> Self {
        self.condition = Some(Box::new(condition));
        self
    }
}

impl<'a, F, T, E> IntoFuture for Cached<'a, F, T>
where
    F: Future<Output = Result<T, E>> + Send + 'a,
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    E: Send + 'a,
{
    type Output = Result<T, E>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

impl<'a, F, T, E> Cached<'a, F, T>
where
    F: Future<Output = Result<T, E>> + Send + 'a,
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    E: Send + 'a,
{
    async fn run(self) -> Result<T, E> {
        let name = self.cache.as_deref().unwrap_or(registry::DEFAULT_CACHE);
        let Some(cache) = registry::cache_for(name, "query") else {
            return self.future.await;
        };
        let key = match self.key {
            Ok(key) => key,
            Err(error) => {
                cache.count_error();
                tracing::warn!(target: LOG_TARGET, cache = %cache.name(), %error, "the query's key could not be rendered; it runs uncached");
                return self.future.await;
            }
        };
        if let Some(value) = cache.lookup::<T>(&key).await {
            return Ok(value);
        }
        let condition = self.condition;
        let keep = move |value: &T| condition.is_none_or(|condition| condition(value));
        let future = self.future;
        cache.load_ok(&key, Some(self.ttl), keep, || future).await
    }
}
