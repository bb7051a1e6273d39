use cached_core::cached;

fn make_key(id: &u32) -> String {
    format!("user:{id}")
}

#[cached(key = "user:{id}", key_func = make_key)]
async fn get_user(id: u32) -> u32 {
    id
}

fn main() {
    let _ = get_user(1);
}
