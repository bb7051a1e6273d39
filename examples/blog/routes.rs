//! The handlers. Which responses are cached is decided in `app.rs`, where the routes are
//! assembled; the handlers only read through the cached data access.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cached_core::{Cache, CacheStats};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::{PostUpdate, UserUpdate};
use crate::{data, report};

/// A database failure, as `500 Internal Server Error` (never cached).
pub(crate) fn internal(error: sqlx::Error) -> Response {
    tracing::error!(%error, "database error");
    (StatusCode::INTERNAL_SERVER_ERROR, "database error").into_response()
}

type Answer = Result<Response, Response>;

/// The heading of the posts list in the request's language (`Accept-Language`).
fn heading(headers: &HeaderMap) -> (&'static str, &'static str) {
    let language = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split([',', ';', '-']).next())
        .map(str::trim)
        .unwrap_or("en");
    match language {
        "fr" => ("fr", "Articles les plus lus"),
        "de" => ("de", "Meistgelesene Beiträge"),
        _ => ("en", "Most read posts"),
    }
}

/// `GET /posts`: published posts, headed in the reader's language.
pub(crate) async fn list_posts(State(state): State<AppState>, headers: HeaderMap) -> Answer {
    let posts = data::published_posts(&state.db).await.map_err(internal)?;
    let (language, heading) = heading(&headers);
    let body = Json(json!({ "heading": heading, "posts": posts }));
    Ok((
        [
            (header::CONTENT_LANGUAGE, language),
            (header::VARY, "Accept-Language"),
        ],
        body,
    )
        .into_response())
}

/// `GET /posts/{id}`.
pub(crate) async fn show_post(State(state): State<AppState>, Path(id): Path<i64>) -> Answer {
    match data::post(&state.db, id).await.map_err(internal)? {
        Some(post) if post.published => Ok(Json(post).into_response()),
        _ => Ok((StatusCode::NOT_FOUND, "no such post").into_response()),
    }
}

/// `PUT /posts/{id}`: its author edits a post. The cached queries are invalidated by
/// `data::update_post`; the cached pages that show the post are invalidated here.
pub(crate) async fn edit_post(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Path(id): Path<i64>,
    Json(update): Json<PostUpdate>,
) -> Answer {
    let Some(Extension(CurrentUser(user))) = user else {
        return Ok((StatusCode::UNAUTHORIZED, "sign in to edit").into_response());
    };
    match data::post(&state.db, id).await.map_err(internal)? {
        None => return Ok((StatusCode::NOT_FOUND, "no such post").into_response()),
        Some(post) if post.author_id != user => {
            return Ok((StatusCode::FORBIDDEN, "not your post").into_response());
        }
        Some(_) => {}
    }
    let post = data::update_post(&state.db, id, &update)
        .await
        .map_err(internal)?;
    let pages = &state.pages;
    let invalidated = async {
        cached_core::http::invalidate(pages, &format!("post:{id}")).await?;
        cached_core::http::invalidate_path(pages, "/posts").await?;
        cached_core::http::invalidate_path(pages, "/feed").await
    };
    if let Err(error) = invalidated.await {
        tracing::warn!(%error, "cached pages were not invalidated; they expire on their own");
    }
    Ok(Json(post).into_response())
}

/// `GET /authors/{id}/posts`.
pub(crate) async fn author_posts(
    State(state): State<AppState>,
    Path(author): Path<String>,
) -> Answer {
    let posts = data::posts_by_author(&state.db, &author)
        .await
        .map_err(internal)?;
    let published: Vec<_> = posts.into_iter().filter(|p| p.published).collect();
    Ok(Json(published).into_response())
}

/// The query of `GET /search`.
#[derive(Deserialize)]
pub(crate) struct Search {
    q: String,
}

/// `GET /search?q=...`.
pub(crate) async fn search(State(state): State<AppState>, Query(search): Query<Search>) -> Answer {
    let posts = data::search_posts(&state.db, &search.q)
        .await
        .map_err(internal)?;
    Ok(Json(posts).into_response())
}

/// `GET /feed`: what the signed-in user sees (their drafts included), or the anonymous feed.
pub(crate) async fn feed(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
) -> Answer {
    let user = user.map(|Extension(CurrentUser(id))| id);
    let posts = state.db.feed(user.as_deref()).await.map_err(internal)?;
    Ok(Json(json!({ "user": user, "posts": posts })).into_response())
}

/// `GET /users/{id}`.
pub(crate) async fn show_user(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    match data::user(&state.db, &id).await.map_err(internal)? {
        Some(user) => Ok(Json(user).into_response()),
        None => Ok((StatusCode::NOT_FOUND, "no such user").into_response()),
    }
}

/// `PUT /users/{id}`: a user edits their own profile (write-through).
pub(crate) async fn edit_user(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Path(id): Path<String>,
    Json(update): Json<UserUpdate>,
) -> Answer {
    if user.is_none_or(|Extension(CurrentUser(user))| user != id) {
        return Ok((StatusCode::FORBIDDEN, "edit your own profile").into_response());
    }
    match data::update_user(&state.db, &id, &update)
        .await
        .map_err(internal)?
    {
        Some(user) => Ok(Json(user).into_response()),
        None => Ok((StatusCode::NOT_FOUND, "no such user").into_response()),
    }
}

/// `GET /reports/authors`.
pub(crate) async fn authors_report(State(state): State<AppState>) -> Answer {
    let report = report::authors(&state.data, &state.db)
        .await
        .map_err(internal)?;
    Ok(Json(report).into_response())
}

/// One cache's counters, as reported by `GET /cache/stats`.
#[derive(Serialize)]
struct CacheReport {
    backend: String,
    hits: u64,
    misses: u64,
    hit_ratio: f64,
    sets: u64,
    deletes: u64,
    evictions: u64,
    errors: u64,
    entries: Option<usize>,
}

impl CacheReport {
    fn of(cache: &Cache) -> Self {
        let stats: CacheStats = cache.stats();
        Self {
            backend: cache.backend().to_owned(),
            hits: stats.hits,
            misses: stats.misses,
            hit_ratio: stats.hit_ratio(),
            sets: stats.sets,
            deletes: stats.deletes,
            evictions: stats.evictions,
            errors: stats.errors,
            entries: cache.entry_count(),
        }
    }
}

/// `GET /cache/stats`: the counters of every cache, and the database queries run.
pub(crate) async fn cache_stats(State(state): State<AppState>) -> Json<serde_json::Value> {
    let caches: BTreeMap<&str, CacheReport> = [&state.data, &state.pages]
        .into_iter()
        .map(|cache| (cache.name(), CacheReport::of(cache)))
        .collect();
    Json(json!({ "caches": caches, "database_queries": state.db.query_count() }))
}
