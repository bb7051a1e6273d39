use cached_core::{cached, invalidates};

#[cached(ttl = 300, tags = ["user:{user_id}", "posts"])]
async fn user_posts(user_id: u64) -> Vec<u64> {
    vec![user_id]
}

#[cached(key = "profile:{user.id}", tags = ["user:{user.id}"], stale = 60)]
async fn profile(user: User) -> String {
    user.name
}

#[derive(Clone, serde::Serialize)]
struct User {
    id: u64,
    name: String,
}

#[invalidates(tags = ["user:{user_id}"])]
async fn rename(user_id: u64, name: &str) -> Result<(), String> {
    let _ = (user_id, name);
    Ok(())
}

#[invalidates("posts:all", tags = ["posts"])]
async fn publish() {}

#[tokio::main]
async fn main() {
    assert_eq!(user_posts(1).await, [1]);
    let user = User { id: 1, name: "ann".into() };
    assert_eq!(profile(user).await, "ann");
    rename(1, "bob").await.unwrap();
    publish().await;
    assert!(!cached_core::cache().exists("user_posts:user_id=1").await.unwrap());
}
