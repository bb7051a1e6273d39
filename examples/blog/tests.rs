//! The blog end to end: the service on a loopback port over a fresh, seeded SQLite
//! database, driven by a real HTTP client. The database's query counter tells a cached
//! answer from a round trip.

use std::time::Duration;

use cached_tests::redis_server::RedisServer;
use reqwest::{Client, Response};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::app::{AppState, configure_caches, register_signals, router};
use crate::db::Db;

/// The caches are process-wide, so the scenarios run one at a time.
static SERIAL: Mutex<()> = Mutex::const_new(());

struct Blog {
    base: String,
    client: Client,
    db: Db,
    server: JoinHandle<()>,
}

impl Drop for Blog {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Blog {
    /// The blog on a free loopback port, with its caches in memory or on `redis_url`.
    async fn start(redis_url: Option<&str>) -> Self {
        configure_caches(redis_url).unwrap();
        register_signals();
        let db = Db::open("sqlite::memory:").await.unwrap();
        let app = router(AppState::new(db.clone()).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self {
            base,
            client,
            db,
            server,
        }
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self.client.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// `X-Cache` and the JSON body of `GET path`.
    async fn fetch(&self, path: &str, headers: &[(&str, &str)]) -> (String, Value) {
        let response = self.get(path, headers).await;
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        let x_cache = response
            .headers()
            .get("x-cache")
            .map_or(String::new(), |v| v.to_str().unwrap().to_owned());
        (x_cache, response.json().await.unwrap())
    }

    async fn put(&self, path: &str, user: &str, body: Value) -> Response {
        self.client
            .put(format!("{}{path}", self.base))
            .bearer_auth(user)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// How many database queries `work` ran.
    async fn queries_of<F: Future>(&self, work: F) -> (u64, F::Output) {
        let before = self.db.query_count();
        let output = work.await;
        (self.db.query_count() - before, output)
    }
}

fn titles(posts: &Value) -> Vec<&str> {
    posts
        .as_array()
        .unwrap()
        .iter()
        .map(|post| post["title"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blog_end_to_end_with_memory_caches() {
    let _serial = SERIAL.lock().await;
    let blog = Blog::start(None).await;
    every_pattern(&blog).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blog_end_to_end_with_redis_caches() {
    let _serial = SERIAL.lock().await;
    let redis = RedisServer::start();
    let blog = Blog::start(Some(&redis.url())).await;
    every_pattern(&blog).await;
    let keys = redis.cli(&["KEYS", "blog:*"]);
    assert!(keys.contains("blog:data:posts:all"), "{keys}");
    // The default key covers the host the client named (`127.0.0.1%3A{port}`).
    let host = blog.base.trim_start_matches("http://").replace(':', "%3A");
    assert!(
        keys.contains(&format!(
            "blog:pages:http:GET:{host}:/posts|accept-language"
        )),
        "{keys}"
    );
}

async fn every_pattern(blog: &Blog) {
    query_results_are_cached(blog).await;
    empty_searches_are_not_cached(blog).await;
    the_posts_list_varies_by_language(blog).await;
    the_feed_varies_by_user(blog).await;
    an_edit_invalidates_queries_and_pages(blog).await;
    users_are_cached_objects_written_through(blog).await;
    the_report_is_built_once_under_a_lock(blog).await;
    stats_are_reported(blog).await;
}

async fn query_results_are_cached(blog: &Blog) {
    let (queries, first) = blog.queries_of(blog.fetch("/authors/ada/posts", &[])).await;
    assert_eq!(queries, 1);
    assert_eq!(
        titles(&first.1),
        ["Notes on the Analytical Engine", "Bernoulli numbers"]
    );
    let (queries, second) = blog.queries_of(blog.fetch("/authors/ada/posts", &[])).await;
    assert_eq!(queries, 0, "the second call is a cache hit");
    assert_eq!(first.1, second.1);
}

async fn empty_searches_are_not_cached(blog: &Blog) {
    for _ in 0..2 {
        let (queries, (_, found)) = blog.queries_of(blog.fetch("/search?q=quantum", &[])).await;
        assert_eq!(
            (queries, found),
            (1, json!([])),
            "an empty result is not cached"
        );
    }
    let (queries, (_, found)) = blog.queries_of(blog.fetch("/search?q=ENGINE", &[])).await;
    assert_eq!(
        (queries, titles(&found)),
        (1, vec!["Notes on the Analytical Engine"])
    );
    let (queries, _) = blog.queries_of(blog.fetch("/search?q=ENGINE", &[])).await;
    assert_eq!(queries, 0);
}

async fn the_posts_list_varies_by_language(blog: &Blog) {
    let french = [("accept-language", "fr-FR,fr;q=0.9")];
    let (x_cache, english) = blog.fetch("/posts", &[]).await;
    assert_eq!(
        (x_cache.as_str(), english["heading"].as_str()),
        ("MISS", Some("Most read posts"))
    );
    assert_eq!(
        titles(&english["posts"])[0],
        "Just a hobby",
        "most viewed first"
    );
    let (x_cache, body) = blog.fetch("/posts", &french).await;
    assert_eq!(
        (x_cache.as_str(), body["heading"].as_str()),
        ("MISS", Some("Articles les plus lus"))
    );

    let (queries, (x_cache, body)) = blog.queries_of(blog.fetch("/posts", &french)).await;
    assert_eq!((queries, x_cache.as_str()), (0, "HIT"));
    assert_eq!(body["heading"], "Articles les plus lus");
    let response = blog.get("/posts", &[]).await;
    assert_eq!(response.headers()["x-cache"], "HIT");
    assert_eq!(response.headers()["content-language"], "en");
    assert!(response.headers().contains_key("age"));

    let (x_cache, body) = blog.fetch("/posts", &[("cookie", "consent=yes")]).await;
    assert_eq!(
        (x_cache.as_str(), body["heading"].as_str()),
        ("HIT", Some("Most read posts")),
        "the blog reads no cookie: a reader's cookies do not make its pages private"
    );
    let (x_cache, _) = blog
        .fetch("/posts", &[("authorization", "Bearer ada")])
        .await;
    assert_eq!(
        x_cache, "MISS",
        "a signed-in reader is not served the anonymous page"
    );
}

async fn the_feed_varies_by_user(blog: &Blog) {
    let ada = [("authorization", "Bearer ada")];
    let grace = [("authorization", "Bearer grace")];
    let draft = "Poetical science";
    for expected in ["MISS", "HIT"] {
        let (x_cache, feed) = blog.fetch("/feed", &ada).await;
        assert_eq!(
            (x_cache.as_str(), feed["user"].as_str()),
            (expected, Some("ada"))
        );
        assert!(
            titles(&feed["posts"]).contains(&draft),
            "ada sees her draft"
        );

        let (x_cache, feed) = blog.fetch("/feed", &grace).await;
        assert_eq!(
            (x_cache.as_str(), feed["user"].as_str()),
            (expected, Some("grace"))
        );
        assert!(
            !titles(&feed["posts"]).contains(&draft),
            "grace never gets ada's feed"
        );

        let (x_cache, feed) = blog.fetch("/feed", &[]).await;
        assert_eq!((x_cache.as_str(), &feed["user"]), (expected, &Value::Null));
        assert!(!titles(&feed["posts"]).contains(&draft));
    }
    let unknown = blog
        .get("/feed", &[("authorization", "Bearer mallory")])
        .await;
    assert_eq!(unknown.status(), 401);
}

async fn an_edit_invalidates_queries_and_pages(blog: &Blog) {
    let ada = [("authorization", "Bearer ada")];
    assert_eq!(blog.fetch("/posts/1", &[]).await.0, "MISS");
    assert_eq!(blog.fetch("/posts/1", &[]).await.0, "HIT");

    let forbidden = blog
        .put("/posts/1", "grace", json!({ "title": "Mine now" }))
        .await;
    assert_eq!(forbidden.status(), 403);
    let edited = blog
        .put("/posts/1", "ada", json!({ "title": "Notes, revised" }))
        .await;
    assert_eq!(edited.status(), 200);

    let (x_cache, post) = blog.fetch("/posts/1", &[]).await;
    assert_eq!(
        (x_cache.as_str(), post["title"].as_str()),
        ("MISS", Some("Notes, revised"))
    );
    let (x_cache, list) = blog.fetch("/posts", &[]).await;
    assert_eq!(x_cache, "MISS");
    assert!(titles(&list["posts"]).contains(&"Notes, revised"));
    let (x_cache, feed) = blog.fetch("/feed", &ada).await;
    assert_eq!(x_cache, "MISS");
    assert!(titles(&feed["posts"]).contains(&"Notes, revised"));
    let (_, by_author) = blog.fetch("/authors/ada/posts", &[]).await;
    assert_eq!(
        titles(&by_author)[0],
        "Notes, revised",
        "posts:author:* was invalidated"
    );
}

async fn users_are_cached_objects_written_through(blog: &Blog) {
    let (queries, (_, first)) = blog.queries_of(blog.fetch("/users/linus", &[])).await;
    assert_eq!(
        (queries, first["name"].as_str()),
        (1, Some("Linus Torvalds"))
    );
    let (queries, (x_cache, _)) = blog.queries_of(blog.fetch("/users/linus", &[])).await;
    assert_eq!((queries, x_cache.as_str()), (0, "HIT"), "the cached page");

    let bio = "Writes about kernels, and git.";
    let (queries, response) = blog
        .queries_of(blog.put("/users/linus", "linus", json!({ "bio": bio })))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        queries, 1,
        "the update, and nothing else: the token's user was cached"
    );
    let (queries, (x_cache, after)) = blog.queries_of(blog.fetch("/users/linus", &[])).await;
    assert_eq!(
        (queries, x_cache.as_str(), after["bio"].as_str()),
        (0, "MISS", Some(bio)),
        "the page was dropped by the save's handler; the user was written through"
    );
    assert_eq!(
        blog.put("/users/ada", "linus", json!({ "bio": "x" }))
            .await
            .status(),
        403
    );
}

async fn the_report_is_built_once_under_a_lock(blog: &Blog) {
    let url = format!("{}/reports/authors", blog.base);
    let (queries, reports) = blog
        .queries_of(async {
            let requests: Vec<_> = (0..10)
                .map(|_| {
                    let request = blog.client.get(&url).send();
                    tokio::spawn(
                        async move { request.await.unwrap().json::<Value>().await.unwrap() },
                    )
                })
                .collect();
            let mut reports = Vec::new();
            for request in requests {
                reports.push(request.await.unwrap());
            }
            reports
        })
        .await;
    assert_eq!(queries, 1, "ten concurrent requests, one build");
    assert!(reports.iter().all(|report| report == &reports[0]));
    assert_eq!(reports[0]["authors"][0]["author_id"], "linus");
}

async fn stats_are_reported(blog: &Blog) {
    let (_, stats) = blog.fetch("/cache/stats", &[]).await;
    for cache in ["default", "pages"] {
        let counters = &stats["caches"][cache];
        assert!(
            counters["hits"].as_u64().unwrap() > 0,
            "{cache}: {counters}"
        );
        assert!(
            counters["misses"].as_u64().unwrap() > 0,
            "{cache}: {counters}"
        );
        let ratio = counters["hit_ratio"].as_f64().unwrap();
        assert!(ratio > 0.0 && ratio < 1.0, "{cache}: {ratio}");
    }
    assert!(stats["database_queries"].as_u64().unwrap() >= 10);
}
