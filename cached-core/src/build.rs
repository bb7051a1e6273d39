//! Building caches from their configuration: the checks every backend shares, then the
//! backend's own (`backend/memory/settings.rs`, `backend/redis/settings.rs`, or a custom
//! backend's factory), each problem named with its cache and field. Custom backends are
//! registered here by name.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use parking_lot::RwLock;

use crate::backend::{Backend, memory};
use crate::cache::Cache;
use crate::config::{CacheConfig, ConfigError, ConfigProblem, InvalidField};
use crate::store::{CustomStore, Store};

/// The built-in backends' names.
const BUILT_IN: &[&str] = &["memory", "redis"];

type Factory = Arc<dyn Fn(&CacheConfig) -> Result<Arc<dyn Backend>, InvalidField> + Send + Sync>;

static FACTORIES: LazyLock<RwLock<HashMap<String, Factory>>> = LazyLock::new(Default::default);

/// Registers a custom backend under `name`, so that `backend = "name"` in a cache's
/// configuration builds it with `factory`. The factory receives the cache's configuration,
/// custom options included, and reports a bad option with [`InvalidField`].
///
/// Register before calling [`configure`](crate::configure); registering a name again replaces its factory.
///
/// # Panics
///
/// When `name` is the name of a built-in backend.
pub fn register_backend<B, F>(name: &str, factory: F)
where
    B: Backend,
    F: Fn(&CacheConfig) -> Result<B, InvalidField> + Send + Sync + 'static,
{
    assert!(
        !BUILT_IN.contains(&name),
        "`{name}` is a built-in backend and cannot be replaced"
    );
    let factory: Factory = Arc::new(move |config| {
        factory(config).map(|backend| Arc::new(backend) as Arc<dyn Backend>)
    });
    FACTORIES.write().insert(name.to_owned(), factory);
}

impl Cache {
    /// Builds a standalone cache, outside the registry: useful for libraries and tests that
    /// should not touch the program's configuration.
    pub fn new(name: &str, config: &CacheConfig) -> Result<Cache, ConfigError> {
        build(name, config).map_err(ConfigError::new)
    }
}

/// Validates one cache's configuration and builds it; every problem found is returned.
pub(crate) fn build(name: &str, config: &CacheConfig) -> Result<Cache, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    let mut problem = |field: &str, message: String| {
        problems.push(ConfigProblem::new(name, Some(field), message))
    };

    if config.ttl.is_some_and(|ttl| ttl.is_zero()) {
        problem("ttl", "must be greater than zero".to_owned());
    }
    if config.max_size == Some(0) {
        problem("max_size", "must be greater than zero".to_owned());
    }
    if let Some(url) = &config.url
        && let Err(error) = url::Url::parse(url)
    {
        problem("url", format!("`{url}` is not a valid URL ({error})"));
    }

    let store = match config.backend.as_str() {
        "memory" => match memory::build(config) {
            Ok(store) => Some(Store::Memory(store)),
            Err(found) => {
                for (field, message) in found {
                    problem(&field, message);
                }
                None
            }
        },
        #[cfg(feature = "redis")]
        "redis" => match crate::backend::redis::build(name, config) {
            Ok(store) => Some(Store::Redis(store)),
            Err(found) => {
                for (field, message) in found {
                    problem(&field, message);
                }
                None
            }
        },
        #[cfg(not(feature = "redis"))]
        "redis" => {
            problem(
                "backend",
                "the redis backend is not compiled in; enable the `redis` feature of cached-core"
                    .to_owned(),
            );
            None
        }
        custom => match FACTORIES.read().get(custom).cloned() {
            None => {
                let mut known: Vec<String> = BUILT_IN.iter().map(|s| (*s).to_owned()).collect();
                known.extend(FACTORIES.read().keys().cloned());
                problem(
                    "backend",
                    format!(
                        "unknown backend `{custom}` (known: {}); register custom backends with `register_backend` before `configure`",
                        known.join(", ")
                    ),
                );
                None
            }
            Some(_) if config.near.is_some() => {
                problem(
                    "near",
                    "a near cache is kept coherent by Redis' client tracking; only redis caches take one"
                        .to_owned(),
                );
                None
            }
            Some(factory) => match (factory(config), config.value_format()) {
                (Ok(backend), Ok(format)) => Some(Store::Custom(CustomStore {
                    backend,
                    prefix: config.key_prefix.clone().unwrap_or_default(),
                    format,
                })),
                (_, Err(found)) => {
                    for (field, message) in found {
                        problem(&field, message);
                    }
                    None
                }
                (Err(invalid), Ok(_)) => {
                    problem(&invalid.field, invalid.message);
                    None
                }
            },
        },
    };

    match store {
        Some(store) if problems.is_empty() => Ok(Cache::from_parts(
            name,
            &config.backend,
            store,
            config.effective_ttl(),
        )),
        _ => Err(problems),
    }
}

#[cfg(all(test, not(feature = "redis")))]
mod tests {
    use super::*;

    #[test]
    fn a_redis_cache_without_the_feature_says_which_feature_to_enable() {
        let problems = build("default", &CacheConfig::redis("redis://127.0.0.1:6379")).unwrap_err();
        assert_eq!(
            problems[0].to_string(),
            "cache `default`, field `backend`: the redis backend is not compiled in; enable the `redis` feature of cached-core"
        );
    }
}
