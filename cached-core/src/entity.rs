//! Cached entities: the Rust form of the seed's `CacheMixin` (`User.objects.cached_get(...)`,
//! `user.save()` refreshing the object's entry). A type derives
//! [`CachedEntity`](derive@crate::CachedEntity) with its key written once, and gets:
//!
//! - `Type::cached_get(<key fields>, loader)`: cache-aside with single-flight (only a found
//!   object, `Ok(Some(_))`, is stored), its entry joined to the object's `tags = [...]`, so
//!   that [`Cache::delete_tags`] of one of them removes it (the first load after a tag is
//!   created or invalidated is returned unstored: see "Tags" below);
//! - [`saved`](CachedEntity::saved): the invalidations the type declares (`invalidates =
//!   [...]`, `tags = [...]`), then write-through of the saved object, joined to its tags;
//! - [`deleted`](CachedEntity::deleted): the same invalidations and the object's entry
//!   removed;
//! - [`on_saved`] and [`on_deleted`]: handlers the application registers for a type's
//!   changes (the seed's `@post_save`/`@post_delete` signals), run after the invalidations.
//!
//! ```
//! use cached_core::CachedEntity;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, CachedEntity)]
//! #[cache(key = "user:{id}", ttl = 600, invalidates = ["users:team:{team_id}"])]
//! struct User {
//!     id: u64,
//!     team_id: u64,
//!     name: String,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let ada = User { id: 1, team_id: 7, name: "Ada".into() };
//! let found = User::cached_get(&1, || async { Ok::<_, ()>(Some(ada.clone())) }).await;
//! assert_eq!(found, Ok(Some(ada.clone())));
//! assert_eq!(ada.cache_key().unwrap(), "user:1");
//! ada.saved().await; // `users:team:7` is deleted, then the entry written through
//! ada.deleted().await;
//! # assert!(!cached_core::cache().exists("user:1").await.unwrap());
//! # }
//! ```
//!
//! Failures follow the attributes' rules: a cache failure never fails the caller; it is
//! logged and counted (an invalidation that fails at `error`).
//!
//! # Tags
//!
//! An entity's tags are rendered from the object, so they are known only once it is
//! loaded: its entry joins them after the load, before it is stored. A tag invalidation
//! that runs during the load cannot reach the entry, which has not joined yet, but it
//! removes the tag; so a load finding a tag younger than itself does not store its value
//! (it is returned all the same), and invalidation still wins. The cost: the first load of
//! an object after one of its tags is created or invalidated is not stored, the next is.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;

use parking_lot::RwLock;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::LOG_TARGET;
use crate::cache::Cache;
use crate::key::RenderError;
use crate::registry;

/// What an entity's change invalidates besides its own entry: keys, glob patterns and tags,
/// rendered from the changed object.
#[derive(Debug, Default)]
pub struct Invalidations {
    /// Keys deleted.
    pub keys: Vec<Result<String, RenderError>>,
    /// Glob patterns whose matches are deleted.
    pub patterns: Vec<Result<String, RenderError>>,
    /// Tags whose entries are deleted.
    pub tags: Vec<Result<String, RenderError>>,
}

/// A type whose objects are cached under a key written once. Derive it with
/// [`#[derive(CachedEntity)]`](derive@crate::CachedEntity); the derive also gives the type
/// `cached_get` and `cache_key_for`, whose parameters are the key's fields.
pub trait CachedEntity: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The cache the objects live in (`cache = "..."`, default `"default"`).
    const CACHE: &'static str;
    /// How long an object stays cached (`ttl`); the cache's default when `None`.
    const TTL: Option<Duration>;

    /// This object's key.
    fn cache_key(&self) -> Result<String, RenderError>;

    /// What a change of this object invalidates besides its own entry.
    fn invalidations(&self) -> Invalidations;

    /// The cache the objects live in, if configured (reported at `warn` otherwise).
    fn entity_cache() -> Option<Cache> {
        registry::cache_for(Self::CACHE, "entity")
    }

    /// Write-through after this object was saved: the declared invalidations run, then its
    /// entry is set to it (joined to its tags), then the [`on_saved`] handlers run. Never
    /// fails (see the module documentation).
    fn saved(&self) -> impl Future<Output = ()> + Send {
        changed(self, Change::Saved)
    }

    /// After this object was deleted: the declared invalidations run and its entry is
    /// removed, then the [`on_deleted`] handlers run. Never fails (see the module
    /// documentation).
    fn deleted(&self) -> impl Future<Output = ()> + Send {
        changed(self, Change::Deleted)
    }
}

/// What a change of `object` does: its invalidations, then its own entry written through,
/// joined to the object's tags (saved), or removed (deleted, or a write-through that failed),
/// then the handlers. The invalidations come first so that the tags they remove do not
/// take the entry just written with them.
async fn changed<T: CachedEntity>(object: &T, change: Change) {
    let Some(cache) = T::entity_cache() else {
        return;
    };
    let invalidations = object.invalidations();
    let tags = rendered(&invalidations.tags);
    invalidate::<T>(&cache, invalidations).await;
    match object.cache_key() {
        Ok(key) => {
            let written =
                change == Change::Saved && write_through(&cache, &key, object, tags).await;
            if !written && let Err(error) = cache.delete(&key).await {
                tracing::error!(target: LOG_TARGET, cache = %cache.name(), %key, %error, "cache invalidation failed; the key may hold a stale value");
            }
        }
        Err(error) => unrendered(&cache, &error),
    }
    run_handlers(&cache, object, change).await;
}

/// The tags of an object, rendered; `None` when one cannot be (its entry is then not
/// stored: a tag invalidation could not reach it). The failures are counted and logged by
/// the invalidation of the same tags.
fn rendered(tags: &[Result<String, RenderError>]) -> Option<Vec<String>> {
    tags.iter().map(|tag| tag.as_ref().ok().cloned()).collect()
}

/// A handler of an entity's change: run after the declared invalidations, with a clone of
/// the object; named for the logs by the type of the function registered.
#[derive(Clone)]
struct Handler<T> {
    name: &'static str,
    run: Arc<dyn Fn(T) -> BoxFuture<Result<(), String>> + Send + Sync>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Which change a handler is for.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Change {
    Saved,
    Deleted,
}

/// The handlers of every entity type, by type and change: the seed's signals.
static HANDLERS: LazyLock<RwLock<HashMap<(TypeId, Change), AnyHandlers>>> =
    LazyLock::new(RwLock::default);

/// A `Vec<Handler<T>>` for the `T` of its key.
type AnyHandlers = Box<dyn Any + Send + Sync>;

/// Registers `handler` to run after every [`saved`](CachedEntity::saved) of a `T` (the
/// seed's `@post_save(Post)`), after the declared invalidations, with a clone of the object.
/// Handlers run in the order registered. One that fails (`Err`) or panics is logged at
/// `error` with the entity's type and the handler's, and counted in the entity cache's
/// `errors`; the handlers after it still run, and the change's write-through and
/// invalidations, done before any handler, stand: a change never fails, and never panics
/// in its caller.
///
/// ```
/// # use cached_core::CachedEntity;
/// # #[derive(Clone, serde::Serialize, serde::Deserialize, CachedEntity)]
/// # #[cache(key = "post:{id}")]
/// # struct Post { id: u64, author_id: u64 }
/// cached_core::entity::on_saved(|post: Post| async move {
///     let cache = cached_core::cache();
///     cache.delete(&format!("feed:author:{}", post.author_id)).await?;
///     Ok::<_, cached_core::Error>(())
/// });
/// ```
pub fn on_saved<T, F, Fut, E>(handler: F)
where
    T: CachedEntity,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    register(Change::Saved, handler);
}

/// As [`on_saved`], after every [`deleted`](CachedEntity::deleted) of a `T` (the seed's
/// `@post_delete(Post)`); a handler that fails or panics is logged, counted and isolated
/// from the others in the same way.
pub fn on_deleted<T, F, Fut, E>(handler: F)
where
    T: CachedEntity,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    register(Change::Deleted, handler);
}

fn register<T, F, Fut, E>(change: Change, handler: F)
where
    T: CachedEntity,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    let handler = Handler::<T> {
        name: std::any::type_name::<F>(),
        run: Arc::new(move |object: T| {
            let running = handler(object);
            Box::pin(async move { running.await.map_err(|error| error.to_string()) })
        }),
    };
    let mut handlers = HANDLERS.write();
    let slot = handlers
        .entry((TypeId::of::<T>(), change))
        .or_insert_with(|| Box::new(Vec::<Handler<T>>::new()));
    slot.downcast_mut::<Vec<Handler<T>>>()
        .expect("handlers are kept by their entity's type")
        .push(handler);
}

/// Runs the handlers of `object`'s `change`, each failure logged and counted.
async fn run_handlers<T: CachedEntity>(cache: &Cache, object: &T, change: Change) {
    let handlers: Vec<Handler<T>> = match HANDLERS.read().get(&(TypeId::of::<T>(), change)) {
        Some(slot) => slot
            .downcast_ref::<Vec<Handler<T>>>()
            .expect("handlers are kept by their entity's type")
            .clone(),
        None => return,
    };
    let entity = std::any::type_name::<T>();
    for handler in handlers {
        let run = &handler.run;
        let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| run(object.clone()))) {
            Ok(running) => CatchPanic(running).await,
            Err(panic) => Err(panic),
        };
        let error = match outcome {
            Ok(Ok(())) => continue,
            Ok(Err(error)) => error,
            Err(panic) => format!("panicked: {}", panic_message(&*panic)),
        };
        cache.count_error();
        tracing::error!(target: LOG_TARGET, cache = %cache.name(), entity, handler = handler.name, ?change, %error, "a change handler failed; the handlers after it still run");
    }
}

/// A handler's future, with a panic in it caught as an error of that handler alone.
struct CatchPanic(BoxFuture<Result<(), String>>);

impl Future for CatchPanic {
    type Output = Result<Result<(), String>, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let running = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| running.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => Poll::Ready(Ok(result)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// What a panic said, when it said it with a string.
fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

/// Sets `key` to `object`, joined to its `tags`; `false` (logged) when that failed or a
/// tag could not be rendered, so that the entry is removed instead.
async fn write_through<T: CachedEntity>(
    cache: &Cache,
    key: &str,
    object: &T,
    tags: Option<Vec<String>>,
) -> bool {
    let Some(tags) = tags else {
        return false;
    };
    match cache.set_joining(key, object, T::TTL, &tags).await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(target: LOG_TARGET, cache = %cache.name(), %key, %error, "write-through failed; deleting the entry instead");
            false
        }
    }
}

fn unrendered(cache: &Cache, error: &RenderError) {
    cache.count_error();
    tracing::error!(target: LOG_TARGET, cache = %cache.name(), %error, "cache invalidation skipped a key that could not be rendered");
}

/// Runs `invalidations` on `cache`: one `delete_many`, each pattern, the tags.
async fn invalidate<T>(cache: &Cache, invalidations: Invalidations) {
    let rendered = |items: Vec<Result<String, RenderError>>| -> Vec<String> {
        items
            .into_iter()
            .filter_map(|item| item.map_err(|error| unrendered(cache, &error)).ok())
            .collect()
    };
    let keys = rendered(invalidations.keys);
    let patterns = rendered(invalidations.patterns);
    let tags = rendered(invalidations.tags);
    let origin = std::any::type_name::<T>();
    crate::__private::delete_all(cache, origin, &keys, &patterns, &tags).await;
}

/// The body of a derived `cached_get`: the object at `key`, or the one `loader` finds,
/// stored when found. Called by the derive only.
#[doc(hidden)]
pub async fn cached_get<T, E, F, Fut>(
    key: Result<String, RenderError>,
    loader: F,
) -> Result<Option<T>, E>
where
    T: CachedEntity,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Option<T>, E>>,
{
    let Some(cache) = T::entity_cache() else {
        return loader().await;
    };
    let key = match key {
        Ok(key) => key,
        Err(error) => {
            cache.count_error();
            tracing::warn!(target: LOG_TARGET, cache = %cache.name(), %error, "the entity's key could not be rendered; loaded uncached");
            return loader().await;
        }
    };
    let load = || async {
        match loader().await {
            Ok(Some(found)) => Ok(found),
            Ok(None) => Err(Missing::NotFound),
            Err(error) => Err(Missing::Failed(error)),
        }
    };
    let tags_of = |found: &T| {
        found
            .invalidations()
            .tags
            .into_iter()
            .map(|tag| {
                tag.map_err(|error| {
                    cache.count_error();
                    tracing::warn!(target: LOG_TARGET, cache = %cache.name(), %error, "a tag of the loaded object could not be rendered; not stored");
                })
                .ok()
            })
            .collect::<Option<Vec<String>>>()
    };
    if let Some(found) = cache.lookup::<T>(&key).await {
        return Ok(Some(found));
    }
    match cache
        .load_ok_tagged_after(&key, T::TTL, tags_of, load)
        .await
    {
        Ok(found) => Ok(Some(found)),
        Err(Missing::NotFound) => Ok(None),
        Err(Missing::Failed(error)) => Err(error),
    }
}

/// Why a load stored nothing: no such object (not cached, so that a created object is found
/// next time), or the loader's error.
enum Missing<E> {
    NotFound,
    Failed(E),
}
