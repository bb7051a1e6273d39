//! Values at rest: every value a backend accepts comes back exactly as stored, on every
//! backend and codec, or `set` refuses it naming its type; a protected cache never serves a
//! value that was tampered with, moved from another key, written without protection or in
//! another codec; keys rotate without a flush; and compressed and plain values coexist.

use std::collections::BTreeMap;

use cached_core::codec::{Codec, ValueKeys};
use cached_core::{Cache, CacheConfig, CacheSettings, Error, cached, configure, register_backend};
use cached_tests::map_backend::MapBackend;
use cached_tests::redis_server::{PATIENT, RedisServer};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde::{Deserialize, Serialize};

/// A double compared by its bits: `-0.0` and `0.0` differ, and a NaN equals itself.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(transparent)]
struct Bits(f64);

impl PartialEq for Bits {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

/// Values of every shape serde knows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Shape {
    Unit,
    Float(Bits),
    Single(f32),
    Signed(i64),
    Unsigned(u64),
    Wide(i128),
    WideUnsigned(u128),
    Text(String),
    Char(char),
    Bytes(#[serde(with = "bytes")] Vec<u8>),
    List(Vec<Shape>),
    Map(BTreeMap<String, Shape>),
    Maybe(Option<Box<Shape>>),
    Twice(Option<Option<u8>>),
    Pair(Box<Shape>, bool),
    Record { name: String, score: Option<Bits> },
}

/// Bytes as serde's bytes (not a sequence), as `serde_bytes` would.
mod bytes {
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::new();
                while let Some(byte) = seq.next_element()? {
                    out.push(byte);
                }
                Ok(out)
            }
        }
        deserializer.deserialize_bytes(Visitor)
    }
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(0.0),
        Just(-0.0),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        Just(f64::MAX),
        Just(f64::MIN),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(-9.052201222054326e232),
    ]
}

fn shape() -> impl Strategy<Value = Shape> {
    let leaf = prop_oneof![
        Just(Shape::Unit),
        float().prop_map(|f| Shape::Float(Bits(f))),
        any::<f32>().prop_map(Shape::Single),
        prop_oneof![
            any::<i64>(),
            Just(i64::MIN),
            Just(i64::MAX),
            Just((1 << 53) + 1)
        ]
        .prop_map(Shape::Signed),
        prop_oneof![any::<u64>(), Just(u64::MAX)].prop_map(Shape::Unsigned),
        prop_oneof![any::<i128>(), Just(i128::MIN), Just(i128::MAX)].prop_map(Shape::Wide),
        prop_oneof![any::<u128>(), Just(u128::MAX)].prop_map(Shape::WideUnsigned),
        any::<String>().prop_map(Shape::Text),
        any::<char>().prop_map(Shape::Char),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Shape::Bytes),
        any::<Option<Option<u8>>>().prop_map(Shape::Twice),
        (any::<String>(), prop::option::of(float())).prop_map(|(name, score)| Shape::Record {
            name,
            score: score.map(Bits),
        }),
    ];
    leaf.prop_recursive(3, 20, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Shape::List),
            prop::collection::btree_map(any::<String>(), inner.clone(), 0..3).prop_map(Shape::Map),
            prop::option::of(inner.clone().prop_map(Box::new)).prop_map(Shape::Maybe),
            (inner, any::<bool>()).prop_map(|(s, b)| Shape::Pair(Box::new(s), b)),
        ]
    })
}

fn redis(server: &RedisServer, prefix: &str) -> CacheConfig {
    CacheConfig::redis(&server.url())
        .with_key_prefix(prefix)
        .with_connect_timeout(PATIENT)
        .with_response_timeout(PATIENT)
}

/// Every value a cache accepts reads back equal; a refusal names the value's type. Returns
/// how many were accepted.
async fn assert_exact(cache: &Cache, values: &[Shape]) -> usize {
    let mut accepted = 0;
    for (i, value) in values.iter().enumerate() {
        let key = format!("v:{i}");
        match cache.set(&key, value, None).await {
            Ok(()) => {
                accepted += 1;
                let back = cache.get::<Shape>(&key).await.unwrap();
                assert_eq!(
                    back.as_ref(),
                    Some(value),
                    "{} changed the value",
                    cache.name()
                );
            }
            Err(Error::Encode { source, .. }) => {
                assert!(source.to_string().contains("Shape"), "{source}");
            }
            Err(other) => panic!("{}: {other}", cache.name()),
        }
    }
    accepted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_value_accepted_comes_back_exactly_on_every_backend_and_codec() {
    let server = RedisServer::start();
    register_backend("values-map", |_| Ok(MapBackend::default()));
    let keys = ValueKeys::new([5; 32]);
    let caches = [
        Cache::new("memory", &CacheConfig::memory()).unwrap(),
        Cache::new("redis json", &redis(&server, "json:")).unwrap(),
        Cache::new(
            "redis msgpack",
            &redis(&server, "mp:").with_codec(Codec::MessagePack),
        )
        .unwrap(),
        Cache::new(
            "redis postcard",
            &redis(&server, "pc:").with_codec(Codec::Postcard),
        )
        .unwrap(),
        Cache::new(
            "redis json, compressed and encrypted",
            &redis(&server, "enc:")
                .with_compression(16)
                .with_encryption(keys.clone()),
        )
        .unwrap(),
        Cache::new(
            "custom msgpack, authenticated",
            &CacheConfig::backend("values-map")
                .with_codec(Codec::MessagePack)
                .with_integrity(keys),
        )
        .unwrap(),
    ];
    let mut runner = TestRunner::new(Config::with_cases(1));
    let strategy = prop::collection::vec(shape(), 400);
    let values = strategy.new_tree(&mut runner).unwrap().current();
    for cache in &caches {
        let accepted = assert_exact(cache, &values).await;
        eprintln!(
            "{}: {accepted} of {} values accepted, each read back exactly",
            cache.name(),
            values.len()
        );
        assert!(
            accepted * 2 > values.len(),
            "{} refused most values",
            cache.name()
        );
    }
    assert_eq!(
        assert_exact(&caches[0], &values).await,
        values.len(),
        "memory keeps every value"
    );
    assert_eq!(
        assert_exact(&caches[3], &values).await,
        values.len(),
        "postcard holds every shape"
    );
}

/// serde's shapes that only some codecs give back: each attribute read through
/// `deserialize_any` or relying on a field's absence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Attributed {
    untagged: Vec<Untagged>,
    internal: Internal,
    adjacent: Adjacent,
    #[serde(flatten)]
    flat: Flat,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    skipped_with_default: Vec<u8>,
    #[serde(default)]
    defaulted: Option<String>,
    by_number: BTreeMap<u32, Untagged>,
    by_pair: Vec<((i8, bool), String)>,
}

/// Its variants are told apart by their shapes alone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Untagged {
    Named { id: u32, label: String },
    Number(i64),
    Text(String),
    Items(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
enum Internal {
    Circle { radius: u32 },
    Square { side: u32 },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", content = "c")]
enum Adjacent {
    Pair(u8, u8),
    Word(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Flat {
    flat_a: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    flat_b: Option<bool>,
}

/// A field skipped when empty without a default: it cannot be read back once skipped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SkippedWithoutDefault {
    id: u8,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
}

/// An untagged enum whose second variant reads back as its first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Shadowed {
    Short { id: u8 },
    Long { id: u8, name: String },
}

fn untagged() -> impl Strategy<Value = Untagged> {
    prop_oneof![
        (any::<u32>(), any::<String>()).prop_map(|(id, label)| Untagged::Named { id, label }),
        any::<i64>().prop_map(Untagged::Number),
        any::<String>().prop_map(Untagged::Text),
        prop::collection::vec(any::<u8>(), 0..4).prop_map(Untagged::Items),
    ]
}

fn attributed() -> impl Strategy<Value = Attributed> {
    (
        prop::collection::vec(untagged(), 0..3),
        prop_oneof![
            any::<u32>().prop_map(|radius| Internal::Circle { radius }),
            any::<u32>().prop_map(|side| Internal::Square { side }),
        ],
        prop_oneof![
            any::<(u8, u8)>().prop_map(|(a, b)| Adjacent::Pair(a, b)),
            any::<String>().prop_map(Adjacent::Word),
        ],
        (any::<u16>(), any::<Option<bool>>()),
        prop::collection::vec(any::<u8>(), 0..3),
        any::<Option<String>>(),
        prop::collection::btree_map(any::<u32>(), untagged(), 0..3),
        prop::collection::vec((any::<(i8, bool)>(), any::<String>()), 0..3),
    )
        .prop_map(
            |(
                untagged,
                internal,
                adjacent,
                (flat_a, flat_b),
                skipped,
                defaulted,
                by_number,
                by_pair,
            )| {
                Attributed {
                    untagged,
                    internal,
                    adjacent,
                    flat: Flat { flat_a, flat_b },
                    skipped_with_default: skipped,
                    defaulted,
                    by_number,
                    by_pair,
                }
            },
        )
}

/// Stores `value` and reads it back: `Some(true)` when it read back equal, `None` when `set`
/// refused it naming `type_name`. A value read back unequal fails the test.
async fn stored<T>(cache: &Cache, key: &str, value: &T, type_name: &str) -> Option<bool>
where
    T: Serialize
        + serde::de::DeserializeOwned
        + Clone
        + PartialEq
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    match cache.set(key, value, None).await {
        Ok(()) => {
            let back = cache.get::<T>(key).await.unwrap();
            assert_eq!(
                back.as_ref(),
                Some(value),
                "{} changed the value",
                cache.name()
            );
            Some(true)
        }
        Err(Error::Encode { source, .. }) => {
            assert!(source.to_string().contains(type_name), "{source}");
            None
        }
        Err(other) => panic!("{}: {other}", cache.name()),
    }
}

/// Every codec, plain, compressed, encrypted and authenticated, on Redis: each value of
/// serde's attribute shapes reads back equal or is refused by `set` naming its type; JSON
/// and MessagePack take them all (MessagePack writes structs as maps), postcard refuses
/// those read through `deserialize_any`; the two shapes no codec can give back (an untagged
/// variant shadowed by an earlier one, a skipped field without a default) are refused by all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serde_attribute_shapes_read_back_equal_or_are_refused_on_every_codec() {
    let server = RedisServer::start();
    let keys = ValueKeys::new([9; 32]);
    let mut runner = TestRunner::new(Config::with_cases(1));
    let values = prop::collection::vec(attributed(), 60)
        .new_tree(&mut runner)
        .unwrap()
        .current();
    let shadowed = Shadowed::Long {
        id: 1,
        name: "long".into(),
    };
    let skipped = SkippedWithoutDefault {
        id: 1,
        tags: Vec::new(),
    };
    for codec in [Codec::Json, Codec::MessagePack, Codec::Postcard] {
        for form in ["plain", "compressed", "encrypted", "authenticated"] {
            let prefix = format!("{codec:?}:{form}:");
            let config = redis(&server, &prefix).with_codec(codec);
            let config = match form {
                "compressed" => config.with_compression(8),
                "encrypted" => config.with_encryption(keys.clone()),
                "authenticated" => config.with_integrity(keys.clone()),
                _ => config,
            };
            let cache = Cache::new(&prefix, &config).unwrap();
            let mut accepted = 0;
            for (i, value) in values.iter().enumerate() {
                accepted += usize::from(
                    stored(&cache, &format!("a{i}"), value, "Attributed")
                        .await
                        .is_some(),
                );
            }
            let expected = if codec == Codec::Postcard {
                0
            } else {
                values.len()
            };
            assert_eq!(accepted, expected, "{prefix}: accepted of {}", values.len());
            assert_eq!(
                stored(&cache, "shadowed", &shadowed, "Shadowed").await,
                None,
                "{prefix}"
            );
            assert_eq!(
                stored(&cache, "skipped", &skipped, "SkippedWithoutDefault").await,
                None,
                "{prefix}"
            );
            let kept = SkippedWithoutDefault {
                id: 2,
                tags: vec!["a".into()],
            };
            assert_eq!(
                stored(&cache, "kept", &kept, "SkippedWithoutDefault").await,
                Some(true),
                "{prefix}: a field present reads back"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protected_cache_never_serves_a_value_tampered_moved_or_written_unprotected() {
    let server = RedisServer::start();
    for (name, config) in [
        (
            "encrypted",
            redis(&server, "e:").with_encryption(ValueKeys::new([1; 32])),
        ),
        (
            "authenticated",
            redis(&server, "a:").with_integrity(ValueKeys::new([1; 32])),
        ),
    ] {
        let cache = Cache::new(name, &config).unwrap();
        let prefix = if name == "encrypted" { "e:" } else { "a:" };
        cache.set("token", "secret-token", None).await.unwrap();
        assert_eq!(
            cache.get::<String>("token").await.unwrap().as_deref(),
            Some("secret-token")
        );
        let stored = server.cli(&["GET", &format!("{prefix}token")]);
        assert_eq!(
            stored.contains("secret-token"),
            name == "authenticated",
            "{name}: readable in Redis only when authenticated: {stored:?}"
        );
        let errors = cache.stats().errors;

        // Moved to another key.
        server.cli(&["COPY", &format!("{prefix}token"), &format!("{prefix}other")]);
        assert_eq!(
            cache.get::<String>("other").await.unwrap(),
            None,
            "{name}: moved"
        );
        // Written without protection, as anyone with access to Redis could.
        server.cli(&["SET", &format!("{prefix}plain"), "\"forged\""]);
        assert_eq!(
            cache.get::<String>("plain").await.unwrap(),
            None,
            "{name}: unprotected"
        );
        // Tampered with: one byte of the payload flipped.
        let mut conn = redis::Client::open(server.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let key = format!("{prefix}token");
        let mut bytes: Vec<u8> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let last = bytes.len() - 2;
        bytes[last] ^= 0x20;
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(&bytes)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            cache.get::<String>("token").await.unwrap(),
            None,
            "{name}: tampered"
        );
        assert_eq!(
            cache.stats().errors,
            errors + 3,
            "{name}: each refusal counted"
        );
        let loaded = cache
            .get_or_set("token", || async { "reloaded".to_owned() }, None)
            .await;
        assert_eq!(loaded, "reloaded", "{name}: loaded afresh, never served");
        assert!(matches!(
            cache.incr("counter", 1).await,
            Err(Error::Unsupported { .. })
        ));
    }
}

#[tokio::test]
async fn keys_rotate_without_a_flush() {
    let server = RedisServer::start();
    let (old, new) = ([1_u8; 32], [2_u8; 32]);
    let before = Cache::new(
        "before",
        &redis(&server, "r:").with_encryption(ValueKeys::new(old)),
    )
    .unwrap();
    before.set("user", "Ada", None).await.unwrap();
    let rotating = Cache::new(
        "rotating",
        &redis(&server, "r:").with_encryption(ValueKeys::new(new).with_previous(old)),
    )
    .unwrap();
    assert_eq!(
        rotating.get::<String>("user").await.unwrap().as_deref(),
        Some("Ada"),
        "old key reads"
    );
    rotating.set("user2", "Grace", None).await.unwrap();
    assert_eq!(
        before.get::<String>("user2").await.unwrap(),
        None,
        "written with the new key"
    );
    let after = Cache::new(
        "after",
        &redis(&server, "r:").with_encryption(ValueKeys::new(new)),
    )
    .unwrap();
    assert_eq!(
        after.get::<String>("user2").await.unwrap().as_deref(),
        Some("Grace")
    );
    assert_eq!(
        after.get::<String>("user").await.unwrap(),
        None,
        "the retired key no longer reads"
    );
}

#[tokio::test]
async fn codecs_and_compression_coexist_and_mismatches_are_misses() {
    let server = RedisServer::start();
    let json = Cache::new("json", &redis(&server, "c:").with_compression(256)).unwrap();
    let msgpack = Cache::new(
        "msgpack",
        &redis(&server, "c:").with_codec(Codec::MessagePack),
    )
    .unwrap();
    let long = "a line of text that repeats ".repeat(100);
    json.set("long", &long, None).await.unwrap();
    json.set("short", "short", None).await.unwrap();
    assert_eq!(
        server.cli(&["GET", "c:short"]),
        "\"short\"",
        "small values stay plain JSON"
    );
    let stored: usize = server.cli(&["STRLEN", "c:long"]).parse().unwrap();
    assert!(
        stored * 4 < long.len(),
        "the long one is compressed: {stored} bytes"
    );
    assert_eq!(
        json.get::<String>("long").await.unwrap().as_deref(),
        Some(long.as_str())
    );
    assert_eq!(
        msgpack.get::<String>("long").await.unwrap(),
        None,
        "another codec: a miss"
    );
    assert_eq!(msgpack.get::<String>("short").await.unwrap(), None);
    msgpack
        .set("packed", &vec![1_u8, 2, 3], None)
        .await
        .unwrap();
    assert_eq!(json.get::<Vec<u8>>("packed").await.unwrap(), None);
    assert_eq!(
        msgpack.get::<Vec<u8>>("packed").await.unwrap(),
        Some(vec![1, 2, 3])
    );
}

#[test]
fn protection_is_configured_from_the_environment_naming_the_cache_and_field() {
    // SAFETY: no other test of this binary reads or writes the environment.
    unsafe {
        std::env::set_var(
            "VALUES_AT_REST_KEY",
            "0101010101010101010101010101010101010101010101010101010101010101",
        )
    };
    let settings = CacheSettings::from_toml(
        r#"
        [sessions]
        backend = "redis"
        url = "redis://127.0.0.1:1"
        codec = "msgpack"
        compress_above = 1024
        encryption = { key_env = "VALUES_AT_REST_KEY" }

        [missing]
        backend = "redis"
        url = "redis://127.0.0.1:1"
        integrity = { key_env = "VALUES_AT_REST_NO_SUCH_KEY" }

        [both]
        backend = "redis"
        url = "redis://127.0.0.1:1"
        encryption = { key_env = "VALUES_AT_REST_KEY" }
        integrity = { key_env = "VALUES_AT_REST_KEY" }

        [local]
        backend = "memory"
        encryption = { key_env = "VALUES_AT_REST_KEY" }
        "#,
    )
    .unwrap();
    let sessions = Cache::new("sessions", settings.get("sessions").unwrap());
    assert!(sessions.is_ok(), "{sessions:?}");
    let error = configure(settings).unwrap_err().to_string();
    for expected in [
        "cache `missing`, field `integrity`: the environment variable `VALUES_AT_REST_NO_SUCH_KEY` holds no key",
        "cache `both`, field `integrity`: set encryption or integrity, not both",
        "cache `local`, field `encryption`: the memory backend keeps values in the process",
    ] {
        assert!(error.contains(expected), "{expected}\nin\n{error}");
    }
    assert!(!error.contains("0101010101"), "no key in an error");
    let bad = CacheSettings::from_toml("[c]\nbackend = \"redis\"\ncodec = \"xml\"").unwrap_err();
    assert!(bad.to_string().contains("unknown codec `xml`"), "{bad}");
}

#[cached(cache = "protected-fn", key = "report:{id}")]
async fn report(id: u32) -> String {
    format!("report {id}")
}

#[tokio::test]
async fn cached_functions_work_on_a_protected_cache() {
    let server = RedisServer::start();
    configure(CacheSettings::new().with_cache(
        "protected-fn",
        redis(&server, "f:").with_encryption(ValueKeys::new([4; 32])),
    ))
    .unwrap();
    assert_eq!(report(1).await, "report 1");
    assert_eq!(report(1).await, "report 1");
    assert_eq!(
        cached_core::get_cache("protected-fn").unwrap().stats().hits,
        1
    );
    assert!(!server.cli(&["GET", "f:report:1"]).contains("report 1"));
}
