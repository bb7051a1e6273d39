//! Cached data access: query results with `#[cached]` and with `.cached(...)` where the
//! query is written, invalidation on mutation with `#[invalidates]`, users as cached
//! entities with write-through on update. Everything here uses the cache named "default".

use std::time::Duration;

use cached_core::{CachedEntity as _, QueryExt as _, cache_key, cached, invalidates};

use crate::db::{Db, Post, PostUpdate, User, UserUpdate};

/// How long an author's list of posts stays cached.
const POSTS_TTL: Duration = Duration::from_secs(300);

/// Published posts, most viewed first.
#[cached(ttl = 60, key = "posts:all")]
pub(crate) async fn published_posts(db: &Db) -> Result<Vec<Post>, sqlx::Error> {
    db.published_posts().await
}

/// Every post of an author: the query cached where it is written, under the key that
/// `update_post`'s `posts:author:*` reaches.
pub(crate) async fn posts_by_author(db: &Db, author_id: &str) -> Result<Vec<Post>, sqlx::Error> {
    db.posts_by_author(author_id)
        .cached(cache_key!("posts:author:{author_id}"), POSTS_TTL)
        .await
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

/// Object caching: the user `id` from the cache, or loaded once from the database and kept
/// for ten minutes (concurrent misses share one load; a missing user is not cached).
pub(crate) async fn user(db: &Db, id: &str) -> Result<Option<User>, sqlx::Error> {
    User::cached_get(id, || db.user(id)).await
}

/// Write-through: the database is updated, then the cache is given the new object, so the
/// next read is a hit with fresh data.
pub(crate) async fn update_user(
    db: &Db,
    id: &str,
    update: &UserUpdate,
) -> Result<Option<User>, sqlx::Error> {
    let user = db.update_user(id, update).await?;
    if let Some(user) = &user {
        user.saved().await;
    }
    Ok(user)
}
