//! The largest value a Redis cache sends. A server refuses a bulk string longer than its
//! `proto-max-bulk-len` (512 MB by default) by closing the connection, which fails every
//! other call in flight on it and leaves the writer's lease behind; so a value over the limit
//! is refused before it is sent, with an error naming both sizes.
//!
//! The limit is the configured `max_value_size`, or else the server's own, read when each
//! connection is made (the smallest any node reported, on a cluster).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use redis::aio::ConnectionLike;

/// Redis' default `proto-max-bulk-len`.
const REDIS_DEFAULT: usize = 512 * 1024 * 1024;

/// The limit of one cache.
#[derive(Debug)]
pub(crate) struct ValueLimit {
    configured: Option<usize>,
    /// The smallest limit a server reported.
    learned: AtomicUsize,
}

impl ValueLimit {
    /// `configured`, or what the servers say.
    pub(crate) fn new(configured: Option<usize>) -> Self {
        Self {
            configured,
            learned: AtomicUsize::new(REDIS_DEFAULT),
        }
    }

    /// The largest value, in bytes as stored, that may be sent.
    pub(crate) fn bytes(&self) -> usize {
        self.configured
            .unwrap_or_else(|| self.learned.load(Ordering::Relaxed))
    }

    /// Where the limit comes from, for the error that names it.
    pub(crate) fn source(&self) -> &'static str {
        match self.configured {
            Some(_) => "the cache's max_value_size",
            None => "the server's proto-max-bulk-len",
        }
    }

    /// Asks the server of `conn` for its limit (`CONFIG GET`); a server that does not say
    /// (the command renamed or not permitted) leaves the limit as it was.
    pub(crate) async fn learn(&self, conn: &mut impl ConnectionLike) {
        if self.configured.is_some() {
            return;
        }
        let reply: Result<HashMap<String, String>, _> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("proto-max-bulk-len")
            .query_async(conn)
            .await;
        if let Some(limit) = reply
            .ok()
            .and_then(|config| config.get("proto-max-bulk-len")?.parse::<usize>().ok())
        {
            self.learned.fetch_min(limit, Ordering::Relaxed);
        }
    }
}
