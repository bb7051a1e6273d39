//! Timing helpers of the benchmarks that run against real servers (`harness = false`):
//! medians of short rounds, so that the drift of a shared machine hits every variant alike.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

/// The median of `samples`.
pub fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Nanoseconds per call of `op`, run `ops` times in sequence.
pub async fn sequential<F, Fut>(ops: usize, mut op: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let started = Instant::now();
    for _ in 0..ops {
        op().await;
    }
    started.elapsed().as_nanos() as f64 / ops as f64
}

/// Calls per second of `op`, run `ops` times split over `tasks` tasks.
pub async fn concurrent<F, Fut>(tasks: usize, ops: usize, op: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let op = op.clone();
            tokio::spawn(async move {
                for _ in 0..ops / tasks {
                    op().await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    (ops / tasks * tasks) as f64 / started.elapsed().as_secs_f64()
}

/// The runtime the benchmarks run on: two workers, as many as the machine's cores.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}
