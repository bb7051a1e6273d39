use cached_core::{cached, invalidates};

#[cached(tags = ["user:{user}", "posts:*"])]
async fn pattern(user_id: u64) -> u64 {
    user_id
}

#[invalidates(tags = ["user:{nope}"])]
async fn unknown(user_id: u64) {
    let _ = user_id;
}

#[invalidates()]
async fn nothing(user_id: u64) {
    let _ = user_id;
}

fn main() {
    let _ = pattern(1);
    let _ = unknown(1);
    let _ = nothing(1);
}
