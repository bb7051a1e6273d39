//! Arguments whose names match the expansion's own bindings, and a body that defines some.

use cached_core::{cached, invalidates};

#[cached(ttl = 60)]
#[allow(non_snake_case, clippy::too_many_arguments)]
async fn named_like_internals(
    key: String,
    cache: u32,
    value: bool,
    __site: u8,
    __key: i64,
    __k: char,
    __ret: u16,
    SITE: u32,
) -> String {
    format!("{key}{cache}{value}{__site}{__key}{__k}{__ret}{SITE}")
}

#[cached(ttl = 60, key = "k:{key}:{cache}")]
async fn template_names(key: &str, cache: &str) -> String {
    let __key = "shadowed";
    format!("{key}{cache}{__key}")
}

#[invalidates("k:{key}", "k:{__invalidation}:*")]
async fn invalidation_names(key: &str, __invalidation: &str, __out: u8) -> u8 {
    let _ = (key, __invalidation);
    __out
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    named_like_internals("k".into(), 1, true, 2, 3, 'c', 4, 5).await;
    template_names("a", "b").await;
    invalidation_names("a", "b", 1).await;
}
