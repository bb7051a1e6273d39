//! The [`Backend`] trait for custom stores, and the built-in backends.
//!
//! Built-in backends are dispatched on an enum (see `store.rs`); `dyn Backend` is used only
//! for backends registered with [`register_backend`](crate::register_backend).

pub(crate) mod memory;
#[cfg(feature = "redis")]
pub(crate) mod redis;

use std::time::Duration;

use async_trait::async_trait;

use crate::error::BackendError;
use crate::glob;
use crate::ttl::Ttl;
use crate::value::integer_from_json;

/// A custom cache store, registered by name with [`register_backend`](crate::register_backend)
/// and chosen with `backend = "that-name"` in the configuration.
///
/// Values arrive serialized (JSON by default) and keys arrive with the cache's `key_prefix`
/// already applied. Only [`get`](Backend::get), [`set`](Backend::set),
/// [`delete`](Backend::delete) and [`clear`](Backend::clear) are required; the other methods
/// have defaults built on those four. The defaults are not atomic (`incr`, `set_nx` and
/// `delete_if_equals` read, then write): override them when the store offers an atomic form.
///
/// # Example
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use std::time::Duration;
///
/// use cached_core::{Backend, BackendError};
///
/// #[derive(Default)]
/// struct MapBackend(Mutex<HashMap<String, Vec<u8>>>);
///
/// #[cached_core::async_trait]
/// impl Backend for MapBackend {
///     async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
///         Ok(self.0.lock().unwrap().get(key).cloned())
///     }
///     async fn set(&self, key: &str, value: Vec<u8>, _ttl: Option<Duration>) -> Result<(), BackendError> {
///         self.0.lock().unwrap().insert(key.to_owned(), value);
///         Ok(())
///     }
///     async fn delete(&self, key: &str) -> Result<bool, BackendError> {
///         Ok(self.0.lock().unwrap().remove(key).is_some())
///     }
///     async fn clear(&self) -> Result<(), BackendError> {
///         self.0.lock().unwrap().clear();
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The value stored under `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError>;

    /// Stores `value` under `key`, expiring after `ttl` (never, when `None`).
    async fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), BackendError>;

    /// Removes `key`; returns whether it existed.
    async fn delete(&self, key: &str) -> Result<bool, BackendError>;

    /// Removes every key of this store.
    async fn clear(&self) -> Result<(), BackendError>;

    /// Removes each of `keys`; returns how many existed. Default: one `delete` per key.
    async fn delete_many(&self, keys: &[String]) -> Result<usize, BackendError> {
        let mut removed = 0;
        for key in keys {
            removed += usize::from(self.delete(key).await?);
        }
        Ok(removed)
    }

    /// Every key of this store. Needed by the default `delete_pattern`; unsupported unless
    /// overridden.
    async fn keys(&self) -> Result<Vec<String>, BackendError> {
        Err(BackendError::Unsupported("keys"))
    }

    /// Removes every key matching the glob `pattern` (Redis' rules); returns how many.
    /// Default: filters [`keys`](Backend::keys) and calls [`delete_many`](Backend::delete_many).
    async fn delete_pattern(&self, pattern: &str) -> Result<usize, BackendError> {
        let pattern = glob::Pattern::new(pattern);
        let matching: Vec<String> = self
            .keys()
            .await?
            .into_iter()
            .filter(|key| pattern.matches(key))
            .collect();
        self.delete_many(&matching).await
    }

    /// Whether `key` exists. Default: through [`get`](Backend::get).
    async fn exists(&self, key: &str) -> Result<bool, BackendError> {
        Ok(self.get(key).await?.is_some())
    }

    /// The remaining lifetime of `key`. Default: [`Ttl::Absent`] for a missing key, and
    /// unsupported for a present one, since the four required methods cannot tell.
    async fn ttl(&self, key: &str) -> Result<Ttl, BackendError> {
        match self.exists(key).await? {
            false => Ok(Ttl::Absent),
            true => Err(BackendError::Unsupported("ttl")),
        }
    }

    /// Adds `by` to the integer at `key` (0 when missing) and returns the result. Default:
    /// read, add, write (not atomic; the key's expiry is not kept).
    async fn incr(&self, key: &str, by: i64) -> Result<i64, BackendError> {
        let current = match self.get(key).await? {
            Some(bytes) => integer_from_json(&bytes).ok_or(BackendError::NotAnInteger)?,
            None => 0,
        };
        let next = current.checked_add(by).ok_or(BackendError::NotAnInteger)?;
        self.set(key, next.to_string().into_bytes(), None).await?;
        Ok(next)
    }

    /// Stores `value` only if `key` is absent; returns whether it did. Default: `exists`,
    /// then `set` (not atomic).
    async fn set_nx(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        if self.exists(key).await? {
            return Ok(false);
        }
        self.set(key, value, ttl).await?;
        Ok(true)
    }

    /// Removes `key` only if it holds `expected`; returns whether it did. Locks release
    /// through this, so that a holder never removes someone else's lock. Default: `get`,
    /// compare, `delete` (not atomic).
    async fn delete_if_equals(&self, key: &str, expected: &[u8]) -> Result<bool, BackendError> {
        match self.get(key).await? {
            Some(current) if current == expected => self.delete(key).await,
            _ => Ok(false),
        }
    }
}
