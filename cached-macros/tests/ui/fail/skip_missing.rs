use cached_core::cached;

#[cached(ttl = 300, skip(pool, self))]
async fn get_user_posts(db: u8, user_id: &str) -> Vec<String> {
    let _ = db;
    vec![user_id.to_owned()]
}

fn main() {
    let _ = get_user_posts(0, "abc123");
}
