//! A Redis cache's configuration, checked and turned into its store. Building contacts no
//! server: the connection is made on first use.

use std::time::Duration;

use redis::IntoConnectionInfo;

use super::circuits::Circuits;
use std::sync::Arc;

use super::connection::{Connections, Target, Timeouts};
use super::limit::ValueLimit;
use super::near::{Near, NearSettings};
use super::{Leases, RedisStore};
use crate::config::CacheConfig;

/// How long a connection attempt may take, unless `connect_timeout` says otherwise.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(250);
/// How long a reply may take, unless `response_timeout` says otherwise.
pub(crate) const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_millis(100);
/// Consecutive failures that open the circuit, unless `breaker_threshold` says otherwise.
pub(crate) const DEFAULT_BREAKER_THRESHOLD: u32 = 3;
/// How long the circuit stays open before a probe, unless `breaker_cooldown` says otherwise.
pub(crate) const DEFAULT_BREAKER_COOLDOWN: Duration = Duration::from_secs(1);
/// How long a load's lease lives, unless `lease_ttl` says otherwise: longer than loads take
/// (a load that outlives its lease does not store), and how long a lease whose process died
/// keeps others waiting (each waits `lease_wait` at most, then loads and stores by itself).
pub(crate) const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);
/// How long a load waits for another process's load of the same key before loading by
/// itself, unless `lease_wait` says otherwise.
pub(crate) const DEFAULT_LEASE_WAIT: Duration = Duration::from_millis(250);

const ACCEPTED: &str = "redis caches accept backend, url, nodes, ttl, key_prefix, \
     connect_timeout, response_timeout, breaker_threshold, breaker_cooldown, lease_ttl, \
     lease_wait, max_value_size, codec, compress_above, encryption, integrity and near";

/// A problem with one field: its name and what is wrong.
pub(crate) type Problem = (String, String);

/// Checks the configuration of the Redis cache `name` and builds its store; every problem
/// found is returned.
pub(crate) fn build(name: &str, config: &CacheConfig) -> Result<RedisStore, Vec<Problem>> {
    let mut problems: Vec<Problem> = Vec::new();
    let mut problem = |field: &str, message: String| problems.push((field.to_owned(), message));

    if config.max_size.is_some() {
        problem(
            "max_size",
            "the redis backend takes no max_size; bound Redis' memory with its maxmemory setting"
                .to_owned(),
        );
    }
    for field in config.options.keys() {
        problem(field, format!("unknown field; {ACCEPTED}"));
    }
    let timeouts = Timeouts {
        connect: config.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        response: config.response_timeout.unwrap_or(DEFAULT_RESPONSE_TIMEOUT),
    };
    if config.breaker_threshold == Some(0) {
        problem("breaker_threshold", "must be greater than zero".to_owned());
    }
    for (field, timeout) in [
        ("connect_timeout", config.connect_timeout),
        ("response_timeout", config.response_timeout),
        ("lease_ttl", config.lease_ttl),
    ] {
        if timeout.is_some_and(|t| t.is_zero()) {
            problem(field, "must be greater than zero".to_owned());
        }
    }

    let target = match (&config.url, config.nodes.as_slice()) {
        (Some(_), [_, ..]) => {
            problem(
                "nodes",
                "set either url (one server) or nodes (a Redis Cluster), not both".to_owned(),
            );
            None
        }
        (None, []) => {
            problem(
                "url",
                "a redis cache needs a url such as redis://127.0.0.1:6379/0, or nodes for a \
                 Redis Cluster"
                    .to_owned(),
            );
            None
        }
        (Some(url), []) => match check_url(url) {
            Ok(()) => match redis::Client::open(url.as_str()) {
                Ok(client) => Some(Target::Single(client)),
                Err(error) => {
                    problem("url", format!("`{url}`: {error}"));
                    None
                }
            },
            Err(Some(message)) => {
                problem("url", message);
                None
            }
            Err(None) => None,
        },
        (None, nodes) => {
            let mut seeds = Vec::new();
            for node in nodes {
                match check_url(node).map(|()| node.as_str().into_connection_info()) {
                    Ok(Ok(_)) => seeds.extend(url::Url::parse(node).ok()),
                    Ok(Err(error)) => problem("nodes", format!("`{node}`: {error}")),
                    Err(message) => problem(
                        "nodes",
                        message.unwrap_or_else(|| format!("`{node}` is not a valid URL")),
                    ),
                }
            }
            (seeds.len() == nodes.len()).then_some(Target::Cluster(seeds))
        }
    };

    let format = match config.value_format() {
        Ok(format) => Some(format),
        Err(found) => {
            for (field, message) in found {
                problem(&field, message);
            }
            None
        }
    };
    let threshold = config
        .breaker_threshold
        .unwrap_or(DEFAULT_BREAKER_THRESHOLD);
    let cooldown = config.breaker_cooldown.unwrap_or(DEFAULT_BREAKER_COOLDOWN);
    let circuits = match (&target, &config.url) {
        (Some(Target::Cluster(_)), _) => Circuits::cluster(threshold, cooldown),
        (_, url) => Circuits::server(threshold, cooldown, server_name(url.as_deref())),
    };
    let prefix = config.key_prefix.clone().unwrap_or_default();
    let near = config.near.map(|near| {
        Arc::new(Near::new(
            NearSettings {
                max_size: near.max_size,
                ttl: near.ttl,
            },
            &prefix,
        ))
    });
    if config.near.is_some_and(|near| near.max_size == 0) {
        problem("near.max_size", "must be greater than zero".to_owned());
    }
    if config
        .near
        .is_some_and(|near| near.ttl.is_some_and(|ttl| ttl.is_zero()))
    {
        problem("near.ttl", "must be greater than zero".to_owned());
    }
    let limit = Arc::new(ValueLimit::new(config.max_value_size));
    let connections =
        target.map(|target| Connections::new(target, timeouts, near.clone(), Arc::clone(&limit)));
    match (connections, format) {
        (Some(Err(error)), _) => {
            problem("url", error.to_string());
            Err(problems)
        }
        (Some(Ok(connections)), Some(format)) if problems.is_empty() => Ok(RedisStore {
            cache: name.to_owned(),
            tag_keys: format!("{prefix}{}", super::tags::TAG_PREFIX),
            prefix,
            near,
            connections,
            circuits,
            response_timeout: timeouts.response,
            leases: Leases {
                ttl: config.lease_ttl.unwrap_or(DEFAULT_LEASE_TTL),
                wait: config.lease_wait.unwrap_or(DEFAULT_LEASE_WAIT),
            },
            format,
            limit,
            refusals: Default::default(),
            tags_seen: Default::default(),
        }),
        _ => Err(problems),
    }
}

/// The server's name in logs: `host:port` of its URL (or the socket's path).
fn server_name(url: Option<&str>) -> String {
    let Some(url) = url.and_then(|url| url::Url::parse(url).ok()) else {
        return "server".to_owned();
    };
    match (url.host_str(), url.port()) {
        (Some(host), port) => format!("{host}:{}", port.unwrap_or(6379)),
        (None, _) => url.path().to_owned(),
    }
}

/// Checks the scheme of a URL that parses; `Err(None)` for one that does not parse (the
/// registry reports those already), `Err(Some(message))` for a scheme we cannot serve.
fn check_url(text: &str) -> Result<(), Option<String>> {
    let url = url::Url::parse(text).map_err(|_| None)?;
    match url.scheme() {
        "redis" | "unix" | "redis+unix" => Ok(()),
        "rediss" if cfg!(feature = "tls") => Ok(()),
        "rediss" => Err(Some(format!(
            "`{text}` uses TLS; enable the `tls` feature of cached-core for rediss:// URLs"
        ))),
        other => Err(Some(format!(
            "`{text}`: unsupported scheme `{other}`; use redis://, rediss:// or unix://"
        ))),
    }
}
