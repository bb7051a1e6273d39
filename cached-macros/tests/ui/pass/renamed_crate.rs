//! `crate = path` when the runtime is reached through another path.

mod vendored {
    pub use ::cached_core::*;
}

use vendored::{cached, invalidates};

#[cached(ttl = 60, crate = vendored)]
async fn through_path(id: u32) -> u32 {
    id
}

#[invalidates("through_path:id={id}", crate = "crate::vendored")]
async fn invalidate(id: u32) {
    let _ = id;
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    through_path(1).await;
    invalidate(1).await;
}
