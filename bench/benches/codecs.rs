//! What each way of storing values costs: for the 10 posts of the Redis benchmark (about
//! 1 KB of JSON) and a 100 KB value, the stored size and the time to encode and decode, in
//! each codec, plain, LZ4-compressed, encrypted (XChaCha20-Poly1305), both, and
//! authenticated (keyed blake3). Run with `cargo bench -p cached-bench --bench codecs`;
//! `BENCHMARKS.md` has the figures. Each time is the median of 51 rounds.

use std::hint::black_box;
use std::time::Instant;

use cached_bench::posts::{Post, many_posts, posts};
use cached_core::codec::{Codec, Protection, ValueFormat, ValueKeys};

/// Nanoseconds per run of `f`, median of 51 rounds of `runs`.
fn time(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut rounds: Vec<f64> = (0..51)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..runs {
                f();
            }
            started.elapsed().as_nanos() as f64 / runs as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[rounds.len() / 2]
}

fn main() {
    let keys = ValueKeys::new([9; 32]);
    for (name, value, runs) in [("10 posts", posts(), 2_000), ("100 KB", many_posts(), 20)] {
        println!("{name}");
        println!("codec       | form            |   bytes | encode (µs) | decode (µs)");
        for codec in [Codec::Json, Codec::MessagePack, Codec::Postcard] {
            let forms = [
                ("plain", ValueFormat::new(codec)),
                ("lz4", ValueFormat::new(codec).compress_above(0)),
                (
                    "encrypted",
                    ValueFormat::new(codec).protect(Protection::Encrypt(keys.clone())),
                ),
                (
                    "lz4 + encrypted",
                    ValueFormat::new(codec)
                        .compress_above(0)
                        .protect(Protection::Encrypt(keys.clone())),
                ),
                (
                    "authenticated",
                    ValueFormat::new(codec).protect(Protection::Authenticate(keys.clone())),
                ),
            ];
            for (form, format) in forms {
                let bytes = format.encode(b"posts", &value).unwrap();
                let back: Vec<Post> = format.decode(b"posts", &bytes).unwrap();
                assert_eq!(back, value);
                let encode = time(runs, || {
                    black_box(format.encode(b"posts", black_box(&value)).unwrap());
                });
                let decode = time(runs, || {
                    black_box(
                        format
                            .decode::<Vec<Post>>(b"posts", black_box(&bytes))
                            .unwrap(),
                    );
                });
                println!(
                    "{:<11} | {form:<15} | {:>7} | {:>11.2} | {:>11.2}",
                    format!("{codec:?}"),
                    bytes.len(),
                    encode / 1e3,
                    decode / 1e3
                );
            }
        }
    }
}
