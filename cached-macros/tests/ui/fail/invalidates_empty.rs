use cached_core::invalidates;

#[invalidates()]
async fn update_user(id: u32) {}

#[invalidates(cache = "users")]
async fn update_users() {}

fn main() {
    let _ = update_user(1);
    let _ = update_users();
}
