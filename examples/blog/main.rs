//! A small blog service over SQLite that shows every caching pattern together:
//!
//! - function caching of queries (`data.rs`): published posts, posts by author, one post,
//!   search results cached only when not empty;
//! - invalidation on mutation (`data.rs`): editing a post drops the queries it changes;
//! - object caching with `get_or_set` and write-through on update (`data.rs`): users;
//! - response caching (`app.rs`): the posts list per language (`Accept-Language`), the feed
//!   per signed-in user, each post page keyed `post:{id}` and invalidated on edit; a
//!   signed-in reader's other requests private (the blog reads no cookie, so cookies do not
//!   make a request private);
//! - a lock for stampede prevention (`report.rs`): the authors report;
//! - `GET /cache/stats`: hits, misses and hit ratio of each cache.
//!
//! The database is created and seeded on start (in memory unless `--db` names a file). The
//! caches live in memory unless `--redis` gives a Redis URL.
//!
//! ```sh
//! cargo run --example blog
//! cargo run --example blog -- --redis redis://127.0.0.1:6379/0 --db sqlite://blog.db --addr 127.0.0.1:3000
//!
//! curl -i localhost:3000/posts -H 'Accept-Language: fr'     # X-Cache: MISS, then HIT
//! curl -i localhost:3000/feed -H 'Authorization: Bearer ada' # ada's feed, her drafts included
//! curl -i -X PUT localhost:3000/posts/1 -H 'Authorization: Bearer ada' \
//!      -H 'Content-Type: application/json' -d '{"title": "Notes, revised"}'
//! curl localhost:3000/cache/stats
//! ```
//!
//! Add `RUST_LOG=cached_core=debug` to see every hit, miss and write.

mod app;
mod auth;
mod data;
mod db;
mod report;
mod routes;
#[cfg(test)]
mod tests;

use tracing_subscriber::EnvFilter;

/// The command line: `--db URL`, `--redis URL`, `--addr HOST:PORT`.
struct Options {
    db: String,
    redis: Option<String>,
    addr: String,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        db: "sqlite::memory:".to_owned(),
        redis: None,
        addr: "127.0.0.1:3000".to_owned(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("`{flag}` needs a value"))?;
        match flag.as_str() {
            "--db" => options.db = value,
            "--redis" => options.redis = Some(value),
            "--addr" => options.addr = value,
            _ => {
                return Err(format!(
                    "unknown option `{flag}` (known: --db, --redis, --addr)"
                ));
            }
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let options = options()?;
    app::configure_caches(options.redis.as_deref())?;
    app::register_signals();
    let db = db::Db::open(&options.db).await?;
    let router = app::router(app::AppState::new(db)?);
    let listener = tokio::net::TcpListener::bind(&options.addr).await?;
    tracing::info!(
        address = %listener.local_addr()?,
        caches = if options.redis.is_some() { "redis" } else { "memory" },
        "blog listening"
    );
    axum::serve(listener, router).await?;
    Ok(())
}
