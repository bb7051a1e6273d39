//! Freshness past the `ttl`: how long an entry may still be served while one background call
//! refreshes it (`stale`), how long it is kept to answer for a failing load
//! (`stale_if_error`), and how early a hot entry is refreshed before it goes stale
//! (`early_refresh`).
//!
//! An entry is stored for `ttl + max(stale, stale_if_error)`; its age is read from the time
//! it has left, so that every process reading a shared store agrees on it and nothing is
//! added to the stored value (a plain `get` of the key reads it as before).

use std::time::Duration;

/// How a cached value stays useful past its `ttl`, and when it is refreshed: the options
/// `stale`, `stale_if_error` and `early_refresh` of `#[cached]`, for
/// [`Cache::get_or_set_fresh`](crate::Cache::get_or_set_fresh) and
/// [`Cache::try_get_or_set_fresh`](crate::Cache::try_get_or_set_fresh).
///
/// ```
/// use std::time::Duration;
/// use cached_core::Freshness;
///
/// let freshness = Freshness::new()
///     .stale(Duration::from_secs(300))
///     .stale_if_error(Duration::from_secs(3600))
///     .early_refresh(Duration::from_secs(5));
/// assert_eq!(freshness.kept_past_ttl(), Duration::from_secs(3600));
/// ```
///
/// Windows longer than a century are cut to one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Freshness {
    stale: Duration,
    stale_if_error: Duration,
    early_refresh: Duration,
}

impl Freshness {
    /// No serving past the `ttl`, no early refresh: an expired entry is loaded again while
    /// its callers wait, as without these options.
    pub const fn new() -> Self {
        Self {
            stale: Duration::ZERO,
            stale_if_error: Duration::ZERO,
            early_refresh: Duration::ZERO,
        }
    }

    /// After its `ttl`, the entry is served for up to `stale` more while one background call
    /// (one per key in this process, and on Redis one across processes) refreshes it;
    /// callers never wait for that refresh (stale-while-revalidate).
    pub const fn stale(mut self, stale: Duration) -> Self {
        self.stale = bounded(stale);
        self
    }

    /// When a load fails (`Err`) and the entry is no older than `ttl + stale_if_error`, the
    /// caller gets that value instead of the error; the failure is logged and counted.
    pub const fn stale_if_error(mut self, stale_if_error: Duration) -> Self {
        self.stale_if_error = bounded(stale_if_error);
        self
    }

    /// A hit in the last `early_refresh` of the `ttl` starts one background refresh, so that
    /// a key read steadily never expires under its readers: none of them waits for a load.
    ///
    /// A window rather than XFetch's probabilistic early expiration: XFetch spreads the
    /// refreshes of uncoordinated readers, while here the refresh is already one per key
    /// (single-flight, and a claim on Redis), so a fixed window refreshes a read key once
    /// every `ttl - early_refresh`, predictably. Off by default: on a key that is rarely read an early refresh is a
    /// load nobody would have waited for.
    pub const fn early_refresh(mut self, window: Duration) -> Self {
        self.early_refresh = bounded(window);
        self
    }

    /// How long past its `ttl` an entry is kept: `max(stale, stale_if_error)`.
    pub fn kept_past_ttl(&self) -> Duration {
        self.stale.max(self.stale_if_error)
    }

    /// How long an entry filled for `ttl` is stored.
    pub(crate) fn stored_for(&self, ttl: Duration) -> Duration {
        ttl.saturating_add(self.kept_past_ttl())
    }

    /// What an entry with `left` to live (`None`: it never expires) is to a reader.
    pub(crate) fn age(&self, left: Option<Duration>) -> Age {
        let Some(left) = left else {
            return Age::Fresh;
        };
        let kept = self.kept_past_ttl();
        match left.checked_sub(kept) {
            Some(fresh_left) if !fresh_left.is_zero() => {
                if fresh_left <= self.early_refresh {
                    Age::RefreshSoon
                } else {
                    Age::Fresh
                }
            }
            _ => {
                let past_ttl = kept - left;
                if past_ttl < self.stale {
                    Age::Stale
                } else {
                    Age::ErrorFallback
                }
            }
        }
    }
}

/// The longest window: a century. Longer ones are cut to it, so that `ttl` plus a window
/// stays a deadline the stores can keep (and an entry's age can still be told from it).
pub(crate) const MAX_WINDOW: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

const fn bounded(window: Duration) -> Duration {
    if window.as_secs() >= MAX_WINDOW.as_secs() {
        MAX_WINDOW
    } else {
        window
    }
}

/// What a stored entry is to a reader with a given [`Freshness`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Age {
    /// Within its `ttl`: served.
    Fresh,
    /// Within the last `early_refresh` of its `ttl`: served, and refreshed in the background.
    RefreshSoon,
    /// Past its `ttl`, within `stale`: served, and refreshed in the background.
    Stale,
    /// Past `ttl + stale`: loaded again, and served only if that load fails.
    ErrorFallback,
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn an_entry_ages_through_each_window_in_turn() {
        // ttl 60, stale 30, stale_if_error 100, early 5: stored for 160 s.
        let f = Freshness::new()
            .stale(S(30))
            .stale_if_error(S(100))
            .early_refresh(S(5));
        assert_eq!(f.stored_for(S(60)), S(160));
        let age_at = |elapsed: u64| f.age(Some(S(160 - elapsed)));
        assert_eq!(age_at(0), Age::Fresh);
        assert_eq!(age_at(54), Age::Fresh);
        assert_eq!(age_at(55), Age::RefreshSoon);
        assert_eq!(age_at(59), Age::RefreshSoon);
        assert_eq!(age_at(60), Age::Stale);
        assert_eq!(age_at(89), Age::Stale);
        assert_eq!(age_at(90), Age::ErrorFallback);
        assert_eq!(age_at(159), Age::ErrorFallback);
        assert_eq!(f.age(None), Age::Fresh);
    }

    #[test]
    fn without_options_every_live_entry_is_fresh() {
        let f = Freshness::new();
        assert_eq!(f.stored_for(S(60)), S(60));
        assert_eq!(f.age(Some(Duration::from_nanos(1))), Age::Fresh);
    }

    #[test]
    fn huge_windows_are_cut_to_a_century() {
        let f = Freshness::new().stale(Duration::MAX);
        assert_eq!(f.kept_past_ttl(), MAX_WINDOW);
        assert_eq!(f.stored_for(S(60)), MAX_WINDOW + S(60));
        assert_eq!(f.age(Some(MAX_WINDOW + S(60))), Age::Fresh);
        assert_eq!(f.age(Some(MAX_WINDOW)), Age::Stale);
    }
}
