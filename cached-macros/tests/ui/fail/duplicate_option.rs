use cached_core::cached;

#[cached(ttl = 300, ttl = 60, cache = "a", cache = "b")]
async fn get_user(id: u32) -> u32 {
    id
}

fn main() {
    let _ = get_user(1);
}
