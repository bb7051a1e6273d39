//! The connections of a Redis cache: a redis-rs `ConnectionManager` to the one server, or on
//! a Redis Cluster one per primary, each created on first use (never while configuring) and
//! replaced when the tokio runtime it was created on has gone.
//!
//! A cluster gets a connection per node rather than redis-rs' cluster client: that client
//! serves every node from one task, and while it recovers from a failed node (it refreshes
//! its slots and reconnects to every node, the dead one included) every request waits, on
//! every node. With a connection per node, routed by the cache's own slot map (see
//! `circuits.rs`), a dead node costs only the calls for its own slots.
//!
//! Connections run their I/O in tasks on the runtime that created them. A test suite (or a
//! program) may drop that runtime and go on with another; the connection's tasks die with
//! it. So every connection carries a liveness token held by a task on its runtime: when the
//! runtime drops the task, the token goes, and the next call builds a fresh connection on
//! the caller's runtime instead of failing on the dead one.
//!
//! A cache with a near cache speaks RESP3 on its connections, which deliver the server's
//! invalidation pushes (and redis-rs' notice of a lost connection) to the near cache, and
//! empties it whenever a connection is replaced: a new connection tracks none of the keys
//! the old one did.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use parking_lot::{Mutex, RwLock};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, ProtocolVersion, PushInfo};

use super::near::Near;
use crate::error::BackendError;

/// A handle on a live connection, cheap to clone (a reference count).
pub(crate) type Conn = ConnectionManager;

/// How long connection attempts and replies may take.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub(crate) connect: Duration,
    pub(crate) response: Duration,
}

/// Where the cache's data lives.
#[allow(
    clippy::large_enum_variant,
    reason = "one per cache, read once to make its connections"
)]
pub(crate) enum Target {
    Single(Client),
    /// A cluster, reached first through these nodes' URLs (the others are discovered).
    Cluster(Vec<url::Url>),
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

/// The lazily created, self-replacing connection to one server.
pub(crate) struct Connection {
    client: Client,
    timeouts: Timeouts,
    live: ArcSwapOption<Live>,
    creating: Mutex<()>,
    near: Option<Arc<Near>>,
}

impl Connection {
    /// Prepares the connection; nothing is contacted until the first call. With a near
    /// cache, the connection speaks RESP3 and hands its pushes to it.
    pub(crate) fn new(
        client: Client,
        timeouts: Timeouts,
        near: Option<Arc<Near>>,
    ) -> Result<Self, BackendError> {
        let client = match near {
            Some(_) => resp3(&client)?,
            None => client,
        };
        Ok(Self {
            client,
            timeouts,
            live: ArcSwapOption::empty(),
            creating: Mutex::new(()),
            near,
        })
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
        let conn = ConnectionManager::new_lazy_with_config(self.client.clone(), self.config())
            .map_err(BackendError::new)?;
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
        let replaced = self.live.swap(Some(live));
        if let (Some(near), Some(_)) = (&self.near, replaced) {
            near.reset();
        }
        Ok(conn)
    }

    /// One connection attempt per call, bounded by the connect timeout: the circuit breaker,
    /// not a retry loop, decides when to try again.
    fn config(&self) -> ConnectionManagerConfig {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeouts.connect))
            .set_response_timeout(Some(self.timeouts.response))
            .set_number_of_retries(0);
        match &self.near {
            Some(near) => {
                let near = Arc::downgrade(near);
                config.set_push_sender(move |push: PushInfo| {
                    near.upgrade().map(|near| near.push(push)).ok_or(())
                })
            }
            None => config,
        }
    }
}

/// `client` speaking RESP3, the protocol that carries invalidation pushes.
fn resp3(client: &Client) -> Result<Client, BackendError> {
    let info = client.get_connection_info().clone();
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    Client::open(info.set_redis_settings(settings)).map_err(BackendError::new)
}

/// The connections of one cache: to its server, or to each node of its cluster.
#[allow(clippy::large_enum_variant, reason = "one per cache, behind its Arc")]
pub(crate) enum Connections {
    Server(Connection),
    Cluster(NodeConnections),
}

/// A cluster's connections, one per node address, made when a call first needs them.
pub(crate) struct NodeConnections {
    seeds: Vec<url::Url>,
    timeouts: Timeouts,
    near: Option<Arc<Near>>,
    nodes: RwLock<HashMap<String, Arc<Connection>>>,
}

impl Connections {
    /// The connections to `target`, delivering pushes to `near`; nothing is contacted
    /// until the first call.
    pub(crate) fn new(
        target: Target,
        timeouts: Timeouts,
        near: Option<Arc<Near>>,
    ) -> Result<Self, BackendError> {
        Ok(match target {
            Target::Single(client) => Connections::Server(Connection::new(client, timeouts, near)?),
            Target::Cluster(seeds) => Connections::Cluster(NodeConnections {
                seeds,
                timeouts,
                near,
                nodes: RwLock::new(HashMap::new()),
            }),
        })
    }
}

impl NodeConnections {
    /// The `host:port` of the nodes the cluster was configured with.
    pub(crate) fn seeds(&self) -> Vec<String> {
        self.seeds.iter().filter_map(address).collect()
    }

    /// The connection to the node at `address` (`host:port`), prepared on first use with the
    /// seeds' scheme, credentials and database.
    pub(crate) fn node(&self, address: &str) -> Result<Arc<Connection>, BackendError> {
        if let Some(connection) = self.nodes.read().get(address) {
            return Ok(Arc::clone(connection));
        }
        let (host, port) = address
            .rsplit_once(':')
            .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
            .ok_or_else(|| BackendError::new(format!("`{address}` is not a node address")))?;
        let mut url = self
            .seeds
            .first()
            .cloned()
            .ok_or_else(|| BackendError::new("a cluster needs nodes"))?;
        url.set_host(Some(host)).map_err(BackendError::new)?;
        url.set_port(Some(port))
            .map_err(|()| BackendError::new("the node's URL takes no port"))?;
        let client = Client::open(url.as_str()).map_err(BackendError::new)?;
        let connection = Arc::new(Connection::new(client, self.timeouts, self.near.clone())?);
        Ok(Arc::clone(
            self.nodes
                .write()
                .entry(address.to_owned())
                .or_insert(connection),
        ))
    }
}

/// The `host:port` of a node URL.
fn address(url: &url::Url) -> Option<String> {
    Some(format!(
        "{}:{}",
        url.host_str()?,
        url.port().unwrap_or(6379)
    ))
}
