//! The authorities a request names, every one of which the host part of a default key
//! covers: an application may read its host from any of them. axum-extra's `Host` reads
//! `Forwarded`, then `X-Forwarded-Host`, then `Host`, then the target; RFC 9112 (section
//! 3.2.2) makes the target's authority win over `Host` for a request in absolute form.
//!
//! | the request names its host in | host part |
//! | --- | --- |
//! | `Host: Example.com` | `example.com` |
//! | `:authority` (HTTP/2 and later, where it stands for `Host`) | `example.com` |
//! | `Host` and a target naming another authority | `example.com&target=evil.example` |
//! | an HTTP/1 target in absolute form, without `Host` | `&target=example.com` |
//! | `Forwarded` with a `host` parameter | `example.com&forwarded=host%3Devil.example` |
//! | `X-Forwarded-Host` | `example.com&x-forwarded-host=evil.example` |
//!
//! Values are lowercased (hosts are case-insensitive) and escaped with
//! [`escape_bytes_into`]; the lines of a repeated header are joined by `,`, and an empty
//! line is written `''`. Escaped values contain none of `&`, `=`, `,` and `'`, so the host
//! part is a function no two different sets of authorities share, and neither `:` nor `/`,
//! so it cannot run into the path after it. A `Forwarded` header without the text `host`
//! (`for=192.0.2.1;proto=https`, which differs per client) names no authority and is left
//! out, so that such requests still share entries.
//!
//! Sits on [`crate::key`] for escaping.

use ::http::header::{self, HeaderMap};
use ::http::request::Parts;
use ::http::{HeaderName, Version};

use crate::key::escape_bytes_into;

/// `X-Forwarded-Host`, which the `http` crate has no constant for.
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Appends the host part of `request`'s default key (see the module documentation).
pub(crate) fn push(out: &mut String, request: &Parts) {
    let target = request.uri.authority().map(|a| a.as_str().as_bytes());
    if request.headers.contains_key(header::HOST) {
        push_lines(out, &request.headers, &header::HOST);
        let names_target = target.is_some_and(|target| {
            let mut hosts = request.headers.get_all(header::HOST).iter();
            let same = hosts
                .next()
                .is_some_and(|host| host.as_bytes().eq_ignore_ascii_case(target));
            !(same && hosts.next().is_none())
        });
        if let (true, Some(target)) = (names_target, target) {
            out.push_str("&target=");
            push_lowercase(out, target);
        }
    } else if let Some(target) = target {
        // HTTP/2 has no `Host`: `:authority` stands for it. In HTTP/1 a request without
        // `Host` is another request than one with it, for an application that reads it.
        if request.version < Version::HTTP_2 {
            out.push_str("&target=");
        }
        push_lowercase(out, target);
    }
    if forwards_a_host(&request.headers) {
        out.push_str("&forwarded=");
        push_lines(out, &request.headers, &header::FORWARDED);
    }
    if request.headers.contains_key(X_FORWARDED_HOST) {
        out.push_str("&x-forwarded-host=");
        push_lines(out, &request.headers, &X_FORWARDED_HOST);
    }
}

/// The host the request names for itself: its first `Host`, or the authority of its target.
/// What `Location` and `Content-Location` are compared with to stay on the same host.
pub(crate) fn named_host(request: &Parts) -> Option<&str> {
    request
        .headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| request.uri.authority().map(|a| a.as_str()))
}

/// Copies the headers that name an authority from `from` into `to`, so that a request made
/// for another path of the same site keys alike.
pub(crate) fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for name in [header::HOST, header::FORWARDED, X_FORWARDED_HOST] {
        for value in from.get_all(&name) {
            to.append(name.clone(), value.clone());
        }
    }
}

/// Whether a `Forwarded` line mentions `host` in any case: only then can an application
/// read a host from it, however it parses the header.
fn forwards_a_host(headers: &HeaderMap) -> bool {
    headers.get_all(header::FORWARDED).iter().any(|value| {
        value
            .as_bytes()
            .windows(4)
            .any(|window| window.eq_ignore_ascii_case(b"host"))
    })
}

/// Every line of the header `name`, lowercased and escaped, joined by `,`.
fn push_lines(out: &mut String, headers: &HeaderMap, name: &HeaderName) {
    for (index, value) in headers.get_all(name).iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        if value.is_empty() {
            out.push_str("''");
        } else {
            push_lowercase(out, value.as_bytes());
        }
    }
}

/// Appends `bytes` lowercased and escaped; without a copy when they are lowercase already,
/// as hosts nearly always are.
fn push_lowercase(out: &mut String, bytes: &[u8]) {
    if bytes.iter().any(u8::is_ascii_uppercase) {
        escape_bytes_into(out, &bytes.to_ascii_lowercase());
    } else {
        escape_bytes_into(out, bytes);
    }
}

#[cfg(test)]
mod tests {
    use ::http::Request;

    use super::*;

    fn host_part(request: ::http::request::Builder) -> String {
        let mut out = String::new();
        push(&mut out, &request.body(()).unwrap().into_parts().0);
        out
    }

    #[test]
    fn a_plain_request_keys_on_its_lowercased_host() {
        assert_eq!(
            host_part(Request::get("/p").header("host", "Site.Example")),
            "site.example"
        );
        assert_eq!(
            host_part(Request::get("http://Site.Example/p").version(Version::HTTP_2)),
            "site.example",
            "HTTP/2's :authority stands for Host"
        );
        assert_eq!(
            host_part(Request::get("http://Site.Example/p")),
            "&target=site.example",
            "an HTTP/1 request without Host is not one with it"
        );
        assert_eq!(
            host_part(Request::get("http://site.example/p").header("host", "SITE.example")),
            "site.example",
            "a target naming the same host adds nothing"
        );
        assert_eq!(host_part(Request::get("/p")), "");
        assert_eq!(host_part(Request::get("/p").header("host", "")), "''");
    }

    #[test]
    fn every_other_authority_is_covered() {
        let plain = host_part(Request::get("/p").header("host", "good.example"));
        let absolute =
            host_part(Request::get("http://evil.example/p").header("host", "good.example"));
        assert_eq!(absolute, "good.example&target=evil.example");
        let forwarded = host_part(
            Request::get("/p")
                .header("host", "good.example")
                .header("forwarded", "for=192.0.2.1;Host=Evil.example"),
        );
        assert_eq!(
            forwarded,
            "good.example&forwarded=for%3D192.0.2.1%3Bhost%3Devil.example"
        );
        let x_forwarded = host_part(
            Request::get("/p")
                .header("host", "good.example")
                .header("x-forwarded-host", "evil.example"),
        );
        assert_eq!(x_forwarded, "good.example&x-forwarded-host=evil.example");
        for attack in [absolute, forwarded, x_forwarded] {
            assert_ne!(attack, plain);
        }
        assert_eq!(
            host_part(
                Request::get("/p")
                    .header("host", "good.example")
                    .header("forwarded", "for=192.0.2.1;proto=https")
            ),
            plain,
            "a Forwarded that names no host"
        );
    }

    #[test]
    fn repeated_and_empty_lines_stay_apart() {
        let lines = |values: &[&'static str]| {
            let mut request = Request::get("/p");
            for value in values {
                request = request.header("host", *value);
            }
            host_part(request)
        };
        assert_eq!(lines(&["a", "b"]), "a,b");
        assert_eq!(lines(&["a,b"]), "a%2Cb");
        assert_eq!(lines(&["a", ""]), "a,''");
        assert_ne!(lines(&["a", ""]), lines(&["a"]));
        assert_ne!(lines(&[""]), lines(&[]));
        let target = host_part(
            Request::get("http://a/p")
                .header("host", "a")
                .header("host", "a"),
        );
        assert_eq!(target, "a,a&target=a", "two Host lines are not the target");
    }
}
