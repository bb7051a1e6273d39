use cached_core::cached;

#[cached(ttl = 60, stale = 300)]
async fn borrowed(name: &str) -> String {
    name.to_owned()
}

#[cached(ttl = 60, stale_if_error = "1h")]
async fn not_a_result(id: u32) -> u32 {
    id
}

#[cached(ttl = 60, early_refresh = 0)]
async fn zero_window(id: u32) -> u32 {
    id
}

struct Repo;

impl Repo {
    #[cached(ttl = 60, stale = "5m")]
    async fn by_ref(&self, id: u32) -> u32 {
        id
    }
}

fn main() {
    let _ = borrowed("a");
    let _ = not_a_result(1);
    let _ = zero_window(1);
    let _ = Repo.by_ref(1);
}
