//! Locks for stampede prevention: a key set if absent with a unique token and an expiry,
//! released only by the holder of that token.
//!
//! Within one process, waiters for a lock queue in turn (a fair mutex decides who polls the
//! store next) and a release wakes the next one at once; across processes, waiters poll with
//! a bounded backoff. A holder that vanishes without releasing (a crashed process, a leaked
//! guard) holds the lock until its timeout, then the next waiter takes it.
//!
//! On a memory cache a held lock is never evicted, whatever else is written (it is pinned,
//! see `Cache::set_nx`), and it is held beside `max_size`, which bounds cached values.
//!
//! These are efficiency locks: they keep concurrent callers from rebuilding the same value,
//! but a holder that outlives its timeout can overlap with the next one, so they do not
//! protect correctness on their own.

use std::time::{Duration, Instant};

use crate::cache::Cache;
use crate::error::{Error, Result};
use crate::token::new_token;

/// The longest pause between two attempts to take a lock held elsewhere.
const MAX_BACKOFF: Duration = Duration::from_millis(50);

/// The longest wait for a lock, about 30 years (tokio's own far future): a longer one, such
/// as `Duration::MAX` for "forever", waits this long. A deadline further ahead could
/// overflow `Instant` (a `u64` of nanoseconds on some platforms) or tokio's arithmetic on it.
const MAX_WAIT: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);

/// A held lock. Released by [`release`](LockGuard::release), or when dropped.
///
/// Dropping releases at once on the memory backend; on other backends the release is sent
/// from a task on the current tokio runtime (outside one, the lock expires after its
/// timeout).
#[must_use = "the lock is released when the guard is dropped"]
pub struct LockGuard {
    cache: Cache,
    name: String,
    token: String,
    released: bool,
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("cache", &self.cache.name())
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl LockGuard {
    /// The lock's name (its key in the cache).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Releases the lock; returns whether it was still held (false when it had expired and
    /// perhaps passed to someone else, whose lock is left alone).
    pub async fn release(mut self) -> Result<bool> {
        self.released = true;
        let result = self.cache.release_lock(&self.name, &self.token).await;
        self.cache.locks().wake_next(&self.name);
        result
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if self
            .cache
            .release_lock_now(&self.name, &self.token)
            .is_some()
        {
            self.cache.locks().wake_next(&self.name);
            return;
        }
        let (cache, name, token) = (
            self.cache.clone(),
            std::mem::take(&mut self.name),
            std::mem::take(&mut self.token),
        );
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(error) = cache.release_lock(&name, &token).await {
                        tracing::warn!(target: "cached_core", lock = %name, %error, "lock release failed; it expires after its timeout");
                    }
                    cache.locks().wake_next(&name);
                });
            }
            Err(_) => {
                tracing::warn!(target: "cached_core", lock = %name, "lock dropped outside a tokio runtime; it expires after its timeout");
            }
        }
    }
}

impl Cache {
    /// Takes the lock `name`, waiting up to `timeout` for it; the lock expires `timeout`
    /// after it is taken if its holder vanishes without releasing it.
    ///
    /// A held lock is never evicted from a memory cache, whatever else is written; it
    /// counts among the cache's claims, of which at most `max_size` are held at once (see
    /// [`set_nx`](Cache::set_nx)): one more is refused with an error rather than waited for.
    ///
    /// # Example
    ///
    /// ```
    /// # async fn rebuild() {}
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> cached_core::Result<()> {
    /// use std::time::Duration;
    ///
    /// let cache = cached_core::cache();
    /// let guard = cache.lock("lock:report", Duration::from_secs(30)).await?;
    /// rebuild().await; // only one caller at a time gets here
    /// guard.release().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn lock(&self, name: &str, timeout: Duration) -> Result<LockGuard> {
        self.lock_with_wait(name, timeout, timeout).await
    }

    /// Takes the lock `name` (expiring `timeout` after it is taken), waiting at most `wait`;
    /// [`Error::LockTimeout`] when the wait runs out. `Duration::MAX` is a valid `wait` (and
    /// `timeout`): waits past about 30 years are cut to that, so it waits without end.
    pub async fn lock_with_wait(
        &self,
        name: &str,
        timeout: Duration,
        wait: Duration,
    ) -> Result<LockGuard> {
        let started = Instant::now();
        let deadline = started + wait.min(MAX_WAIT);
        let token = new_token();
        let queue = self.locks().join(name);
        let taken = async {
            let Ok(_turn) = tokio::time::timeout_at(deadline.into(), queue.turn.lock()).await
            else {
                return Ok(false);
            };
            let mut backoff = Duration::from_millis(1);
            loop {
                if self.try_take_lock(name, &token, timeout).await? {
                    return Ok(true);
                }
                let now = Instant::now();
                if now >= deadline {
                    return Ok(false);
                }
                tokio::select! {
                    () = queue.released.notified() => {}
                    () = tokio::time::sleep(backoff.min(deadline - now)) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
        .await;
        drop(queue);
        self.locks().leave(name);
        match taken {
            Ok(true) => Ok(self.guard(name, token)),
            Ok(false) => Err(Error::LockTimeout {
                cache: self.name().to_owned(),
                name: name.to_owned(),
                waited: started.elapsed(),
            }),
            Err(error) => Err(error),
        }
    }

    /// Takes the lock `name` if it is free, without waiting.
    pub async fn try_lock(&self, name: &str, timeout: Duration) -> Result<Option<LockGuard>> {
        let token = new_token();
        Ok(self
            .try_take_lock(name, &token, timeout)
            .await?
            .then(|| self.guard(name, token)))
    }

    fn guard(&self, name: &str, token: String) -> LockGuard {
        LockGuard {
            cache: self.clone(),
            name: name.to_owned(),
            token,
            released: false,
        }
    }
}
