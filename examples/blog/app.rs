//! The service: its caches, its state and its routes, with response caching set per route.

use std::sync::Once;
use std::time::Duration;

use axum::Router;
use axum::middleware;
use axum::routing::get;
use cached_core::http::CacheResponseLayer;
use cached_core::key::escape;
use cached_core::{Cache, CacheConfig, CacheSettings, entity};

use crate::db::{Db, User};
use crate::{auth, routes};

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) db: Db,
    /// `"default"`: query results (`#[cached]`), objects, the report and its lock.
    pub(crate) data: Cache,
    /// `"pages"`: cached responses.
    pub(crate) pages: Cache,
}

/// Installs the blog's two caches: in memory, or on the Redis at `redis_url`.
pub(crate) fn configure_caches(redis_url: Option<&str>) -> Result<(), cached_core::Error> {
    let store = |ttl: u64, max_size: usize, prefix: &str| {
        let config = match redis_url {
            Some(url) => CacheConfig::redis(url).with_key_prefix(prefix),
            None => CacheConfig::memory().with_max_size(max_size),
        };
        config.with_ttl(Duration::from_secs(ttl))
    };
    let settings = CacheSettings::new()
        .with_cache("default", store(300, 10_000, "blog:data:"))
        .with_cache("pages", store(60, 1_000, "blog:pages:"));
    cached_core::configure(settings)?;
    Ok(())
}

/// The blog's change handlers (the seed's signals), registered once per process: a saved
/// user's cached profile page is dropped, wherever the save was made.
pub(crate) fn register_signals() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        entity::on_saved(|user: User| async move {
            let pages = cached_core::get_cache("pages")?;
            cached_core::http::invalidate(&pages, &format!("user:{}", escape(&user.id))).await?;
            Ok::<_, cached_core::Error>(())
        });
    });
}

impl AppState {
    /// The state over `db` and the configured caches.
    pub(crate) fn new(db: Db) -> Result<Self, cached_core::Error> {
        Ok(Self {
            db,
            data: cached_core::cache(),
            pages: cached_core::get_cache("pages")?,
        })
    }
}

/// The routes. `GET /posts` varies by language, `GET /feed` by user, `GET /posts/{id}` and
/// `GET /users/{id}` are keyed `post:{id}` and `user:{id}` so that an edit can invalidate
/// them by name.
///
/// The blog reads no cookie (users sign in with `Authorization`), so a reader's cookies
/// (consent, analytics) do not keep its pages from being shared: only `Authorization` makes
/// a request private. A route that read the session cookie would keep the default.
pub(crate) fn router(state: AppState) -> Router {
    let pages = || CacheResponseLayer::new(state.pages.clone()).private_headers(["Authorization"]);
    Router::new()
        .route(
            "/posts",
            get(routes::list_posts).route_layer(
                pages()
                    .ttl(Duration::from_secs(60))
                    .vary_headers(["Accept-Language"]),
            ),
        )
        .route(
            "/posts/{id}",
            get(routes::show_post)
                .route_layer(
                    pages()
                        .ttl(Duration::from_secs(300))
                        .key("/posts/{id}", "post:{id}"),
                )
                .put(routes::edit_post),
        )
        .route(
            "/feed",
            get(routes::feed)
                .route_layer(pages().ttl(Duration::from_secs(60)).vary_on(auth::user_of)),
        )
        .route("/authors/{id}/posts", get(routes::author_posts))
        .route("/search", get(routes::search))
        .route(
            "/users/{id}",
            get(routes::show_user)
                .route_layer(
                    pages()
                        .ttl(Duration::from_secs(300))
                        .key("/users/{id}", "user:{id}"),
                )
                .put(routes::edit_user),
        )
        .route("/reports/authors", get(routes::authors_report))
        .route("/cache/stats", get(routes::cache_stats))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .with_state(state)
}
