//! What serving entries past their `ttl` needs from Redis (see `freshness.rs`): a read that
//! tells an entry's age, and a claim that makes its background refresh one per key across
//! processes.
//!
//! The refresh fills through the bytes it read, as a load fills through its lease marker
//! (`FILL` compares and sets): an invalidation or a newer write in any process changes
//! those bytes, so a refresh that began before it never stores after it.

use serde::de::DeserializeOwned;

use super::RedisStore;
use super::failure::Failure;
use super::lease;
use crate::codec::DecodeError;
use crate::error::BackendError;
use crate::outcome::{Aged, Lease, Lookup};

/// What a refresh claim's key starts with, before the entry's key: a NUL byte, as for lease
/// markers, so that no key the application renders collides with it.
const REFRESH_PREFIX: &str = "\0cached:refresh:";

impl RedisStore {
    /// The value at `key` and its remaining lifetime, in one round trip (`GET` and `PTTL`
    /// pipelined).
    pub(crate) async fn get_aged<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Aged<T>, BackendError> {
        let full = self.key(key);
        let full: &str = &full;
        let reply = self.get_with_pttl(full, false).await;
        let (bytes, pttl, verified) = match reply {
            Ok((Some(bytes), _, _)) if lease::is_lease(&bytes) => (None, -2, true),
            Ok(reply) => reply,
            Err(Failure::Redis(error)) if error.code() == Some("WRONGTYPE") => {
                return Ok(Aged {
                    lookup: Lookup::Undecodable(DecodeError::new(
                        "the key holds a Redis data type other than a string",
                    )),
                    left: None,
                    lease: Lease::Denied,
                });
            }
            Err(failure) => return Err(self.backend_error(failure)),
        };
        let lookup = match &bytes {
            Some(bytes) => self.decode(key, full, bytes, verified).await?,
            None => Lookup::Miss,
        };
        let left = u64::try_from(pttl)
            .ok()
            .map(std::time::Duration::from_millis);
        let lease = match bytes {
            Some(bytes) if matches!(lookup, Lookup::Hit(_)) => Lease::Redis {
                marker: bytes,
                owned: false,
            },
            _ => Lease::Denied,
        };
        Ok(Aged {
            lookup,
            left,
            lease,
        })
    }

    /// Claims the background refresh of `key` for this process with `token`, for at most
    /// `lease_ttl`; `false` when another process's refresh holds it.
    pub(crate) async fn claim_refresh(&self, key: &str, token: &str) -> Result<bool, BackendError> {
        let claim = refresh_key(key);
        self.set_nx_bytes(&claim, token.as_bytes(), self.leases.ttl)
            .await
    }

    /// Gives back a refresh claim taken with `token`.
    pub(crate) async fn end_refresh(&self, key: &str, token: &str) {
        let claim = refresh_key(key);
        let _ = self.delete_if_equals(&claim, token.as_bytes()).await;
    }
}

/// The key that holds `key`'s refresh claim (under the cache's prefix, like `key`).
fn refresh_key(key: &str) -> String {
    let mut claim = String::with_capacity(REFRESH_PREFIX.len() + key.len());
    claim.push_str(REFRESH_PREFIX);
    claim.push_str(key);
    claim
}

#[cfg(test)]
mod tests {
    #[test]
    fn refresh_claims_are_bookkeeping_that_patterns_leave_alone() {
        assert!(
            super::REFRESH_PREFIX
                .as_bytes()
                .starts_with(super::super::INTERNAL)
        );
    }
}
