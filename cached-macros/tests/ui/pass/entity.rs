use cached_core::CachedEntity;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, CachedEntity)]
#[cache(
    key = "post:{tenant}:{id}",
    ttl = "10m",
    cache = "default",
    invalidates = ["posts:all", "posts:author:{author.0}", "search:*"],
    tags = ["author:{author.1}"]
)]
pub struct Post {
    tenant: String,
    id: i64,
    author: (u64, String),
}

#[tokio::main]
async fn main() {
    let post = Post { tenant: "acme".into(), id: 3, author: (7, "ada".into()) };
    assert_eq!(Post::cache_key_for("acme", &3).unwrap(), "post:acme:3");
    let found = Post::cached_get("acme", &3, || async { Ok::<_, String>(Some(post.clone())) }).await;
    assert_eq!(found, Ok(Some(post.clone())));
    post.saved().await;
    post.deleted().await;
}
