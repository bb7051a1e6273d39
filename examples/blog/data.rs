//! Cached data access: query results with `#[cached]`, invalidation on mutation with
//! `#[invalidates]`, objects with `get_or_set`, and write-through on update. Everything here
//! uses the cache named "default".

use std::time::Duration;

use cached_core::key::escape;
use cached_core::{Cache, cached, invalidates};

use crate::db::{Db, Post, PostUpdate, User, UserUpdate};

/// How long a user object stays cached.
const USER_TTL: Duration = Duration::from_secs(600);

/// Published posts, most viewed first.
#[cached(ttl = 60, key = "posts:all")]
pub(crate) async fn published_posts(db: &Db) -> Result<Vec<Post>, sqlx::Error> {
    db.published_posts().await
}

/// Every post of an author.
#[cached(ttl = "5m", key = "posts:author:{author_id}")]
pub(crate) async fn posts_by_author(db: &Db, author_id: &str) -> Result<Vec<Post>, sqlx::Error> {
    db.posts_by_author(author_id).await
}

/// One post; `None` (no such post) is a cached negative answer.
#[cached(ttl = "5m", key = "post:{post_id}")]
pub(crate) async fn post(db: &Db, post_id: i64) -> Result<Option<Post>, sqlx::Error> {
    db.post(post_id).await
}

/// Published posts whose title contains `text`, under the default key
/// (`search_posts:text=engine`). Only non-empty results are cached, so a search that finds
/// nothing today finds tomorrow's post.
#[cached(ttl = 60, skip(db), condition = |posts: &Vec<Post>| !posts.is_empty())]
pub(crate) async fn search_posts(db: &Db, text: &str) -> Result<Vec<Post>, sqlx::Error> {
    db.search_posts(text).await
}

/// Edits a post; once it succeeds, the cached queries it may change are deleted.
#[invalidates("posts:all", "post:{post_id}", "posts:author:*")]
pub(crate) async fn update_post(
    db: &Db,
    post_id: i64,
    update: &PostUpdate,
) -> Result<Option<Post>, sqlx::Error> {
    db.update_post(post_id, update).await
}

/// The cache key of the user `id`.
fn user_key(id: &str) -> String {
    format!("user:{}", escape(id))
}

/// Object caching: the user `id` from the cache, or loaded once from the database and kept
/// for ten minutes (concurrent misses share one load).
pub(crate) async fn user(cache: &Cache, db: &Db, id: &str) -> Result<Option<User>, sqlx::Error> {
    cache
        .try_get_or_set(&user_key(id), || db.user(id), Some(USER_TTL))
        .await
}

/// Write-through: the database is updated, then the cache is given the new object, so the
/// next read is a hit with fresh data.
pub(crate) async fn update_user(
    cache: &Cache,
    db: &Db,
    id: &str,
    update: &UserUpdate,
) -> Result<Option<User>, sqlx::Error> {
    let user = db.update_user(id, update).await?;
    if user.is_some()
        && let Err(error) = cache.set(&user_key(id), &user, Some(USER_TTL)).await
    {
        tracing::warn!(%error, user = id, "write-through failed; the cached user expires on its own");
        let _ = cache.delete(&user_key(id)).await;
    }
    Ok(user)
}
