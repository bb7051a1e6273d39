//! The body of a `#[cached]` function: look up, and on a miss run the function once per key
//! in this process (single-flight), store what the condition accepts, share the result.

use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::key::KeyResult;
use super::site::Site;
use crate::cache::Cache;
use crate::store::Lookup;

/// The condition of a function without one: every value is stored.
pub fn always<T: ?Sized>(_: &T) -> bool {
    true
}

/// A cached call of a function whose return type is cached as it is (not a `Result`).
///
/// A cache failure never fails the call: an unknown cache, an unrenderable key, a backend
/// error or an undecodable value each make the call run its body (logged at `warn`).
pub async fn cached<R, C, F>(
    site: &'static Site,
    key: KeyResult,
    ttl: Option<Duration>,
    condition: C,
    body: F,
) -> R
where
    R: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    C: FnOnce(&R) -> bool,
    F: Future<Output = R>,
{
    let Some((cache, key)) = site.prepare(key) else {
        return body.await;
    };
    if let Some(value) = cache.lookup::<R>(&key).await {
        return value;
    }
    let (cache, key) = (&cache, key.as_str());
    cache
        .inner
        .flights
        .run(key, move || async move {
            if let Some(value) = recheck(cache, key).await {
                return value;
            }
            let value = body.await;
            if condition(&value) {
                cache.store_quietly(key, &value, ttl).await;
            }
            value
        })
        .await
}

/// Chooses, for a `Result` return type, whether an `Err` can be shared with the callers
/// waiting on the same key (when `E: Clone + Send + Sync + 'static`) or not.
///
/// The choice is made where the types are known, by autoref specialization:
/// `(&Sharing::<R>::new()).sharing()` finds [`ShareErr`] when its bounds hold (method
/// lookup tries `&Sharing<R>` before `&&Sharing<R>`), and [`KeepErr`] otherwise. In a
/// generic function whose error type has no `Clone` bound, errors are not shared.
pub struct Sharing<R>(PhantomData<fn() -> R>);

impl<R> Sharing<R> {
    /// The selector for return type `R`.
    #[allow(clippy::new_without_default, reason = "only the expansion builds one")]
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

/// Selected when the error type can be shared: see [`Sharing`].
pub trait ShareErr {
    /// The strategy that shares errors.
    fn sharing(&self) -> SharedErr;
}

impl<T, E: Clone + Send + Sync + 'static> ShareErr for Sharing<Result<T, E>> {
    fn sharing(&self) -> SharedErr {
        SharedErr
    }
}

/// Selected otherwise: see [`Sharing`].
pub trait KeepErr {
    /// The strategy that keeps each error with the caller whose body returned it.
    fn sharing(&self) -> OwnErr;
}

impl<R> KeepErr for &Sharing<R> {
    fn sharing(&self) -> OwnErr {
        OwnErr
    }
}

/// Errors are shared with the waiting callers (and never stored).
pub struct SharedErr;

/// Errors go to the caller whose body returned them; a waiting caller then runs its own
/// body.
pub struct OwnErr;

impl SharedErr {
    /// A cached call of a function returning `Result<T, E>`: only an `Ok` the condition
    /// accepts is stored; the result, `Err` included, is shared with waiting callers.
    pub async fn cached<T, E, C, F>(
        self,
        site: &'static Site,
        key: KeyResult,
        ttl: Option<Duration>,
        condition: C,
        body: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        E: Clone + Send + Sync + 'static,
        C: FnOnce(&T) -> bool,
        F: Future<Output = Result<T, E>>,
    {
        let Some((cache, key)) = site.prepare(key) else {
            return body.await;
        };
        if let Some(value) = cache.lookup::<T>(&key).await {
            return Ok(value);
        }
        let (cache, key) = (&cache, key.as_str());
        cache
            .inner
            .flights
            .run(key, move || async move {
                if let Some(value) = recheck(cache, key).await {
                    return Ok(value);
                }
                let result = body.await;
                if let Ok(value) = &result
                    && condition(value)
                {
                    cache.store_quietly(key, value, ttl).await;
                }
                result
            })
            .await
    }
}

impl OwnErr {
    /// As [`SharedErr::cached`], except that an `Err` is returned only to the caller whose
    /// body produced it.
    pub async fn cached<T, E, C, F>(
        self,
        site: &'static Site,
        key: KeyResult,
        ttl: Option<Duration>,
        condition: C,
        body: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        C: FnOnce(&T) -> bool,
        F: Future<Output = Result<T, E>>,
    {
        let Some((cache, key)) = site.prepare(key) else {
            return body.await;
        };
        if let Some(value) = cache.lookup::<T>(&key).await {
            return Ok(value);
        }
        let (cache, key) = (&cache, key.as_str());
        cache
            .inner
            .flights
            .run_fallible(key, move || async move {
                if let Some(value) = recheck(cache, key).await {
                    return Ok(value);
                }
                let value = body.await?;
                if condition(&value) {
                    cache.store_quietly(key, &value, ttl).await;
                }
                Ok(value)
            })
            .await
    }
}

/// The second look of a single-flight leader, in case a load finished between its miss and
/// its turn; not counted as a lookup.
async fn recheck<T>(cache: &Cache, key: &str) -> Option<T>
where
    T: DeserializeOwned + Clone + Send + Sync + 'static,
{
    match cache.inner.store.get::<T>(key).await {
        Ok(Lookup::Hit(value)) => Some(value),
        _ => None,
    }
}
