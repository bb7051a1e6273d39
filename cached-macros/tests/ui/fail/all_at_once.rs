//! Every problem of one attribute is reported in one build, and the function is still
//! emitted: `main` calling it adds no error.
use cached_core::cached;

#[cached(ttl = 0, key = "posts:{nope}", key_func = make_key, bogus, skip(missing), ttl = 5)]
async fn get_user_posts(user_id: &str) -> Vec<String> {
    vec![user_id.to_owned()]
}

fn make_key(user_id: &str) -> String {
    user_id.to_owned()
}

fn main() {
    let _ = get_user_posts("abc123");
}
