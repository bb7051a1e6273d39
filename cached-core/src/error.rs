//! The errors of the cache API.

use std::time::Duration;

use crate::config::ConfigError;

/// The result type of the cache API.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error from a cache operation.
///
/// Every variant names the cache it happened in, so a log line is enough to find the
/// configuration at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend failed: a connection error, a timeout, or an error from a custom backend.
    #[error("cache `{cache}`: backend error: {source}")]
    Backend {
        /// The cache's name.
        cache: String,
        /// What the backend reported.
        #[source]
        source: BackendError,
    },
    /// A value could not be encoded for the store, or would not read back as it is.
    #[error("cache `{cache}`: cannot store the value for key `{key}`: {source}")]
    Encode {
        /// The cache's name.
        cache: String,
        /// The key being written.
        key: String,
        /// Why, naming the value's type.
        #[source]
        source: crate::codec::EncodeError,
    },
    /// `incr`/`decr` found a value that is not an integer, or the result overflowed.
    #[error("cache `{cache}`: the value at key `{key}` is not an integer or is out of range")]
    NotAnInteger {
        /// The cache's name.
        cache: String,
        /// The key holding the value.
        key: String,
    },
    /// A lock was not acquired before its waiting deadline.
    #[error("cache `{cache}`: lock `{name}` was not acquired within {waited:?}")]
    LockTimeout {
        /// The cache's name.
        cache: String,
        /// The lock's name.
        name: String,
        /// How long the caller waited.
        waited: Duration,
    },
    /// `get_cache` was asked for a cache that is not configured.
    #[error("no cache named `{name}` is configured (configured: {})", known.join(", "))]
    UnknownCache {
        /// The name asked for.
        name: String,
        /// The names that are configured.
        known: Vec<String>,
    },
    /// The backend does not offer this operation.
    #[error("cache `{cache}`: the `{backend}` backend does not support `{operation}`")]
    Unsupported {
        /// The cache's name.
        cache: String,
        /// The backend's name.
        backend: String,
        /// The operation asked for.
        operation: &'static str,
    },
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// An error reported by a backend. Custom backends return it from their methods.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The operation failed; the source says why.
    #[error(transparent)]
    Failed(Box<dyn std::error::Error + Send + Sync>),
    /// The operation did not finish in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The backend is known to be unavailable and was not asked (the circuit is open).
    #[error("backend unavailable; retrying after a short pause")]
    Unavailable,
    /// The backend does not implement this operation.
    #[error("operation `{0}` is not supported by this backend")]
    Unsupported(&'static str),
    /// `incr`/`decr` found a value that is not an integer, or the result would overflow.
    #[error("the value is not an integer or is out of range")]
    NotAnInteger,
    /// A command spanning a Redis Cluster's nodes (`delete_many`, `delete_pattern`,
    /// `clear`) was done on some of them only: the others could not be reached.
    #[error("nodes {unreachable:?} could not be reached; {done} keys removed on the others")]
    Partial {
        /// Keys removed on the nodes reached.
        done: usize,
        /// The nodes not reached, `host:port`.
        unreachable: Vec<String>,
    },
}

impl BackendError {
    /// Wraps any error, or a message, as a backend failure.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Failed(error.into())
    }
}
