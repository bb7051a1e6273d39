//! Removing response entries: an entry with all of its variants, on demand or after a
//! successful unsafe request (RFC 9111, section 4.4).

use ::http::header::{self, HeaderMap, HeaderValue};
use ::http::request::Parts;
use ::http::{Method, Request, StatusCode, Uri};

use super::key::{self, PREFIX};
use super::settings::Config;
use crate::{Cache, LOG_TARGET, Result, glob};

/// Removes the response entry whose key is `key` (without the `http:` prefix: a rendered
/// template such as `post:42`, or a default key such as `GET:example.com:/posts/42`)
/// together with every variant of it (per header, per user, per `Vary`). Returns how many
/// entries were removed.
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
    remove_entry(cache, &format!("{PREFIX}{key}")).await
}

/// Removes every entry stored under the default key for `path`, on every host: each query
/// string, each variant. `path` is as requested (`/posts/42`).
pub async fn invalidate_path(cache: &Cache, path: &str) -> Result<usize> {
    // An escaped host contains neither `:` nor `/`, and an escaped query no `/`, so
    // `:{path}` after the wildcard can only be where the path starts.
    let mut escaped = String::new();
    key::push_path(&mut escaped, path);
    let prefix = format!("{PREFIX}GET:*:{}", glob::escape(&escaped));
    let exact = cache.delete_pattern(&prefix).await?;
    Ok(exact + cache.delete_pattern(&format!("{prefix}[:|>]*")).await?)
}

/// Removes the entry whose full key is `full` and its variants.
async fn remove_entry(cache: &Cache, full: &str) -> Result<usize> {
    let variants = format!("{}[|>]*", glob::escape(full));
    let exact = usize::from(cache.delete(&key::shorten(full.to_owned())).await?);
    Ok(exact + cache.delete_pattern(&variants).await?)
}

/// Whether `method` is unsafe: any but `GET`, `HEAD`, `OPTIONS` and `TRACE` (RFC 9110,
/// section 9.2.1), so that an extension method such as `M-SEARCH` invalidates too.
pub(crate) fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// After an unsafe request for `target` on `host` (whose entry's base key is `own`)
/// answered with `status` and `headers`: when the status is not an error, removes the
/// entries (every variant) of the request's URL, and of its `Location` and
/// `Content-Location` when they are on the same host. A backend failure is logged, never
/// returned: the response has been produced already.
pub(crate) async fn after_unsafe(
    config: &Config,
    own: Option<String>,
    target: &Uri,
    host: Option<&str>,
    status: StatusCode,
    headers: &HeaderMap,
) {
    if !(status.is_success() || status.is_redirection()) {
        return;
    }
    let mut targets = Vec::with_capacity(3);
    targets.extend(own);
    for name in [header::LOCATION, header::CONTENT_LOCATION] {
        let same_host = headers
            .get(name)
            .and_then(|location| same_host_request(target, host, location));
        if let Some(parts) = same_host
            && let Some(base) = key::base(config, &parts)
            && !targets.contains(&base)
        {
            targets.push(base);
        }
    }
    for target in targets {
        if let Err(error) = remove_entry(&config.cache, &target).await {
            tracing::warn!(target: LOG_TARGET, key = %target, %error, "cached response not invalidated after an unsafe request");
        }
    }
}

/// A `GET` request for `location` resolved against `target`, when it is on `host` (a
/// relative reference, or an absolute one naming that host).
fn same_host_request(target: &Uri, host: Option<&str>, location: &HeaderValue) -> Option<Parts> {
    let host = host?;
    let location = location.to_str().ok()?;
    let path_and_query = if location.contains("://") {
        let uri: Uri = location.parse().ok()?;
        if !uri.authority()?.as_str().eq_ignore_ascii_case(host) {
            return None;
        }
        uri.path_and_query()?.as_str().to_owned()
    } else if location.starts_with("//") {
        return None;
    } else if location.starts_with('/') {
        location.to_owned()
    } else {
        let path = target.path();
        format!(
            "{}{location}",
            &path[..path.rfind('/').map_or(0, |i| i + 1)]
        )
    };
    let (parts, ()) = Request::get(path_and_query)
        .header(header::HOST, host)
        .body(())
        .ok()?
        .into_parts();
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(target: &str, host: Option<&str>, location: &'static str) -> Option<String> {
        let target: Uri = target.parse().unwrap();
        same_host_request(&target, host, &HeaderValue::from_static(location)).map(|parts| {
            format!(
                "{} {}",
                parts.headers[header::HOST].to_str().unwrap(),
                parts.uri
            )
        })
    }

    #[test]
    fn locations_resolve_against_the_request_and_stay_on_its_host() {
        let here = Some("site.example");
        let resolve = |location| resolve("/dir/create?x=1", here, location);
        assert_eq!(resolve("/a?b=c").as_deref(), Some("site.example /a?b=c"));
        assert_eq!(resolve("a").as_deref(), Some("site.example /dir/a"));
        assert_eq!(
            resolve("http://SITE.example/a").as_deref(),
            Some("site.example /a")
        );
        assert_eq!(
            resolve("https://site.example/a").as_deref(),
            Some("site.example /a")
        );
        assert_eq!(resolve("http://other.example/a"), None);
        assert_eq!(resolve("//other.example/a"), None);
        assert_eq!(resolve("http://site.example:8080/a"), None, "another port");
        assert_eq!(self::resolve("/dir/create", None, "/a"), None, "no host");
    }

    #[test]
    fn every_method_but_the_safe_ones_is_unsafe() {
        for safe in [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE] {
            assert!(!is_unsafe(&safe));
        }
        for method in ["POST", "PUT", "PATCH", "DELETE", "M-SEARCH", "PURGE"] {
            assert!(is_unsafe(&Method::from_bytes(method.as_bytes()).unwrap()));
        }
    }
}
