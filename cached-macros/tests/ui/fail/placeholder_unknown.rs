use cached_core::{cached, invalidates};

#[cached(ttl = 300, key = "posts:{usr_id}")]
async fn get_user_posts(user_id: &str) -> Vec<String> {
    vec![user_id.to_owned()]
}

#[invalidates("post:{id}", "posts:{self.id}")]
async fn update_post(post_id: u64) {}

fn main() {
    let _ = get_user_posts("abc123");
    let _ = update_post(1);
}
