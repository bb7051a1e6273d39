use cached_core::{cached, invalidates};

#[cached(ttl = 300, tll = 60)]
async fn get_user(id: u32) -> u32 {
    id
}

#[invalidates("user:{id}", cahce = "users")]
async fn update_user(id: u32) {}

fn main() {
    let _ = get_user(1);
    let _ = update_user(1);
}
