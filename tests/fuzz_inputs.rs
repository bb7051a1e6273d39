//! The parts that take untrusted text, fed generated input (proptest; failing cases are
//! kept in `proptest-regressions/` and replayed first): key rendering and escaping, glob
//! patterns, duration strings and whole configuration documents. None may panic, and each
//! keeps the promise its docs make. (Template parsing is fuzzed in `cached-macros`'
//! `template.rs`; glob matching is compared with a real Redis in `glob_redis.rs`.)

use std::collections::BTreeMap;

use cached_core::key::{MAX_VALUE_LEN, escape, render};
use cached_core::{Cache, CacheConfig, CacheSettings};
use proptest::prelude::*;
use serde_json::{Value, json};

/// What no rendered value may contain (`cached_core::key`'s rule): key separators, glob
/// characters, the shortening marker, ASCII whitespace and control characters. Other
/// non-ASCII characters, Unicode spaces among them, are kept as they are.
fn forbidden(c: char) -> bool {
    ":=*?[]\\~".contains(c) || c.is_ascii_whitespace() || c.is_control()
}

/// Nested values with hostile strings, for rendering.
fn nested() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<String>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn escaped_and_rendered_text_holds_no_separator_glob_or_marker(text in any::<String>()) {
        let escaped = escape(&text);
        prop_assert!(!escaped.chars().any(forbidden), "{:?} -> {:?}", text, escaped);
        let rendered = render(&text).unwrap();
        if escaped.len() <= MAX_VALUE_LEN {
            prop_assert_eq!(&rendered, &escaped);
        } else {
            prop_assert_eq!(rendered.matches('~').count(), 1);
        }
    }

    #[test]
    fn any_value_renders_within_bounds_and_without_forbidden_characters(value in nested()) {
        let rendered = render(&value).unwrap();
        prop_assert!(rendered.len() <= MAX_VALUE_LEN, "{} bytes", rendered.len());
        let body = rendered.split_once('~').map_or(rendered.as_str(), |(kept, _)| kept);
        prop_assert!(!body.chars().any(forbidden), "{:?}", rendered);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any pattern, any keys: `delete_pattern` never panics, and what it counts is what it
    /// removed.
    #[test]
    fn any_glob_pattern_deletes_what_it_counts(
        pattern in any::<String>(),
        keys in prop::collection::btree_set(any::<String>(), 0..12),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let cache = Cache::new("fuzz", &CacheConfig::memory()).unwrap();
            for key in &keys {
                cache.set(key, &1_u8, None).await.unwrap();
            }
            let removed = cache.delete_pattern(&pattern).await.unwrap();
            let mut left = 0;
            for key in &keys {
                left += usize::from(cache.exists(key).await.unwrap());
            }
            assert_eq!(removed + left, keys.len(), "{pattern:?}");
        });
    }
}

/// A field value: the kinds configuration documents hold, and the extremes of each.
fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just(0_u64),
            Just(1),
            Just(1 << 62),
            Just(u64::MAX),
            Just(1_000_000_000_000)
        ]
        .prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        duration_text().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        Just(Value::from("redis://127.0.0.1:1/0")),
        Just(json!(["redis://127.0.0.1:1", "nope"])),
        Just(Value::Null),
        Just(json!({"nested": true})),
        any::<bool>().prop_map(Value::from),
    ]
}

/// Duration strings: well formed, huge, negative, unit-less and garbage.
fn duration_text() -> impl Strategy<Value = String> {
    prop_oneof![
        r"[0-9]{1,25}(ns|us|ms|s|m|h|d|w|y|months)?",
        r"[0-9]{1,4}h[0-9]{1,4}m",
        r"-?[0-9 .smhd]{0,10}",
        any::<String>(),
    ]
}

const FIELDS: &[&str] = &[
    "backend",
    "url",
    "ttl",
    "max_size",
    "key_prefix",
    "nodes",
    "connect_timeout",
    "response_timeout",
    "breaker_threshold",
    "breaker_cooldown",
    "lease_ttl",
    "lease_wait",
    "unknown_option",
];

/// A configuration document: a few caches, each with some of the known fields (and one
/// unknown) holding values of any kind.
fn document() -> impl Strategy<Value = Value> {
    let backend = prop_oneof![Just("memory"), Just("redis"), Just("nosuch")];
    let cache = (
        backend,
        prop::collection::btree_map(prop::sample::select(FIELDS), field_value(), 0..5),
    )
        .prop_map(|(backend, fields)| {
            let mut object: serde_json::Map<String, Value> =
                fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            object.entry("backend").or_insert(Value::from(backend));
            Value::Object(object)
        });
    prop::collection::btree_map("[a-z]{1,6}", cache, 1..4)
        .prop_map(|caches: BTreeMap<String, Value>| Value::Object(caches.into_iter().collect()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    /// Any document is read or refused, and any cache it holds built or refused, with every
    /// problem naming its cache (and its field when it is in one); none panics or aborts,
    /// whatever the bounds and durations (nothing is allocated from `max_size` up front, and
    /// every duration saturates).
    #[test]
    fn any_configuration_is_built_or_refused_naming_cache_and_field(doc in document()) {
        let settings = match CacheSettings::from_json(&doc.to_string()) {
            Ok(settings) => settings,
            Err(error) => {
                for problem in error.problems() {
                    prop_assert!(doc.get(&problem.cache).is_some(), "{}", problem);
                    prop_assert!(problem.field.is_some(), "{}", problem);
                }
                return Ok(());
            }
        };
        for (name, config) in settings.iter() {
            if let Err(error) = Cache::new(name, config) {
                for problem in error.problems() {
                    prop_assert_eq!(&problem.cache, name);
                    let field = problem.field.as_deref().expect("a problem in a field");
                    prop_assert!(
                        doc[name].get(field).is_some() || field == "url" || field == "backend",
                        "{} names a field the cache does not have", problem
                    );
                }
            }
        }
    }

    /// TOML text, well formed or not, is read or refused without a panic.
    #[test]
    fn any_toml_text_is_read_or_refused(text in r#"(\[[a-z]{1,4}\]\n|[a-z_]{1,12} = ("[^"\n]{0,12}"|-?[0-9]{1,22}|true|\[\])\n){0,8}"#) {
        let _ = CacheSettings::from_toml(&text);
    }

    /// A duration a document gives is read as a positive duration or refused, naming the
    /// field; a cache built with it never panics on its first calls, and keeps a value for
    /// a long one (up to centuries: expiry saturates).
    #[test]
    fn any_duration_string_is_positive_or_refused(text in duration_text()) {
        let doc = json!({"c": {"backend": "memory", "ttl": text}});
        match CacheSettings::from_json(&doc.to_string()) {
            Ok(settings) => {
                let ttl = settings.get("c").unwrap().ttl.unwrap();
                prop_assert!(!ttl.is_zero());
                let cache = Cache::new("c", settings.get("c").unwrap()).unwrap();
                let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
                runtime.block_on(async {
                    cache.set("k", &1_u8, None).await.unwrap();
                    if ttl.as_secs() >= 60 {
                        assert!(cache.exists("k").await.unwrap(), "{ttl:?}");
                        assert!(cache.ttl("k").await.unwrap().exists(), "{ttl:?}");
                    }
                });
            }
            Err(error) => {
                let problem = &error.problems()[0];
                prop_assert_eq!(problem.field.as_deref(), Some("ttl"));
            }
        }
    }
}
