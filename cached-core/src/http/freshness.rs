//! The freshness rules both modes share (RFC 9111, section 4.2): a response's age when it
//! arrived (`Age`, `Date` and the time in transit), its freshness lifetime (`s-maxage`,
//! `max-age`, `Expires` against `Date`, or a heuristic), and how long its entry may be
//! served stale (`stale-while-revalidate`, `stale-if-error`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::http::StatusCode;
use ::http::header::{self, HeaderMap};
use headers::{Date, Expires, HeaderMapExt, LastModified};

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
    let date = headers
        .typed_get::<Date>()
        .map_or(received, |date| unix_seconds(date.into()));
    let apparent_age = received.saturating_sub(date);
    let in_transit = exchange.received_at.saturating_sub(exchange.requested_at) / 1000;
    let initial_age = apparent_age.max(age(headers).saturating_add(in_transit));
    let explicit = if directives.no_cache {
        Some(0)
    } else if let Some(s_maxage) = directives.s_maxage {
        Some(s_maxage.seconds())
    } else if let Some(max_age) = directives.max_age {
        Some(max_age.seconds())
    } else if headers.contains_key(header::EXPIRES) {
        // An invalid date (such as `0`) means already expired.
        Some(headers.typed_get::<Expires>().map_or(0, |expires| {
            unix_seconds(expires.into()).saturating_sub(date)
        }))
    } else {
        None
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
    let must_revalidate = directives.must_revalidate || (shared && directives.s_maxage.is_some());
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
