//! A registered custom backend behind a cache: keys under the cache's `key_prefix`, values
//! encoded by the codec.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Aged, Lease, Lookup, StoreError};
use crate::backend::Backend;
use crate::codec::{self, ValueFormat};
use crate::error::BackendError;
use crate::key;
use crate::ttl::Ttl;

/// A registered custom backend, with the cache's key prefix and value format.
pub(crate) struct CustomStore {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) prefix: String,
    pub(crate) format: ValueFormat,
}

impl CustomStore {
    fn key<'k>(&self, key: &'k str) -> std::borrow::Cow<'k, str> {
        key::prefixed(&self.prefix, key)
    }

    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Lookup<T>, BackendError> {
        let key = self.key(key);
        let bytes = self.backend.get(&key).await?;
        Ok(self.format.lookup(key.as_bytes(), bytes.as_deref()))
    }

    /// The value at `key` with its remaining lifetime, from the backend's
    /// [`ttl`](Backend::ttl); a backend that cannot tell reads as never expiring.
    pub(super) async fn get_aged<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Aged<T>, BackendError> {
        let lookup = self.get(key).await?;
        let left = match &lookup {
            Lookup::Hit(_) => match self.backend.ttl(&self.key(key)).await {
                Ok(Ttl::Expires(left)) => Some(left),
                Ok(Ttl::NoExpiry | Ttl::Absent) | Err(BackendError::Unsupported(_)) => None,
                Err(error) => return Err(error),
            },
            _ => None,
        };
        Ok(Aged {
            lookup,
            left,
            lease: Lease::Local,
        })
    }

    pub(super) async fn set<T>(&self, key: &str, value: &T, ttl: Duration) -> Result<(), StoreError>
    where
        T: ?Sized + Serialize + ToOwned,
        T::Owned: Serialize + DeserializeOwned,
    {
        let key = self.key(key);
        let bytes = self
            .format
            .encode(key.as_bytes(), value)
            .map_err(StoreError::Encode)?;
        Ok(self.backend.set(&key, bytes, Some(ttl)).await?)
    }

    pub(super) async fn set_nx<T>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<bool, StoreError>
    where
        T: ?Sized + Serialize + ToOwned,
        T::Owned: Serialize + DeserializeOwned,
    {
        let key = self.key(key);
        let bytes = self
            .format
            .encode(key.as_bytes(), value)
            .map_err(StoreError::Encode)?;
        Ok(self.backend.set_nx(&key, bytes, Some(ttl)).await?)
    }

    pub(super) async fn lock(
        &self,
        key: &str,
        token: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let key = self.key(key);
        Ok(self
            .backend
            .set_nx(&key, codec::token(token), Some(ttl))
            .await?)
    }

    pub(super) async fn incr(&self, key: &str, by: i64) -> Result<i64, BackendError> {
        if self.format.is_protected() {
            return Err(BackendError::Unsupported(
                "incr on a cache whose values are protected",
            ));
        }
        self.backend.incr(&self.key(key), by).await
    }

    pub(super) async fn delete(&self, key: &str) -> Result<bool, BackendError> {
        self.backend.delete(&self.key(key)).await
    }

    pub(super) async fn delete_many(&self, keys: &[&str]) -> Result<usize, BackendError> {
        let keys: Vec<String> = keys.iter().map(|key| self.key(key).into_owned()).collect();
        self.backend.delete_many(&keys).await
    }

    pub(super) async fn delete_pattern(&self, pattern: &str) -> Result<usize, BackendError> {
        let pattern = key::prefixed_pattern(&self.prefix, pattern);
        self.backend.delete_pattern(&pattern).await
    }

    /// Without a prefix, the backend's `clear`; with one, the keys under it.
    pub(super) async fn clear(&self) -> Result<(), BackendError> {
        if self.prefix.is_empty() {
            return self.backend.clear().await;
        }
        self.delete_pattern("*").await.map(drop)
    }

    pub(super) async fn exists(&self, key: &str) -> Result<bool, BackendError> {
        self.backend.exists(&self.key(key)).await
    }

    pub(super) async fn ttl(&self, key: &str) -> Result<Ttl, BackendError> {
        self.backend.ttl(&self.key(key)).await
    }

    pub(super) async fn delete_if_token(
        &self,
        key: &str,
        token: &str,
    ) -> Result<bool, BackendError> {
        self.backend
            .delete_if_equals(&self.key(key), &codec::token(token))
            .await
    }
}
