//! The connections of a Redis cache: one multiplexed connection to the one server, or on a
//! Redis Cluster one per primary, each made on first use (never while configuring) and
//! replaced when it breaks.
//!
//! A cluster gets a connection per node rather than redis-rs' cluster client: that client
//! serves every node from one task, and while it recovers from a failed node (it refreshes
//! its slots and reconnects to every node, the dead one included) every request waits, on
//! every node. With a connection per node, routed by the cache's own slot map (see
//! `circuits.rs`), a dead node costs only the calls for its own slots.
//!
//! # Runtimes
//!
//! A connection does its I/O in a task (redis-rs' driver) on the tokio runtime that made it,
//! and a task dies with its runtime. Runtimes come and go (a `#[tokio::test]` returns, a
//! command-line program builds one per command, a server rebuilds its own) while a cache
//! outlives them all. So each runtime that calls the cache gets a connection of its own,
//! made on it: a runtime that ends takes only its own connection with it, never a call in
//! flight from another runtime, and the connection of a runtime that has gone is never used
//! again. (One connection on a thread of the library's own would serve every runtime too,
//! but each call would then cross threads twice: 60% more latency on loopback, measured.)
//!
//! A connection that broke (the server closed it, or restarted) is forgotten by the call
//! that saw it break, and the next call makes a new one; concurrent callers share one
//! attempt at a time, and the callers that waited for an attempt that failed get its error
//! rather than trying again each in turn (the circuit breaker decides when to try again).
//!
//! A cache with a near cache speaks RESP3 on its connections, which deliver the server's
//! invalidation pushes (and redis-rs' notice of a lost connection) to the near cache. The
//! near cache is emptied whenever a connection goes, however it goes (replaced, broken, or
//! its runtime ended): the keys it tracked are tracked no more, and their copies would
//! miss the invalidations to come.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::RwLock;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client, Cmd, Pipeline, ProtocolVersion, PushInfo, RedisError};
use redis::{RedisFuture, Value};

use tokio::runtime::Id as RuntimeId;
use tokio::task::AbortHandle;

use super::failure::Failure;
use super::limit::ValueLimit;
use super::near::Near;
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
    reason = "one per cache, read once to make its connections"
)]
pub(crate) enum Target {
    Single(Client),
    /// A cluster, reached first through these nodes' URLs (the others are discovered).
    Cluster(Vec<url::Url>),
}

/// A handle on a live connection for one call, cheap to clone (a channel's sender). With
/// [`asking`](Conn::asking), each request it sends goes right after an `ASKING`, on the
/// same connection and in the same write, so that no other caller's request comes between.
#[derive(Clone)]
pub(crate) struct Conn {
    inner: MultiplexedConnection,
    generation: u64,
    asking: bool,
}

impl Conn {
    /// Which connection of its [`Connection`] this is, for [`Connection::broken`].
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// This connection, sending each request after an `ASKING` (a cluster slot being
    /// migrated: the key is asked of the node importing it).
    pub(crate) fn asking(mut self) -> Self {
        self.asking = true;
        self
    }
}

/// Each of `commands` after an `ASKING` of its own (the flag lasts one command).
fn after_asking<'a>(commands: impl Iterator<Item = &'a Cmd>) -> Pipeline {
    let mut asking = redis::pipe();
    for command in commands {
        asking.cmd("ASKING").add_command(command.clone());
    }
    asking
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        if !self.asking {
            return self.inner.req_packed_command(cmd);
        }
        Box::pin(async move {
            let pipeline = after_asking(std::iter::once(cmd));
            let mut replies = self.inner.req_packed_commands(&pipeline, 1, 1).await?;
            Ok(replies.pop().unwrap_or(Value::Nil))
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        if !self.asking {
            return self.inner.req_packed_commands(pipeline, offset, count);
        }
        Box::pin(async move {
            let asking = after_asking(pipeline.cmd_iter());
            let sent = pipeline.len() * 2;
            let replies = self.inner.req_packed_commands(&asking, 0, sent).await?;
            Ok(replies
                .into_iter()
                .skip(1)
                .step_by(2)
                .skip(offset)
                .take(count)
                .collect())
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

/// The connection of one runtime, and which one it is.
struct Live {
    conn: MultiplexedConnection,
    runtime: RuntimeId,
    generation: u64,
    /// Held by the keeper task on the connection's runtime: gone when the runtime is.
    alive: Weak<()>,
    keeper: AbortHandle,
}

impl Live {
    fn serves(&self, runtime: RuntimeId) -> bool {
        self.runtime == runtime && self.alive.strong_count() > 0
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

/// Lives on a connection's runtime as long as the connection is in use; when it goes (its
/// runtime ended, or the connection was replaced), the near cache is emptied, since the
/// connection's tracking and its invalidations go with it.
struct Keeper {
    _alive: Arc<()>,
    near: Option<Weak<Near>>,
}

impl Drop for Keeper {
    fn drop(&mut self) {
        if let Some(near) = self.near.as_ref().and_then(Weak::upgrade) {
            near.reset();
        }
    }
}

/// The attempts at connecting: how many ended, and how the last one failed.
#[derive(Default)]
struct Attempts {
    ended: u64,
    failed: Option<RedisError>,
}

/// The lazily made, self-replacing connections to one server, one per runtime.
pub(crate) struct Connection {
    client: Client,
    config: AsyncConnectionConfig,
    lives: ArcSwap<Vec<Arc<Live>>>,
    /// Held while connecting: one attempt at a time.
    attempts: tokio::sync::Mutex<Attempts>,
    /// Attempts ended, readable without the lock.
    ended: AtomicU64,
    generations: AtomicU64,
    near: Option<Arc<Near>>,
    limit: Arc<ValueLimit>,
}

impl Connection {
    /// Prepares the connection; nothing is contacted until the first call. With a near
    /// cache, the connection speaks RESP3 and hands its pushes to it.
    pub(crate) fn new(
        client: Client,
        timeouts: Timeouts,
        near: Option<Arc<Near>>,
        limit: Arc<ValueLimit>,
    ) -> Result<Self, BackendError> {
        let client = match near {
            Some(_) => resp3(&client)?,
            None => client,
        };
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeouts.connect))
            .set_response_timeout(Some(timeouts.response));
        let config = match &near {
            Some(near) => config.set_push_sender(Pushes(Arc::downgrade(near))),
            None => config,
        };
        Ok(Self {
            client,
            config,
            lives: ArcSwap::from_pointee(Vec::new()),
            attempts: tokio::sync::Mutex::new(Attempts::default()),
            ended: AtomicU64::new(0),
            generations: AtomicU64::new(0),
            near,
            limit,
        })
    }

    /// A handle on the connection of the caller's runtime, made first when there is none.
    pub(crate) async fn get(&self) -> Result<Conn, Failure> {
        let runtime = current_runtime()?;
        if let Some(live) = self.lives.load().iter().find(|live| live.serves(runtime)) {
            return Ok(handle(live));
        }
        self.connect(runtime, false).await
    }

    /// A handle on a new connection, made now: for the circuit breaker's probe, which must
    /// test the server as it is now, not a connection made before it went down.
    #[cold]
    pub(crate) async fn renew(&self) -> Result<Conn, Failure> {
        self.connect(current_runtime()?, true).await
    }

    /// Forgets the connection `generation` (a call saw it break), unless it was replaced
    /// already: the next call of its runtime makes a new one.
    pub(crate) fn broken(&self, generation: u64) {
        self.lives.rcu(|lives| {
            lives
                .iter()
                .filter(|live| live.generation != generation)
                .cloned()
                .collect::<Vec<_>>()
        });
    }

    #[cold]
    async fn connect(&self, runtime: RuntimeId, renew: bool) -> Result<Conn, Failure> {
        let ended_before = self.ended.load(Ordering::Acquire);
        let mut attempts = self.attempts.lock().await;
        let live = || {
            let lives = self.lives.load();
            lives
                .iter()
                .find(|live| live.serves(runtime))
                .map(|live| handle(live))
        };
        if !renew && attempts.ended > ended_before {
            // An attempt ended while this caller waited: a failure is this caller's too.
            if let Some(error) = &attempts.failed {
                return Err(Failure::Redis(error.clone()));
            }
        }
        if !renew && let Some(conn) = live() {
            return Ok(conn);
        }
        let made = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await;
        attempts.ended += 1;
        self.ended.store(attempts.ended, Ordering::Release);
        let mut conn = match made {
            Ok(conn) => conn,
            Err(error) => {
                attempts.failed = Some(error.clone());
                return Err(Failure::Redis(error));
            }
        };
        attempts.failed = None;
        self.limit.learn(&mut conn).await;
        let token = Arc::new(());
        let alive = Arc::downgrade(&token);
        let keeper = Keeper {
            _alive: token,
            near: self.near.as_ref().map(Arc::downgrade),
        };
        let keeper = tokio::spawn(async move {
            let _keeper = keeper;
            std::future::pending::<()>().await;
        })
        .abort_handle();
        let live = Arc::new(Live {
            conn,
            runtime,
            generation: self.generations.fetch_add(1, Ordering::Relaxed) + 1,
            alive,
            keeper,
        });
        let conn = handle(&live);
        // The runtime's connection it replaces (a probe's), and those of runtimes that have
        // gone, are dropped here.
        self.lives.rcu(|lives| {
            lives
                .iter()
                .filter(|held| held.runtime != runtime && held.alive.strong_count() > 0)
                .cloned()
                .chain(std::iter::once(Arc::clone(&live)))
                .collect::<Vec<_>>()
        });
        Ok(conn)
    }
}

/// The runtime the caller runs on, which awaits and times out its replies.
fn current_runtime() -> Result<RuntimeId, Failure> {
    tokio::runtime::Handle::try_current()
        .map(|runtime| runtime.id())
        .map_err(|_| {
            Failure::Setup(BackendError::new(
                "the Redis backend must be called from within a tokio runtime",
            ))
        })
}

fn handle(live: &Live) -> Conn {
    Conn {
        inner: live.conn.clone(),
        generation: live.generation,
        asking: false,
    }
}

/// Delivers a connection's pushes to its cache's near cache, while the cache lives.
struct Pushes(std::sync::Weak<Near>);

impl redis::aio::AsyncPushSender for Pushes {
    fn send(&self, push: PushInfo) -> Result<(), redis::aio::SendError> {
        match self.0.upgrade() {
            Some(near) => {
                near.push(push);
                Ok(())
            }
            None => Err(redis::aio::SendError),
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
pub(crate) enum Connections {
    Server(Arc<Connection>),
    Cluster(NodeConnections),
}

/// A cluster's connections, one per node address, made when a call first needs them.
pub(crate) struct NodeConnections {
    seeds: Vec<url::Url>,
    timeouts: Timeouts,
    near: Option<Arc<Near>>,
    limit: Arc<ValueLimit>,
    nodes: RwLock<HashMap<String, Arc<Connection>>>,
}

impl Connections {
    /// The connections to `target`, delivering pushes to `near`; nothing is contacted
    /// until the first call.
    pub(crate) fn new(
        target: Target,
        timeouts: Timeouts,
        near: Option<Arc<Near>>,
        limit: Arc<ValueLimit>,
    ) -> Result<Self, BackendError> {
        Ok(match target {
            Target::Single(client) => {
                Connections::Server(Arc::new(Connection::new(client, timeouts, near, limit)?))
            }
            Target::Cluster(seeds) => Connections::Cluster(NodeConnections {
                seeds,
                timeouts,
                near,
                limit,
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
        let connection = Arc::new(Connection::new(
            client,
            self.timeouts,
            self.near.clone(),
            Arc::clone(&self.limit),
        )?);
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
