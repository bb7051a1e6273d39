//! The blog's database: SQLite through sqlx, created and seeded on start, and the queries
//! the rest of the service calls. Every query is counted, so that the tests can tell a
//! cached answer from a database round trip.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cached_core::CachedEntity;
use serde::{Deserialize, Serialize};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

/// The pool and the number of queries run through it.
#[derive(Clone, Debug)]
pub(crate) struct Db {
    pool: SqlitePool,
    queries: Arc<AtomicU64>,
}

/// A registered author, cached as an entity: its key is written once, here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow, CachedEntity)]
#[cache(key = "user:{id}", ttl = "10m")]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) bio: String,
}

/// A blog post.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub(crate) struct Post {
    pub(crate) id: i64,
    pub(crate) author_id: String,
    pub(crate) title: String,
    pub(crate) body: String,
    pub(crate) published: bool,
    pub(crate) view_count: i64,
}

/// One line of the authors report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub(crate) struct AuthorStats {
    pub(crate) author_id: String,
    pub(crate) posts: i64,
    pub(crate) views: i64,
}

/// The changes a post edit may carry.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct PostUpdate {
    pub(crate) title: Option<String>,
    pub(crate) body: Option<String>,
    pub(crate) published: Option<bool>,
}

/// The changes a profile edit may carry.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct UserUpdate {
    pub(crate) name: Option<String>,
    pub(crate) bio: Option<String>,
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS users (
        id   TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        bio  TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE IF NOT EXISTS posts (
        id         INTEGER PRIMARY KEY,
        author_id  TEXT NOT NULL REFERENCES users (id),
        title      TEXT NOT NULL,
        body       TEXT NOT NULL,
        published  BOOLEAN NOT NULL,
        view_count INTEGER NOT NULL DEFAULT 0
    );
";

const USERS: [(&str, &str, &str); 3] = [
    ("ada", "Ada Lovelace", "Writes about engines."),
    ("grace", "Grace Hopper", "Writes about compilers."),
    ("linus", "Linus Torvalds", "Writes about kernels."),
];

const POSTS: [(&str, &str, &str, bool, i64); 6] = [
    (
        "ada",
        "Notes on the Analytical Engine",
        "The engine weaves algebraic patterns.",
        true,
        420,
    ),
    (
        "ada",
        "Bernoulli numbers",
        "A method for the engine to compute them.",
        true,
        310,
    ),
    ("ada", "Poetical science", "An unfinished draft.", false, 0),
    (
        "grace",
        "The first compiler",
        "Why programs should be written in words.",
        true,
        512,
    ),
    (
        "grace",
        "Nanoseconds",
        "A length of wire you can hold.",
        true,
        128,
    ),
    (
        "linus",
        "Just a hobby",
        "Won't be big and professional.",
        true,
        999,
    ),
];

impl Db {
    /// Opens `url` (`sqlite::memory:` for a private in-memory database), creates the schema
    /// and seeds it when it is empty.
    pub(crate) async fn open(url: &str) -> sqlx::Result<Self> {
        let options: SqliteConnectOptions =
            url.parse::<SqliteConnectOptions>()?.create_if_missing(true);
        // One connection: an in-memory database lives in its connection.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        let db = Self {
            pool,
            queries: Arc::default(),
        };
        db.seed().await?;
        Ok(db)
    }

    async fn seed(&self) -> sqlx::Result<()> {
        let (users,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        if users > 0 {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for (id, name, bio) in USERS {
            sqlx::query("INSERT INTO users (id, name, bio) VALUES (?, ?, ?)")
                .bind(id)
                .bind(name)
                .bind(bio)
                .execute(&mut *tx)
                .await?;
        }
        for (author, title, body, published, views) in POSTS {
            sqlx::query(
                "INSERT INTO posts (author_id, title, body, published, view_count) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(author)
            .bind(title)
            .bind(body)
            .bind(published)
            .bind(views)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// How many queries ran since the database was opened (the seeding excepted).
    pub(crate) fn query_count(&self) -> u64 {
        self.queries.load(Ordering::SeqCst)
    }

    fn pool(&self) -> &SqlitePool {
        self.queries.fetch_add(1, Ordering::SeqCst);
        &self.pool
    }

    /// Published posts, most viewed first.
    pub(crate) async fn published_posts(&self) -> sqlx::Result<Vec<Post>> {
        sqlx::query_as("SELECT * FROM posts WHERE published ORDER BY view_count DESC, id")
            .fetch_all(self.pool())
            .await
    }

    /// Every post of `author_id`, drafts included.
    pub(crate) async fn posts_by_author(&self, author_id: &str) -> sqlx::Result<Vec<Post>> {
        sqlx::query_as("SELECT * FROM posts WHERE author_id = ? ORDER BY id")
            .bind(author_id)
            .fetch_all(self.pool())
            .await
    }

    /// What `user` sees: published posts and, when signed in, their own drafts.
    pub(crate) async fn feed(&self, user: Option<&str>) -> sqlx::Result<Vec<Post>> {
        sqlx::query_as("SELECT * FROM posts WHERE published OR author_id = ? ORDER BY id DESC")
            .bind(user)
            .fetch_all(self.pool())
            .await
    }

    /// The post `id`.
    pub(crate) async fn post(&self, id: i64) -> sqlx::Result<Option<Post>> {
        sqlx::query_as("SELECT * FROM posts WHERE id = ?")
            .bind(id)
            .fetch_optional(self.pool())
            .await
    }

    /// Published posts whose title contains `text`.
    pub(crate) async fn search_posts(&self, text: &str) -> sqlx::Result<Vec<Post>> {
        sqlx::query_as(
            "SELECT * FROM posts WHERE published AND instr(lower(title), lower(?)) > 0 ORDER BY id",
        )
        .bind(text)
        .fetch_all(self.pool())
        .await
    }

    /// Applies `update` to the post `id`; the edited post, or `None` when there is none.
    pub(crate) async fn update_post(
        &self,
        id: i64,
        update: &PostUpdate,
    ) -> sqlx::Result<Option<Post>> {
        sqlx::query_as(
            "UPDATE posts SET title = coalesce(?, title), body = coalesce(?, body),
                 published = coalesce(?, published)
             WHERE id = ? RETURNING *",
        )
        .bind(&update.title)
        .bind(&update.body)
        .bind(update.published)
        .bind(id)
        .fetch_optional(self.pool())
        .await
    }

    /// The user `id`.
    pub(crate) async fn user(&self, id: &str) -> sqlx::Result<Option<User>> {
        sqlx::query_as("SELECT * FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(self.pool())
            .await
    }

    /// Applies `update` to the user `id`; the edited user, or `None` when there is none.
    pub(crate) async fn update_user(
        &self,
        id: &str,
        update: &UserUpdate,
    ) -> sqlx::Result<Option<User>> {
        sqlx::query_as(
            "UPDATE users SET name = coalesce(?, name), bio = coalesce(?, bio) WHERE id = ? RETURNING *",
        )
        .bind(&update.name)
        .bind(&update.bio)
        .bind(id)
        .fetch_optional(self.pool())
        .await
    }

    /// Posts and views per author: the report's expensive aggregate.
    pub(crate) async fn author_stats(&self) -> sqlx::Result<Vec<AuthorStats>> {
        sqlx::query_as(
            "SELECT author_id, COUNT(*) AS posts, SUM(view_count) AS views
             FROM posts WHERE published GROUP BY author_id ORDER BY views DESC",
        )
        .fetch_all(self.pool())
        .await
    }
}
