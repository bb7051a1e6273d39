//! The runtime Redis connections live on: one small tokio runtime of the library's own, on a
//! thread of its own (`cached-redis-io`), started with the first connection and never shut
//! down.
//!
//! A connection does its I/O in a task (redis-rs' driver), and a task dies with the runtime
//! that runs it. Callers' runtimes come and go (a `#[tokio::test]` returns, a command-line
//! program builds one per command, a server rebuilds its own), and a cache outlives them all:
//! a connection made on a caller's runtime would fail every call in flight, from every other
//! runtime, the moment that runtime ended, and with it the near cache's invalidation stream.
//! So connections are made here, and a caller on any runtime talks to them through
//! redis-rs' channels, which need no particular runtime. What the caller awaits (its reply,
//! its response timeout) still runs on the caller's runtime.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle};

use crate::error::BackendError;

/// The runtime's handle, or why it could not be started.
static RUNTIME: OnceLock<Result<Handle, String>> = OnceLock::new();

fn runtime() -> Result<&'static Handle, BackendError> {
    RUNTIME
        .get_or_init(start)
        .as_ref()
        .map_err(|error| BackendError::new(format!("the Redis I/O thread did not start: {error}")))
}

/// Starts the thread, which runs its runtime until the process ends.
fn start() -> Result<Handle, String> {
    let runtime = Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("cached-redis-io".to_owned())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))
        .map_err(|error| error.to_string())?;
    Ok(handle)
}

/// Runs `task` on the connections' runtime (where the connections it makes keep their
/// I/O), and waits for its result from whatever runtime the caller is on.
pub(super) async fn run<T, F>(task: F) -> Result<T, BackendError>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    runtime()?
        .spawn(task)
        .await
        .map_err(|error| BackendError::new(format!("a Redis connection task failed: {error}")))
}
