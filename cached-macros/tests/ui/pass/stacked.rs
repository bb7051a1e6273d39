//! Other attributes on the same function, before and after `#[cached]`.

use cached_core::cached;

#[cached(ttl = 60)]
#[tracing::instrument(skip(password))]
async fn login(user: &str, password: &str) -> bool {
    !user.is_empty() && !password.is_empty()
}

#[tracing::instrument]
#[cached(ttl = 60)]
async fn profile(user: &str) -> String {
    user.to_owned()
}

/// Documented, with a lint allowed inside.
#[cached(ttl = 60)]
#[must_use]
async fn documented(id: u32) -> u32 {
    #![allow(clippy::let_and_return)]
    let doubled = id * 2;
    doubled
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    login("ada", "secret").await;
    profile("ada").await;
    let _ = documented(1).await;
}
