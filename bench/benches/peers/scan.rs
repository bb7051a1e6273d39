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
pub(crate) fn run(entries: &[Entry<u64>], warmup: usize, window: usize) -> String {
    let zipf = Zipf::new(KEYS, ZIPF_S);
    let keys: Vec<u64> = (0..(KEYS + COLD) as u64).collect();
    let warm = zipf.stream(11, warmup);
    let before = zipf.stream(12, window);
    let sweep: Vec<u32> = (KEYS as u32..(KEYS + COLD) as u32).collect();
    let after = zipf.stream(13, window);
    let later = zipf.stream(14, window * 10);
    let mut table = Table::new(&[
        "store",
        "hit ratio before the sweep",
        "right after it",
        "change",
        "over the next 1M requests",
    ]);
    for entry in entries {
        eprintln!("  scan: {}", entry.name);
        let contender = (entry.make)();
        contender.cache_aside(&keys, &warm);
        let before = ratio(&*contender, &keys, &before);
        contender.cache_aside(&keys, &sweep);
        let after = ratio(&*contender, &keys, &after);
        let later = ratio(&*contender, &keys, &later);
        table.row(vec![
            entry.name.to_owned(),
            format!("{:.2}%", before * 100.0),
            format!("{:.2}%", after * 100.0),
            format!("{:+.2} points", (after - before) * 100.0),
            format!("{:.2}%", later * 100.0),
        ]);
    }
    format!(
        "{}\n\nAfter {warmup} Zipf requests, {window} requests before the sweep, a sweep over \
         {COLD} keys never seen before (get, insert on miss), then {window} requests right \
         after it and {} more.",
        table.markdown(),
        window * 10
    )
}
