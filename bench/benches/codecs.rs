//! What each way of storing values costs: for the 10 posts of the Redis benchmark (about
//! 1 KB of JSON) and a 100 KB value, the stored size and the time to encode and decode, in
//! each codec, plain, LZ4-compressed, encrypted (XChaCha20-Poly1305), both, and
//! authenticated (keyed blake3). Run with `cargo bench -p cached-bench --bench codecs`;
//! `BENCHMARKS.md` has the figures. Each time is the median of 51 rounds.

use std::hint::black_box;
use std::time::Instant;

use cached_core::codec::{Codec, Protection, ValueFormat, ValueKeys};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Post {
    id: u64,
    title: String,
    author: String,
    tags: Vec<String>,
    views: u64,
}

fn posts() -> Vec<Post> {
    (0..10)
        .map(|id| Post {
            id,
            title: format!("Post number {id} about caching"),
            author: "abc123".into(),
            tags: vec!["rust".into(), "redis".into()],
            views: id * 1_000,
        })
        .collect()
}

/// A 100 KB value (in JSON) of the kind caches hold: 680 posts with longer text.
fn large() -> Vec<Post> {
    (0..680)
        .map(|id| Post {
            id,
            title: format!("Post number {id}: a longer title about caching values in Redis"),
            author: format!("author-{}", id % 17),
            tags: vec!["rust".into(), "redis".into(), format!("tag-{}", id % 9)],
            views: id * 7_919,
        })
        .collect()
}

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
    for (name, value, runs) in [("10 posts", posts(), 2_000), ("100 KB", large(), 20)] {
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
