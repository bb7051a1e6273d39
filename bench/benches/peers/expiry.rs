//! Point 3 of the issue: 1,000,000 entries with a 1-second TTL. How long after they expire
//! does memory come back, with the program idle or busy, and how long does the slowest
//! single call take meanwhile?

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cached_bench::alloc::Counting;
use cached_bench::histogram::Histogram;
use cached_bench::table::Table;
use cached_core::memory::MemoryStore;

const ENTRIES: u64 = 1_000_000;
const TTL: Duration = Duration::from_secs(1);
const LONG: Duration = Duration::from_secs(3600);
/// Keys the busy program reads and writes while the others expire.
const WORKING_SET: u64 = 20_000;
/// How long to wait for memory to come back before giving up.
const PATIENCE: Duration = Duration::from_secs(15);

/// What one run observed.
struct Observed {
    added: usize,
    left: usize,
    back_after: Option<Duration>,
    held_after: usize,
    latencies: Option<Histogram>,
    /// How long the busy program was timed.
    timed: Duration,
}

/// The busy program's loop until `stop`: reads of its own keys, every eighth call a write,
/// each call from `from` on timed.
fn busy(store: &MemoryStore<u64, u64>, from: Instant, stop: &AtomicBool) -> Histogram {
    let mut latencies = Histogram::default();
    let mut key = 0;
    let mut calls = 0_u64;
    while !stop.load(Ordering::Relaxed) {
        key = (key + 7_919) % WORKING_SET;
        let key = ENTRIES + key;
        calls += 1;
        let start = Instant::now();
        if calls.is_multiple_of(8) {
            store.set(&key, key, LONG);
        } else {
            black_box(store.get(&key, |v| *v));
        }
        if start >= from {
            latencies.record(start.elapsed());
        }
    }
    latencies
}

fn working_set() -> MemoryStore<u64, u64> {
    let store = MemoryStore::new((ENTRIES + WORKING_SET) as usize);
    for key in ENTRIES..ENTRIES + WORKING_SET {
        store.set(&key, key, LONG);
    }
    store
}

/// The control: the busy program alone for `duration`, with nothing expiring.
fn control(duration: Duration) -> Histogram {
    let store = working_set();
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let load = scope.spawn(|| busy(&store, Instant::now(), &stop));
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        load.join().expect("the busy thread panicked")
    })
}

fn observe(with_load: bool) -> Observed {
    let store = working_set();
    let baseline = Counting::live();
    let start = Instant::now();
    for key in 0..ENTRIES {
        store.set(&key, key, TTL);
    }
    let last_expiry = Instant::now() + TTL;
    let first_expiry = start + TTL;
    let added = Counting::live().saturating_sub(baseline);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let load = with_load.then(|| scope.spawn(|| busy(&store, first_expiry, &stop)));
        let mut back_after = None;
        while last_expiry.elapsed() < PATIENCE || Instant::now() < last_expiry {
            std::thread::sleep(Duration::from_millis(20));
            let now = Instant::now();
            // Near the baseline: within 2% of what the entries added.
            if now > last_expiry && Counting::live() <= baseline + added / 50 {
                back_after = Some(now - last_expiry);
                break;
            }
        }
        if with_load {
            std::thread::sleep(Duration::from_millis(500));
        }
        stop.store(true, Ordering::Relaxed);
        let timed = Instant::now().saturating_duration_since(first_expiry);
        let latencies = load.map(|l| l.join().expect("the busy thread panicked"));
        Observed {
            added,
            left: Counting::live().saturating_sub(baseline),
            back_after,
            held_after: store.len(),
            latencies,
            timed,
        }
    })
}

/// The same with moka (time_to_live of 1 s), idle: moka 0.12 has no background thread, so
/// its memory comes back only when the program calls it again.
fn moka_idle() -> (usize, usize) {
    let baseline = Counting::live();
    let cache: moka::sync::Cache<u64, u64> = moka::sync::Cache::builder()
        .max_capacity(ENTRIES + WORKING_SET)
        .time_to_live(TTL)
        .build();
    for key in 0..ENTRIES {
        cache.insert(key, key);
    }
    let added = Counting::live() - baseline;
    std::thread::sleep(TTL + Duration::from_secs(5));
    let left = Counting::live().saturating_sub(baseline);
    drop(cache);
    (added, left)
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

fn micros(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn latency_row(table: &mut Table, phase: &str, h: &Histogram) {
    table.row(vec![
        phase.to_owned(),
        h.count().to_string(),
        micros(h.quantile(0.5)),
        micros(h.quantile(0.999)),
        micros(h.quantile(0.9999)),
        micros(h.quantile(0.99999)),
        micros(h.max()),
    ]);
}

/// The tables of the expiry runs: memory, then the busy program's latencies.
pub(crate) fn run() -> String {
    let mut memory = Table::new(&[
        "run",
        "added by the 1M entries",
        "left after",
        "back near the baseline",
        "entries left",
    ]);
    let mut latency = Table::new(&[
        "busy program's calls",
        "calls",
        "p50 µs",
        "p99.9 µs",
        "p99.99 µs",
        "p99.999 µs",
        "max µs",
    ]);
    for with_load in [false, true] {
        let label = if with_load { "busy" } else { "idle" };
        eprintln!("  expiry: cached-core, {label}");
        let o = observe(with_load);
        memory.row(vec![
            format!("cached-core MemoryStore, {label}"),
            mib(o.added),
            mib(o.left),
            o.back_after.map_or("not within 15 s".into(), |d| {
                format!("{:.2} s after the last expiry", d.as_secs_f64())
            }),
            o.held_after.to_string(),
        ]);
        if let Some(during) = &o.latencies {
            eprintln!("  expiry: control");
            latency_row(&mut latency, "control: nothing expiring", &control(o.timed));
            latency_row(
                &mut latency,
                "from the first expiry until reclaimed, +0.5 s",
                during,
            );
        }
    }
    eprintln!("  expiry: moka, idle");
    let (added, left) = moka_idle();
    memory.row(vec![
        "moka 0.12 sync, idle".into(),
        mib(added),
        mib(left),
        if left <= added / 50 {
            "within 5 s of expiry".into()
        } else {
            "not within 5 s without further calls".into()
        },
        "-".into(),
    ]);
    format!(
        "{}\n\nThe entries left are the busy program's {WORKING_SET} keys (long TTL), present before \
         the baseline was taken.\n\n{}",
        memory.markdown(),
        latency.markdown()
    )
}
