//! Freshness as RFC 9111 says, in both modes, through a real server and client: `Expires`
//! (past, invalid, in any case or with a wrong weekday), invalid `max-age`, `Age` and `Date`
//! counted against freshness and carried forward, `Pragma: no-cache`, `must-understand`,
//! and what the shared-cache mode stores without a `ttl`.

#[path = "http/support.rs"]
mod support;

#[path = "http/origin.rs"]
mod origin;

use std::time::Duration;

use cached_core::http::{CacheResponseLayer, Mode};
use cached_tests::memory_cache;
use origin::{answer, http_date, origin};
use support::{client, header, x_cache};

/// The layer in each mode; the application mode with a `ttl` long enough never to matter.
fn layers() -> [(Mode, CacheResponseLayer); 2] {
    [
        (
            Mode::Application,
            CacheResponseLayer::new(memory_cache(100)).ttl(Duration::from_secs(3600)),
        ),
        (
            Mode::SharedCache,
            CacheResponseLayer::new(memory_cache(100)).mode(Mode::SharedCache),
        ),
    ]
}

/// Sends two GETs for a path answered with `headers`; returns the second's `X-Cache` and
/// how many times the origin was called.
async fn twice(layer: CacheResponseLayer, headers: &[(&str, &str)]) -> (String, usize) {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    let (server, log) = origin(layer, move |n, _| {
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        answer(200, &pairs, &format!("v{n}"))
    })
    .await;
    let client = client();
    client.get(server.url("/r")).send().await.unwrap();
    let second = client.get(server.url("/r")).send().await.unwrap();
    (x_cache(&second), log.count())
}

#[tokio::test]
async fn past_and_invalid_expires_are_stale_in_both_modes() {
    let past = http_date(-3600);
    for expires in [
        "0",
        "-1",
        past.as_str(),
        "Sun, 30 Feb 2100 00:00:00 AEST",
        "soon",
    ] {
        for (mode, layer) in layers() {
            assert_eq!(
                twice(layer, &[("expires", expires)]).await,
                ("MISS".into(), 2),
                "{mode:?}, Expires: {expires}"
            );
        }
    }
    let future = http_date(3600);
    for (mode, layer) in layers() {
        assert_eq!(
            twice(layer, &[("expires", future.as_str())]).await,
            ("HIT".into(), 1),
            "{mode:?}: a future Expires is fresh"
        );
    }
}

#[tokio::test]
async fn expires_counts_from_the_date_of_the_origin() {
    // Sent an hour ago by the origin's clock, fresh for 30 minutes after that.
    let (date, expires) = (http_date(-3600), http_date(-1800));
    for (mode, layer) in layers() {
        assert_eq!(
            twice(
                layer,
                &[("date", date.as_str()), ("expires", expires.as_str())]
            )
            .await,
            ("MISS".into(), 2),
            "{mode:?}"
        );
    }
}

#[tokio::test]
async fn an_invalid_max_age_is_stale_in_both_modes() {
    for value in [
        "max-age=-3600",
        "max-age='3600'",
        "max-age=3600a",
        "max-age",
    ] {
        for (mode, layer) in layers() {
            assert_eq!(
                twice(layer, &[("cache-control", value)]).await,
                ("MISS".into(), 2),
                "{mode:?}, {value}"
            );
        }
    }
}

#[tokio::test]
async fn an_incoming_age_counts_against_max_age_and_is_carried_forward() {
    for (mode, layer) in layers() {
        assert_eq!(
            twice(layer, &[("cache-control", "max-age=3600"), ("age", "7200")]).await,
            ("MISS".into(), 2),
            "{mode:?}: older than its max-age"
        );
    }
    for (mode, layer) in layers() {
        let (server, log) = origin(layer, |_, _| {
            answer(
                200,
                &[("cache-control", "max-age=3600"), ("age", "1800")],
                "v",
            )
        })
        .await;
        let client = client();
        let first = client.get(server.url("/r")).send().await.unwrap();
        let first_age: u64 = header(&first, "age").parse().unwrap();
        assert!(first_age >= 1800, "{mode:?}: the miss passes its Age on");
        let hit = client.get(server.url("/r")).send().await.unwrap();
        assert_eq!(x_cache(&hit), "HIT", "{mode:?}");
        let age: u64 = header(&hit, "age").parse().unwrap();
        assert!(
            age >= 1800,
            "{mode:?}: the hit adds to the origin's Age: {age}"
        );
        assert_eq!(log.count(), 1);
    }
    for age in ["2147483648", "99999999999999999999", "7200, 0"] {
        for (mode, layer) in layers() {
            assert_eq!(
                twice(layer, &[("cache-control", "max-age=3600"), ("age", age)]).await,
                ("MISS".into(), 2),
                "{mode:?}, Age: {age}"
            );
        }
    }
    for age in ["abc", "-7200", "7200.0", "0, 7200"] {
        for (mode, layer) in layers() {
            assert_eq!(
                twice(layer, &[("cache-control", "max-age=3600"), ("age", age)]).await,
                ("HIT".into(), 1),
                "{mode:?}, Age: {age} is ignored or read as its first value"
            );
        }
    }
}

#[tokio::test]
async fn pragma_no_cache_alone_is_not_stored_in_both_modes() {
    for (mode, layer) in layers() {
        assert_eq!(
            twice(layer, &[("pragma", "no-cache")]).await,
            ("MISS".into(), 2),
            "{mode:?}"
        );
    }
}

#[tokio::test]
async fn the_shared_mode_stores_only_responses_with_freshness_information() {
    let shared = || CacheResponseLayer::new(memory_cache(100)).mode(Mode::SharedCache);
    assert_eq!(twice(shared(), &[]).await, ("MISS".into(), 2));
    assert_eq!(
        twice(shared(), &[("cache-control", "max-age=60")]).await,
        ("HIT".into(), 1)
    );
    assert_eq!(
        twice(shared(), &[("cache-control", "s-maxage=60, max-age=0")]).await,
        ("HIT".into(), 1),
        "s-maxage is for shared caches"
    );
    let (_, application) = &layers()[0];
    assert_eq!(
        twice(application.clone(), &[]).await,
        ("HIT".into(), 1),
        "the application mode keeps the route's ttl"
    );
    assert_eq!(
        twice(
            CacheResponseLayer::new(memory_cache(100)).ttl(Duration::from_secs(3600)),
            &[("cache-control", "max-age=0")]
        )
        .await,
        ("MISS".into(), 2),
        "the response's freshness shortens the ttl"
    );
}

#[tokio::test]
async fn a_request_max_age_refuses_older_entries() {
    let (_, layer) = layers().into_iter().nth(1).unwrap();
    let (server, log) = origin(layer, |n, _| {
        answer(
            200,
            &[("cache-control", "max-age=3600"), ("age", "600")],
            &format!("v{n}"),
        )
    })
    .await;
    let client = client();
    client.get(server.url("/r")).send().await.unwrap();
    let strict = client
        .get(server.url("/r"))
        .header("cache-control", "max-age=300")
        .send()
        .await
        .unwrap();
    assert_eq!(x_cache(&strict), "MISS");
    assert_eq!(strict.text().await.unwrap(), "v2");
    let lenient = client
        .get(server.url("/r"))
        .header("cache-control", "max-age=6000")
        .send()
        .await
        .unwrap();
    assert_eq!(x_cache(&lenient), "HIT");
    assert_eq!(log.count(), 2);
}

#[tokio::test]
async fn an_expires_in_any_case_or_with_a_wrong_weekday_is_read() {
    let in_an_hour = http_date(3600);
    let weekday = &in_an_hour[..3];
    let wrong = if weekday == "Mon" { "Tue" } else { "Mon" };
    for expires in [
        in_an_hour.to_uppercase(),
        in_an_hour.to_lowercase(),
        in_an_hour.replacen(weekday, wrong, 1),
    ] {
        let layer = CacheResponseLayer::new(memory_cache(100)).mode(Mode::SharedCache);
        let (second, calls) = twice(layer, &[("expires", &expires)]).await;
        assert_eq!((second.as_str(), calls), ("HIT", 1), "Expires: {expires}");
    }
    let in_another_zone = in_an_hour.replace("GMT", "UTC");
    let layer = CacheResponseLayer::new(memory_cache(100)).mode(Mode::SharedCache);
    let (second, _) = twice(layer, &[("expires", &in_another_zone)]).await;
    assert_eq!(second, "MISS", "Expires: {in_another_zone}");
}

#[tokio::test]
async fn must_understand_stores_an_understood_status_despite_no_store() {
    for (mode, layer) in layers() {
        let cache_control = ("cache-control", "max-age=3600, no-store, must-understand");
        let (second, calls) = twice(layer, &[cache_control]).await;
        assert_eq!((second.as_str(), calls), ("HIT", 1), "{mode:?}");
    }
    let unknown = CacheResponseLayer::new(memory_cache(100)).mode(Mode::SharedCache);
    let (server, log) = origin(unknown, |n, _| {
        let cache_control = ("cache-control", "max-age=3600, no-store, must-understand");
        answer(599, &[cache_control], &format!("v{n}"))
    })
    .await;
    for _ in 0..2 {
        let response = client().get(server.url("/r")).send().await.unwrap();
        assert_eq!(x_cache(&response), "MISS", "599 is not understood");
    }
    assert_eq!(log.count(), 2);
}
