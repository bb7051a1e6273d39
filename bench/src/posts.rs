//! The value of the Redis and codec benchmarks: the 10 posts a blog's front page caches
//! (about 1 KB of JSON), and a larger list of about 100 KB.

use serde::{Deserialize, Serialize};

/// A blog post.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Post {
    /// Its id.
    pub id: u64,
    /// Its title.
    pub title: String,
    /// Its author's id.
    pub author: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// How often it was read.
    pub views: u64,
}

/// 10 posts: 1,018 bytes of JSON.
pub fn posts() -> Vec<Post> {
    (0..10)
        .map(|id| Post {
            id,
            title: format!("Post number {id} about caching"),
            author: "abc123".into(),
            tags: vec!["rust".into(), "redis".into()],
            views: id * 1_000,
        })
        .collect()
}

/// 680 posts with longer text: about 100 KB of JSON.
pub fn many_posts() -> Vec<Post> {
    (0..680)
        .map(|id| Post {
            id,
            title: format!("Post number {id}: a longer title about caching values in Redis"),
            author: format!("author-{}", id % 17),
            tags: vec!["rust".into(), "redis".into(), format!("tag-{}", id % 9)],
            views: id * 7_919,
        })
        .collect()
}
