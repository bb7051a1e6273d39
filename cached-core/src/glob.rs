//! Glob matching with Redis' rules (`*`, `?`, `[abc]`, `[^a-z]`, `\` escapes), so that
//! `delete_pattern` selects the same keys on every backend.

/// Whether `text` matches `pattern`.
pub(crate) fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Where to resume after the most recent `*`: the pattern index after it and the text
    // index it is currently standing for.
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    while pi < p.len() && p[pi] == '*' {
                        pi += 1;
                    }
                    if pi == p.len() {
                        return true;
                    }
                    backtrack = Some((pi, ti));
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class(&p, pi, t[ti]) {
                        if matched {
                            pi = next;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() => {
                    if p[pi + 1] == t[ti] {
                        pi += 2;
                        ti += 1;
                        continue;
                    }
                }
                c => {
                    if c == t[ti] {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
            }
        }
        match backtrack {
            Some((after_star, stood_for)) => {
                pi = after_star;
                ti = stood_for + 1;
                backtrack = Some((after_star, ti));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class opening at `p[open]`; returns whether it matched and the
/// index after the class, or `None` when the class is unterminated.
fn class(p: &[char], open: usize, c: char) -> Option<(bool, usize)> {
    let mut i = open + 1;
    let negated = p.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let current = *p.get(i)?;
        if current == ']' && !first {
            return Some((matched != negated, i + 1));
        }
        first = false;
        let low = if current == '\\' {
            i += 1;
            *p.get(i)?
        } else {
            current
        };
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&h| h != ']') {
            let mut high = p[i + 2];
            i += 2;
            if high == '\\' {
                i += 1;
                high = *p.get(i)?;
            }
            let (low, high) = if low <= high {
                (low, high)
            } else {
                (high, low)
            };
            matched |= (low..=high).contains(&c);
        } else {
            matched |= low == c;
        }
        i += 1;
    }
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
        assert!(matches("**", ""));
        assert!(matches("", ""));
        assert!(!matches("", "a"));
    }

    #[test]
    fn classes() {
        assert!(matches("h[ae]llo", "hallo"));
        assert!(!matches("h[ae]llo", "hillo"));
        assert!(matches("h[^e]llo", "hallo"));
        assert!(!matches("h[^e]llo", "hello"));
        assert!(matches("id:[0-9]", "id:7"));
        assert!(!matches("id:[0-9]", "id:x"));
        assert!(matches("id:[9-0]", "id:5"));
        assert!(matches("[]]", "]"));
        assert!(matches("x[", "x["));
    }

    #[test]
    fn escapes_match_literally() {
        assert!(matches(r"a\*b", "a*b"));
        assert!(!matches(r"a\*b", "aXb"));
        assert!(matches(r"q\?", "q?"));
        assert!(!matches(r"q\?", "qx"));
        assert!(matches(r"\[x\]", "[x]"));
        assert!(matches(r"[\]]", "]"));
    }

    #[test]
    fn escaped_literals_match_only_themselves() {
        for literal in ["a*b", "q?", "[x]", r"back\slash", "plain", "*", "[^]"] {
            let pattern = escape(literal);
            assert!(matches(&pattern, literal), "{pattern} vs {literal}");
            assert!(!matches(&pattern, &format!("{literal}x")));
        }
        assert!(!matches(&escape("a*"), "abc"));
        assert!(!matches(&escape("?"), "x"));
    }

    #[test]
    fn unicode_is_one_character() {
        assert!(matches("caf?", "café"));
        assert!(matches("*é", "café"));
    }
}
