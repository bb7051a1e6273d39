//! A custom backend: defined here, registered by name, configured from TOML with a custom
//! option, and used through `get_cache` with the default implementations of the trait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cached_core::{
    Backend, BackendError, CacheSettings, InvalidField, Ttl, async_trait, configure, get_cache,
    register_backend,
};

/// A map-backed store that records the custom option it was built with and every key it
/// was asked to write.
#[derive(Default)]
struct MapBackend {
    entries: Mutex<HashMap<String, Vec<u8>>>,
    written: Mutex<Vec<String>>,
}

#[async_trait]
impl Backend for MapBackend {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.entries.lock().unwrap().get(key).cloned())
    }

    async fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        _ttl: Option<Duration>,
    ) -> Result<(), BackendError> {
        self.written.lock().unwrap().push(key.to_owned());
        self.entries.lock().unwrap().insert(key.to_owned(), value);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool, BackendError> {
        Ok(self.entries.lock().unwrap().remove(key).is_some())
    }

    async fn clear(&self) -> Result<(), BackendError> {
        self.entries.lock().unwrap().clear();
        Ok(())
    }

    async fn keys(&self) -> Result<Vec<String>, BackendError> {
        Ok(self.entries.lock().unwrap().keys().cloned().collect())
    }
}

/// What the factory built, so the test can look inside.
static BUILT: Mutex<Vec<(String, Arc<MapBackend>)>> = Mutex::new(Vec::new());

struct Shared(Arc<MapBackend>);

#[async_trait]
impl Backend for Shared {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.0.get(key).await
    }
    async fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), BackendError> {
        self.0.set(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<bool, BackendError> {
        self.0.delete(key).await
    }
    async fn clear(&self) -> Result<(), BackendError> {
        self.0.clear().await
    }
    async fn keys(&self) -> Result<Vec<String>, BackendError> {
        self.0.keys().await
    }
}

fn register() {
    register_backend("myapp-map", |config| {
        let flavour: String = config
            .option("custom_option")?
            .ok_or_else(|| InvalidField::new("custom_option", "is required"))?;
        if flavour != "value" {
            return Err(InvalidField::new(
                "custom_option",
                format!("`{flavour}` is not supported"),
            ));
        }
        let backend = Arc::new(MapBackend::default());
        BUILT.lock().unwrap().push((flavour, backend.clone()));
        Ok(Shared(backend))
    });
}

#[tokio::test]
async fn a_registered_backend_is_configured_from_toml_and_used_through_get_cache() {
    register();
    let settings = CacheSettings::from_toml(
        r#"
        [default]
        backend = "myapp-map"
        custom_option = "value"
        key_prefix = "myapp:"
        ttl = 60

        [broken]
        backend = "myapp-map"
        custom_option = "other"
        "#,
    )
    .unwrap();
    let error = configure(settings.clone()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid cache configuration: cache `broken`, field `custom_option`: `other` is not supported"
    );

    let settings = CacheSettings::from_toml(
        r#"
        [default]
        backend = "myapp-map"
        custom_option = "value"
        key_prefix = "myapp:"
        ttl = 60
        "#,
    )
    .unwrap();
    configure(settings).unwrap();
    let cache = get_cache("default").unwrap();
    assert_eq!(cache.backend(), "myapp-map");
    let (flavour, store) = BUILT.lock().unwrap().last().cloned().unwrap();
    assert_eq!(flavour, "value");

    cache.set("user:1", "Ada", None).await.unwrap();
    assert_eq!(
        cache.get::<String>("user:1").await.unwrap().as_deref(),
        Some("Ada")
    );
    assert_eq!(
        store.written.lock().unwrap().as_slice(),
        ["myapp:user:1"],
        "the prefix is applied"
    );
    assert_eq!(
        store.get("myapp:user:1").await.unwrap(),
        Some(b"\"Ada\"".to_vec()),
        "values arrive as JSON"
    );

    // The trait's defaults, built on get/set/delete/clear/keys.
    assert!(cache.exists("user:1").await.unwrap());
    assert!(cache.set_nx("user:2", "Grace", None).await.unwrap());
    assert!(!cache.set_nx("user:2", "Linus", None).await.unwrap());
    assert_eq!(cache.incr("hits", 2).await.unwrap(), 2);
    assert_eq!(cache.decr("hits", 1).await.unwrap(), 1);
    assert!(matches!(
        cache.incr("user:1", 1).await,
        Err(cached_core::Error::NotAnInteger { .. })
    ));
    assert_eq!(cache.ttl("missing").await.unwrap(), Ttl::Absent);
    assert!(matches!(
        cache.ttl("user:1").await,
        Err(cached_core::Error::Unsupported {
            operation: "ttl",
            ..
        })
    ));
    assert_eq!(cache.delete_many(&["user:2", "nope"]).await.unwrap(), 1);
    cache.set("user:3", "x", None).await.unwrap();
    store
        .set("other-app:user:9", b"1".to_vec(), None)
        .await
        .unwrap();
    assert_eq!(cache.delete_pattern("user:*").await.unwrap(), 2);
    assert!(
        store.get("other-app:user:9").await.unwrap().is_some(),
        "patterns stay under the prefix"
    );

    let guard = cache.lock("job", Duration::from_secs(5)).await.unwrap();
    assert!(
        cache
            .try_lock("job", Duration::from_secs(5))
            .await
            .unwrap()
            .is_none()
    );
    assert!(guard.release().await.unwrap());

    cache.clear().await.unwrap();
    assert!(
        store.get("other-app:user:9").await.unwrap().is_some(),
        "clear removes only this cache's keys"
    );
    assert!(!cache.exists("hits").await.unwrap());
}

#[test]
fn a_custom_backend_takes_no_near_cache() {
    register();
    let error = cached_core::Cache::new(
        "mine",
        &cached_core::CacheConfig::backend("myapp-map")
            .with_option("custom_option", "value")
            .with_near(100),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid cache configuration: cache `mine`, field `near`: a near cache is kept coherent by Redis' client tracking; only redis caches take one"
    );
}
