use cached_core::cached;

#[cached(ttl = 60, stale = 300, early_refresh = "5s", key = "feed:{user}")]
async fn feed(user: u64) -> Vec<u64> {
    vec![user]
}

#[cached(ttl = "1m", stale = "5m", stale_if_error = "1h", condition = |rates: &Vec<u32>| !rates.is_empty())]
async fn rates(currency: String) -> Result<Vec<u32>, String> {
    Ok(vec![currency.len() as u32])
}

#[derive(Debug)]
struct NotClone;

#[cached(ttl = 60, stale_if_error = 600)]
async fn own_errors(id: u32) -> Result<u32, NotClone> {
    Ok(id)
}

#[tokio::main]
async fn main() {
    assert_eq!(feed(1).await, [1]);
    assert_eq!(rates("EUR".into()).await, Ok(vec![3]));
    assert_eq!(own_errors(2).await.unwrap(), 2);
}
