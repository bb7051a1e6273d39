use cached_core::CachedEntity;
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize, CachedEntity)]
#[cache(key = "user:{uid}", invalidates = ["team:{team}"], tags = ["users:*"], tll = 5)]
struct UnknownFields {
    id: u64,
}

#[derive(Clone, Serialize, Deserialize, CachedEntity)]
#[cache(key = "user:{owner.id}")]
struct Nested {
    owner: Owner,
}

#[derive(Clone, Serialize, Deserialize)]
struct Owner {
    id: u64,
}

#[derive(Clone, Serialize, Deserialize, CachedEntity)]
#[cache(ttl = 60)]
struct NoKey {
    id: u64,
}

#[derive(Clone, Serialize, Deserialize, CachedEntity)]
#[cache(key = "pair:{0}")]
struct Tuple(u64);

fn main() {}
