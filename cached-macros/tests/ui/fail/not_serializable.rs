use cached_core::cached;

#[derive(Clone)]
struct Post {
    title: String,
}

#[cached(ttl = 300)]
async fn get_post(id: u32) -> Option<Post> {
    Some(Post { title: id.to_string() })
}

#[cached(ttl = 300)]
async fn try_get_post(id: u32) -> Result<Post, String> {
    Ok(Post { title: id.to_string() })
}

struct Filter;

#[cached(ttl = 300)]
async fn by_filter(filter: Filter, page: u32) -> u32 {
    let _ = filter;
    page
}

fn main() {
    let _ = get_post(1);
    let _ = try_get_post(1);
    let _ = by_filter(Filter, 1);
}
