//! The key-collision property: over random argument tuples built from hostile characters,
//! empty strings and `None` vs `Some("")`, no two distinct tuples share a key, for the
//! default key and for a template.

use std::collections::HashMap;

use cached_core::cached;
use cached_tests::SplitMix;

/// Characters chosen to break a naive key: separators, glob characters, the escape
/// character and escapes themselves, the structure markers, whitespace, non-ASCII.
const ALPHABET: &[&str] = &[
    "", ":", "=", "*", "?", "[", "]", "\\", "%", "%3A", "%25", "(", ")", ",", "@", "!", "'", " ",
    "\n", "\0", "a", "b", "é", "~", "-", "_", ".", "''", "()", "@!",
];

fn random_string(rng: &mut SplitMix) -> String {
    let len = (rng.next_u64() % 5) as usize;
    (0..len)
        .map(|_| ALPHABET[(rng.next_u64() % ALPHABET.len() as u64) as usize])
        .collect()
}

fn random_option(rng: &mut SplitMix) -> Option<String> {
    match rng.next_u64() % 3 {
        0 => None,
        1 => Some(String::new()),
        _ => Some(random_string(rng)),
    }
}

fn random_list(rng: &mut SplitMix) -> Vec<String> {
    let len = (rng.next_u64() % 3) as usize;
    (0..len).map(|_| random_string(rng)).collect()
}

type Args = (
    String,
    Option<String>,
    Vec<String>,
    (String, Option<Option<String>>),
);

fn random_args(rng: &mut SplitMix) -> Args {
    let nested = match rng.next_u64() % 3 {
        0 => None,
        1 => Some(None),
        _ => Some(random_option(rng)),
    };
    (
        random_string(rng),
        random_option(rng),
        random_list(rng),
        (random_string(rng), nested),
    )
}

#[cached(ttl = 300)]
async fn echo(
    name: &str,
    status: Option<String>,
    tags: Vec<String>,
    pair: (String, Option<Option<String>>),
) -> Args {
    (name.to_owned(), status, tags, pair)
}

#[cached(ttl = 300, key = "t:{name}:{status}")]
async fn echo_template(name: String, status: Option<String>) -> (String, Option<String>) {
    (name, status)
}

/// Asserts that `key` has not been given to a different value before.
fn assert_unique<T: PartialEq + std::fmt::Debug + Clone>(
    seen: &mut HashMap<String, T>,
    key: String,
    value: &T,
) {
    if let Some(previous) = seen.insert(key.clone(), value.clone()) {
        assert_eq!(&previous, value, "two argument tuples share the key {key}");
    }
}

#[test]
fn no_two_distinct_argument_tuples_share_a_default_key() {
    let mut rng = SplitMix::new(0x5EED);
    let mut seen = HashMap::new();
    for _ in 0..50_000 {
        let args = random_args(&mut rng);
        let key = echo_cache_key(&args.0, &args.1, &args.2, &args.3).unwrap();
        assert_unique(&mut seen, key, &args);
    }
    assert!(
        seen.len() > 20_000,
        "the generator repeats too much: {}",
        seen.len()
    );
    for (key, (name, ..)) in &seen {
        assert!(!key.contains(['*', '?', '[', ']', '\\']), "{key}");
        assert_eq!(key.matches(':').count(), 4, "{key} for {name:?}");
    }
}

#[test]
fn no_two_distinct_argument_pairs_share_a_template_key() {
    let mut rng = SplitMix::new(0xC0FFEE);
    let mut seen = HashMap::new();
    for _ in 0..50_000 {
        let args = (random_string(&mut rng), random_option(&mut rng));
        let key = echo_template_cache_key(&args.0, &args.1).unwrap();
        assert_unique(&mut seen, key, &args);
    }
    assert_ne!(
        echo_template_cache_key(&String::new(), &None).unwrap(),
        echo_template_cache_key(&String::new(), &Some(String::new())).unwrap()
    );
}

#[tokio::test]
async fn every_call_gets_its_own_arguments_back() {
    let mut rng = SplitMix::new(42);
    for _ in 0..2_000 {
        let args = random_args(&mut rng);
        let got = echo(&args.0, args.1.clone(), args.2.clone(), args.3.clone()).await;
        assert_eq!(got, args);
    }
}
