//! A custom backend whose every call fails, as a Redis that is down would.

use std::time::Duration;

use cached_core::{Backend, BackendError, async_trait};

/// Fails every call with "connection refused".
pub struct Down;

fn refused() -> BackendError {
    BackendError::new("connection refused")
}

#[async_trait]
impl Backend for Down {
    async fn get(&self, _: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Err(refused())
    }
    async fn set(&self, _: &str, _: Vec<u8>, _: Option<Duration>) -> Result<(), BackendError> {
        Err(refused())
    }
    async fn delete(&self, _: &str) -> Result<bool, BackendError> {
        Err(refused())
    }
    async fn clear(&self) -> Result<(), BackendError> {
        Err(refused())
    }
}
