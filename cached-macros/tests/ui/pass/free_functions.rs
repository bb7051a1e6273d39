//! Free functions of every return shape and visibility, with every option.

use cached_core::{cached, invalidates};
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
pub struct Post {
    title: String,
}

#[derive(Debug)]
pub struct Error;

#[cached(ttl = 300)]
async fn get_popular_posts() -> Vec<Post> {
    Vec::new()
}

#[cached(ttl = "5m")]
pub async fn get_user_posts(user_id: &str) -> Result<Vec<Post>, Error> {
    let _ = user_id;
    Ok(Vec::new())
}

#[cached(ttl = "1h30m", key = "post:{post_id}")]
pub(crate) async fn find_post(post_id: u64) -> Option<Post> {
    let _ = post_id;
    None
}

fn make_key(user_id: &str, status: &Option<String>) -> String {
    format!("user_posts:{user_id}:{}", status.as_deref().unwrap_or("all"))
}

#[cached(ttl = "250ms", key_func = make_key)]
async fn by_status(user_id: &str, status: Option<String>) -> Vec<Post> {
    let _ = (user_id, status);
    Vec::new()
}

#[cached(condition = |posts: &Vec<Post>| !posts.is_empty(), cache = "queries")]
async fn search_posts(query: &str) -> Vec<Post> {
    let _ = query;
    Vec::new()
}

#[cached]
async fn no_return(id: u32) {
    let _ = id;
}

#[invalidates("posts:all", "post:{post_id}", "posts:author:*")]
pub async fn update_post(post_id: u64, title: String) -> Result<Post, Error> {
    let _ = post_id;
    Ok(Post { title })
}

#[invalidates("posts:all", cache = "queries")]
async fn clear_posts() {}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    get_popular_posts().await;
    get_user_posts("abc123").await.unwrap();
    find_post(1).await;
    by_status("abc123", None).await;
    search_posts("rust").await;
    no_return(1).await;
    update_post(1, "title".into()).await.unwrap();
    clear_posts().await;
    let _: Result<String, _> = get_user_posts_cache_key("abc123");
    let _: bool = find_post_invalidate(&1).await;
}
