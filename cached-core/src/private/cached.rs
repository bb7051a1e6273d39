//! The body of a `#[cached]` function: look up, and on a miss run the function once per key
//! in this process (single-flight), store what the condition accepts, share the result.

use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::hit::{Pending, Start, start};
use super::key::KeyResult;
use super::site::Site;
use super::tags::{self, Tags};
use crate::cache::{Fill, Fresh};
use crate::freshness::Freshness;
use crate::outcome::Joined;

/// What decides whether a value is stored: the attribute's `condition`, checked against
/// the cached type where the expansion names it, or [`Condition::always`].
///
/// Boxed so that the runtime's functions do not infer the cached type from the condition
/// (a mismatch is then reported once, on the condition). Conditions are usually closures
/// without captures or function items, whose box does not allocate.
pub struct Condition<'a, T>(Box<dyn FnOnce(&T) -> bool + Send + 'a>);

impl<'a, T> Condition<'a, T> {
    /// Every value is stored.
    pub fn always() -> Self {
        Self(Box::new(|_: &T| true))
    }

    fn holds(self, value: &T) -> bool {
        (self.0)(value)
    }
}

/// The `condition` of a function whose return type `R` is cached as it is.
pub fn condition<'a, R, C>(condition: C) -> Condition<'a, R>
where
    C: FnOnce(&R) -> bool + Send + 'a,
{
    Condition(Box::new(condition))
}

/// The `condition` of a function returning the `Result` `R`, on its `Ok` value.
pub fn condition_ok<'a, R, C>(condition: C) -> Condition<'a, R::Ok>
where
    R: IsResult,
    C: FnOnce(&R::Ok) -> bool + Send + 'a,
{
    Condition(Box::new(condition))
}

/// `Result<T, E>`, through any alias.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `Result`",
    label = "`#[cached]` reads this return type as a `Result`",
    note = "write `option` in the attribute to cache every value as it is returned"
)]
pub trait IsResult {
    /// `T`.
    type Ok;
}

impl<T, E> IsResult for Result<T, E> {
    type Ok = T;
}

/// A cached call of a function whose return type is cached as it is (not a `Result`).
///
/// A cache failure never fails the call: an unknown cache, an unrenderable key, a backend
/// error or an undecodable value each make the call run its body (logged at `warn`).
pub async fn cached<R, F>(
    site: &'static Site,
    pending: Pending,
    ttl: Option<Duration>,
    tags: Tags,
    condition: Condition<'_, R>,
    body: F,
) -> R
where
    R: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    F: Future<Output = R>,
{
    let (cache, key) = match start::<R>(site, pending).await {
        Start::Hit(value) => return value,
        Start::Load(cache, key) => (cache, key),
        Start::Uncached => return body.await,
    };
    let Some(fill) = tagged(site, &cache, &key, tags, ttl).await else {
        return body.await;
    };
    cache
        .load_value(&key, fill, |value| condition.holds(value), || body)
        .await
}

/// A cached call with freshness options (`stale`, `early_refresh`): the body may run in the
/// background after the call has returned, so it owns what it uses (`Send + 'static`).
pub async fn cached_fresh<R, F>(
    site: &'static Site,
    key: KeyResult,
    ttl: Option<Duration>,
    tags: Tags,
    freshness: Freshness,
    condition: Condition<'static, R>,
    body: F,
) -> R
where
    R: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    F: Future<Output = R> + Send + 'static,
{
    let Some((cache, key)) = site.prepare(key) else {
        return body.await;
    };
    let Some(tags) = tags::render(site, &cache, tags) else {
        return body.await;
    };
    match cache.lookup_fresh::<R>(&key, &freshness, ttl).await {
        Fresh::Serve(value, refresh) => {
            if let Some(refresh) = refresh {
                refresh.tagged(tags).spawn(async move {
                    let value = body.await;
                    condition.holds(&value).then_some(value)
                });
            }
            value
        }
        Fresh::Load { mut fill, .. } => {
            let Some(joined) = tags::join(site, &cache, &key, &tags, fill.ttl).await else {
                return body.await;
            };
            fill.joined = joined;
            cache
                .load_value(&key, fill, |value| condition.holds(value), || body)
                .await
        }
    }
}

/// The freshness path of a function returning `Result<T, E>`: a refresh stores only an `Ok`
/// the condition accepts; a failed load is answered from an entry within `stale_if_error`.
#[allow(
    clippy::too_many_arguments,
    reason = "one argument per attribute option, called only by the expansion"
)]
async fn cached_fresh_result<T, E, F, L, LFut>(
    site: &'static Site,
    key: KeyResult,
    ttl: Option<Duration>,
    tags: Tags,
    freshness: Freshness,
    condition: Condition<'static, T>,
    body: F,
    load: L,
) -> Result<T, E>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    E: Send + 'static,
    F: Future<Output = Result<T, E>> + Send + 'static,
    L: FnOnce(crate::Cache, String, Fill, Condition<'static, T>, F) -> LFut,
    LFut: Future<Output = Result<T, E>>,
{
    let Some((cache, key)) = site.prepare(key) else {
        return body.await;
    };
    let Some(tags) = tags::render(site, &cache, tags) else {
        return body.await;
    };
    match cache.lookup_fresh::<T>(&key, &freshness, ttl).await {
        Fresh::Serve(value, refresh) => {
            if let Some(refresh) = refresh {
                refresh.tagged(tags).spawn(async move {
                    let value = body.await.ok()?;
                    condition.holds(&value).then_some(value)
                });
            }
            Ok(value)
        }
        Fresh::Load { mut fill, fallback } => {
            let Some(joined) = tags::join(site, &cache, &key, &tags, fill.ttl).await else {
                return body.await;
            };
            fill.joined = joined;
            let result = load(cache.clone(), key.clone(), fill, condition, body).await;
            match (result, fallback) {
                (Err(_), Some(fallback)) => Ok(cache.serve_on_error(&key, fallback)),
                (result, _) => result,
            }
        }
    }
}

/// Renders the call's tags and joins the key to them before its load: how the load fills,
/// or `None` when the call must run uncached (see `tags.rs`).
async fn tagged(
    site: &Site,
    cache: &crate::Cache,
    key: &str,
    tags: Tags,
    ttl: Option<Duration>,
) -> Option<Fill> {
    let joined = if tags.is_empty() {
        Joined::default()
    } else {
        let tags = tags::render(site, cache, tags)?;
        tags::join(site, cache, key, &tags, ttl).await?
    };
    Some(Fill {
        ttl,
        over: None,
        joined,
    })
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
    pub async fn cached<T, E, F>(
        self,
        site: &'static Site,
        pending: Pending,
        ttl: Option<Duration>,
        tags: Tags,
        condition: Condition<'_, T>,
        body: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        E: Clone + Send + Sync + 'static,
        F: Future<Output = Result<T, E>>,
    {
        let (cache, key) = match start::<T>(site, pending).await {
            Start::Hit(value) => return Ok(value),
            Start::Load(cache, key) => (cache, key),
            Start::Uncached => return body.await,
        };
        let Some(fill) = tagged(site, &cache, &key, tags, ttl).await else {
            return body.await;
        };
        cache
            .load_result(&key, fill, |value| condition.holds(value), || body)
            .await
    }
}

impl SharedErr {
    /// [`SharedErr::cached`] with freshness options (see [`cached_fresh`]).
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per attribute option, called only by the expansion"
    )]
    pub async fn cached_fresh<T, E, F>(
        self,
        site: &'static Site,
        key: KeyResult,
        ttl: Option<Duration>,
        tags: Tags,
        freshness: Freshness,
        condition: Condition<'static, T>,
        body: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        E: Clone + Send + Sync + 'static,
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        let load = |cache: crate::Cache,
                    key: String,
                    fill: Fill,
                    condition: Condition<'static, T>,
                    body| async move {
            cache
                .load_result(&key, fill, |value| condition.holds(value), || body)
                .await
        };
        cached_fresh_result(site, key, ttl, tags, freshness, condition, body, load).await
    }
}

impl OwnErr {
    /// [`OwnErr::cached`] with freshness options (see [`cached_fresh`]).
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per attribute option, called only by the expansion"
    )]
    pub async fn cached_fresh<T, E, F>(
        self,
        site: &'static Site,
        key: KeyResult,
        ttl: Option<Duration>,
        tags: Tags,
        freshness: Freshness,
        condition: Condition<'static, T>,
        body: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        E: Send + 'static,
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        let load = |cache: crate::Cache,
                    key: String,
                    fill: Fill,
                    condition: Condition<'static, T>,
                    body| async move {
            cache
                .load_ok(&key, fill, |value| condition.holds(value), || body)
                .await
        };
        cached_fresh_result(site, key, ttl, tags, freshness, condition, body, load).await
    }
}

impl OwnErr {
    /// As [`SharedErr::cached`], except that an `Err` is returned only to the caller whose
    /// body produced it.
    pub async fn cached<T, E, F>(
        self,
        site: &'static Site,
        pending: Pending,
        ttl: Option<Duration>,
        tags: Tags,
        condition: Condition<'_, T>,
        body: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        F: Future<Output = Result<T, E>>,
    {
        let (cache, key) = match start::<T>(site, pending).await {
            Start::Hit(value) => return Ok(value),
            Start::Load(cache, key) => (cache, key),
            Start::Uncached => return body.await,
        };
        let Some(fill) = tagged(site, &cache, &key, tags, ttl).await else {
            return body.await;
        };
        cache
            .load_ok(&key, fill, |value| condition.holds(value), || body)
            .await
    }
}
