//! Entries per header value, per user and per a response's own `Vary`; key templates; and
//! invalidation, through a real server and client.

#[path = "http/support.rs"]
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use cached_core::Cache;
use cached_core::http::{CacheResponseLayer, invalidate, invalidate_path};
use cached_core::key::escape;
use cached_tests::memory_cache;
use support::{Calls, Server, client, x_cache};

/// The user an authentication middleware found.
#[derive(Clone)]
struct CurrentUser(String);

/// Stands in for authentication: the user named by `X-User`.
async fn authenticate(mut request: Request, next: Next) -> Response {
    let user = request
        .headers()
        .get("x-user")
        .map(|v| CurrentUser(v.to_str().unwrap().to_owned()));
    if let Some(user) = user {
        request.extensions_mut().insert(user);
    }
    next.run(request).await
}

fn user_of(request: &Parts) -> Option<String> {
    request.extensions.get::<CurrentUser>().map(|u| u.0.clone())
}

async fn get_as(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> (String, String) {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (x_cache(&response), response.text().await.unwrap())
}

fn pair(x_cache: &str, body: &str) -> (String, String) {
    (x_cache.to_owned(), body.to_owned())
}

#[tokio::test]
async fn vary_headers_keep_one_entry_per_value() {
    let calls = Calls::default();
    let counter = calls.clone();
    let greet = move |headers: HeaderMap| {
        counter.hit();
        let language = headers
            .get("accept-language")
            .map_or("none".to_owned(), |v| v.to_str().unwrap().to_owned());
        async move { format!("hello in {language}") }
    };
    let layer = CacheResponseLayer::new(memory_cache(100)).vary_headers(["Accept-Language"]);
    let server = Server::start(Router::new().route("/greet", get(greet).route_layer(layer))).await;
    let (client, url) = (client(), server.url("/greet"));

    assert_eq!(
        get_as(&client, &url, &[("accept-language", "en")]).await,
        pair("MISS", "hello in en")
    );
    assert_eq!(
        get_as(&client, &url, &[("accept-language", "fr")]).await,
        pair("MISS", "hello in fr")
    );
    assert_eq!(
        get_as(&client, &url, &[]).await,
        pair("MISS", "hello in none")
    );
    assert_eq!(
        get_as(&client, &url, &[("accept-language", "en")]).await,
        pair("HIT", "hello in en")
    );
    assert_eq!(
        get_as(&client, &url, &[("accept-language", "fr")]).await,
        pair("HIT", "hello in fr")
    );
    assert_eq!(
        get_as(&client, &url, &[]).await,
        pair("HIT", "hello in none")
    );
    assert_eq!(calls.count(), 3);
}

#[tokio::test]
async fn vary_on_user_never_serves_one_users_response_to_another() {
    let calls = Calls::default();
    let counter = calls.clone();
    let feed = move |user: Option<Extension<CurrentUser>>| {
        counter.hit();
        let name = user.map_or("anonymous".to_owned(), |u| u.0.0.clone());
        async move { format!("private feed of {name}") }
    };
    let layer = CacheResponseLayer::new(memory_cache(100)).vary_on(user_of);
    let router = Router::new()
        .route("/feed", get(feed).route_layer(layer))
        .layer(middleware::from_fn(authenticate));
    let server = Server::start(router).await;
    let (client, url) = (client(), server.url("/feed"));

    let as_user = |user: &'static str| [("x-user", user), ("authorization", "Bearer token")];
    assert_eq!(
        get_as(&client, &url, &as_user("ada")).await,
        pair("MISS", "private feed of ada")
    );
    assert_eq!(
        get_as(&client, &url, &as_user("grace")).await,
        pair("MISS", "private feed of grace")
    );
    assert_eq!(
        get_as(&client, &url, &[]).await,
        pair("MISS", "private feed of anonymous")
    );
    assert_eq!(
        get_as(&client, &url, &as_user("ada")).await,
        pair("HIT", "private feed of ada")
    );
    assert_eq!(
        get_as(&client, &url, &as_user("grace")).await,
        pair("HIT", "private feed of grace")
    );
    assert_eq!(
        get_as(&client, &url, &[]).await,
        pair("HIT", "private feed of anonymous")
    );
    assert_eq!(
        get_as(&client, &url, &as_user("anonymous")).await,
        pair("MISS", "private feed of anonymous"),
        "a user named `anonymous` is not the anonymous bucket"
    );
    assert_eq!(
        get_as(&client, &url, &as_user("ada|user=grace")).await,
        pair("MISS", "private feed of ada|user=grace"),
        "a crafted identity cannot reach another user's entry"
    );
    assert_eq!(calls.count(), 5);
}

#[tokio::test]
async fn a_responses_own_vary_header_is_honoured() {
    let calls = Calls::default();
    let counter = calls.clone();
    let themed = move |headers: HeaderMap| {
        counter.hit();
        let theme = headers
            .get("x-theme")
            .map_or("plain".to_owned(), |v| v.to_str().unwrap().to_owned());
        async move { ([("vary", "X-Theme")], format!("page in {theme}")) }
    };
    let cache = memory_cache(100);
    let layer = CacheResponseLayer::new(cache.clone());
    let server = Server::start(Router::new().route("/page", get(themed).route_layer(layer))).await;
    let (client, url) = (client(), server.url("/page"));

    assert_eq!(
        get_as(&client, &url, &[("x-theme", "dark")]).await,
        pair("MISS", "page in dark")
    );
    assert_eq!(
        get_as(&client, &url, &[("x-theme", "light")]).await,
        pair("MISS", "page in light")
    );
    assert_eq!(
        get_as(&client, &url, &[]).await,
        pair("MISS", "page in plain")
    );
    assert_eq!(
        get_as(&client, &url, &[("x-theme", "dark")]).await,
        pair("HIT", "page in dark")
    );
    assert_eq!(
        get_as(&client, &url, &[("x-theme", "light")]).await,
        pair("HIT", "page in light")
    );
    assert_eq!(
        get_as(&client, &url, &[]).await,
        pair("HIT", "page in plain")
    );
    assert_eq!(calls.count(), 3);
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses), (3, 3), "one lookup per request");
}

/// A blog's posts, edited through `PUT /posts/{id}`, which invalidates the cached page.
#[derive(Clone)]
struct Blog {
    posts: Arc<Mutex<HashMap<String, String>>>,
    cache: Cache,
    calls: Calls,
}

async fn show_post(State(blog): State<Blog>, Path(id): Path<String>) -> String {
    blog.calls.hit();
    let posts = blog.posts.lock().unwrap();
    posts.get(&id).cloned().unwrap_or_default()
}

async fn list_posts(State(blog): State<Blog>) -> String {
    blog.calls.hit();
    let posts = blog.posts.lock().unwrap();
    let mut titles: Vec<_> = posts.values().cloned().collect();
    titles.sort();
    titles.join(",")
}

async fn edit_post(State(blog): State<Blog>, Path(id): Path<String>, title: String) {
    blog.posts.lock().unwrap().insert(id.clone(), title);
    invalidate(&blog.cache, &format!("post:{}", escape(&id)))
        .await
        .unwrap();
    invalidate_path(&blog.cache, "/posts").await.unwrap();
}

#[tokio::test]
async fn an_update_is_visible_on_the_next_get_after_invalidation() {
    let cache = memory_cache(100);
    let blog = Blog {
        posts: Arc::new(Mutex::new(HashMap::from([(
            "1".to_owned(),
            "first".to_owned(),
        )]))),
        cache: cache.clone(),
        calls: Calls::default(),
    };
    let router = Router::new()
        .route(
            "/posts/{id}",
            get(show_post)
                .route_layer(CacheResponseLayer::new(cache.clone()).key("/posts/{id}", "post:{id}"))
                .put(edit_post),
        )
        .route(
            "/posts",
            get(list_posts).route_layer(CacheResponseLayer::new(cache.clone())),
        )
        .with_state(blog.clone());
    let server = Server::start(router).await;
    let (client, post, posts) = (client(), server.url("/posts/1"), server.url("/posts"));

    assert_eq!(get_as(&client, &post, &[]).await, pair("MISS", "first"));
    assert_eq!(get_as(&client, &post, &[]).await, pair("HIT", "first"));
    assert!(
        cache.exists("http:post:1").await.unwrap(),
        "the template names the entry"
    );
    assert_eq!(get_as(&client, &posts, &[]).await, pair("MISS", "first"));
    assert_eq!(
        get_as(&client, &format!("{posts}?page=2"), &[]).await,
        pair("MISS", "first")
    );
    assert_eq!(get_as(&client, &posts, &[]).await, pair("HIT", "first"));

    let response = client.put(&post).body("edited").send().await.unwrap();
    assert!(response.status().is_success());

    assert_eq!(get_as(&client, &post, &[]).await, pair("MISS", "edited"));
    assert_eq!(get_as(&client, &post, &[]).await, pair("HIT", "edited"));
    assert_eq!(get_as(&client, &posts, &[]).await, pair("MISS", "edited"));
    assert_eq!(
        get_as(&client, &format!("{posts}?page=2"), &[]).await,
        pair("MISS", "edited")
    );
    assert_eq!(blog.calls.count(), 6);
}

#[tokio::test]
async fn invalidation_removes_every_variant_and_nothing_else() {
    let cache = memory_cache(100);
    let layer = CacheResponseLayer::new(cache.clone())
        .key("/posts/{id}", "post:{id}")
        .vary_headers(["Accept-Language"]);
    let router = Router::new().route(
        "/posts/{id}",
        get(|Path(id): Path<String>| async move { id }).route_layer(layer),
    );
    let server = Server::start(router).await;
    let client = client();
    for (path, language) in [("/posts/4", "en"), ("/posts/4", "fr"), ("/posts/42", "en")] {
        get_as(&client, &server.url(path), &[("accept-language", language)]).await;
    }
    assert_eq!(invalidate(&cache, "post:4").await.unwrap(), 2);
    assert_eq!(
        get_as(
            &client,
            &server.url("/posts/42"),
            &[("accept-language", "en")]
        )
        .await,
        pair("HIT", "42")
    );
    assert_eq!(
        get_as(
            &client,
            &server.url("/posts/4"),
            &[("accept-language", "fr")]
        )
        .await,
        pair("MISS", "4")
    );
}

#[tokio::test]
async fn a_path_outside_the_template_route_is_not_cached() {
    let cache = memory_cache(100);
    let layer = CacheResponseLayer::new(cache.clone()).key("/posts/{id}", "post:{id}");
    let router = Router::new()
        .route("/other", get(|| async { "other" }))
        .layer(layer);
    let server = Server::start(router).await;
    let client = client();
    for _ in 0..2 {
        assert_eq!(
            get_as(&client, &server.url("/other"), &[]).await,
            pair("MISS", "other")
        );
    }
    assert_eq!(cache.entry_count(), Some(0));
}
