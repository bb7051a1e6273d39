use cached_core::cached;

struct Pool;

#[cached(ttl = 300, key = "posts:{db}:{user_id}", skip(db))]
async fn get_user_posts(db: &Pool, user_id: &str) -> Vec<String> {
    let _ = db;
    vec![user_id.to_owned()]
}

fn main() {
    let _ = get_user_posts(&Pool, "abc123");
}
