use cached_core::cached;

#[cached(ttl = 300)]
async fn get_user(id: u32) -> Result<String, std::io::Error> {
    if id == 0 {
        return Ok(0);
    }
    let name: String = std::fs::read_to_string("name")?;
    name
}

fn main() {
    let _ = get_user(1);
}
