//! Point 2 of the issue: a one-time sweep over 100,000 cold keys in the middle of the Zipf
//! workload. A scan-resistant store keeps its hot set; an LRU is flushed by it.

use cached_bench::table::Table;
use cached_bench::workload::{KEYS, ZIPF_S, Zipf};

use crate::contenders::{Contender, Entry};

const COLD: usize = 100_000;

/// Hit ratio of `contender` on `stream`.
fn ratio(contender: &dyn Contender<u64>, keys: &[u64], stream: &[u32]) -> f64 {
    contender.cache_aside(keys, stream) as f64 / stream.len() as f64
}

/// The table of hit ratios before the sweep, right after it, and once recovered.
pub(crate) fn run(entries: &[Entry<u64>], warmup: usize) -> String {
    let zipf = Zipf::new(KEYS, ZIPF_S);
    let keys: Vec<u64> = (0..(KEYS + COLD) as u64).collect();
    let warm = zipf.stream(11, warmup);
    let before = zipf.stream(12, 10_000);
    let sweep: Vec<u32> = (KEYS as u32..(KEYS + COLD) as u32).collect();
    let after = zipf.stream(13, 100_000);
    let mut table = Table::new(&[
        "store",
        "last 10k requests before the sweep",
        "first 1k after it",
        "first 10k after it",
        "next 90k",
    ]);
    for entry in entries {
        eprintln!("  scan: {}", entry.name);
        let contender = (entry.make)();
        contender.cache_aside(&keys, &warm);
        let before = ratio(&*contender, &keys, &before);
        contender.cache_aside(&keys, &sweep);
        let first_1k = ratio(&*contender, &keys, &after[..1_000]);
        let first_10k = ratio(&*contender, &keys, &after[1_000..10_000]);
        let next = ratio(&*contender, &keys, &after[10_000..]);
        let cell = |r: f64| format!("{:.1}%", r * 100.0);
        table.row(vec![
            entry.name.to_owned(),
            cell(before),
            cell(first_1k),
            cell((first_1k * 1_000.0 + first_10k * 9_000.0) / 10_000.0),
            cell(next),
        ]);
    }
    format!(
        "{}\n\nAfter {warmup} Zipf requests, a sweep over {COLD} keys never seen before (get, \
         insert on miss), then the same Zipf stream again. Hit ratios over short windows move \
         by a point or two from noise alone.",
        table.markdown(),
    )
}
