//! Single-flight: concurrent misses of one key in this process run one load and share its
//! result.
//!
//! Each key in flight has a `tokio::sync::OnceCell`; the first caller's work initializes it
//! and the others wait on it. If that caller is cancelled, the next waiter runs its own work,
//! so a dropped future never strands the others.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::OnceCell;

type Cell = Arc<dyn Any + Send + Sync>;

/// The loads in flight for one cache, by key.
#[derive(Default)]
pub(crate) struct Flights {
    cells: DashMap<Box<str>, Cell>,
}

impl Flights {
    /// Runs `work` for `key` unless a run is in flight, in which case its result is shared.
    pub(crate) async fn run<R, F, Fut>(&self, key: &str, work: F) -> R
    where
        R: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = R>,
    {
        let Some(cell) = self.join::<R>(key) else {
            return work().await;
        };
        let result = cell.get_or_init(work).await.clone();
        self.leave(key, &cell);
        result
    }

    /// As [`run`](Self::run), but a failed run is not shared: its caller gets the error and
    /// the next waiter runs its own work.
    pub(crate) async fn run_fallible<T, E, F, Fut>(&self, key: &str, work: F) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let Some(cell) = self.join::<T>(key) else {
            return work().await;
        };
        let result = cell.get_or_try_init(work).await.cloned();
        self.leave(key, &cell);
        result
    }

    /// The cell for `key`, created if none is in flight; `None` if a flight of another result
    /// type holds the key (then the caller runs alone).
    fn join<R: Send + Sync + 'static>(&self, key: &str) -> Option<Arc<OnceCell<R>>> {
        let cell: Cell = match self.cells.get(key) {
            Some(cell) => Arc::clone(&cell),
            None => Arc::clone(
                self.cells
                    .entry(key.into())
                    .or_insert_with(|| Arc::new(OnceCell::<R>::new()))
                    .value(),
            ),
        };
        cell.downcast::<OnceCell<R>>().ok()
    }

    /// Retires `cell` once its result is known (or its run failed), so that later misses
    /// start a fresh load.
    fn leave<R: Send + Sync + 'static>(&self, key: &str, cell: &Arc<OnceCell<R>>) {
        let ours = Arc::as_ptr(cell).cast::<()>();
        self.cells
            .remove_if(key, |_, current| Arc::as_ptr(current).cast::<()>() == ours);
    }

    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.cells.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_runs_share_one_result() {
        let flights = Arc::new(Flights::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (flights, runs) = (flights.clone(), runs.clone());
                tokio::spawn(async move {
                    flights
                        .run("k", || async {
                            runs.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            7_u32
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 7);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(flights.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_failed_run_is_retried_by_the_next_caller() {
        let flights = Flights::default();
        let first: Result<u32, &str> = flights.run_fallible("k", || async { Err("down") }).await;
        assert_eq!(first, Err("down"));
        let second: Result<u32, &str> = flights.run_fallible("k", || async { Ok(3) }).await;
        assert_eq!(second, Ok(3));
        assert_eq!(flights.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_cancelled_leader_hands_over_to_a_waiter() {
        let flights = Arc::new(Flights::default());
        let leader = {
            let flights = flights.clone();
            tokio::spawn(async move {
                flights
                    .run("k", || async {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        1_u32
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let waiter = {
            let flights = flights.clone();
            tokio::spawn(async move { flights.run("k", || async { 2_u32 }).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        leader.abort();
        assert_eq!(waiter.await.unwrap(), 2);
    }
}
