use cached_core::{cached, invalidates};

#[cached(ttl = 300, key = "posts:{user_id")]
async fn unclosed(user_id: &str) -> usize {
    user_id.len()
}

#[cached(ttl = 300, key = "posts:user_id}")]
async fn unmatched(user_id: &str) -> usize {
    user_id.len()
}

#[cached(ttl = 300, key = "posts:<user_id")]
async fn unclosed_angle(user_id: &str) -> usize {
    user_id.len()
}

#[cached(ttl = 300, key = "posts:{}")]
async fn empty(user_id: &str) -> usize {
    user_id.len()
}

#[invalidates("posts:{user_id}{page}")]
async fn adjacent(user_id: &str, page: u32) {}

fn main() {
    let _ = unclosed("a");
    let _ = unmatched("a");
    let _ = unclosed_angle("a");
    let _ = empty("a");
    let _ = adjacent("a", 1);
}
