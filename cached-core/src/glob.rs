//! Glob matching exactly as Redis does it (`stringmatchlen_impl` in Redis' `src/util.c`,
//! with `nocase` off, as `SCAN MATCH` calls it), so that `delete_pattern` selects the same
//! keys on the memory backend, on custom backends and on Redis.
//!
//! Redis' matcher is not a specification but an implementation, and patterns reach it
//! unvalidated, so agreement means reproducing its quirks rather than a cleaner grammar:
//!
//! - It matches **bytes**: `?` is one byte, so `caf?` does not match `café` (five bytes).
//! - `[` opens a class that a `]` closes, except as the class's first member: `[]]` is an
//!   empty class (it matches nothing, and the second `]` is a literal), `[^]]` is any byte
//!   followed by `]`. A class left open runs to the pattern's end: `x[ab` is `x[ab]`, and
//!   `x[` matches nothing.
//! - In a class, `\` escapes the next byte (not the last: `[\` is a class of `\`), `^` first
//!   negates, and `a-z` is a range whose ends may be in either order and may be `]` or `\`
//!   (`[a-]` is the range `]`..`a`, left open). Range ends compare as C `char`s, signed on
//!   x86-64 and unsigned on 64-bit ARM Linux: the target's [`c_char`] follows Redis built
//!   for the same target.
//! - Outside a class, `\` makes the next byte literal; a trailing `\` is itself a literal.
//! - A run of `*` is one `*`. When the key runs out, only `*`s may remain in the pattern,
//!   but a key must be non-empty to reach them: the empty key matches only the empty
//!   pattern, and the pattern `*` itself, which `SCAN` and `KEYS` treat as "every key"
//!   without calling the matcher.
//!
//! Redis recurses at each `*`, with two protections against abusive patterns: once the rest
//! of a pattern has failed from every position after a `*`, no earlier `*` is retried
//! (`skipLongerMatches`, the fix of CVE-2022-36021), and a match that reaches a 1001st run
//! of `*` with key bytes left fails, unless that run ends the pattern (`nesting > 1000`).
//! The first means that Redis only ever retries the latest `*`: an earlier one is retried
//! only when the rest failed before reaching the next. So the matcher here is the classic
//! loop with one saved position, exact without recursion, in constant memory and without
//! allocating, since the memory backend runs it under a shard lock for every key.
//!
//! `tests/glob_redis.rs` checks it against a real `redis-server`.

use std::ffi::c_char;

/// Redis' limit on nested `*` calls: the `*` runs a match may pass before it fails.
const MAX_STARS: usize = 1000;

/// A glob pattern ready to test keys, borrowing its text: build it once per
/// `delete_pattern`, then call [`matches`](Pattern::matches) for each key.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pattern<'p> {
    bytes: &'p [u8],
    /// The pattern `*`, which Redis' commands take as every key without matching.
    everything: bool,
}

/// The latest `*` run passed: where the rest of the pattern starts, the key position it was
/// last tried from, and how many runs the match had passed up to this one.
#[derive(Clone, Copy)]
struct Star {
    rest: usize,
    from: usize,
    ordinal: usize,
}

impl<'p> Pattern<'p> {
    /// Compiles `pattern`; never fails, since Redis gives every byte string a meaning.
    pub(crate) fn new(pattern: &'p str) -> Self {
        Self {
            bytes: pattern.as_bytes(),
            everything: pattern == "*",
        }
    }

    /// Whether `key` matches, as Redis' `SCAN MATCH` decides.
    pub(crate) fn matches(&self, key: &str) -> bool {
        self.matches_bytes(key.as_bytes())
    }

    /// [`matches`](Pattern::matches) for a key that may not be UTF-8 (one read from Redis).
    pub(crate) fn matches_bytes(&self, key: &[u8]) -> bool {
        self.everything || self.bytes_match(key)
    }

    fn bytes_match(&self, key: &[u8]) -> bool {
        let p = self.bytes;
        if key.is_empty() {
            return p.is_empty();
        }
        let (mut pi, mut ki) = (0, 0);
        let mut star: Option<Star> = None;
        let mut stars = 0;
        // Invariant at the top: `ki < key.len()`.
        loop {
            let consumed = match p.get(pi) {
                None => false,
                Some(b'*') => {
                    while p.get(pi + 1) == Some(&b'*') {
                        pi += 1;
                    }
                    if pi + 1 == p.len() {
                        return true;
                    }
                    stars += 1;
                    if stars > MAX_STARS {
                        return false;
                    }
                    pi += 1;
                    star = Some(Star {
                        rest: pi,
                        from: ki,
                        ordinal: stars,
                    });
                    continue;
                }
                Some(b'?') => true,
                Some(b'[') => {
                    let (matched, last) = class(p, pi, key[ki]);
                    pi = last;
                    matched
                }
                Some(b'\\') if pi + 1 < p.len() => {
                    pi += 1;
                    p[pi] == key[ki]
                }
                Some(&literal) => literal == key[ki],
            };
            if consumed {
                pi += 1;
                ki += 1;
                if ki < key.len() {
                    continue;
                }
                if p[pi..].iter().all(|&b| b == b'*') {
                    return true;
                }
            }
            // The rest after the latest `*` failed from `from`: retry it one byte later.
            // Once no byte is left to start from, Redis gives up on every earlier `*` too.
            let Some(latest) = star.as_mut() else {
                return false;
            };
            latest.from += 1;
            if latest.from == key.len() {
                return false;
            }
            (pi, ki, stars) = (latest.rest, latest.from, latest.ordinal);
        }
    }
}

/// Whether `text` matches `pattern`.
#[cfg(test)]
pub(crate) fn matches(pattern: &str, text: &str) -> bool {
    Pattern::new(pattern).matches(text)
}

/// Matches `byte` against the class whose `[` is at `p[open]`; returns whether it matched
/// and the index of the class's last byte: its `]`, or the pattern's last byte when the
/// class is left open.
fn class(p: &[u8], open: usize, byte: u8) -> (bool, usize) {
    let mut i = open + 1;
    let negated = p.get(i) == Some(&b'^');
    if negated {
        i += 1;
    }
    let mut matched = false;
    loop {
        let left = p.len() - i;
        if left >= 2 && p[i] == b'\\' {
            i += 1;
            matched |= p[i] == byte;
        } else if left == 0 {
            return (matched != negated, i - 1);
        } else if p[i] == b']' {
            return (matched != negated, i);
        } else if left >= 3 && p[i + 1] == b'-' {
            let (a, b) = (as_c_char(p[i]), as_c_char(p[i + 2]));
            matched |= (a.min(b)..=a.max(b)).contains(&as_c_char(byte));
            i += 2;
        } else {
            matched |= p[i] == byte;
        }
        i += 1;
    }
}

/// `byte` as Redis compares range ends: a C `char`, signed or not as the target's is.
fn as_c_char(byte: u8) -> i32 {
    i32::from(byte as c_char)
}

/// Escapes every glob metacharacter of `literal`, so that the result matches only itself.
pub(crate) fn escape(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    for c in literal.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stars_and_question_marks() {
        assert!(matches("user:*", "user:abc123"));
        assert!(matches("user:*", "user:"));
        assert!(!matches("user:*", "users:1"));
        assert!(matches("*:profile", "user:1:profile"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("h?llo", "hello"));
        assert!(!matches("h?llo", "hllo"));
        assert!(matches("a**", "a"));
        assert!(!matches("a*?", "a"));
        assert!(matches("*?*", "x"));
        assert!(!matches("", "a"));
    }

    #[test]
    fn the_empty_key_matches_only_the_empty_pattern_and_a_lone_star() {
        assert!(matches("", ""));
        assert!(matches("*", ""), "SCAN and KEYS take `*` as every key");
        assert!(!matches("**", ""));
        assert!(!matches("*?*", ""));
        assert!(!matches("?", ""));
    }

    #[test]
    fn bytes_not_characters() {
        assert!(!matches("caf?", "café"));
        assert!(matches("caf??", "café"));
        assert!(matches("*é", "café"));
        assert!(!matches("caf[é]", "café"), "a class matches one byte");
        assert!(matches("caf[é][é]", "café"));
    }

    #[test]
    fn classes() {
        assert!(matches("h[ae]llo", "hallo"));
        assert!(!matches("h[ae]llo", "hillo"));
        assert!(matches("h[^e]llo", "hallo"));
        assert!(!matches("h[^e]llo", "hello"));
        assert!(matches("id:[0-9]", "id:7"));
        assert!(!matches("id:[0-9]", "id:x"));
    }

    #[test]
    fn reversed_ranges_are_ranges() {
        assert!(matches("[z-a]", "m"));
        assert!(matches("id:[9-0]", "id:5"));
        assert!(!matches("[z-a]", "A"));
    }

    #[test]
    fn a_closing_bracket_first_closes_an_empty_class() {
        for key in ["]", "]]", "a", "a]"] {
            assert!(!matches("[]]", key), "{key}");
        }
        assert!(matches("[^]]", "x]"));
        assert!(matches("[^]]", "]]"));
        assert!(!matches("[^]]", "]"));
        assert!(!matches("[^]]", "x"));
    }

    #[test]
    fn an_unclosed_class_runs_to_the_end() {
        assert!(matches("x[ab", "xa"));
        assert!(matches("x[ab", "xb"));
        assert!(!matches("x[ab", "x[ab"));
        assert!(!matches("x[ab", "x"));
        assert!(!matches("x[", "x["), "an empty open class matches nothing");
        assert!(!matches("x[", "x"));
        assert!(
            matches("x[^", "x["),
            "a negated empty class matches any byte"
        );
        assert!(matches("x[^", "xz"));
        assert!(!matches("x[^", "x"));
        assert!(matches("[^", "a"));
        assert!(!matches("[^", "é"));
    }

    #[test]
    fn range_ends_may_be_brackets_or_backslashes() {
        // `[a-]` is the open range `]`..`a`.
        for key in ["]", "^", "_", "a"] {
            assert!(matches("[a-]", key), "{key}");
        }
        for key in ["b", "-", "[a-]"] {
            assert!(!matches("[a-]", key), "{key}");
        }
        // `[a-\]` is `\`..`a` closed by `]`.
        assert!(matches(r"[a-\]", "`"));
        assert!(matches(r"[a-\]", r"\"));
        assert!(!matches(r"[a-\]", "]]"));
    }

    #[test]
    fn range_ends_compare_as_the_targets_c_char() {
        // `[a-é]` is `a` to the first byte of `é` (0xC3), then that byte's second (0xA9).
        let signed = c_char::MIN != 0;
        assert_eq!(
            matches("[a-é]", "]"),
            signed,
            "0xC3 is -61 as a signed char"
        );
        assert_eq!(matches("[a-é]", "b"), !signed);
        assert!(matches("[a-é]", "a"));
    }

    #[test]
    fn backslashes_escape_inside_and_outside_classes() {
        assert!(matches(r"a\*b", "a*b"));
        assert!(!matches(r"a\*b", "aXb"));
        assert!(matches(r"q\?", "q?"));
        assert!(!matches(r"q\?", "qx"));
        assert!(matches(r"\[x\]", "[x]"));
        assert!(matches(r"\a", "a"));
        assert!(matches(r"[\]]", "]"));
        assert!(matches(r"[\^a]", "^"));
        assert!(!matches(r"[\^a]", "b"), "an escaped `^` does not negate");
        assert!(matches(r"[\-a]", "-"));
        assert!(!matches(r"[\-a]", "b"), "an escaped `-` is no range");
    }

    #[test]
    fn a_last_backslash_is_a_literal() {
        assert!(matches(r"a\", r"a\"));
        assert!(!matches(r"a\", "a"));
        assert!(matches(r"[\", r"\"), r"`[\` is a class of `\`");
        assert!(matches(r"[\]", "]"), r"`[\]` is an open class of `]`");
        assert!(!matches(r"[\]", r"\"));
    }

    #[test]
    fn the_thousand_and_first_star_fails_unless_it_ends_the_pattern() {
        let key = "a".repeat(1100);
        assert!(matches(&"*a".repeat(MAX_STARS), &key));
        assert!(!matches(&"*a".repeat(MAX_STARS + 1), &key));
        let final_star = format!("{}*", "*a".repeat(MAX_STARS));
        assert!(matches(&final_star, &key));
        assert!(
            matches(&"a".repeat(2000), &"a".repeat(2000)),
            "only stars count"
        );
    }

    #[test]
    fn pathological_patterns_finish() {
        let key = "a".repeat(200);
        let pattern = format!("{}b", "a*".repeat(60));
        assert!(!matches(&pattern, &key));
        assert!(matches(&format!("{}a", "*a*?".repeat(30)), &key));
    }

    #[test]
    fn a_compiled_pattern_tests_many_keys() {
        let pattern = Pattern::new("user:[0-9]*");
        let matched: Vec<&str> = ["user:1", "user:x", "user:42:name", "users:1"]
            .into_iter()
            .filter(|key| pattern.matches(key))
            .collect();
        assert_eq!(matched, ["user:1", "user:42:name"]);
    }

    #[test]
    fn escaped_literals_match_only_themselves() {
        for literal in [
            "a*b",
            "q?",
            "[x]",
            r"back\slash",
            "plain",
            "*",
            "[^]",
            r"\",
            "é",
        ] {
            let pattern = escape(literal);
            assert!(matches(&pattern, literal), "{pattern} vs {literal}");
            assert!(!matches(&pattern, &format!("{literal}x")));
        }
        assert!(!matches(&escape("a*"), "abc"));
        assert!(!matches(&escape("?"), "x"));
    }

    /// Text over the bytes that mean something to the matcher, letters, and multi-byte
    /// characters whose bytes fall on both sides of the ASCII ones.
    fn text() -> impl Strategy<Value = String> {
        let alphabet = [
            '*', '?', '[', ']', '^', '-', '\\', 'a', 'b', 'Z', 'é', '€', '\u{80}',
        ];
        prop::collection::vec(prop::sample::select(alphabet.to_vec()), 0..10)
            .prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #[test]
        fn an_escaped_literal_matches_exactly_itself(literal in text(), other in text()) {
            let pattern = escape(&literal);
            prop_assert!(matches(&pattern, &literal));
            prop_assert_eq!(matches(&pattern, &other), other == literal);
            let longer = format!("{literal}{other}");
            prop_assert_eq!(matches(&pattern, &longer), other.is_empty());
        }

        #[test]
        fn an_escaped_prefix_with_a_star_matches_exactly_its_keys(
            prefix in text(),
            key in text(),
            rest in text(),
        ) {
            let pattern = format!("{}*", escape(&prefix));
            prop_assert_eq!(matches(&pattern, &key), key.starts_with(&prefix));
            let under = format!("{prefix}{rest}");
            prop_assert!(matches(&pattern, &under));
        }
    }
}
