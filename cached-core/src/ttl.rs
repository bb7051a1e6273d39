//! The remaining lifetime of a key.

use std::time::Duration;

/// What [`Cache::ttl`](crate::Cache::ttl) found for a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// The key does not exist (or has expired).
    Absent,
    /// The key exists and never expires (for example a counter created by `incr`).
    NoExpiry,
    /// The key exists and expires after this long.
    Expires(Duration),
}

impl Ttl {
    /// Whether the key exists.
    pub fn exists(&self) -> bool {
        !matches!(self, Ttl::Absent)
    }

    /// The remaining lifetime, when the key exists and expires.
    pub fn remaining(&self) -> Option<Duration> {
        match self {
            Ttl::Expires(left) => Some(*left),
            Ttl::Absent | Ttl::NoExpiry => None,
        }
    }
}
