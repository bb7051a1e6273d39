//! Key safety: how values are rendered and escaped into keys, the digest form of over-long
//! values, and the cache's `key_prefix`.
//!
//! # The escaping rule
//!
//! A string rendered into a key (an argument of a `#[cached]` function, a placeholder of a key
//! template) keeps ASCII letters and digits, `-`, `_`, `.` and non-ASCII characters that are
//! not control characters. Every other byte is written as `%XX` (its UTF-8 bytes in uppercase
//! hexadecimal), `%` and `~` included. So:
//!
//! - a rendered value never contains `:` or `=`, the separators of keys, so no value can make
//!   one key equal to another built from different values;
//! - a rendered value never contains `*`, `?`, `[`, `]` or `\`, so no value can widen a
//!   pattern passed to `delete_pattern`;
//! - a rendered value never contains `~`, the marker of a shortened value (below), so no value
//!   renders as the shortened form of another;
//! - the rule is injective: different values always render differently.
//!
//! # Long values
//!
//! A value whose rendering is longer than [`MAX_VALUE_LEN`] bytes is shortened, on its own:
//! its first bytes, then `~`, then 32 hexadecimal digits of the blake3 digest of its whole
//! rendering. Keys are never shortened as a whole, so the literal text of a key template
//! stays as written around a long value, and `#[invalidates("search:{q}:*")]` (which
//! renders `q` the same way) reaches the entries of long `q`s. Two values share a key only if
//! their renderings share a 128-bit digest.
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

/// Values whose rendering is longer than this many bytes are shortened to a readable
/// prefix, `~` and a digest (see [the module docs](self#long-values)).
pub const MAX_VALUE_LEN: usize = 100;

/// How many bytes of an over-long value's rendering are kept in front of its digest.
const KEPT_PREFIX_LEN: usize = 40;

/// How many bytes of the blake3 digest a shortened value keeps (in hexadecimal, twice as
/// many digits).
const DIGEST_BYTES: usize = 16;

/// Appends `value` to `out`, escaped by the rule of this module.
pub fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        if c.is_ascii_alphanumeric()
            || matches!(c, '-' | '_' | '.')
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

/// Appends `bytes` (a header value, which may be any bytes), escaped: as [`escape_into`] when
/// they are UTF-8, otherwise byte by byte, ASCII letters, digits, `-`, `_` and `.` kept and
/// every other byte as `%XX`. Both forms decode back to the original bytes and the second
/// keeps no non-ASCII character, so two values never share a rendering.
#[cfg(feature = "http")]
pub(crate) fn escape_bytes_into(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => escape_into(out, text),
        Err(_) => {
            for &byte in bytes {
                if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.') {
                    out.push(char::from(byte));
                } else {
                    let _ = write!(out, "%{byte:02X}");
                }
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

/// Appends the rendering of `value` (see [the module docs](self#rendering-values)) to `out`,
/// shortened when it is [long](self#long-values).
///
/// Use it in a `key_func` to put values into keys exactly as `#[cached]` does: escaped, so
/// that no value forges another's key, and each long value shortened on its own.
pub fn render_into<T: ?Sized + Serialize>(out: &mut String, value: &T) -> Result<(), RenderError> {
    let start = out.len();
    render::render(out, value, false)?;
    shorten_from(out, start);
    Ok(())
}

/// The rendering of `value`; see [`render_into`].
pub fn render<T: ?Sized + Serialize>(value: &T) -> Result<String, RenderError> {
    let mut out = String::new();
    render_into(&mut out, value)?;
    Ok(out)
}

/// Shortens the rendering that starts at byte `start` of `out` when it is longer than
/// [`MAX_VALUE_LEN`]: its first bytes, `~`, and its digest.
fn shorten_from(out: &mut String, start: usize) {
    if out.len() - start <= MAX_VALUE_LEN {
        return;
    }
    let digest = blake3::hash(&out.as_bytes()[start..]);
    let mut cut = start + KEPT_PREFIX_LEN;
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    out.truncate(cut);
    out.push('~');
    for byte in &digest.as_bytes()[..DIGEST_BYTES] {
        let _ = write!(out, "{byte:02x}");
    }
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

    #[cfg(feature = "http")]
    #[test]
    fn header_bytes_escape_like_text_and_never_keep_the_marker() {
        let escaped = |bytes: &[u8]| {
            let mut out = String::new();
            escape_bytes_into(&mut out, bytes);
            out
        };
        assert_eq!(escaped("a~é".as_bytes()), escape("a~é"));
        assert_eq!(escaped(b"a~\xe9"), "a%7E%E9", "not UTF-8: byte by byte");
        assert_ne!(escaped(b"%E9"), escaped(b"\xe9"));
    }

    #[test]
    fn plain_identifiers_are_kept() {
        assert_eq!(escape("abc123"), "abc123");
        assert_eq!(escape("3f2a-99_x.yz"), "3f2a-99_x.yz");
        assert_eq!(escape("café"), "café");
        assert_eq!(escape("a~b"), "a%7Eb", "the shortening marker is escaped");
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
    fn long_values_keep_a_prefix_and_end_in_a_digest() {
        let short = "k".repeat(MAX_VALUE_LEN);
        assert_eq!(render(&short).unwrap(), short);

        let long = "é".repeat(400);
        let shortened = render(&long).unwrap();
        assert!(shortened.len() <= MAX_VALUE_LEN, "{shortened}");
        assert!(shortened.starts_with("éé"));
        let (kept, digest) = shortened.rsplit_once('~').unwrap();
        assert!(long.starts_with(kept));
        let full = blake3::hash(long.as_bytes()).to_hex();
        assert_eq!(digest, &full.as_str()[..2 * DIGEST_BYTES]);
        assert_ne!(render(&format!("{long}x")).unwrap(), shortened);

        let mut key = String::from("search:");
        render_into(&mut key, &"x".repeat(300)).unwrap();
        key.push_str(":page=");
        render_into(&mut key, &2).unwrap();
        assert!(
            key.starts_with("search:xxx") && key.ends_with(":page=2"),
            "{key}"
        );
    }

    #[test]
    fn prefixes_apply_to_keys_and_literally_to_patterns() {
        assert_eq!(prefixed("", "k"), "k");
        assert_eq!(prefixed("app:", "k"), "app:k");
        assert_eq!(prefixed_pattern("app[1]:", "user:*"), r"app\[1\]:user:*");
    }
}
