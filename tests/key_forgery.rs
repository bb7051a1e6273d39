//! No argument forges another's key: over generated arguments (long ones shortened to a
//! digest, and hostile ones built from the shortened keys of others: `~`, hex digits, `%`),
//! distinct arguments render distinct keys, through templates, default keys and `key_func`
//! keys built with `cached_core::key::render_into`; and a cached function is never served
//! another argument's value.

use cached_core::cached;
use cached_core::key::{MAX_VALUE_LEN, render_into};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

#[cached(key = "search:{q}:v1")]
async fn search(q: String) -> String {
    q
}

#[cached]
async fn lookup(q: String) -> String {
    q
}

fn custom(q: &String) -> String {
    let mut key = String::from("custom:");
    render_into(&mut key, q).expect("a string renders");
    key
}

#[cached(key_func = custom)]
async fn by_func(q: String) -> String {
    q
}

/// The keys of `q` through a template, a default key and a `key_func`.
fn keys(q: &String) -> [String; 3] {
    [
        search_cache_key(q).unwrap(),
        lookup_cache_key(q).unwrap(),
        by_func_cache_key(q).unwrap(),
    ]
}

/// Strings short and long over an alphabet rich in what shortened keys contain.
fn argument() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-f0-9~%]{0,12}",
        "[a-z~]{90,110}",
        "[a-f0-9~%:é]{95,400}",
        any::<String>(),
    ]
}

/// The part of `key` after `prefix` and before `suffix`: an argument's rendering, which an
/// attacker passes as the argument itself.
fn rendered(key: &str, prefix: &str, suffix: &str) -> String {
    key.strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(suffix))
        .expect("the key keeps its literal text")
        .to_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn distinct_arguments_never_share_a_key(a in argument(), b in argument()) {
        prop_assume!(a != b);
        for (key_a, key_b) in keys(&a).into_iter().zip(keys(&b)) {
            prop_assert_ne!(key_a, key_b);
        }
    }

    #[test]
    fn a_rendered_key_passed_back_as_an_argument_forges_nothing(q in argument()) {
        let [template, default, func] = keys(&q);
        let forged = [
            rendered(&template, "search:", ":v1"),
            rendered(&default, "lookup:q=", ""),
            rendered(&func, "custom:", ""),
        ];
        for forged in forged {
            prop_assume!(forged != q);
            prop_assert_ne!(&keys(&forged)[0], &template);
            prop_assert_ne!(&keys(&forged)[1], &default);
            prop_assert_ne!(&keys(&forged)[2], &func);
        }
    }

    #[test]
    fn long_arguments_are_shortened_alone_and_literals_survive(q in "[a-z~%]{101,600}") {
        let key = search_cache_key(&q).unwrap();
        let value = rendered(&key, "search:", ":v1");
        prop_assert!(value.len() <= MAX_VALUE_LEN);
        prop_assert_eq!(value.matches('~').count(), 1, "the marker, once: {}", value);
    }
}

#[tokio::test]
async fn a_forged_argument_is_never_served_the_value_of_the_argument_it_imitates() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..300 {
        let long = "[a-z~]{120,300}".new_tree(&mut runner).unwrap().current();
        assert_eq!(search(long.clone()).await, long);
        assert_eq!(by_func(long.clone()).await, long);
        let forged = rendered(&search_cache_key(&long).unwrap(), "search:", ":v1");
        assert_eq!(
            search(forged.clone()).await,
            forged,
            "served another argument's value"
        );
        let forged = rendered(&by_func_cache_key(&long).unwrap(), "custom:", "");
        assert_eq!(
            by_func(forged.clone()).await,
            forged,
            "served another argument's value"
        );
    }
}
