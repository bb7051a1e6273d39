//! Which circuit breaker guards a call: the one of the server, or on a cluster the one of
//! the primary that serves the key's slot, so that a dead or slow node fails its own slots
//! open while the other primaries keep answering at full speed.
//!
//! A cluster's slot map comes from `CLUSTER SLOTS`, fetched on first use and again while
//! any node's circuit is open (at most every `REFETCH`), so that once a replica is promoted
//! its slots move to it, and to a fresh circuit. Until the map is known, and for calls that
//! name no key, a cluster-wide circuit guards the calls.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;

use super::circuit::Breaker;
use super::cluster::{SlotMap, slot};

/// How often the slot map is fetched again while a node's circuit is open.
const REFETCH: Duration = Duration::from_millis(250);

/// One node's circuit, and the node's name for logs.
pub(super) struct NodeCircuit {
    pub(super) node: String,
    pub(super) breaker: Breaker,
}

/// The circuit of one call.
pub(super) enum Gate<'a> {
    Borrowed(&'a NodeCircuit),
    Shared(Arc<NodeCircuit>),
}

impl Deref for Gate<'_> {
    type Target = NodeCircuit;

    fn deref(&self) -> &NodeCircuit {
        match self {
            Gate::Borrowed(circuit) => circuit,
            Gate::Shared(circuit) => circuit,
        }
    }
}

/// The circuits of one store.
pub(super) enum Circuits {
    Server(NodeCircuit),
    Cluster(ClusterCircuits),
}

/// A cluster's circuits: one per primary, found through the slot map.
pub(super) struct ClusterCircuits {
    threshold: u32,
    cooldown: Duration,
    /// Guards calls while no map is known, and calls that name no key.
    cluster: NodeCircuit,
    routes: ArcSwapOption<Routes>,
    /// When the map was last fetched or found current, in nanoseconds since `epoch`; 0
    /// before the first fetch. Checked without a lock on every call.
    checked: AtomicU64,
    epoch: Instant,
    fetching: AtomicBool,
    /// A node answered that a slot moved: fetch the map again at once.
    stale: AtomicBool,
}

/// The slot map with a circuit for each primary, in the order of the map's nodes.
pub(super) struct Routes {
    pub(super) map: SlotMap,
    circuits: Vec<Arc<NodeCircuit>>,
}

impl Routes {
    /// The circuit of the primary at `address`.
    pub(super) fn circuit(&self, address: &str) -> Option<&Arc<NodeCircuit>> {
        self.circuits.iter().find(|circuit| circuit.node == address)
    }

    /// The circuit of the primary serving `slot`.
    pub(super) fn circuit_of(&self, slot: u16) -> Option<&Arc<NodeCircuit>> {
        self.circuits.get(self.map.owner(slot)?)
    }
}

impl Circuits {
    /// The circuit of one server called `node`.
    pub(super) fn server(threshold: u32, cooldown: Duration, node: String) -> Self {
        Circuits::Server(NodeCircuit {
            node,
            breaker: Breaker::new(threshold, cooldown),
        })
    }

    /// The circuits of a cluster, none known yet but the cluster-wide one.
    pub(super) fn cluster(threshold: u32, cooldown: Duration) -> Self {
        Circuits::Cluster(ClusterCircuits {
            threshold,
            cooldown,
            cluster: NodeCircuit {
                node: "cluster".to_owned(),
                breaker: Breaker::new(threshold, cooldown),
            },
            routes: ArcSwapOption::empty(),
            checked: AtomicU64::new(0),
            epoch: Instant::now(),
            fetching: AtomicBool::new(false),
            stale: AtomicBool::new(false),
        })
    }

    /// The circuit of a call about `key` (prefixed, as sent).
    pub(super) fn for_key(&self, key: &[u8]) -> Gate<'_> {
        match self {
            Circuits::Server(circuit) => Gate::Borrowed(circuit),
            Circuits::Cluster(cluster) => cluster.for_slot(slot(key)),
        }
    }

    /// The circuit of a call that names no key (or of a node reached through `slot`).
    pub(super) fn for_slot(&self, slot: Option<u16>) -> Gate<'_> {
        match (self, slot) {
            (Circuits::Server(circuit), _) => Gate::Borrowed(circuit),
            (Circuits::Cluster(cluster), Some(slot)) => cluster.for_slot(slot),
            (Circuits::Cluster(cluster), None) => Gate::Borrowed(&cluster.cluster),
        }
    }

    /// The nodes whose circuit is open now.
    pub(super) fn open(&self) -> Vec<String> {
        let open = |circuit: &NodeCircuit| circuit.breaker.refuses().then(|| circuit.node.clone());
        match self {
            Circuits::Server(circuit) => open(circuit).into_iter().collect(),
            Circuits::Cluster(cluster) => {
                let routes = cluster.routes.load();
                let nodes = routes.iter().flat_map(|routes| &routes.circuits);
                open(&cluster.cluster)
                    .into_iter()
                    .chain(nodes.filter_map(|circuit| open(circuit)))
                    .collect()
            }
        }
    }

    /// The cluster's slot map with its circuits, when known.
    pub(super) fn routes(&self) -> Option<Arc<Routes>> {
        match self {
            Circuits::Server(_) => None,
            Circuits::Cluster(cluster) => cluster.routes.load_full(),
        }
    }

    /// Whether the slot map should be fetched now: a cluster's, never fetched, said to be
    /// stale by a moved slot, or (while a node's circuit is open) not fetched for `REFETCH`;
    /// and nobody else fetching it. The caller that gets `true` fetches and calls
    /// [`install`](Circuits::install) or [`fetch_failed`](Circuits::fetch_failed). Costs a
    /// call an atomic load or two, and a look at the circuits once per `REFETCH`.
    pub(super) fn fetch_due(&self) -> bool {
        let Circuits::Cluster(cluster) = self else {
            return false;
        };
        let checked = cluster.checked.load(Ordering::Acquire);
        let due = if checked == 0 {
            !cluster.cluster.breaker.refuses()
        } else if cluster.stale.load(Ordering::Acquire) {
            true
        } else {
            let now = cluster.now();
            if now.saturating_sub(checked) < REFETCH.as_nanos() as u64 {
                return false;
            }
            let open = cluster.routes.load().iter().any(|routes| {
                routes
                    .circuits
                    .iter()
                    .any(|circuit| circuit.breaker.refuses())
            });
            if !open {
                // Current as far as anyone knows: look again after `REFETCH`.
                cluster.checked.store(now, Ordering::Release);
            }
            open
        };
        due && !cluster.fetching.swap(true, Ordering::AcqRel)
    }

    /// Installs a fetched slot map, keeping the circuit of every node it knew already.
    pub(super) fn install(&self, map: SlotMap) {
        let Circuits::Cluster(cluster) = self else {
            return;
        };
        let old = cluster.routes.load_full();
        let circuits = map
            .nodes()
            .iter()
            .map(|node| {
                old.as_ref()
                    .and_then(|routes| routes.circuit(node))
                    .cloned()
                    .unwrap_or_else(|| {
                        Arc::new(NodeCircuit {
                            node: node.to_owned(),
                            breaker: Breaker::new(cluster.threshold, cluster.cooldown),
                        })
                    })
            })
            .collect();
        cluster
            .routes
            .store(Some(Arc::new(Routes { map, circuits })));
        self.fetch_failed();
    }

    /// Ends a fetch (whether or not it succeeded): the next is due after `REFETCH`.
    pub(super) fn fetch_failed(&self) {
        if let Circuits::Cluster(cluster) = self {
            cluster.checked.store(cluster.now(), Ordering::Release);
            cluster.stale.store(false, Ordering::Release);
            cluster.fetching.store(false, Ordering::Release);
        }
    }

    /// Makes the next call fetch the slot map first: a node said a slot moved.
    pub(super) fn mark_stale(&self) {
        if let Circuits::Cluster(cluster) = self {
            cluster.stale.store(true, Ordering::Release);
        }
    }

    /// The circuit of the node at `address` (the map's, or the cluster-wide one when the
    /// map does not know the node yet).
    pub(super) fn for_address(&self, address: &str) -> Gate<'_> {
        match self {
            Circuits::Server(circuit) => Gate::Borrowed(circuit),
            Circuits::Cluster(cluster) => {
                let routes = cluster.routes.load();
                match routes.as_ref().and_then(|routes| routes.circuit(address)) {
                    Some(circuit) => Gate::Shared(Arc::clone(circuit)),
                    None => Gate::Borrowed(&cluster.cluster),
                }
            }
        }
    }

    /// The cluster-wide circuit, which guards fetching the slot map before one is known.
    pub(super) fn cluster_wide(&self) -> Option<&NodeCircuit> {
        match self {
            Circuits::Server(_) => None,
            Circuits::Cluster(cluster) => Some(&cluster.cluster),
        }
    }
}

impl ClusterCircuits {
    /// Nanoseconds since `epoch`, never 0.
    fn now(&self) -> u64 {
        (self.epoch.elapsed().as_nanos() as u64).max(1)
    }

    fn for_slot(&self, slot: u16) -> Gate<'_> {
        let routes = self.routes.load();
        let circuit = routes
            .as_ref()
            .and_then(|routes| routes.circuit_of(slot).cloned());
        match circuit {
            Some(circuit) => Gate::Shared(circuit),
            None => Gate::Borrowed(&self.cluster),
        }
    }
}
