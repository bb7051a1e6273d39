//! Removing response entries: an entry with all of its variants.

use super::key::{self, PREFIX};
use crate::{Cache, Result, glob};

/// Removes the response entry whose key is `key` (without the `http:` prefix: a rendered
/// template such as `post:42`, or a default key such as `GET:/posts/42`) together with every
/// variant of it (per header, per user, per `Vary`). Returns how many entries were removed.
///
/// Values placed into a template are escaped with [`crate::key::escape`]; escape them the
/// same way here (identifiers of letters and digits are unchanged).
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> cached_core::Result<()> {
/// use cached_core::key::escape;
///
/// let cache = cached_core::cache();
/// let post_id = "42";
/// cached_core::http::invalidate(&cache, &format!("post:{}", escape(post_id))).await?;
/// # Ok(())
/// # }
/// ```
pub async fn invalidate(cache: &Cache, key: &str) -> Result<usize> {
    let full = format!("{PREFIX}{key}");
    let variants = format!("{}[|>]*", glob::escape(&full));
    let exact = usize::from(cache.delete(&key::shorten(full)).await?);
    Ok(exact + cache.delete_pattern(&variants).await?)
}

/// Removes every entry stored under the default key for `path`: each query string, each
/// variant. `path` is as requested (`/posts/42`).
pub async fn invalidate_path(cache: &Cache, path: &str) -> Result<usize> {
    let mut full = format!("{PREFIX}GET:");
    key::push_path(&mut full, path);
    let variants = format!("{}[:|>]*", glob::escape(&full));
    let exact = usize::from(cache.delete(&key::shorten(full)).await?);
    Ok(exact + cache.delete_pattern(&variants).await?)
}
