//! The cache's operations on the in-process store: values kept typed (a hit is a clone),
//! counters read from any integer type, lock tokens, and fills checked against their flight
//! under the shard's lock.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Aged, Evicted, Filled, Lease, Lookup, StoreError};
use crate::backend::memory::{Action, Expiry, ValueStore};
use crate::codec::DecodeError;
use crate::error::BackendError;
use crate::flight::Flight;
use crate::value::{self, erase};

/// The value at `key` read as `T`.
#[inline]
pub(crate) fn get<T>(store: &ValueStore, key: &str) -> Lookup<T>
where
    T: DeserializeOwned + Clone + 'static,
{
    store
        .get(key, |stored| match value::read::<T>(&**stored) {
            Ok(value) => Lookup::Hit(value),
            Err(error) => Lookup::Undecodable(DecodeError::new(error)),
        })
        .unwrap_or(Lookup::Miss)
}

/// The value at `key` read as `T`, with its remaining lifetime.
pub(super) fn get_aged<T>(store: &ValueStore, key: &str) -> Aged<T>
where
    T: DeserializeOwned + Clone + 'static,
{
    let read = |stored: &crate::value::Value| match value::read::<T>(&**stored) {
        Ok(value) => Lookup::Hit(value),
        Err(error) => Lookup::Undecodable(DecodeError::new(error)),
    };
    let (lookup, left) = store.get_aged(key, read).unwrap_or((Lookup::Miss, None));
    Aged {
        lookup,
        left,
        lease: Lease::Local,
    }
}

pub(super) fn set<T>(store: &ValueStore, key: &str, value: &T, ttl: Duration) -> Evicted
where
    T: ?Sized + Serialize + ToOwned,
    T::Owned: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    store.set(key, erase(value.to_owned()), ttl)
}

/// Stores `value` if `key` is absent, pinned: a claim (a lock, a `set_nx` marker) is never
/// evicted while it lives, and is held beside `max_size`; at most `max_size` claims are
/// held at once, and one more is refused (see [`Cache::set_nx`](crate::Cache::set_nx)).
pub(super) fn set_nx<T>(
    store: &ValueStore,
    key: &str,
    value: &T,
    ttl: Duration,
) -> Result<(bool, Evicted), StoreError>
where
    T: ?Sized + Serialize + ToOwned,
    T::Owned: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    let value = erase(value.to_owned());
    let (claimed, evicted) = store.compute(key, |current| match current {
        Some(_) => (Action::Keep, Ok(false)),
        None if store.pinned() >= store.max_size() => (Action::Keep, Err(())),
        None => (Action::Pin(value, Expiry::After(ttl)), Ok(true)),
    });
    match claimed {
        Ok(claimed) => Ok((claimed, evicted)),
        Err(()) => Err(StoreError::Backend(BackendError::new(format!(
            "{} claims (set_nx values and locks) are held, as many as max_size; this one \
             is refused until one expires or is released",
            store.max_size()
        )))),
    }
}

pub(super) fn incr(store: &ValueStore, key: &str, by: i64) -> Result<(i64, Evicted), BackendError> {
    let (result, evicted) = store.compute(key, |current| {
        let start = match current {
            Some(current) => value::read_integer(&**current.value),
            None => Some(0),
        };
        match start.and_then(|n| n.checked_add(by)) {
            Some(next) => (Action::Put(erase(next), Expiry::Unchanged), Ok(next)),
            None => (Action::Keep, Err(BackendError::NotAnInteger)),
        }
    });
    result.map(|next| (next, evicted))
}

/// Removes `key` if it holds the string `token`.
pub(super) fn release_token(store: &ValueStore, key: &str, token: &str) -> bool {
    store
        .compute(key, |current| {
            let held = current
                .and_then(|c| c.value.as_any().downcast_ref::<String>())
                .is_some_and(|held| held == token);
            if held {
                (Action::Remove, true)
            } else {
                (Action::Keep, false)
            }
        })
        .0
}

/// Stores a load's value unless its flight was detached: checked under the shard's lock,
/// which an invalidation's removal also takes after it detaches, so that either the
/// invalidation removes this value or this fill sees the detachment.
pub(super) fn fill<T>(
    store: &ValueStore,
    key: &str,
    value: &T,
    ttl: Duration,
    flight: &Flight,
) -> (Filled, Evicted)
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    let value = erase(value.clone());
    store.compute(key, |_| {
        if flight.is_detached() {
            (Action::Keep, Filled::Detached)
        } else {
            (Action::Put(value, Expiry::After(ttl)), Filled::Stored)
        }
    })
}
