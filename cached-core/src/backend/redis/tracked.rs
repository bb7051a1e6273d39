//! The read that fills a near cache: `CLIENT TRACKING ON`, `GET` and `PTTL` in one pipeline
//! (the same `GET` and `PTTL` that tell a [`Freshness`](crate::Freshness) read an entry's age),
//! so that the connection that answers tracks the key (whichever connection that is), and
//! the copy lives no longer than the key (see `near.rs`).
//!
//! Tracking is `NOLOOP`: the server does not tell a connection of its own writes, which the
//! store drops from the near cache itself as each write returns (sooner than a push, which
//! Redis sends after the write's reply and which would refuse the next read's value).

use std::time::Duration;

use serde::de::DeserializeOwned;

use super::RedisStore;
use super::call::Via;
use super::failure::{Failure, unreachable};
use super::lease;
use super::near::Near;
use super::versions;
use crate::error::BackendError;
use crate::outcome::Lookup;

impl RedisStore {
    /// The value at `key` read on a tracking connection and kept in `near` when nothing
    /// invalidated the key meanwhile. `None` when Redis answered with an error (a moved
    /// slot, a key of another type): the plain read then answers, and nothing is kept.
    pub(super) async fn get_tracked<T>(
        &self,
        near: &Near,
        key: &str,
    ) -> Result<Option<Lookup<T>>, BackendError>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        // Before the read is sent: an invalidation that arrives after it refuses the value.
        let ticket = near.ticket(key);
        let full = self.key(key);
        let full: &str = &full;
        let reply = self.get_with_pttl(full, true).await;
        let (bytes, pttl, _) = match reply {
            Ok(reply) => reply,
            Err(Failure::Redis(error)) if !unreachable(&error) => return Ok(None),
            Err(failure) => return Err(self.backend_error(failure)),
        };
        let Some(bytes) = bytes else {
            return Ok(Some(Lookup::Miss));
        };
        if lease::is_lease(&bytes) {
            return Ok(Some(Lookup::Miss));
        }
        // An entry stored with tag versions is not kept: its tags' keys are not tracked,
        // so the invalidation of one (or its eviction) would not reach the copy.
        let tagged = versions::split(&bytes).is_some();
        let lookup = self.decode::<T>(key, full, &bytes, false).await?;
        if let Lookup::Hit(value) = &lookup
            && !tagged
        {
            // -1: no expiry; -2: gone since the GET (not kept).
            let left = match pttl {
                -1 => Some(None),
                ms => u64::try_from(ms)
                    .ok()
                    .map(|ms| Some(Duration::from_millis(ms))),
            };
            if let Some(left) = left {
                near.keep(key, ticket, value.clone(), left);
            }
        }
        Ok(Some(lookup))
    }

    /// `GET` and `PTTL` of `full` (a prefixed key) in one pipeline; with `track`, after
    /// `CLIENT TRACKING ON NOLOOP` on the same connection (see the module documentation).
    /// Without `track`, on a cache whose reads check tag versions, by the script that
    /// checks them; the last element says whether it did.
    pub(super) async fn get_with_pttl(
        &self,
        full: &str,
        track: bool,
    ) -> Result<(Option<Vec<u8>>, i64, bool), Failure> {
        if !track && self.reads_tagged() {
            let (bytes, pttl) = self.read_tagged(full).await?;
            return Ok((bytes, pttl, true));
        }
        let (bytes, pttl) = self
            .call(Via::Key(full), |mut conn| async move {
                let mut pipe = redis::pipe();
                if track {
                    pipe.cmd("CLIENT")
                        .arg("TRACKING")
                        .arg("ON")
                        .arg("NOLOOP")
                        .ignore();
                }
                pipe.cmd("GET")
                    .arg(full)
                    .cmd("PTTL")
                    .arg(full)
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Ok((bytes, pttl, false))
    }
}
