//! The call site of an expansion: which function, which cache, and whether the cache being
//! missing was already reported.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::LOG_TARGET;
use crate::cache::Cache;
use crate::key::RenderError;
use crate::registry::{self, DEFAULT_CACHE};

/// One `#[cached]` or `#[invalidates]` function, as a `static` in its expansion.
pub struct Site {
    function: &'static str,
    cache: &'static str,
    warned: AtomicBool,
}

impl Site {
    /// The site of `function` (its path) using the cache named `cache`.
    pub const fn new(function: &'static str, cache: &'static str) -> Self {
        Self {
            function,
            cache,
            warned: AtomicBool::new(false),
        }
    }

    /// The function's path, for logs.
    pub(crate) fn function(&self) -> &'static str {
        self.function
    }

    /// The cache's name, for logs.
    pub(crate) fn cache_name(&self) -> &'static str {
        self.cache
    }

    /// The cache, looked up on every call so that `configure` after startup is honoured.
    /// A cache that is not configured is `None`, reported at `warn` once per site.
    pub(crate) fn cache(&self) -> Option<Cache> {
        if self.cache == DEFAULT_CACHE {
            return Some(registry::cache());
        }
        match registry::get_cache(self.cache) {
            Ok(cache) => Some(cache),
            Err(error) => {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(target: LOG_TARGET, function = self.function, %error, "the function runs uncached");
                }
                None
            }
        }
    }

    /// The cache and the key of a call, or `None` when the call runs uncached: the cache
    /// is not configured, or the key could not be rendered (logged at `warn` and counted).
    pub(crate) fn prepare(&self, key: Result<String, RenderError>) -> Option<(Cache, String)> {
        let cache = self.cache()?;
        match key {
            Ok(key) => Some((cache, key)),
            Err(error) => {
                cache.count_error();
                tracing::warn!(target: LOG_TARGET, cache = %cache.name(), function = self.function, %error, "the call runs uncached");
                None
            }
        }
    }
}
