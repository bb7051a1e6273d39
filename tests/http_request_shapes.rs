//! No two requests that the application could answer differently share an entry: pairs of
//! generated requests (proptest) of every shape a client or proxy may send (HTTP/1.1 and
//! HTTP/2, header names in any case, duplicate and empty `Host`, origin and absolute forms, `Forwarded` in valid and
//! hostile syntax, `X-Forwarded-Host`, cookies over several lines, lines combined into one,
//! query parameters in any order) go through the layer one after the other (`oneshot`, in process) in front of an
//! application that answers with everything it reads of the request, the way applications
//! read it. The second request must get exactly the answer the application gives it: an
//! entry stored for the first is served to it only if the application could not tell them
//! apart.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, Request, Response, Version};
use cached_core::http::CacheResponseLayer;
use cached_tests::memory_cache;
use http_body_util::BodyExt;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tower::{Layer, ServiceExt};

/// One request as generated: its version, target and header lines, in order.
#[derive(Clone, Debug)]
struct Shape {
    version: Version,
    target: String,
    headers: Vec<(String, String)>,
}

impl Shape {
    fn request(&self) -> Request<Body> {
        let mut request = Request::get(self.target.as_str()).version(self.version);
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        request.body(Body::empty()).unwrap()
    }
}

/// A header name in a random case (the `http` crate reads any).
fn cased(name: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<bool>(), name.len()).prop_map(move |upper| {
        name.chars()
            .zip(upper)
            .map(|(c, up)| if up { c.to_ascii_uppercase() } else { c })
            .collect()
    })
}

/// Up to two lines of the header `name`, each one of `values`.
fn lines(
    name: &'static str,
    values: &'static [&'static str],
) -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((cased(name), prop::sample::select(values)), 0..=2).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(name, value)| (name, value.to_owned()))
            .collect()
    })
}

fn shape() -> impl Strategy<Value = Shape> {
    let authority = prop::sample::select(
        &[
            "",
            "http://good.example",
            "http://GOOD.example",
            "http://evil.example",
            "http://good.example:80",
        ][..],
    );
    let path = prop::sample::select(&["/p", "/q", "/p/"][..]);
    let query = prop::sample::select(
        &[
            "", "?a=1", "?a=1&b=2", "?b=2&a=1", "?a=2", "?a=1&a=2", "?a=2&a=1",
        ][..],
    );
    let hosts = lines(
        "host",
        &[
            "good.example",
            "Good.Example",
            "evil.example",
            "",
            "good.example,evil.example",
        ],
    );
    let forwarded = lines(
        "forwarded",
        &[
            "for=192.0.2.1",
            "for=192.0.2.2;proto=https",
            "host=evil.example",
            "for=192.0.2.1;host=good.example",
            "HOST=evil.example",
            "for=\"x;host=evil.example\"",
            "host=\"evil.example\"",
            "host=good.example, host=evil.example",
        ],
    );
    let x_forwarded_host = lines("x-forwarded-host", &["good.example", "evil.example", ""]);
    let cookies = lines(
        "cookie",
        &[
            "session=alice",
            "session=bob",
            "a=1; session=alice",
            "session=alice,session=bob",
            "",
        ],
    );
    let version = prop::sample::select(&[Version::HTTP_11, Version::HTTP_2][..]);
    let headers = (hosts, forwarded, x_forwarded_host, cookies);
    (version, authority, path, query, headers).prop_map(
        |(version, authority, path, query, (hosts, forwarded, x_forwarded_host, cookies))| Shape {
            version,
            target: format!("{authority}{path}{query}"),
            headers: [hosts, forwarded, x_forwarded_host, cookies].concat(),
        },
    )
}

/// `headers` with the lines of each name combined into one, joined by `,` (as an
/// intermediary may combine them).
fn combined(headers: &[(String, String)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        match out
            .iter_mut()
            .find(|(seen, _)| seen.eq_ignore_ascii_case(name))
        {
            Some((_, joined)) => {
                joined.push(',');
                joined.push_str(value);
            }
            None => out.push((name.clone(), value.clone())),
        }
    }
    out
}

fn values<'h>(headers: &'h HeaderMap, name: &str) -> Vec<&'h str> {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

/// The `host` parameters of `Forwarded` lines as a careful parser finds them: every element,
/// quoted strings honoured.
fn forwarded_hosts(lines: &[&str]) -> Vec<String> {
    let mut hosts = Vec::new();
    for line in lines {
        let mut quoted = false;
        let mut pair = String::new();
        let mut pairs = Vec::new();
        for c in line.chars() {
            match c {
                '"' => {
                    quoted = !quoted;
                    pair.push(c);
                }
                ';' | ',' if !quoted => pairs.push(std::mem::take(&mut pair)),
                c => pair.push(c),
            }
        }
        pairs.push(pair);
        for pair in pairs {
            if let Some((name, value)) = pair.trim().split_once('=')
                && name.eq_ignore_ascii_case("host")
            {
                hosts.push(value.trim_matches('"').to_ascii_lowercase());
            }
        }
    }
    hosts
}

/// What the application reads of a request, each the way some application reads it: its
/// answer. Hosts are compared case-insensitively, as HTTP has them.
fn reading(parts: &Parts, reads_cookies: bool) -> String {
    let headers = &parts.headers;
    let target = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_ascii_lowercase());
    let mut host = values(headers, "host");
    // In HTTP/2 `:authority` stands for `Host` (RFC 9113, section 8.3.1).
    if host.is_empty() && parts.version >= Version::HTTP_2 {
        host.extend(parts.uri.authority().map(|a| a.as_str()));
    }
    let forwarded = values(headers, "forwarded");
    let x_forwarded_host = values(headers, "x-forwarded-host");
    // axum-extra's `Host`: the first `Forwarded` element split naively, then
    // `X-Forwarded-Host`, then `Host`, then the target.
    let naive_forwarded = forwarded.first().and_then(|line| {
        line.split(',').next()?.split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            name.eq_ignore_ascii_case("host")
                .then(|| value.trim_matches('"').to_owned())
        })
    });
    let axum_host = naive_forwarded
        .or_else(|| x_forwarded_host.first().map(|v| (*v).to_owned()))
        .or_else(|| host.first().map(|v| (*v).to_owned()))
        .or_else(|| target.clone())
        .map(|host| host.to_ascii_lowercase());
    // RFC 9112: the target's authority for the absolute form, else `Host`.
    let rfc_host = target
        .clone()
        .or_else(|| host.first().map(|v| v.to_ascii_lowercase()));
    let mut query: Vec<(&str, &str)> = parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .collect();
    query.sort_by_key(|(name, _)| *name);
    let mut read = format!(
        "axum={axum_host:?} rfc={rfc_host:?} forwarded={:?} last-x-forwarded-host={:?} \
         hosts={:?} path={} query={query:?}",
        forwarded_hosts(&forwarded),
        x_forwarded_host.last().map(|v| v.to_ascii_lowercase()),
        host.iter()
            .map(|v| v.to_ascii_lowercase())
            .collect::<Vec<_>>(),
        parts.uri.path(),
    );
    if reads_cookies {
        let cookies = values(headers, "cookie");
        let session = cookies
            .iter()
            .flat_map(|line| line.split(';'))
            .find_map(|pair| pair.trim().strip_prefix("session="));
        read.push_str(&format!(" session={session:?} cookie-lines={cookies:?}"));
    }
    read
}

/// How the route is cached, and what its application reads and says.
#[derive(Clone, Copy, Debug)]
enum Route {
    /// The defaults; the application reads cookies too.
    Default,
    /// `vary_headers(["Cookie"])`.
    KeyedOnCookies,
    /// The response says `Vary: Cookie`.
    VaryCookie,
    /// A key template covering the host, path and query.
    Template,
    /// The response says `Cache-Control: public`: the application reads no cookie.
    Public,
}

impl Route {
    fn layer(self) -> CacheResponseLayer {
        let layer = CacheResponseLayer::new(memory_cache(100)).ttl(Duration::from_secs(3600));
        match self {
            Route::KeyedOnCookies => layer.vary_headers(["Cookie"]),
            Route::Template => layer.key("/{*rest}", "page:{host}:{path}:{query}"),
            Route::Default | Route::VaryCookie | Route::Public => layer,
        }
    }

    fn answer(self, parts: &Parts) -> Response<Body> {
        let mut response =
            Response::new(Body::from(reading(parts, !matches!(self, Route::Public))));
        let said = match self {
            Route::VaryCookie => Some(("vary", "Cookie")),
            Route::Public => Some(("cache-control", "public")),
            Route::Default | Route::KeyedOnCookies | Route::Template => None,
        };
        if let Some((name, value)) = said {
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), value.parse().unwrap());
        }
        response
    }
}

/// Sends `first` then `second` through a fresh layer for `route`; returns the second's body
/// and whether it came from the cache.
async fn second_answer(route: Route, first: &Shape, second: &Shape) -> (String, bool) {
    let layer = route.layer();
    let app = tower::service_fn(move |request: Request<Body>| async move {
        let (parts, _) = request.into_parts();
        Ok::<_, Infallible>(route.answer(&parts))
    });
    let mut answer = (String::new(), false);
    for shape in [first, second] {
        let response = layer.layer(app).oneshot(shape.request()).await.unwrap();
        let hit = response.headers()["x-cache"] == "HIT";
        let body = response.into_body().collect().await.unwrap().to_bytes();
        answer = (String::from_utf8(body.to_vec()).unwrap(), hit);
    }
    answer
}

#[test]
fn no_two_requests_the_application_tells_apart_share_an_entry() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let hits = AtomicUsize::new(0);
    let routes = vec![
        Route::Default,
        Route::KeyedOnCookies,
        Route::VaryCookie,
        Route::Template,
        Route::Public,
    ];
    let mut runner = TestRunner::new(Config {
        cases: 1_000,
        failure_persistence: None,
        ..Config::default()
    });
    // The second request is often the first with one part changed, so that most pairs
    // differ in one way the key must tell, or the same request again.
    let pair = (shape(), shape(), 0..6_usize).prop_map(|(first, other, part)| {
        let mut second = first.clone();
        match part {
            0 => second = other,
            1 => (second.version, second.target) = (other.version, other.target),
            2 => second.headers = other.headers,
            3 => second.headers.reverse(),
            4 => second.headers = combined(&first.headers),
            _ => {}
        }
        (first, second)
    });
    runner
        .run(
            &(pair, prop::sample::select(routes)),
            |((first, second), route)| {
                let (answer, hit) = runtime.block_on(second_answer(route, &first, &second));
                let (parts, _) = second.request().into_parts();
                let expected = route.answer(&parts);
                let expected = runtime
                    .block_on(expected.into_body().collect())
                    .unwrap()
                    .to_bytes();
                prop_assert_eq!(
                    answer.as_bytes(),
                    expected.as_ref(),
                    "{:?} hit: {}",
                    route,
                    hit
                );
                if hit {
                    hits.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            },
        )
        .unwrap();
    let hits = hits.into_inner();
    assert!(
        hits > 100,
        "pairs that share an entry are generated too: {hits}"
    );
}
