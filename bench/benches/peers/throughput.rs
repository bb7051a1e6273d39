//! Point 1 and 5 of the issue: hit ratio, throughput at 1 and 2 threads, and the latency of
//! a hit, for every contender on the same streams in the same run.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use cached_bench::table::Table;
use cached_bench::workload::{CAPACITY, KEYS, ZIPF_S, Zipf};

use crate::contenders::{BenchKey, Contender, Entry, REFERENCE, ceiling};

/// A constructor of fresh instances of one contender.
type Maker<'a, K> = Box<dyn Fn() -> Box<dyn Contender<K>> + 'a>;

/// Sizes of one run.
#[derive(Clone, Copy)]
pub(crate) struct Sizes {
    /// Requests that fill the cache before anything is measured.
    pub(crate) warmup: usize,
    /// Requests per thread in a throughput run.
    pub(crate) requests: usize,
    /// Requests whose hits are replayed to time a hit.
    pub(crate) latency: usize,
    /// Repetitions; every figure is the median.
    pub(crate) reps: usize,
}

/// The keys and the request streams shared by every contender.
pub(crate) struct Workload<K> {
    pub(crate) keys: Vec<K>,
    warmup: Vec<u32>,
    /// One stream per thread.
    streams: [Vec<u32>; 2],
    latency: Vec<u32>,
    /// The hit ratio of a cache that always holds the hottest keys.
    pub(crate) ideal: f64,
}

impl<K: BenchKey> Workload<K> {
    pub(crate) fn new(zipf: &Zipf, sizes: Sizes, key: impl Fn(u32) -> K) -> Self {
        Self {
            keys: (0..KEYS as u32).map(key).collect(),
            warmup: zipf.stream(1, sizes.warmup),
            streams: [
                zipf.stream(2, sizes.requests),
                zipf.stream(3, sizes.requests),
            ],
            latency: zipf.stream(4, sizes.latency),
            ideal: zipf.top_share(CAPACITY),
        }
    }
}

#[derive(Default)]
struct Samples {
    hit_ratio: Vec<f64>,
    mops: [Vec<f64>; 2],
    hit_ns: Vec<f64>,
}

/// The medians of one contender.
struct Figures {
    name: &'static str,
    hit_ratio: f64,
    mops: [f64; 2],
    hit_ns: f64,
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// The CPU time of the calling thread: what a hit costs, without the time the thread
/// spends preempted on a shared machine.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; the clock id is a constant the
    // platform defines.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "the thread CPU clock is readable");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Runs `stream[t]` on `threads` threads at once; returns the hits and the wall time.
fn run_threads<K: BenchKey>(
    contender: &dyn Contender<K>,
    work: &Workload<K>,
    threads: usize,
) -> (u64, Duration) {
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let hits = contender.cache_aside(&work.keys, &work.streams[t]);
                    (hits, Instant::now())
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let mut hits = 0;
        let mut end = start;
        for worker in workers {
            let (h, done) = worker.join().expect("a benchmark thread panicked");
            hits += h;
            end = end.max(done);
        }
        (hits, end - start)
    })
}

fn sample<K: BenchKey>(
    make: &dyn Fn() -> Box<dyn Contender<K>>,
    work: &Workload<K>,
    samples: &mut Samples,
) {
    for threads in [1, 2] {
        let contender = make();
        contender.cache_aside(&work.keys, &work.warmup);
        let (hits, elapsed) = run_threads(&*contender, work, threads);
        let requests = (work.streams[0].len() * threads) as f64;
        if threads == 1 {
            samples.hit_ratio.push(hits as f64 / requests);
        }
        samples.mops[threads - 1].push(requests / elapsed.as_secs_f64() / 1e6);
    }
    let contender = make();
    contender.cache_aside(&work.keys, &work.warmup);
    let resident = contender.hits_among(&work.keys, &work.latency);
    let start = thread_cpu_time();
    let hits = contender.read_only(&work.keys, &resident);
    let elapsed = thread_cpu_time() - start;
    assert_eq!(hits as usize, resident.len(), "a hit turned into a miss");
    samples
        .hit_ns
        .push(elapsed.as_nanos() as f64 / resident.len().max(1) as f64);
}

/// Measures every contender, interleaving them in each repetition so that noise from the
/// machine falls on all of them alike; returns the table.
pub(crate) fn compare<K: BenchKey>(
    work: &Workload<K>,
    entries: &[Entry<K>],
    sizes: Sizes,
    only: Option<&str>,
) -> String {
    let ceiling_make = || ceiling(&work.keys);
    let mut makers: Vec<(&'static str, Maker<'_, K>)> = entries
        .iter()
        .map(|e| {
            let make = e.make;
            (e.name, Box::new(make) as Box<dyn Fn() -> _>)
        })
        .collect();
    makers.push((
        "ceiling: DashMap of the hottest keys, no eviction",
        Box::new(ceiling_make),
    ));
    makers.retain(|(name, _)| only.is_none_or(|only| only.split(',').any(|o| name.contains(o))));
    let mut samples: Vec<Samples> = makers.iter().map(|_| Samples::default()).collect();
    for rep in 0..sizes.reps {
        for ((name, make), samples) in makers.iter().zip(&mut samples) {
            eprintln!("  {} keys, rep {}/{}: {name}", K::NAME, rep + 1, sizes.reps);
            sample(&**make, work, samples);
        }
    }
    let figures: Vec<Figures> = makers
        .iter()
        .zip(&mut samples)
        .map(|((name, _), s)| Figures {
            name,
            hit_ratio: median(&mut s.hit_ratio),
            mops: [median(&mut s.mops[0]), median(&mut s.mops[1])],
            hit_ns: median(&mut s.hit_ns),
        })
        .collect();
    render(&figures, work.ideal)
}

fn render(figures: &[Figures], ideal: f64) -> String {
    let reference = figures.iter().find(|f| f.name == REFERENCE);
    let ratio = |value: f64, of: fn(&Figures) -> f64| match reference {
        Some(reference) => format!("{:.2}x", value / of(reference)),
        None => "n/a".to_owned(),
    };
    let mut table = Table::new(&[
        "store",
        "hit ratio",
        "Mops/s, 1 thread",
        "vs qc",
        "Mops/s, 2 threads",
        "vs qc",
        "CPU ns per hit",
        "vs qc",
    ]);
    for f in figures {
        table.row(vec![
            f.name.to_owned(),
            format!("{:.2}%", f.hit_ratio * 100.0),
            format!("{:.2}", f.mops[0]),
            ratio(f.mops[0], |r| r.mops[0]),
            format!("{:.2}", f.mops[1]),
            ratio(f.mops[1], |r| r.mops[1]),
            format!("{:.1}", f.hit_ns),
            ratio(f.hit_ns, |r| r.hit_ns),
        ]);
    }
    format!(
        "{}\n\nIdeal hit ratio (always holding the {CAPACITY} hottest keys): {:.2}%. Zipf s = {ZIPF_S} over {KEYS} keys.",
        table.markdown(),
        ideal * 100.0
    )
}
