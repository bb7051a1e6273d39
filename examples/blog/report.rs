//! The authors report: an expensive aggregate rebuilt by one request at a time. A lock
//! keeps a burst of requests after expiry from all running the query (stampede prevention).

use std::time::Duration;

use cached_core::Cache;
use serde::{Deserialize, Serialize};

use crate::db::{AuthorStats, Db};

const KEY: &str = "report:authors";
const LOCK: &str = "lock:report:authors";
const TTL: Duration = Duration::from_secs(300);
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Posts and views per author, and how long it took to build.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Report {
    pub(crate) authors: Vec<AuthorStats>,
    pub(crate) build_ms: u64,
}

/// The cached report; on a miss, built under the lock by the first request while the others
/// wait for it and then read what it stored.
pub(crate) async fn authors(cache: &Cache, db: &Db) -> Result<Report, sqlx::Error> {
    if let Ok(Some(report)) = cache.get::<Report>(KEY).await {
        return Ok(report);
    }
    let guard = match cache.lock(LOCK, LOCK_TIMEOUT).await {
        Ok(guard) => Some(guard),
        Err(error) => {
            tracing::warn!(%error, "report lock unavailable; building without it");
            None
        }
    };
    if let Ok(Some(report)) = cache.get::<Report>(KEY).await {
        return Ok(report);
    }
    let started = std::time::Instant::now();
    let authors = db.author_stats().await?;
    // Stands in for the heavy part of a real report.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let report = Report {
        authors,
        build_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    if let Err(error) = cache.set(KEY, &report, Some(TTL)).await {
        tracing::warn!(%error, "the report was not cached");
    }
    if let Some(guard) = guard
        && let Err(error) = guard.release().await
    {
        tracing::warn!(%error, "report lock release failed; it expires on its own");
    }
    Ok(report)
}
