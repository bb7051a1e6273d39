//! The peer benchmark: this crate's memory store against quick_cache, moka, mini-moka, the
//! `cached` crate's stores and a `Mutex<HashMap>`, on the workload of `BENCHMARKS.md`.
//!
//! ```sh
//! cargo bench -p cached-bench --bench peers            # every section
//! cargo bench -p cached-bench --bench peers -- scan    # one section
//! cargo bench -p cached-bench --bench peers -- --quick # small sizes, a smoke test
//! cargo bench -p cached-bench --bench peers -- --only quick_cache # matching stores only
//! cargo bench -p cached-bench --bench peers -- throughput --keys u64 # one key type
//! ```

mod contenders;
mod expiry;
mod footprint;
mod scan;
mod throughput;

use cached_bench::alloc::Counting;
use cached_bench::workload::{KEYS, ZIPF_S, Zipf, string_key};

use crate::throughput::{Sizes, Workload};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const SECTIONS: &[&str] = &["footprint", "expiry", "scan", "throughput"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only = value_of(&args, "--only");
    let keys = value_of(&args, "--keys");
    assert!(
        keys.is_none_or(|k| k == "u64" || k == "string"),
        "--keys takes `u64` or `string`"
    );
    let chosen: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--") && Some(*a) != only && Some(*a) != keys)
        .collect();
    for name in &chosen {
        assert!(
            SECTIONS.contains(name),
            "unknown section `{name}`; the sections are {SECTIONS:?}"
        );
    }
    let run = |section: &str| chosen.is_empty() || chosen.contains(&section);
    println!("{}", machine());
    // Memory first, while the allocator counts; the rest runs without counting.
    if run("footprint") {
        println!(
            "\n## Bytes per entry, 1,000,000 entries of u64 -> u64\n\n{}",
            footprint::run()
        );
    }
    if run("expiry") {
        println!(
            "\n## 1,000,000 entries with a 1-second TTL\n\n{}",
            expiry::run()
        );
    }
    Counting::stop();
    if run("scan") {
        let warmup = if quick { 200_000 } else { 2_000_000 };
        println!(
            "\n## Scan resistance, u64 keys\n\n{}",
            scan::run(&contenders::bounded::<u64>(), warmup)
        );
    }
    if run("throughput") {
        let sizes = if quick {
            Sizes {
                warmup: 200_000,
                requests: 400_000,
                latency: 100_000,
                reps: 1,
            }
        } else {
            Sizes {
                warmup: 2_000_000,
                requests: 4_000_000,
                latency: 1_000_000,
                reps: 5,
            }
        };
        let zipf = Zipf::new(KEYS, ZIPF_S);
        if keys.is_none_or(|k| k == "u64") {
            let work = Workload::new(&zipf, sizes, u64::from);
            println!(
                "\n## u64 keys\n\n{}",
                throughput::compare(&work, &contenders::bounded::<u64>(), sizes, only)
            );
        }
        if keys.is_none_or(|k| k == "string") {
            let work = Workload::new(&zipf, sizes, string_key);
            let mut entries = contenders::bounded::<String>();
            entries.insert(1, contenders::cache_api());
            println!(
                "\n## String keys (\"user:NNNNNN\")\n\n{}",
                throughput::compare(&work, &entries, sizes, only)
            );
        }
    }
    println!("\n{}", machine());
}

/// The argument after `flag`, if given.
fn value_of<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == flag)?;
    args.get(at + 1).map(String::as_str)
}

/// The machine and its load, printed before and after the run.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "machine: {cores} cores, {cpu}; load average {}",
        load.join(" ")
    )
}
