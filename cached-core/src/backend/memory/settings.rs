//! A memory cache's configuration, checked and turned into its store. Nothing is allocated
//! from `max_size` up front, so any bound builds (the store grows with what it holds).

use crate::backend::memory::{DEFAULT_MAX_SIZE, ValueStore};
use crate::config::CacheConfig;

/// A problem with one field: its name and what is wrong.
pub(crate) type Problem = (String, String);

/// Checks the configuration of a memory cache and builds its store; every problem found is
/// returned.
pub(crate) fn build(config: &CacheConfig) -> Result<ValueStore, Vec<Problem>> {
    let mut problems: Vec<Problem> = Vec::new();
    if config.url.is_some() {
        problems.push((
            "url".to_owned(),
            "the memory backend takes no url".to_owned(),
        ));
    }
    for field in redis_fields(config) {
        problems.push((
            field.to_owned(),
            format!("the memory backend takes no {field}"),
        ));
    }
    for (field, set) in [
        ("codec", config.codec.is_some()),
        ("compress_above", config.compress_above.is_some()),
        ("encryption", config.encryption.is_some()),
        ("integrity", config.integrity.is_some()),
    ] {
        if set {
            problems.push((
                field.to_owned(),
                format!(
                    "the memory backend keeps values in the process, typed; it takes no {field}"
                ),
            ));
        }
    }
    if config.near.is_some() {
        problems.push((
            "near".to_owned(),
            "a memory cache is in the process already; only redis caches take a near cache"
                .to_owned(),
        ));
    }
    for field in config.options.keys() {
        problems.push((
            field.clone(),
            "unknown field; memory caches accept backend, ttl, max_size and key_prefix".to_owned(),
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(ValueStore::new(config.max_size.unwrap_or(DEFAULT_MAX_SIZE)))
}

/// The Redis-only fields `config` sets, for backends that take none of them.
fn redis_fields(config: &CacheConfig) -> Vec<&'static str> {
    [
        ("nodes", !config.nodes.is_empty()),
        ("connect_timeout", config.connect_timeout.is_some()),
        ("response_timeout", config.response_timeout.is_some()),
        ("breaker_threshold", config.breaker_threshold.is_some()),
        ("breaker_cooldown", config.breaker_cooldown.is_some()),
        ("lease_ttl", config.lease_ttl.is_some()),
        ("lease_wait", config.lease_wait.is_some()),
        ("max_value_size", config.max_value_size.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, set)| set.then_some(field))
    .collect()
}
