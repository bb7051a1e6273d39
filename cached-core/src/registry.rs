//! The registry of named caches: what `configure` installs and `cache()` and `get_cache`
//! read, with a per-thread snapshot so that a lookup touches no shared counter.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use arc_swap::ArcSwap;

use crate::LOG_TARGET;
use crate::build::build;
use crate::cache::Cache;
use crate::config::{CacheConfig, CacheSettings, ConfigError};
use crate::error::{Error, Result};

/// The name of the cache [`cache()`] returns.
pub const DEFAULT_CACHE: &str = "default";

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

/// The cache named `name` for work that runs uncached without it (a query, an entity):
/// `None` when it is not configured, logged at `warn` as `what` running uncached.
pub(crate) fn cache_for(name: &str, what: &str) -> Option<Cache> {
    if name == DEFAULT_CACHE {
        return Some(cache());
    }
    match get_cache(name) {
        Ok(cache) => Some(cache),
        Err(error) => {
            tracing::warn!(target: crate::LOG_TARGET, %error, "the {what} runs uncached");
            None
        }
    }
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
