//! Generic functions, `impl Trait` arguments, and references with lifetimes.

use std::borrow::Cow;
use std::fmt::Display;

use cached_core::cached;
use serde::Serialize;
use serde::de::DeserializeOwned;

#[cached(ttl = 60)]
async fn generic<T, K>(key: K) -> Option<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    K: Serialize + Send,
{
    let _ = key;
    None
}

#[cached(ttl = 60, skip(label))]
async fn with_impl_trait(id: impl Serialize + Send, label: impl Display + Send) -> String {
    let _ = serde_json_free(&id);
    label.to_string()
}

fn serde_json_free<T: Serialize>(_: &T) {}

#[cached(ttl = 60)]
async fn with_lifetimes<'a, 'b: 'a>(name: &'a str, tags: &'b [&'a str], note: Cow<'a, str>) -> usize {
    name.len() + tags.len() + note.len()
}

#[cached(ttl = 60, key = "first:{first}")]
async fn elided(first: &str, second: &mut Vec<u8>) -> usize {
    second.push(1);
    first.len()
}

/// `N` is not part of the key: the companion leaves it out, so it needs no turbofish.
#[cached(ttl = 60)]
async fn arrays<const N: usize>(values: Vec<u8>) -> usize {
    N + values.len()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let _: Option<String> = generic::<String, _>(7_u32).await;
    with_impl_trait(1_u8, "label").await;
    let tags = ["a", "b"];
    with_lifetimes("x", &tags, Cow::Borrowed("n")).await;
    let mut buffer = Vec::new();
    elided("x", &mut buffer).await;
    arrays::<3>(vec![1, 2]).await;
    let _ = generic_cache_key(&7_u32);
    let _ = with_lifetimes_cache_key("x", &tags, &Cow::Borrowed("n"));
    let _ = arrays_cache_key(&vec![1, 2]);
    let _ = with_impl_trait_cache_key(&1_u8);
}
