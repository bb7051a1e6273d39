//! How a Redis call failed, and which failures mean Redis is out of reach (they count
//! toward the circuit breaker) rather than an answer that happens to be an error.

use redis::{ErrorKind, RedisError, ServerErrorKind};

use crate::error::BackendError;

/// Why a call did not return a value.
pub(super) enum Failure {
    /// The circuit is open; Redis was not asked.
    Open,
    /// No connection could be set up (the I/O thread did not start, a node address is
    /// malformed).
    Setup(BackendError),
    /// Redis failed or answered with an error.
    Redis(RedisError),
}

/// Whether `error` means the server could not be reached or did not answer in time (as
/// opposed to answering with an error reply).
pub(super) fn unreachable(error: &RedisError) -> bool {
    match error.kind() {
        ErrorKind::Server(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::MasterDown,
        ) => true,
        ErrorKind::Server(_) | ErrorKind::UnexpectedReturnType => false,
        ErrorKind::Extension => error.code() == Some("BUSY"),
        _ => true,
    }
}

pub(super) fn not_an_integer(error: &RedisError) -> bool {
    error.code() == Some("WRONGTYPE")
        || error
            .detail()
            .is_some_and(|detail| detail.contains("not an integer"))
}

pub(super) fn overflowed(error: &RedisError) -> bool {
    error
        .detail()
        .is_some_and(|detail| detail.contains("overflow"))
}
