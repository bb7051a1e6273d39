//! Cached data access: query results, objects with `get_or_set`, write-through on update,
//! and invalidation on mutation.

use std::time::Duration;

use cached_core::Cache;
use cached_core::key::escape;

use crate::db::{Db, Post, PostUpdate, User, UserUpdate};

/// How long a user object stays cached.
const USER_TTL: Duration = Duration::from_secs(600);

/// Published posts, most viewed first. Cached under `posts:all` for a minute.
pub(crate) async fn published_posts(db: &Db) -> Result<Vec<Post>, sqlx::Error> {
    cached_core::cache()
        .try_get_or_set(
            "posts:all",
            || db.published_posts(),
            Some(Duration::from_secs(60)),
        )
        .await
}

/// Every post of an author. Cached under `posts:author:<id>` for five minutes.
pub(crate) async fn posts_by_author(db: &Db, author_id: &str) -> Result<Vec<Post>, sqlx::Error> {
    let key = format!("posts:author:{}", escape(author_id));
    cached_core::cache()
        .try_get_or_set(
            &key,
            || db.posts_by_author(author_id),
            Some(Duration::from_secs(300)),
        )
        .await
}

/// One post (`None` is a cached negative answer). Cached under `post:<id>`.
pub(crate) async fn post(db: &Db, post_id: i64) -> Result<Option<Post>, sqlx::Error> {
    cached_core::cache()
        .try_get_or_set(&format!("post:{post_id}"), || db.post(post_id), None)
        .await
}

/// Published posts whose title contains `text`; only non-empty results are cached, so a
/// search that finds nothing today finds tomorrow's post.
pub(crate) async fn search_posts(db: &Db, text: &str) -> Result<Vec<Post>, sqlx::Error> {
    let cache = cached_core::cache();
    let key = format!("search_posts:text={}", escape(text));
    if let Ok(Some(posts)) = cache.get::<Vec<Post>>(&key).await {
        return Ok(posts);
    }
    let posts = db.search_posts(text).await?;
    if !posts.is_empty()
        && let Err(error) = cache.set(&key, &posts, Some(Duration::from_secs(60))).await
    {
        tracing::warn!(%error, "search results not cached");
    }
    Ok(posts)
}

/// Edits a post and drops every cached query it may change.
pub(crate) async fn update_post(
    db: &Db,
    post_id: i64,
    update: &PostUpdate,
) -> Result<Option<Post>, sqlx::Error> {
    let post = db.update_post(post_id, update).await?;
    let cache = cached_core::cache();
    let invalidated = async {
        cache
            .delete_many(&["posts:all".to_owned(), format!("post:{post_id}")])
            .await?;
        cache.delete_pattern("posts:author:*").await
    };
    if let Err(error) = invalidated.await {
        tracing::warn!(%error, "cached queries were not invalidated; they expire on their own");
    }
    Ok(post)
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
