//! Real `redis-server` processes for the tests: one server, or a 3-primary Redis Cluster,
//! each on free loopback ports with its own temporary directory, stopped when dropped.
//!
//! A missing `redis-server` or `redis-cli` fails the test with the command that installs it;
//! no test skips because Redis is absent.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use cached_core::{Cache, CacheConfig, NearConfig};

const INSTALL_HINT: &str =
    "is not installed; run `apt-get install -y redis-server` (scripts/test does it for you)";

/// How long a server may take to answer its first `PING`.
const STARTUP_LIMIT: Duration = Duration::from_secs(20);

/// Timeouts for caches of tests that expect Redis to answer: generous, so that a loaded
/// machine never turns a healthy call into a counted error.
pub const PATIENT: Duration = Duration::from_secs(5);

/// One `redis-server` on a loopback port; stopped (and its directory removed) on drop.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    extra: Vec<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server on a free port with extra `redis-server` arguments, e.g.
    /// `["--requirepass", "secret"]`.
    pub fn start_with(extra: &[&str]) -> Self {
        let port = free_port(false);
        Self::start_on(port, extra)
    }

    /// Starts a server that also serves TLS on a second port, with this certificate and key
    /// (PEM files); returns it and the TLS port. `PING` checks and [`cli`](Self::cli) use
    /// the plain port.
    pub fn start_tls(cert: &Path, key: &Path) -> (Self, u16) {
        let tls_port = free_port(false).to_string();
        let (cert, key) = (cert.display().to_string(), key.display().to_string());
        let server = Self::start_with(&[
            "--tls-port",
            &tls_port,
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-auth-clients",
            "no",
        ]);
        (server, tls_port.parse().expect("a port number"))
    }

    fn start_on(port: u16, extra: &[&str]) -> Self {
        let mut server = Self {
            port,
            dir: temp_dir(port),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            child: None,
        };
        std::fs::create_dir_all(&server.dir).expect("a temporary directory for redis-server");
        server.restart();
        server
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `redis://127.0.0.1:PORT/DB`.
    pub fn url_db(&self, db: u32) -> String {
        format!("{}/{db}", self.url())
    }

    /// A standalone cache on this server with patient timeouts and `prefix`.
    pub fn cache(&self, prefix: &str) -> Cache {
        let mut config = CacheConfig::redis(&self.url())
            .with_connect_timeout(PATIENT)
            .with_response_timeout(PATIENT);
        if !prefix.is_empty() {
            config = config.with_key_prefix(prefix);
        }
        Cache::new("test", &config).expect("a valid redis configuration")
    }

    /// A standalone cache on this server with patient timeouts, `prefix`, and a near cache
    /// of `near`.
    pub fn near_cache(&self, prefix: &str, near: impl Into<NearConfig>) -> Cache {
        Cache::new(
            "near",
            &CacheConfig::redis(&self.url())
                .with_key_prefix(prefix)
                .with_connect_timeout(PATIENT)
                .with_response_timeout(PATIENT)
                .with_near(near),
        )
        .expect("a valid near cache")
    }

    /// Stops the server at once (SIGKILL, as a crash would), keeping its port for
    /// [`restart`](Self::restart).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (after [`stop`](Self::stop)), empty.
    pub fn restart(&mut self) {
        self.stop();
        let mut command = Command::new("redis-server");
        command
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.dir.join("redis.log"))
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = match command.spawn() {
            Ok(child) => child,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                panic!("redis-server {INSTALL_HINT}")
            }
            Err(error) => panic!("cannot start redis-server: {error}"),
        };
        self.child = Some(child);
        self.wait_for_ping();
    }

    fn wait_for_ping(&mut self) {
        let started = Instant::now();
        let password = self
            .extra
            .iter()
            .position(|arg| arg == "--requirepass")
            .and_then(|i| self.extra.get(i + 1).cloned());
        while started.elapsed() < STARTUP_LIMIT {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "redis-server on port {} exited with {status}: {}",
                    self.port,
                    std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
                );
            }
            if ping(self.port, password.as_deref()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("redis-server on port {} did not answer PING", self.port);
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }

    /// Runs `redis-cli -p PORT args...` and returns its output, trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        cli(self.port, args)
    }

    /// Makes the server stop answering every client for `duration` (`CLIENT PAUSE ALL`),
    /// as a slow or stuck server would. A pause cannot be ended from another client (its
    /// commands wait too); [`stop`](Self::stop) ends it.
    pub fn pause(&self, duration: Duration) {
        let millis = duration.as_millis().to_string();
        assert_eq!(self.cli(&["CLIENT", "PAUSE", &millis, "ALL"]), "OK");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis Cluster of three primaries (no replicas) on loopback ports, stopped on drop.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three cluster-enabled servers and joins them with `redis-cli --cluster create`.
    pub fn start() -> Self {
        Self::start_nodes(3, 0, 2_000, &[])
    }

    /// Starts three primaries without replicas that keep serving their slots when one of
    /// them is down (`cluster-require-full-coverage no`).
    pub fn start_partial() -> Self {
        Self::start_nodes(3, 0, 2_000, &["--cluster-require-full-coverage", "no"])
    }

    /// Starts six servers, three primaries each with a replica, with a node timeout of one
    /// second: a killed primary's replica takes over its slots within a few seconds. With
    /// `full_coverage` false (`cluster-require-full-coverage no`), the other primaries keep
    /// serving their slots meanwhile; with it true (Redis' default), every node refuses every
    /// command (`CLUSTERDOWN`) from when the cluster declares the primary failed until a
    /// replica takes over.
    pub fn start_with_replicas(full_coverage: bool) -> Self {
        let coverage = if full_coverage { "yes" } else { "no" };
        let cluster = Self::start_nodes(
            6,
            1,
            1_000,
            &[
                "--cluster-require-full-coverage",
                coverage,
                "--repl-diskless-sync-delay",
                "0",
            ],
        );
        // A replica that has not synced with its primary refuses to take over from it.
        let started = Instant::now();
        for node in &cluster.nodes {
            while node.cli(&["INFO", "replication"]).contains("role:slave")
                && !node
                    .cli(&["INFO", "replication"])
                    .contains("master_link_status:up")
            {
                assert!(started.elapsed() < STARTUP_LIMIT, "a replica did not sync");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        cluster
    }

    fn start_nodes(count: usize, replicas: usize, node_timeout_ms: u32, extra: &[&str]) -> Self {
        let node_timeout = node_timeout_ms.to_string();
        let nodes: Vec<RedisServer> = (0..count)
            .map(|_| {
                let mut args = vec![
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    &node_timeout,
                ];
                args.extend_from_slice(extra);
                RedisServer::start_on(free_port(true), &args)
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let replicas = replicas.to_string();
        let mut args = vec!["--cluster", "create"];
        args.extend(addresses.iter().map(String::as_str));
        args.extend(["--cluster-replicas", &replicas, "--cluster-yes"]);
        let output = run_cli(&args);
        assert!(
            output.contains("All 16384 slots covered"),
            "redis-cli --cluster create failed: {output}"
        );
        let cluster = Self { nodes };
        cluster.wait_until_ok();
        cluster
    }

    /// Waits until every node reports `cluster_state:ok` (after a node restarted, say).
    pub fn wait_until_ok(&self) {
        let started = Instant::now();
        loop {
            let ready = self
                .nodes
                .iter()
                .all(|node| node.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok"));
            if ready {
                return;
            }
            assert!(
                started.elapsed() < STARTUP_LIMIT,
                "the cluster did not reach cluster_state:ok"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Node `index`, to stop or restart it.
    pub fn node_mut(&mut self, index: usize) -> &mut RedisServer {
        &mut self.nodes[index]
    }

    /// The nodes, in the order they were started.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// The port of the primary serving `key` now, asked of node `ask` (`CLUSTER KEYSLOT`,
    /// then `CLUSTER SLOTS`).
    pub fn primary_of(&self, ask: usize, key: &str) -> u16 {
        let node = &self.nodes[ask];
        let slot: u16 = node
            .cli(&["CLUSTER", "KEYSLOT", key])
            .parse()
            .expect("a slot");
        let slots = node.cli(&["CLUSTER", "SLOTS"]);
        let numbers: Vec<&str> = slots.lines().collect();
        // `redis-cli` prints each range as start, end, then host, port, id of its primary.
        let mut at = 0;
        while at + 4 < numbers.len() {
            if let (Ok(start), Ok(end)) =
                (numbers[at].parse::<u16>(), numbers[at + 1].parse::<u16>())
                && numbers[at + 2].contains('.')
            {
                if (start..=end).contains(&slot) {
                    return numbers[at + 3].parse().expect("a port");
                }
                at += 4;
            } else {
                at += 1;
            }
        }
        panic!("no primary serves slot {slot}: {slots}")
    }

    /// The URLs of the three nodes.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// A standalone cache on this cluster with patient timeouts and `prefix`.
    pub fn cache(&self, prefix: &str) -> Cache {
        let mut config = CacheConfig::redis_cluster(&self.urls())
            .with_connect_timeout(PATIENT)
            .with_response_timeout(PATIENT);
        if !prefix.is_empty() {
            config = config.with_key_prefix(prefix);
        }
        Cache::new("test", &config).expect("a valid redis cluster configuration")
    }

    /// How many keys each primary holds (`DBSIZE`).
    pub fn key_counts(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .map(|node| node.cli(&["DBSIZE"]).parse().expect("DBSIZE is a number"))
            .collect()
    }
}

/// A port with nothing listening on it (and, for a cluster node, nothing on its cluster bus
/// port, 10000 above).
pub fn free_port(cluster_bus: bool) -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    if !cluster_bus {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        return listener.local_addr().expect("a bound address").port();
    }
    // Ports 20000 to 54999, so that the bus port stays below 65000; each test process
    // starts at its own offset, so that parallel test binaries rarely collide.
    let offset = (std::process::id() % 3_500) * 10;
    for _ in 0..10_000 {
        let port = 20_000 + (offset + NEXT.fetch_add(1, Ordering::Relaxed)) % 35_000;
        let (port, bus) = (port as u16, (port + 10_000) as u16);
        let both_free = TcpListener::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("127.0.0.1", bus)).is_ok();
        if both_free {
            return port;
        }
    }
    panic!("no free pair of loopback ports for a cluster node");
}

fn temp_dir(port: u16) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!(
        "cached-tests-redis-{}-{port}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Whether a server answers `PING` on `port`.
fn ping(port: u16, password: Option<&str>) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut request = String::new();
    if let Some(password) = password {
        request.push_str(&format!(
            "*2\r\n$4\r\nAUTH\r\n${}\r\n{password}\r\n",
            password.len()
        ));
    }
    request.push_str("*1\r\n$4\r\nPING\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let _ = stream.shutdown(Shutdown::Write);
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply.contains("+PONG")
}

fn cli(port: u16, args: &[&str]) -> String {
    let port = port.to_string();
    let mut all = vec!["-p", port.as_str()];
    all.extend_from_slice(args);
    run_cli(&all)
}

fn run_cli(args: &[&str]) -> String {
    let output = match Command::new("redis-cli").args(args).output() {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            panic!("redis-cli {INSTALL_HINT}")
        }
        Err(error) => panic!("cannot run redis-cli: {error}"),
    };
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    text.trim().to_owned()
}
