//! What each way of storing values costs: for the 10 posts of the Redis benchmark (about
//! 1 KB of JSON) and a 100 KB value, the stored size and the time to encode and decode, in
//! each codec, plain, LZ4-compressed, encrypted (XChaCha20-Poly1305), both, and
//! authenticated (keyed blake3). Run with `cargo bench -p cached-bench --bench codecs`;
//! `BENCHMARKS.md` has the figures. Each time is the median of 51 rounds,
//! taken in turn across the forms of one codec.

use std::hint::black_box;
use std::time::Instant;

use cached_bench::posts::{Post, many_posts, posts};
use cached_core::codec::{Codec, Protection, ValueFormat, ValueKeys};

const ROUNDS: usize = 51;

/// Nanoseconds per run of `f`, timed over `runs` runs.
fn time(runs: usize, mut f: impl FnMut()) -> f64 {
    let started = Instant::now();
    for _ in 0..runs {
        f();
    }
    started.elapsed().as_nanos() as f64 / runs as f64
}

fn median(mut rounds: Vec<f64>) -> f64 {
    rounds.sort_by(f64::total_cmp);
    rounds[rounds.len() / 2]
}

fn main() {
    let keys = ValueKeys::new([9; 32]);
    for (name, value, runs) in [("10 posts", posts(), 2_000), ("100 KB", many_posts(), 20)] {
        println!("{name}");
        println!(
            "codec       | form            |   bytes | encode (µs) | decode (µs) | encode, decode vs plain"
        );
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
            let stored: Vec<Vec<u8>> = forms
                .iter()
                .map(|(_, format)| {
                    let bytes = format.encode(b"posts", &value).unwrap();
                    let back: Vec<Post> = format.decode(b"posts", &bytes).unwrap();
                    assert_eq!(back, value);
                    bytes
                })
                .collect();
            // Round by round through every form, so that the machine's moods fall on all
            // of them alike and the ratios to plain hold.
            let mut rounds = vec![(Vec::new(), Vec::new()); forms.len()];
            for _ in 0..ROUNDS {
                for (((_, format), bytes), (encodes, decodes)) in
                    forms.iter().zip(&stored).zip(&mut rounds)
                {
                    encodes.push(time(runs, || {
                        black_box(format.encode(b"posts", black_box(&value)).unwrap());
                    }));
                    decodes.push(time(runs, || {
                        black_box(
                            format
                                .decode::<Vec<Post>>(b"posts", black_box(bytes))
                                .unwrap(),
                        );
                    }));
                }
            }
            let medians: Vec<(f64, f64)> = rounds
                .into_iter()
                .map(|(encodes, decodes)| (median(encodes), median(decodes)))
                .collect();
            let (plain_encode, plain_decode) = medians[0];
            for (((form, _), bytes), (encode, decode)) in forms.iter().zip(&stored).zip(medians) {
                println!(
                    "{:<11} | {form:<15} | {:>7} | {:>11.2} | {:>11.2} | {:.2}x, {:.2}x",
                    format!("{codec:?}"),
                    bytes.len(),
                    encode / 1e3,
                    decode / 1e3,
                    encode / plain_encode,
                    decode / plain_decode
                );
            }
        }
    }
}
