//! Key safety: how values are rendered and escaped into keys, the digest form of over-long
//! keys, and the cache's `key_prefix`.
//!
//! # The escaping rule
//!
//! A string rendered into a key (an argument of a `#[cached]` function, a placeholder of a key
//! template) keeps ASCII letters and digits, `-`, `_`, `.`, `~` and non-ASCII characters that
//! are not control characters. Every other byte is written as `%XX` (its UTF-8 bytes in
//! uppercase hexadecimal), `%` included. So:
//!
//! - a rendered value never contains `:` or `=`, the separators of keys, so no value can make
//!   one key equal to another built from different values;
//! - a rendered value never contains `*`, `?`, `[`, `]` or `\`, so no value can widen a
//!   pattern passed to `delete_pattern`;
//! - the rule is injective: different values always render differently.
//!
//! # Rendering values
//!
//! Values reach keys through `serde` ([`render_into`]), so any `Serialize` type can be part of
//! a key:
//!
//! | value | rendered | example |
//! | --- | --- | --- |
//! | string, char | escaped, bare | `abc123`, `abc%3Aprofile` |
//! | integer, float | decimal | `42`, `-7`, `0.5` |
//! | bool | `true` / `false` | |
//! | bytes | lowercase hexadecimal | `00ff` |
//! | `None` | `!` | |
//! | `Some(v)` | `v`, or `@v` when `v` starts with `!` or `@` | `Some(None)` is `@!` |
//! | `()`, unit struct | `()` | |
//! | sequence, tuple, struct | `(a,b,c)`: the values, in order | `(rust,async)` |
//! | map | `(k@v,k2@v2)`, entries sorted | `(a@1,b@2)` |
//! | enum variant | `Name`, `Name(v)`, `Name(a,b)` | `Active` |
//! | newtype struct | the inner value | |
//!
//! Inside a composite value an empty string is written `''`, so that `[""]` and `[]` differ,
//! and a struct field left out by `skip_serializing_if` is an empty element (`(,x)`). The
//! markers `!`, `@`, `(`, `)`, `,` and `'` are never emitted by escaping, and none of them is a
//! separator or a glob metacharacter, so rendering is injective for the values of one type:
//! two different arguments of one parameter never share a key. Two things stay the caller's
//! concern: the iteration order of a `HashSet` (a sequence to serde; use a `BTreeSet`), and
//! types whose serialization changes shape with the value (an untagged enum, a
//! `serde_json::Value`), where a string and a number holding the same digits render alike.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Serialize;

use crate::glob;

mod render;

pub use render::RenderError;

/// Keys longer than this many bytes are shortened to a readable prefix and a digest.
pub const MAX_KEY_LEN: usize = 250;

/// How many bytes of an over-long key are kept in front of its digest.
const KEPT_PREFIX_LEN: usize = 180;

/// Appends `value` to `out`, escaped by the rule of this module.
pub fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        if c.is_ascii_alphanumeric()
            || matches!(c, '-' | '_' | '.' | '~')
            || (!c.is_ascii() && !c.is_control())
        {
            out.push(c);
        } else {
            let mut buf = [0_u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
}

/// `value`, escaped by the rule of this module.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    escape_into(&mut out, value);
    out
}

/// Appends the rendering of `value` (see [the module docs](self#rendering-values)) to `out`.
///
/// Use it in a `key_func` to put values into keys exactly as `#[cached]` does.
pub fn render_into<T: ?Sized + Serialize>(out: &mut String, value: &T) -> Result<(), RenderError> {
    render::render(out, value, false)
}

/// The rendering of `value`; see [`render_into`].
pub fn render<T: ?Sized + Serialize>(value: &T) -> Result<String, RenderError> {
    let mut out = String::new();
    render_into(&mut out, value)?;
    Ok(out)
}

/// Shortens a key longer than [`MAX_KEY_LEN`] to its first bytes, `~`, and the blake3 digest
/// of the whole key in hexadecimal; shorter keys are returned unchanged.
pub fn shorten(key: String) -> String {
    if key.len() <= MAX_KEY_LEN {
        return key;
    }
    let mut cut = KEPT_PREFIX_LEN;
    while !key.is_char_boundary(cut) {
        cut -= 1;
    }
    let digest = blake3::hash(key.as_bytes());
    let mut short = String::with_capacity(cut + 1 + 64);
    short.push_str(&key[..cut]);
    short.push('~');
    short.push_str(digest.to_hex().as_str());
    short
}

/// `key` under `prefix`, without allocating when there is no prefix.
pub(crate) fn prefixed<'k>(prefix: &str, key: &'k str) -> Cow<'k, str> {
    if prefix.is_empty() {
        Cow::Borrowed(key)
    } else {
        Cow::Owned(format!("{prefix}{key}"))
    }
}

/// `pattern` under `prefix`, the prefix escaped so that only its literal text matches.
pub(crate) fn prefixed_pattern(prefix: &str, pattern: &str) -> String {
    let mut out = glob::escape(prefix);
    out.push_str(pattern);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_identifiers_are_kept() {
        assert_eq!(escape("abc123"), "abc123");
        assert_eq!(escape("3f2a-99_x.y~z"), "3f2a-99_x.y~z");
        assert_eq!(escape("café"), "café");
    }

    #[test]
    fn separators_globs_and_controls_are_escaped() {
        assert_eq!(escape("abc:profile"), "abc%3Aprofile");
        assert_eq!(escape("a=b"), "a%3Db");
        assert_eq!(escape("*?[]\\"), "%2A%3F%5B%5D%5C");
        assert_eq!(escape("100%"), "100%25");
        assert_eq!(escape("a b\n"), "a%20b%0A");
        assert_eq!(escape("\u{85}"), "%C2%85");
    }

    #[test]
    fn escaped_values_never_hold_separators_or_glob_characters() {
        let hostile = [
            "*", "?", "[", "]", "\\", ":", "=", " ", "\n", "\0", "%3A", "\u{7f}",
        ];
        for value in hostile {
            let escaped = escape(value);
            assert!(
                !escaped.contains([':', '=', '*', '?', '[', ']', '\\', ' ', '\n']),
                "{value:?} -> {escaped}"
            );
        }
        assert_ne!(escape("%3A"), escape(":"));
    }

    #[test]
    fn long_keys_keep_a_prefix_and_end_in_a_digest() {
        let short = "k".repeat(MAX_KEY_LEN);
        assert_eq!(shorten(short.clone()), short);

        let long = format!("report:{}", "é".repeat(400));
        let shortened = shorten(long.clone());
        assert!(shortened.len() <= MAX_KEY_LEN);
        assert!(shortened.starts_with("report:é"));
        let (_, digest) = shortened.rsplit_once('~').unwrap();
        assert_eq!(digest, blake3::hash(long.as_bytes()).to_hex().as_str());
        assert_ne!(shorten(format!("{long}x")), shortened);
    }

    #[test]
    fn prefixes_apply_to_keys_and_literally_to_patterns() {
        assert_eq!(prefixed("", "k"), "k");
        assert_eq!(prefixed("app:", "k"), "app:k");
        assert_eq!(prefixed_pattern("app[1]:", "user:*"), r"app\[1\]:user:*");
    }
}
