//! The one connection of a Redis cache: a redis-rs `ConnectionManager` (one server) or a
//! `cluster_async::ClusterConnection` (Redis Cluster), created on first use, never while
//! configuring, and replaced when the tokio runtime it was created on has gone.
//!
//! Both connections run their I/O in tasks on the runtime that created them. A test suite
//! (or a program) may drop that runtime and go on with another; the connection's tasks die
//! with it. So every connection carries a liveness token held by a task on its runtime: when
//! the runtime drops the task, the token goes, and the next call builds a fresh connection on
//! the caller's runtime instead of failing on the dead one.

use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use parking_lot::Mutex;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Client, Cmd, Pipeline, RedisFuture, RedisResult, Value};

use crate::error::BackendError;

/// How long connection attempts and replies may take.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub(crate) connect: Duration,
    pub(crate) response: Duration,
}

/// Where the cache's data lives.
#[allow(
    clippy::large_enum_variant,
    reason = "one per cache, read only when a connection is made"
)]
pub(crate) enum Target {
    Single(Client),
    Cluster(ClusterClient),
}

/// A handle on the live connection, cheap to clone (a reference count).
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(conn) => conn.req_packed_command(cmd),
            Conn::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(conn) => conn.get_db(),
            Conn::Cluster(conn) => conn.get_db(),
        }
    }
}

/// A connection and the token that tells whether its runtime still runs.
struct Live {
    conn: Conn,
    runtime: Weak<()>,
    keeper: tokio::task::AbortHandle,
}

impl Live {
    fn is_alive(&self) -> bool {
        self.runtime.strong_count() > 0
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

/// The lazily created, self-replacing connection of one cache.
pub(crate) struct Connection {
    target: Target,
    timeouts: Timeouts,
    live: ArcSwapOption<Live>,
    creating: Mutex<()>,
}

impl Connection {
    /// Prepares the connection; nothing is contacted until the first call.
    pub(crate) fn new(target: Target, timeouts: Timeouts) -> Self {
        Self {
            target,
            timeouts,
            live: ArcSwapOption::empty(),
            creating: Mutex::new(()),
        }
    }

    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.target, Target::Cluster(_))
    }

    /// A handle on the live connection, created (or replaced) on the current runtime when
    /// there is none or its runtime has gone.
    pub(crate) fn get(&self) -> Result<Conn, BackendError> {
        if let Some(live) = &*self.live.load()
            && live.is_alive()
        {
            return Ok(live.conn.clone());
        }
        self.replace()
    }

    /// A handle on a new connection, made now: for the circuit breaker's probe, which must
    /// test the server as it is now. The connection it replaces may hold a reconnection
    /// that failed while the server was down, which redis-rs would hand to the next call.
    #[cold]
    pub(crate) fn renew(&self) -> Result<Conn, BackendError> {
        let _creating = self.creating.lock();
        self.create()
    }

    #[cold]
    fn replace(&self) -> Result<Conn, BackendError> {
        let _creating = self.creating.lock();
        if let Some(live) = &*self.live.load()
            && live.is_alive()
        {
            return Ok(live.conn.clone());
        }
        self.create()
    }

    /// Makes the connection on the current runtime and installs it; the caller holds
    /// `creating`.
    fn create(&self) -> Result<Conn, BackendError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            BackendError::new("the Redis backend must be called from within a tokio runtime")
        })?;
        let conn = match &self.target {
            Target::Single(client) => Conn::Single(
                ConnectionManager::new_lazy_with_config(client.clone(), self.manager_config())
                    .map_err(BackendError::new)?,
            ),
            Target::Cluster(client) => Conn::Cluster(
                client.get_pending_async_connection_with_config(
                    ClusterConfig::new()
                        .set_connection_timeout(self.timeouts.connect)
                        .set_response_timeout(self.timeouts.response),
                ),
            ),
        };
        let token = Arc::new(());
        let alive = Arc::downgrade(&token);
        let keeper = runtime
            .spawn(async move {
                let _token = token;
                std::future::pending::<()>().await;
            })
            .abort_handle();
        let live = Arc::new(Live {
            conn: conn.clone(),
            runtime: alive,
            keeper,
        });
        self.live.store(Some(live));
        Ok(conn)
    }

    /// One connection attempt per call, bounded by the connect timeout: the circuit breaker,
    /// not a retry loop, decides when to try again.
    fn manager_config(&self) -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeouts.connect))
            .set_response_timeout(Some(self.timeouts.response))
            .set_number_of_retries(0)
    }
}

/// Builds the cluster client: each request, retries and redirections included, is bounded
/// by the connect and response timeouts together.
pub(crate) fn cluster_client(nodes: &[String], timeouts: Timeouts) -> RedisResult<ClusterClient> {
    ClusterClient::builder(nodes.iter().map(String::as_str))
        .connection_timeout(timeouts.connect)
        .response_timeout(timeouts.response)
        .overall_response_timeout(Some(timeouts.connect.saturating_add(timeouts.response)))
        .build()
}
