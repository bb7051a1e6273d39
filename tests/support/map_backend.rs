//! A custom backend over a map in memory: byte-oriented, as Redis is (values arrive
//! serialized), for the tests of custom backends and of what the cache writes to a store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cached_core::{Backend, BackendError, Cache, CacheConfig};

/// Keys and their serialized values, shared by every clone; with `yielding`, every call
/// yields to the scheduler first, so that concurrent calls interleave as much as they can.
#[derive(Clone, Default)]
pub struct MapBackend {
    entries: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    yielding: bool,
}

impl MapBackend {
    /// A store whose every call yields first.
    pub fn yielding() -> Self {
        Self {
            yielding: true,
            ..Self::default()
        }
    }

    /// Registers a new store as the backend `name`; a cache over it, and the store, to look
    /// at what was written.
    pub fn cache(name: &str, config: CacheConfig) -> (Self, Cache) {
        let store = Self::default();
        let shared = store.clone();
        cached_core::register_backend(name, move |_| Ok(shared.clone()));
        let cache = Cache::new(name, &config).unwrap();
        (store, cache)
    }

    /// Every key and its serialized value.
    pub fn contents(&self) -> HashMap<String, Vec<u8>> {
        self.entries.lock().unwrap().clone()
    }

    async fn pause(&self) {
        if self.yielding {
            tokio::task::yield_now().await;
        }
    }
}

#[cached_core::async_trait]
impl Backend for MapBackend {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.pause().await;
        Ok(self.entries.lock().unwrap().get(key).cloned())
    }
    async fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        _: Option<Duration>,
    ) -> Result<(), BackendError> {
        self.pause().await;
        self.entries.lock().unwrap().insert(key.to_owned(), value);
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<bool, BackendError> {
        self.pause().await;
        Ok(self.entries.lock().unwrap().remove(key).is_some())
    }
    async fn clear(&self) -> Result<(), BackendError> {
        self.pause().await;
        self.entries.lock().unwrap().clear();
        Ok(())
    }
    async fn keys(&self) -> Result<Vec<String>, BackendError> {
        Ok(self.entries.lock().unwrap().keys().cloned().collect())
    }
}
