//! The freshness rules both modes share (RFC 9111, section 4.2): a response's age when it
//! arrived (`Age`, `Date` and the time in transit), its freshness lifetime (`s-maxage`,
//! `max-age`, `Expires` against `Date`, or a heuristic), and how long its entry may be
//! served stale (`stale-while-revalidate`, `stale-if-error`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::http::StatusCode;
use ::http::header::{self, HeaderMap};
use headers::{HeaderMapExt, LastModified};

use super::date;
use super::directives::{Delta, ResponseDirectives};
use super::settings::{Config, Mode};

/// The longest heuristic freshness lifetime: a day.
const MAX_HEURISTIC: u64 = 24 * 60 * 60;

/// How long a stale entry with a validator is kept for revalidation beyond its other
/// windows: five minutes.
pub(crate) const REVALIDATION_WINDOW: Duration = Duration::from_secs(300);

/// The freshness of a stored response, fixed when it was received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Freshness {
    /// Its age when it was received, in seconds (the corrected initial age).
    pub(crate) initial_age: u64,
    /// How long it stays fresh after it was received, in milliseconds.
    pub(crate) fresh_for: u64,
    /// How long after that it may be served while it is refreshed, in seconds.
    pub(crate) stale_while_revalidate: u64,
    /// How long after that it may be served when the origin fails, in seconds.
    pub(crate) stale_if_error: u64,
}

/// When a response was requested and received, in milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Exchange {
    pub(crate) requested_at: u64,
    pub(crate) received_at: u64,
}

/// The freshness of a response with `status` and `headers`, exchanged at `exchange`;
/// `None` when, in [`Mode::SharedCache`], it has no explicit freshness and its status is
/// not heuristically cacheable (RFC 9111, section 3).
pub(crate) fn assess(
    config: &Config,
    status: StatusCode,
    headers: &HeaderMap,
    directives: &ResponseDirectives,
    exchange: Exchange,
) -> Option<Freshness> {
    let shared = config.mode == Mode::SharedCache;
    let received = exchange.received_at / 1000;
    let date = date::header(headers, &header::DATE)
        .flatten()
        .map_or(received, unix_seconds);
    let apparent_age = received.saturating_sub(date);
    let in_transit = exchange.received_at.saturating_sub(exchange.requested_at) / 1000;
    let initial_age = apparent_age.max(age(headers).saturating_add(in_transit));
    let explicit = if directives.no_cache {
        Some(0)
    } else if let Some(s_maxage) = directives.s_maxage {
        Some(s_maxage.seconds())
    } else if let Some(max_age) = directives.max_age {
        Some(max_age.seconds())
    } else {
        // An invalid date (such as `0`) means already expired.
        date::header(headers, &header::EXPIRES)
            .map(|expires| expires.map_or(0, |expires| unix_seconds(expires).saturating_sub(date)))
    };
    let lifetime = match (config.mode, explicit) {
        (Mode::Application, Some(explicit)) => explicit
            .saturating_sub(initial_age)
            .min(config.route_ttl().as_secs()),
        (Mode::Application, None) => config.route_ttl().as_secs(),
        (Mode::SharedCache, Some(explicit)) => explicit.saturating_sub(initial_age),
        (Mode::SharedCache, None) if directives.public || heuristically_cacheable(status) => {
            heuristic(headers, date).saturating_sub(initial_age)
        }
        (Mode::SharedCache, None) => return None,
    };
    // `s-maxage` implies `proxy-revalidate` for a shared cache (RFC 9111, 5.2.2.10).
    let must_revalidate = directives.never_stale() || (shared && directives.s_maxage.is_some());
    let window = |seconds: Option<u64>| seconds.filter(|_| !must_revalidate).unwrap_or(0);
    Some(Freshness {
        initial_age,
        fresh_for: lifetime.saturating_mul(1000),
        stale_while_revalidate: window(directives.stale_while_revalidate),
        stale_if_error: window(directives.stale_if_error),
    })
}

/// The `Age` a response arrived with: the first value of its first line; an invalid one is
/// ignored, one too large for a `u64` is the largest (RFC 9111, sections 1.2.2 and 5.1).
pub(crate) fn age(headers: &HeaderMap) -> u64 {
    let Some(first) = headers.get(header::AGE).and_then(|v| v.to_str().ok()) else {
        return 0;
    };
    let first = first.split(',').next().unwrap_or_default().trim();
    match Delta::parse(Some(first)) {
        Delta::Seconds(seconds) => seconds,
        Delta::Invalid => 0,
    }
}

/// 10% of the time since `Last-Modified`, at most a day (RFC 9111, section 4.2.2).
fn heuristic(headers: &HeaderMap, date: u64) -> u64 {
    headers
        .typed_get::<LastModified>()
        .map_or(0, |modified| {
            date.saturating_sub(unix_seconds(modified.into())) / 10
        })
        .min(MAX_HEURISTIC)
}

/// The statuses RFC 9110 defines as heuristically cacheable.
pub(crate) fn heuristically_cacheable(status: StatusCode) -> bool {
    matches!(
        status.as_u16(),
        200 | 203 | 204 | 300 | 301 | 308 | 404 | 405 | 410 | 414 | 501
    )
}

impl Freshness {
    /// How long the entry must be kept: while fresh, while it may be served stale, and for
    /// [`REVALIDATION_WINDOW`] more when it has a validator.
    pub(crate) fn retention(&self, validated: bool) -> Duration {
        let stale = self.stale_while_revalidate.max(self.stale_if_error);
        let stale = Duration::from_secs(stale);
        let stale = if validated {
            stale.max(REVALIDATION_WINDOW)
        } else {
            stale
        };
        Duration::from_millis(self.fresh_for).saturating_add(stale)
    }
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use ::http::HeaderValue;
    use ::http::header::HeaderName;
    use proptest::prelude::*;

    use super::*;
    use crate::CacheConfig;
    use crate::http::CacheResponseLayer;
    use crate::http::directives;

    const RECEIVED: u64 = 1_700_000_000_000;

    fn config(mode: Mode) -> Config {
        let cache = crate::Cache::new("f", &CacheConfig::memory()).unwrap();
        let layer = CacheResponseLayer::new(cache)
            .mode(mode)
            .ttl(Duration::from_secs(600));
        (*layer.config()).clone()
    }

    /// The HTTP date `ago` seconds before the response was received.
    fn date(ago: u64) -> String {
        let received = UNIX_EPOCH + Duration::from_millis(RECEIVED);
        httpdate::fmt_http_date(received - Duration::from_secs(ago))
    }

    fn assess_at(mode: Mode, pairs: &[(&str, String)], requested_ago: u64) -> Option<Freshness> {
        let headers: HeaderMap = pairs
            .iter()
            .map(|(n, v)| {
                (
                    HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect();
        let exchange = Exchange {
            requested_at: RECEIVED - requested_ago,
            received_at: RECEIVED,
        };
        let directives = directives::response(&headers);
        assess(
            &config(mode),
            StatusCode::OK,
            &headers,
            &directives,
            exchange,
        )
    }

    fn fresh_for(mode: Mode, pairs: &[(&str, String)]) -> Option<u64> {
        assess_at(mode, pairs, 0).map(|f| f.fresh_for / 1000)
    }

    #[test]
    fn expires_counts_from_date() {
        let shared = |pairs: &[(&str, String)]| fresh_for(Mode::SharedCache, pairs);
        assert_eq!(
            shared(&[("date", date(3600)), ("expires", date(1800))]),
            Some(0),
            "expired half an hour ago by the origin's clock"
        );
        assert_eq!(
            shared(&[("date", date(3600)), ("expires", date(0))]),
            Some(0),
            "an hour of freshness, an hour old"
        );
        assert_eq!(shared(&[("expires", "0".into())]), Some(0));
        assert_eq!(
            shared(&[
                ("cache-control", "max-age=60".into()),
                ("expires", "0".into())
            ]),
            Some(60),
            "max-age wins over Expires"
        );
        let now = date(0);
        let in_an_hour = httpdate::fmt_http_date(
            UNIX_EPOCH + Duration::from_millis(RECEIVED) + Duration::from_secs(3600),
        );
        assert_eq!(
            shared(&[
                ("date", now.to_uppercase()),
                ("expires", in_an_hour.to_uppercase())
            ]),
            Some(3600),
            "dates are read case-insensitively"
        );
        let no_weekday = in_an_hour.replacen(&in_an_hour[..3], "Xyz", 1);
        assert_eq!(
            shared(&[("date", now), ("expires", no_weekday)]),
            Some(0),
            "not a date: expired"
        );
    }

    #[test]
    fn the_initial_age_takes_the_larger_of_date_and_age_plus_transit() {
        let initial = |pairs: &[(&str, String)], transit| {
            assess_at(Mode::SharedCache, pairs, transit).map(|f| f.initial_age)
        };
        let cc = ("cache-control", "max-age=3600".to_owned());
        assert_eq!(
            initial(&[cc.clone(), ("age", "100".into())], 5_000),
            Some(105)
        );
        assert_eq!(initial(&[cc.clone(), ("date", date(300))], 0), Some(300));
        assert_eq!(
            initial(&[cc.clone(), ("date", date(300)), ("age", "10".into())], 0),
            Some(300)
        );
        assert_eq!(initial(&[cc.clone(), ("age", "abc".into())], 0), Some(0));
        assert_eq!(
            initial(&[cc, ("age", "99999999999999999999".into())], 0),
            Some(u64::MAX)
        );
    }

    #[test]
    fn the_heuristic_is_a_tenth_of_the_time_since_last_modified_at_most_a_day() {
        let shared = |pairs: &[(&str, String)]| fresh_for(Mode::SharedCache, pairs);
        let days = |n: u64| n * 24 * 3600;
        assert_eq!(shared(&[("last-modified", date(days(5)))]), Some(43_200));
        assert_eq!(shared(&[("last-modified", date(days(30)))]), Some(86_400));
        assert_eq!(shared(&[]), Some(0), "no Last-Modified: stale, storable");
        assert_eq!(
            fresh_for(Mode::Application, &[("last-modified", date(days(5)))]),
            Some(600),
            "the application mode uses its ttl"
        );
    }

    #[test]
    fn windows_to_serve_stale_and_what_forbids_them() {
        let windows = |mode, value: &str| {
            let f = assess_at(mode, &[("cache-control", value.to_owned())], 0).unwrap();
            (f.stale_while_revalidate, f.stale_if_error)
        };
        let both = "max-age=1, stale-while-revalidate=30, stale-if-error=60";
        assert_eq!(windows(Mode::SharedCache, both), (30, 60));
        let must = format!("{both}, must-revalidate");
        assert_eq!(windows(Mode::SharedCache, &must), (0, 0));
        let proxy = format!("{both}, proxy-revalidate");
        assert_eq!(windows(Mode::Application, &proxy), (0, 0));
        let shared_max = format!("{both}, s-maxage=5");
        assert_eq!(windows(Mode::SharedCache, &shared_max), (0, 0));
        let f = assess_at(Mode::SharedCache, &[("cache-control", both.to_owned())], 0).unwrap();
        assert_eq!(f.retention(false), Duration::from_secs(61));
        assert_eq!(
            f.retention(true),
            Duration::from_secs(1) + REVALIDATION_WINDOW
        );
    }

    proptest! {
        /// Fresh exactly while the age it arrived with plus the time stored is below its
        /// `max-age`, in both modes (the application mode capped at its ttl).
        #[test]
        fn fresh_while_younger_than_max_age(
            max_age in 0_u64..100_000,
            age in 0_u64..100_000,
            stored in 0_u64..100_000,
            shared in any::<bool>(),
        ) {
            let mode = if shared { Mode::SharedCache } else { Mode::Application };
            let pairs = [
                ("cache-control", format!("max-age={max_age}")),
                ("age", age.to_string()),
            ];
            let freshness = assess_at(mode, &pairs, 0).unwrap();
            let limit = if shared { max_age } else { max_age.min(age + 600) };
            let fresh = stored * 1000 < freshness.fresh_for;
            prop_assert_eq!(fresh, age + stored < limit);
            prop_assert_eq!(freshness.initial_age, age);
        }
    }
}
