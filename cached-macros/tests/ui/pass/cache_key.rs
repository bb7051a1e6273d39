use cached_core::cache_key;

struct Post {
    id: u64,
    tags: (String, u8),
}

impl Post {
    fn key(&self) -> String {
        cache_key!("post:{self.id}:<self.tags.1>").unwrap()
    }
}

fn main() {
    let post = Post { id: 7, tags: ("rust".into(), 2) };
    let author = "ada:l";
    assert_eq!(cache_key!("posts:author:{author}").unwrap(), "posts:author:ada%3Al");
    assert_eq!(cache_key!("post:{post.id}:{post.tags.0}").unwrap(), "post:7:rust");
    assert_eq!(post.key(), "post:7:2");
    assert_eq!(cache_key!("posts:all").unwrap(), "posts:all");
}
