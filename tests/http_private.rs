//! Private requests stay private, through a real server and client: a request carrying
//! `Cookie` or `Authorization` is neither answered from nor stored in the cache unless the
//! response says it may be shared (`public`, `s-maxage`, and for `Authorization`
//! `must-revalidate`) or varies on the header, or the route keys on the user, or the layer
//! is told otherwise.

#[path = "http/support.rs"]
mod support;

#[path = "http/origin.rs"]
mod origin;

use std::time::Duration;

use cached_core::http::{CacheResponseLayer, Mode};
use cached_tests::memory_cache;
use origin::{Received, answer, origin};
use support::{Server, client, x_cache};

/// The greeting of a handler that reads the session from the cookie, as a new user writes
/// it: no `Vary`, no `Cache-Control`.
fn greet(_: usize, request: &Received) -> axum::response::Response {
    let session = request
        .headers
        .get("cookie")
        .map_or("anonymous".to_owned(), |v| v.to_str().unwrap().to_owned());
    answer(200, &[], &format!("hello {session}"))
}

fn layer() -> CacheResponseLayer {
    CacheResponseLayer::new(memory_cache(100)).ttl(Duration::from_secs(3600))
}

/// `GET /page` with `headers`: `X-Cache` and the body.
async fn get(server: &Server, headers: &[(&str, &str)]) -> (String, String) {
    let mut request = client().get(server.url("/page"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (x_cache(&response), response.text().await.unwrap())
}

fn seen(x_cache: &str, body: &str) -> (String, String) {
    (x_cache.to_owned(), body.to_owned())
}

#[tokio::test]
async fn a_personal_page_is_never_served_to_another_session() {
    for mode in [Mode::Application, Mode::SharedCache] {
        let layer = layer().mode(mode);
        let (server, log) = origin(layer, |n, request| {
            let mut response = greet(n, request);
            // The shared-cache mode stores only responses with freshness information.
            let fresh = "max-age=3600".parse().unwrap();
            response.headers_mut().insert("cache-control", fresh);
            response
        })
        .await;
        let alice = [("cookie", "session=alice")];
        let bob = [("cookie", "session=bob")];
        assert_eq!(
            get(&server, &alice).await,
            seen("MISS", "hello session=alice")
        );
        assert_eq!(
            get(&server, &bob).await,
            seen("MISS", "hello session=bob"),
            "{mode:?}: alice's page was not stored"
        );
        assert_eq!(get(&server, &[]).await, seen("MISS", "hello anonymous"));
        assert_eq!(get(&server, &[]).await, seen("HIT", "hello anonymous"));
        assert_eq!(
            get(&server, &alice).await,
            seen("MISS", "hello session=alice"),
            "{mode:?}: the anonymous entry does not answer a session"
        );
        let authorized = [("authorization", "Bearer alice")];
        assert_eq!(get(&server, &authorized).await.0, "MISS");
        assert_eq!(get(&server, &authorized).await.0, "MISS");
        assert_eq!(log.count(), 6);
    }
}

#[tokio::test]
async fn a_response_that_says_it_may_be_shared_is_shared() {
    let cases = [
        ("cookie", "public, max-age=3600", true),
        ("cookie", "s-maxage=3600", true),
        ("cookie", "max-age=3600, must-revalidate", false),
        ("authorization", "public, max-age=3600", true),
        ("authorization", "s-maxage=3600", true),
        ("authorization", "max-age=3600, must-revalidate", true),
        ("authorization", "max-age=3600", false),
    ];
    for mode in [Mode::Application, Mode::SharedCache] {
        for (credential, cache_control, shared) in cases {
            let (server, log) = origin(layer().mode(mode), move |n, _| {
                answer(200, &[("cache-control", cache_control)], &format!("v{n}"))
            })
            .await;
            let case = format!("{mode:?}, {credential}, {cache_control}");
            get(&server, &[(credential, "one")]).await;
            let (second, _) = get(&server, &[(credential, "two")]).await;
            let (plain, _) = get(&server, &[]).await;
            if shared {
                assert_eq!((second.as_str(), plain.as_str()), ("HIT", "HIT"), "{case}");
                assert_eq!(log.count(), 1, "{case}");
            } else {
                assert_eq!(second, "MISS", "{case}");
                assert_eq!(plain, "MISS", "{case}: not stored");
            }
        }
    }
}

#[tokio::test]
async fn routes_that_key_on_the_user_cache_each_users_page() {
    let vary_cookie = layer().vary_headers(["Cookie"]);
    let (server, log) = origin(vary_cookie, greet).await;
    let alice = [("cookie", "session=alice")];
    let bob = [("cookie", "session=bob")];
    for expected in ["MISS", "HIT"] {
        assert_eq!(
            get(&server, &alice).await,
            seen(expected, "hello session=alice")
        );
        assert_eq!(
            get(&server, &bob).await,
            seen(expected, "hello session=bob")
        );
    }
    assert_eq!(log.count(), 2);

    // As Django does when the session is read: the response varies on the cookie.
    let (server, log) = origin(layer(), |n, request| {
        let mut response = greet(n, request);
        response
            .headers_mut()
            .insert("vary", "Cookie".parse().unwrap());
        response
    })
    .await;
    for expected in ["MISS", "HIT"] {
        assert_eq!(
            get(&server, &alice).await,
            seen(expected, "hello session=alice")
        );
        assert_eq!(
            get(&server, &bob).await,
            seen(expected, "hello session=bob")
        );
    }
    assert_eq!(log.count(), 2);
}

#[tokio::test]
async fn the_private_headers_are_configurable_and_an_empty_list_opts_out() {
    let api_keys = layer().private_headers(["X-Api-Key"]);
    let (server, log) = origin(api_keys, |n, _| answer(200, &[], &format!("v{n}"))).await;
    assert_eq!(get(&server, &[("cookie", "a=1")]).await, seen("MISS", "v1"));
    assert_eq!(
        get(&server, &[("cookie", "b=2")]).await,
        seen("HIT", "v1"),
        "cookies are not private here"
    );
    assert_eq!(
        get(&server, &[("x-api-key", "k")]).await,
        seen("MISS", "v2")
    );
    assert_eq!(log.count(), 2);

    let opted_out = layer().private_headers::<[&str; 0]>([]);
    let (server, _) = origin(opted_out, |n, _| answer(200, &[], &format!("v{n}"))).await;
    assert_eq!(
        get(&server, &[("authorization", "Bearer a")]).await,
        seen("MISS", "v1")
    );
    assert_eq!(
        get(&server, &[("authorization", "Bearer b")]).await,
        seen("HIT", "v1")
    );
}

/// An entry another request stored is not even revalidated for a private request: a `304`
/// to its credentials would serve it another user's body.
#[tokio::test]
async fn a_private_request_never_revalidates_anothers_entry() {
    let shared = CacheResponseLayer::new(memory_cache(100)).mode(Mode::SharedCache);
    let (server, log) = origin(shared, |n, request| {
        if request.headers.contains_key("if-none-match") {
            return answer(304, &[("etag", "\"v\"")], "");
        }
        answer(
            200,
            &[("cache-control", "max-age=0"), ("etag", "\"v\"")],
            &format!("v{n}"),
        )
    })
    .await;
    assert_eq!(get(&server, &[]).await, seen("MISS", "v1"));
    assert_eq!(get(&server, &[]).await, seen("REVALIDATED", "v1"));
    let private = get(&server, &[("cookie", "session=alice")]).await;
    assert_eq!(private, seen("MISS", "v3"));
    assert!(
        !log.last().headers.contains_key("if-none-match"),
        "asked unconditionally"
    );
    assert_eq!(
        get(&server, &[]).await,
        seen("REVALIDATED", "v1"),
        "alice's response was not stored"
    );
}
