//! Removing response entries: an entry with all of its variants, on demand or after a
//! successful unsafe request (RFC 9111, section 4.4), by the tags of their URL (see
//! `url_tags.rs`): in proportion to the entries removed, never by a scan of the keyspace.
//!
//! Sits on `authority.rs`, `key.rs`, `settings.rs`, `url_tags.rs` and the cache's tags.

use ::http::header::{self, HeaderMap, HeaderValue};
use ::http::request::Parts;
use ::http::{Method, Request, StatusCode};

use super::key::PREFIX;
use super::settings::Config;
use super::{authority, key, url_tags};
use crate::{Cache, LOG_TARGET, Result};

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
    cache
        .delete_tags(&[url_tags::of_base(&format!("{PREFIX}{key}"))])
        .await
}

/// Removes every entry stored under the default key for `path`, on every host: each query
/// string, each variant. `path` is as requested (`/posts/42`).
pub async fn invalidate_path(cache: &Cache, path: &str) -> Result<usize> {
    cache.delete_tags(&[url_tags::of_path(path)]).await
}

/// Whether `method` is unsafe: any but `GET`, `HEAD`, `OPTIONS` and `TRACE` (RFC 9110,
/// section 9.2.1), so that an extension method such as `M-SEARCH` invalidates too.
pub(crate) fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// What the invalidation after an unsafe request needs of it, taken before the request
/// goes to the inner service.
pub(crate) struct Invalidation {
    /// The base key of the request's own URL, when the key rule applies to it.
    own: Option<String>,
    /// A `GET` for the request's target with the headers that name its authorities, from
    /// which the requests for its `Location` and `Content-Location` are made.
    site: Parts,
}

impl Invalidation {
    /// What the invalidation after `request` needs.
    pub(crate) fn of(config: &Config, request: &Parts) -> Self {
        let (mut site, ()) = Request::get(request.uri.clone())
            .body(())
            .expect("the request's own target")
            .into_parts();
        authority::copy_headers(&request.headers, &mut site.headers);
        Self {
            own: key::base(config, request),
            site,
        }
    }

    /// After the unsafe request was answered with `status` and `headers`: when the status is
    /// not an error, removes the entries (every variant) of the request's URL, and of its
    /// `Location` and `Content-Location` when they are on the same host. A backend failure
    /// is logged, never returned: the response has been produced already.
    pub(crate) async fn after(self, config: &Config, status: StatusCode, headers: &HeaderMap) {
        if !(status.is_success() || status.is_redirection()) {
            return;
        }
        let mut targets = Vec::with_capacity(3);
        targets.extend(self.own);
        for name in [header::LOCATION, header::CONTENT_LOCATION] {
            let same_host = headers
                .get(name)
                .and_then(|location| same_host_request(&self.site, location));
            if let Some(parts) = same_host
                && let Some(base) = key::base(config, &parts)
                && !targets.contains(&base)
            {
                targets.push(base);
            }
        }
        if targets.is_empty() {
            return;
        }
        let tags: Vec<String> = targets.iter().map(|base| url_tags::of_base(base)).collect();
        if let Err(error) = config.cache.delete_tags(&tags).await {
            tracing::warn!(target: LOG_TARGET, keys = ?targets, %error, "cached responses not invalidated after an unsafe request");
        }
    }
}

/// A `GET` request for `location` resolved against `site` (the unsafe request's target),
/// with its headers, when it is on the host `site` names (a relative reference, or an
/// absolute one naming that host).
fn same_host_request(site: &Parts, location: &HeaderValue) -> Option<Parts> {
    let host = authority::named_host(site)?;
    let location = location.to_str().ok()?;
    let path_and_query = if location.contains("://") {
        let uri: ::http::Uri = location.parse().ok()?;
        if !uri.authority()?.as_str().eq_ignore_ascii_case(host) {
            return None;
        }
        uri.path_and_query()?.as_str().to_owned()
    } else if location.starts_with("//") {
        return None;
    } else if location.starts_with('/') {
        location.to_owned()
    } else {
        let path = site.uri.path();
        format!(
            "{}{location}",
            &path[..path.rfind('/').map_or(0, |i| i + 1)]
        )
    };
    let mut target = ::http::uri::Builder::new();
    if let (Some(scheme), Some(authority)) = (site.uri.scheme(), site.uri.authority()) {
        target = target.scheme(scheme.clone()).authority(authority.clone());
    }
    let (mut parts, ()) = Request::get(target.path_and_query(path_and_query).build().ok()?)
        .body(())
        .ok()?
        .into_parts();
    parts.headers = site.headers.clone();
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(target: &str, host: Option<&str>, location: &'static str) -> Option<String> {
        let mut site = Request::get(target);
        if let Some(host) = host {
            site = site.header(header::HOST, host);
        }
        let site = site.body(()).unwrap().into_parts().0;
        same_host_request(&site, &HeaderValue::from_static(location)).map(|parts| {
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
