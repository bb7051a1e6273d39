use cached_core::{cached, invalidates};

#[cached(ttl = 300)]
fn get_user(id: u32) -> u32 {
    id
}

#[invalidates("user:{id}")]
pub fn update_user(id: u32) {}

fn main() {
    let _ = get_user(1);
    update_user(1);
}
