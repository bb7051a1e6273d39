use cached_core::cached;

#[cached(ttl = 300, condition = |posts: &Vec<String>| !posts.is_empty())]
async fn count_posts(user_id: &str) -> usize {
    user_id.len()
}

fn non_empty(posts: &Vec<String>) -> bool {
    !posts.is_empty()
}

#[cached(ttl = 300, condition = non_empty)]
async fn find_posts(user_id: &str) -> Result<Vec<u32>, String> {
    Ok(vec![user_id.len() as u32])
}

fn main() {
    let _ = count_posts("a");
    let _ = find_posts("a");
}
