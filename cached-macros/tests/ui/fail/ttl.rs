use cached_core::cached;

#[cached(ttl = 0)]
async fn zero(id: u32) -> u32 {
    id
}

#[cached(ttl = "0s")]
async fn zero_duration(id: u32) -> u32 {
    id
}

#[cached(ttl = "5 minutes please")]
async fn malformed(id: u32) -> u32 {
    id
}

#[cached(ttl = 1.5)]
async fn float(id: u32) -> u32 {
    id
}

fn main() {
    let _ = zero(1);
    let _ = zero_duration(1);
    let _ = malformed(1);
    let _ = float(1);
}
