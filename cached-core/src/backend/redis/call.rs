//! How every Redis call is made: through the circuit of the node it goes to (see
//! `circuits.rs`), on that node's connection (a fresh one for a probe), with what happened
//! reported to that circuit and logged with the node's name. On a cluster, a reply saying
//! the key's slot moved (`MOVED`) sends the call once more, to the node named, and has the
//! slot map fetched again; one saying the slot is being migrated and the key has gone
//! (`ASK`) asks the importing node after `ASKING`, leaving the map alone; one asking to try
//! again (`TRYAGAIN`: some keys of a multi-key command moved, others not yet) tries again
//! after a pause.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::{Cmd, ErrorKind, FromRedisValue, RedisError, RedisResult, ServerErrorKind, Value, cmd};

use super::RedisStore;
use super::circuit::{Permit, Tripped};
use super::circuits::Gate;
use super::cluster::SlotMap;
use super::connection::{Conn, Connection, Connections};
use super::failure::{Failure, unreachable};
use crate::LOG_TARGET;
use crate::error::BackendError;

/// How many nodes a fetch of the slot map asks before it gives up until the next one.
const FETCH_TRIES: usize = 3;

/// The pauses before each new try of a call that a redirection or a slot in migration
/// (`ASK`, `TRYAGAIN`) sent elsewhere or back: a migration moves a slot's keys in batches,
/// moments apart.
const TRY_AGAIN: [Duration; 5] = [
    Duration::from_millis(1),
    Duration::from_millis(5),
    Duration::from_millis(20),
    Duration::from_millis(50),
    Duration::from_millis(100),
];

/// How a call reaches its node.
#[derive(Clone, Copy)]
enum Route {
    Direct,
    /// After `ASKING`: the node imports the key's slot.
    Asking,
}

/// Where a call goes, which decides its node and the circuit that guards it.
#[derive(Clone, Copy)]
pub(super) enum Via<'a> {
    /// A key (with the cache's prefix): on a cluster, the primary serving its slot.
    Key(&'a str),
    /// The primary serving this slot (a scan of that node).
    Slot(u16),
    /// No node in particular (the server, or a node of the cluster).
    Any,
}

impl RedisStore {
    /// Runs `command` and reads its reply.
    pub(super) async fn query<T: FromRedisValue>(
        &self,
        via: Via<'_>,
        command: &Cmd,
    ) -> Result<T, BackendError> {
        self.call(via, |mut conn| async move {
            command.query_async(&mut conn).await
        })
        .await
        .map_err(|failure| self.backend_error(failure))
    }

    /// Runs `script` on `key` (prefixed here), with the arguments `args` adds.
    pub(super) async fn script<T: FromRedisValue>(
        &self,
        script: &redis::Script,
        key: &str,
        args: impl FnOnce(&mut redis::ScriptInvocation<'_>),
    ) -> Result<T, BackendError> {
        let key = self.key(key);
        let mut invocation = script.key(&*key);
        args(&mut invocation);
        let invocation = &invocation;
        self.call(Via::Key(&key), |mut conn| async move {
            invocation.invoke_async(&mut conn).await
        })
        .await
        .map_err(|failure| self.backend_error(failure))
    }

    /// Runs `op` on the node of `via` unless its circuit is open (see the module
    /// documentation).
    pub(super) async fn call<T, F, Fut>(&self, via: Via<'_>, op: F) -> Result<T, Failure>
    where
        F: Fn(Conn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        self.fetch_slots_if_due().await;
        let gate = match via {
            Via::Key(key) => self.circuits.for_key(key.as_bytes()),
            Via::Slot(slot) => self.circuits.for_slot(Some(slot)),
            Via::Any => self.circuits.for_slot(None),
        };
        let mut result = self.call_node(&gate, None, Route::Direct, &op).await;
        for (tries, pause) in TRY_AGAIN.into_iter().enumerate() {
            let Err(Failure::Redis(error)) = &result else {
                return result;
            };
            if tries > 0 {
                // Redirected already: the nodes may not agree yet on who serves the slot.
                tokio::time::sleep(pause).await;
            }
            result = match error.kind() {
                ErrorKind::Server(kind @ (ServerErrorKind::Moved | ServerErrorKind::Ask)) => {
                    let Some((address, _)) = error.redirect_node() else {
                        return result;
                    };
                    let address = address.to_owned();
                    let route = if kind == ServerErrorKind::Moved {
                        // The slot has moved: the map is fetched again before the next call.
                        self.circuits.mark_stale();
                        Route::Direct
                    } else {
                        // The slot is being migrated and the key has gone already: the
                        // importing node answers for it, this once (the map stays).
                        Route::Asking
                    };
                    let gate = self.circuits.for_address(&address);
                    self.call_node(&gate, Some(&address), route, &op).await
                }
                ErrorKind::Server(ServerErrorKind::TryAgain) => {
                    // A command on several keys of a slot being migrated, some moved and
                    // some not yet: the migration moves them within moments.
                    if tries == 0 {
                        tokio::time::sleep(pause).await;
                    }
                    self.call_node(&gate, None, Route::Direct, &op).await
                }
                _ => return result,
            };
        }
        result
    }

    /// Runs `op` once on the node of `gate` (or at `address`), through `gate`'s circuit.
    async fn call_node<T, F, Fut>(
        &self,
        gate: &Gate<'_>,
        address: Option<&str>,
        route: Route,
        op: &F,
    ) -> Result<T, Failure>
    where
        F: Fn(Conn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let permit = gate.breaker.admit().ok_or(Failure::Open)?;
        let connection = self
            .connection_for(address.unwrap_or(&gate.node))
            .map_err(Failure::Setup)?;
        let node = &gate.node;
        let conn = match if permit.is_probe() {
            connection.renew().await
        } else {
            connection.get().await
        } {
            Ok(conn) => conn,
            Err(Failure::Redis(error)) => return Err(self.failed(permit, node, error)),
            Err(failure) => return Err(failure),
        };
        let generation = conn.generation();
        let conn = match route {
            Route::Direct => conn,
            Route::Asking => conn.asking(),
        };
        match op(conn).await {
            Ok(value) => {
                if permit.succeeded() {
                    tracing::info!(target: LOG_TARGET, cache = %self.cache, %node, "Redis answers again; circuit closed");
                }
                Ok(value)
            }
            Err(error) => {
                if error.is_unrecoverable_error() {
                    connection.broken(generation);
                }
                if unreachable(&error) {
                    Err(self.failed(permit, node, error))
                } else {
                    permit.succeeded();
                    self.refusals.note(&self.cache, node, &error);
                    Err(Failure::Redis(error))
                }
            }
        }
    }

    /// Reports to the circuit a call that could not reach its node, and logs what that did.
    fn failed(&self, permit: Permit<'_>, node: &str, error: RedisError) -> Failure {
        // The connection may have missed invalidations: the near copies go.
        if let Some(near) = &self.near {
            near.reset();
        }
        match permit.failed(error.is_timeout()) {
            Tripped::Opened => {
                tracing::error!(target: LOG_TARGET, cache = %self.cache, %node, %error, "Redis unreachable; circuit opened, calls fail fast until a probe succeeds");
            }
            Tripped::Reopened => {
                tracing::warn!(target: LOG_TARGET, cache = %self.cache, %node, %error, "Redis still unreachable; circuit stays open");
            }
            Tripped::No => {}
        }
        Failure::Redis(error)
    }

    /// The connection to the server, or to the cluster node at `address` (a seed when the
    /// slot map is not known yet).
    fn connection_for(&self, address: &str) -> Result<Arc<Connection>, BackendError> {
        match &self.connections {
            Connections::Server(connection) => Ok(Arc::clone(connection)),
            Connections::Cluster(nodes) => match nodes.node(address) {
                Ok(connection) => Ok(connection),
                Err(_) => {
                    let seed = nodes.seeds().into_iter().next().unwrap_or_default();
                    nodes.node(&seed)
                }
            },
        }
    }

    /// Fetches a cluster's slot map when it is due (first use, a moved slot, or while a
    /// node's circuit is open), asking nodes whose circuit is closed, then the configured
    /// ones; before any map is known, through the cluster-wide circuit.
    async fn fetch_slots_if_due(&self) {
        let Connections::Cluster(nodes) = &self.connections else {
            return;
        };
        if !self.circuits.fetch_due() {
            return;
        }
        let routes = self.circuits.routes();
        let mut candidates: Vec<String> = routes
            .iter()
            .flat_map(|routes| routes.map.nodes())
            .filter(|node| {
                routes
                    .as_ref()
                    .and_then(|routes| routes.circuit(node))
                    .is_some_and(|circuit| !circuit.breaker.refuses())
            })
            .cloned()
            .collect();
        candidates.extend(nodes.seeds());
        let permit = match (&routes, self.circuits.cluster_wide()) {
            (None, Some(cluster)) => match cluster.breaker.admit() {
                Some(permit) => Some(permit),
                None => return self.circuits.fetch_failed(),
            },
            _ => None,
        };
        let mut last_error = None;
        for node in candidates.iter().take(FETCH_TRIES) {
            let conn = match nodes.node(node) {
                Ok(connection) => connection.get().await,
                Err(error) => Err(Failure::Setup(error)),
            };
            let reply: RedisResult<Value> = match conn {
                Ok(mut conn) => cmd("CLUSTER").arg("SLOTS").query_async(&mut conn).await,
                Err(failure) => {
                    last_error = Some(self.backend_error(failure).to_string());
                    continue;
                }
            };
            match reply.map_err(|e| e.to_string()).and_then(SlotMap::parse) {
                Ok(map) => {
                    if let Some(permit) = permit {
                        permit.succeeded();
                    }
                    return self.circuits.install(map);
                }
                Err(error) => last_error = Some(error),
            }
        }
        if let Some(permit) = permit {
            permit.failed(false);
        }
        tracing::warn!(target: LOG_TARGET, cache = %self.cache, error = ?last_error, "the cluster's slot map could not be read");
        self.circuits.fetch_failed();
    }

    pub(super) fn backend_error(&self, failure: Failure) -> BackendError {
        match failure {
            Failure::Open => BackendError::Unavailable,
            Failure::Setup(error) => error,
            Failure::Redis(error) if error.is_timeout() => {
                BackendError::Timeout(self.response_timeout)
            }
            Failure::Redis(error) => BackendError::new(error),
        }
    }
}
