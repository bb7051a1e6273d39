//! The registry of named caches, and of custom backends by name.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use arc_swap::ArcSwap;
use parking_lot::RwLock;

use crate::LOG_TARGET;
use crate::backend::Backend;
use crate::backend::memory::{DEFAULT_MAX_SIZE, MemoryStore};
use crate::cache::Cache;
use crate::config::{CacheConfig, CacheSettings, ConfigError, ConfigProblem, InvalidField};
use crate::error::{Error, Result};
use crate::store::{CustomStore, Store};

/// The built-in backends' names.
const BUILT_IN: &[&str] = &["memory", "redis"];

/// The name of the cache [`cache()`] returns.
pub const DEFAULT_CACHE: &str = "default";

type Factory = Arc<dyn Fn(&CacheConfig) -> Result<Arc<dyn Backend>, InvalidField> + Send + Sync>;

static FACTORIES: LazyLock<RwLock<HashMap<String, Factory>>> = LazyLock::new(Default::default);

static REGISTRY: LazyLock<ArcSwap<Registry>> = LazyLock::new(|| {
    let default =
        build(DEFAULT_CACHE, &CacheConfig::memory()).expect("the default configuration is valid");
    let mut caches = Caches::default();
    caches.insert(DEFAULT_CACHE.to_owned(), default.clone());
    ArcSwap::from_pointee(Registry { caches, default })
});

/// Bumped after every `configure`, so that each thread knows when its snapshot of the
/// registry is stale. Starts at 1, so that an empty snapshot (generation 0) is stale.
static GENERATION: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's snapshot of the registry and the generation it was taken at: a lookup
    /// reads one shared atomic that only `configure` writes, instead of taking a reference
    /// to the registry every time.
    static SNAPSHOT: RefCell<(u64, Option<Arc<Registry>>)> = const { RefCell::new((0, None)) };
}

type Caches = HashMap<String, Cache, foldhash::fast::RandomState>;

struct Registry {
    caches: Caches,
    default: Cache,
}

/// Calls `f` with the current registry.
fn with_registry<R>(f: impl FnOnce(&Registry) -> R) -> R {
    let generation = GENERATION.load(Ordering::Acquire);
    SNAPSHOT.with(|snapshot| {
        if snapshot.borrow().0 != generation {
            let Ok(mut stale) = snapshot.try_borrow_mut() else {
                return f(&REGISTRY.load());
            };
            *stale = (generation, Some(REGISTRY.load_full()));
        }
        match &snapshot.borrow().1 {
            Some(registry) => f(registry),
            None => f(&REGISTRY.load()),
        }
    })
}

/// The cache named `"default"`. Without any configuration it is an in-process memory cache,
/// so a program works with nothing set up.
pub fn cache() -> Cache {
    with_registry(|registry| registry.default.clone())
}

/// The cache named `name`; [`Error::UnknownCache`] when it is not configured.
pub fn get_cache(name: &str) -> Result<Cache> {
    with_registry(|registry| lookup(registry, name))
}

fn lookup(registry: &Registry, name: &str) -> Result<Cache> {
    registry.caches.get(name).cloned().ok_or_else(|| {
        let mut known: Vec<String> = registry.caches.keys().cloned().collect();
        known.sort();
        Error::UnknownCache {
            name: name.to_owned(),
            known,
        }
    })
}

/// Validates `settings` and, when every cache is valid, replaces the configured caches with
/// them. Nothing changes when any problem is found; the error lists every problem with its
/// cache and field. A `"default"` memory cache is added when the settings have none.
///
/// Handles obtained before reconfiguring keep working on the caches they were taken from.
pub fn configure(settings: CacheSettings) -> Result<(), ConfigError> {
    let mut problems = Vec::new();
    let mut caches = Caches::default();
    for (name, config) in settings.iter() {
        match build(name, config) {
            Ok(cache) => {
                caches.insert(name.to_owned(), cache);
            }
            Err(mut found) => problems.append(&mut found),
        }
    }
    if !problems.is_empty() {
        return Err(ConfigError::new(problems));
    }
    let default = caches
        .entry(DEFAULT_CACHE.to_owned())
        .or_insert_with(|| {
            build(DEFAULT_CACHE, &CacheConfig::memory())
                .expect("the default configuration is valid")
        })
        .clone();
    tracing::info!(target: LOG_TARGET, caches = ?caches.keys().collect::<Vec<_>>(), "cache configuration installed");
    REGISTRY.store(Arc::new(Registry { caches, default }));
    GENERATION.fetch_add(1, Ordering::Release);
    Ok(())
}

/// Registers a custom backend under `name`, so that `backend = "name"` in a cache's
/// configuration builds it with `factory`. The factory receives the cache's configuration,
/// custom options included, and reports a bad option with [`InvalidField`].
///
/// Register before calling [`configure`]; registering a name again replaces its factory.
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
    ]
    .into_iter()
    .filter_map(|(field, set)| set.then_some(field))
    .collect()
}

/// Validates one cache's configuration and builds it; every problem found is returned.
fn build(name: &str, config: &CacheConfig) -> Result<Cache, Vec<ConfigProblem>> {
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
        "memory" => {
            if config.url.is_some() {
                problem("url", "the memory backend takes no url".to_owned());
            }
            for field in redis_fields(config) {
                problem(field, format!("the memory backend takes no {field}"));
            }
            for field in config.options.keys() {
                problem(
                    field,
                    "unknown field; memory caches accept backend, ttl, max_size and key_prefix"
                        .to_owned(),
                );
            }
            Some(Store::Memory(MemoryStore::new(
                config.max_size.unwrap_or(DEFAULT_MAX_SIZE),
            )))
        }
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
            Some(factory) => match factory(config) {
                Ok(backend) => Some(Store::Custom(CustomStore {
                    backend,
                    prefix: config.key_prefix.clone().unwrap_or_default(),
                })),
                Err(invalid) => {
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

/// Calls `f` with the cache named `name`, borrowed from the registry rather than cloned, so
/// that the hit path of `#[cached]` writes no shared reference count.
pub(crate) fn with_cache<R>(name: &str, f: impl FnOnce(Option<&Cache>) -> R) -> R {
    with_registry(|registry| {
        if name == DEFAULT_CACHE {
            return f(Some(&registry.default));
        }
        f(registry.caches.get(name))
    })
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
