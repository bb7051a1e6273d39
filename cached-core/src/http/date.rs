//! HTTP dates as a cache reads them (`Date`, `Expires`): parsed by `httpdate` in any of the
//! three formats HTTP allows, but case-insensitively, as RFC 9111 (section 4.2) asks of
//! caches, and with a weekday that does not match the date taken as redundant, since the
//! date alone says when (`Thu Aug  8 02:01:18 2050` is a Monday). A date in a zone other
//! than `GMT`, without its comma, with a two-digit year in the IMF format or on two lines
//! stays invalid.

use std::time::SystemTime;

use ::http::header::{HeaderMap, HeaderName};

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The date in the header `name`: `None` when it is absent, `Some(None)` when it is not one
/// valid date on one line.
pub(crate) fn header(headers: &HeaderMap, name: &HeaderName) -> Option<Option<SystemTime>> {
    let mut lines = headers.get_all(name).iter();
    let first = lines.next()?;
    if lines.next().is_some() {
        return Some(None);
    }
    Some(first.to_str().ok().and_then(parse))
}

/// `text` as an HTTP date (see the module documentation).
pub(crate) fn parse(text: &str) -> Option<SystemTime> {
    if let Ok(time) = httpdate::parse_http_date(text) {
        return Some(time);
    }
    let text = canonical_case(text);
    if let Ok(time) = httpdate::parse_http_date(&text) {
        return Some(time);
    }
    let weekday_end = text
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (weekday, rest) = text.split_at(weekday_end);
    let names = [WEEKDAYS, LONG_WEEKDAYS]
        .into_iter()
        .find(|names| names.contains(&weekday))?;
    names
        .iter()
        .filter(|name| **name != weekday)
        .find_map(|name| httpdate::parse_http_date(&format!("{name}{rest}")).ok())
}

/// Every word as HTTP dates spell it: `GMT` in capitals, weekdays and months capitalised.
fn canonical_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    for c in text.chars() {
        if c.is_ascii_alphabetic() {
            word.push(c);
        } else {
            push_word(&mut out, &mut word);
            out.push(c);
        }
    }
    push_word(&mut out, &mut word);
    out
}

/// Moves `word` to `out`, capitalised.
fn push_word(out: &mut String, word: &mut String) {
    if word.eq_ignore_ascii_case("gmt") {
        out.push_str("GMT");
    } else {
        for (index, c) in word.chars().enumerate() {
            out.push(if index == 0 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            });
        }
    }
    word.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_case_insensitively_and_with_any_weekday() {
        let expected = parse("Thu, 18 Aug 2050 02:01:18 GMT").unwrap();
        for text in [
            "THU, 18 Aug 2050 02:01:18 GMT",
            "Thu, 18 AUG 2050 02:01:18 GMT",
            "Thu, 18 Aug 2050 02:01:18 gMT",
            "Mon, 18 Aug 2050 02:01:18 GMT",
            "Thursday, 18-Aug-50 02:01:18 GMT",
            "monday, 18-aug-50 02:01:18 gmt",
            "Thu Aug 18 02:01:18 2050",
        ] {
            assert_eq!(parse(text), Some(expected), "{text}");
        }
        assert_eq!(
            parse("Thu Aug  8 02:01:18 2050"),
            parse("Mon, 08 Aug 2050 02:01:18 GMT"),
            "asctime with the wrong weekday"
        );
    }

    #[test]
    fn what_http_does_not_allow_stays_invalid() {
        for text in [
            "Thu, 18 Aug 2050 02:01:18 UTC",
            "Thu, 18 Aug 2050 02:01:18 AEST",
            "Thu, 18 Aug 50 02:01:18 GMT",
            "Thu 18 Aug 2050 02:01:18 GMT",
            "Thu, 18  Aug  2050 02:01:18 GMT",
            "Thu, 18-Aug-2050 02:01:18 GMT",
            "Thu, 18 Aug 2050 02.01.18 GMT",
            "Thu, 18 Aug 2050 2:01:18 GMT",
            "Xyz, 18 Aug 2050 02:01:18 GMT",
            "0",
            "",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
        let mut headers = HeaderMap::new();
        let name = ::http::header::EXPIRES;
        assert_eq!(header(&headers, &name), None);
        headers.append(&name, "Thu, 18 Aug 2050 02:01:18 GMT".parse().unwrap());
        assert!(header(&headers, &name).unwrap().is_some());
        headers.append(&name, "Thu, 18 Aug 2050 02:01:19 GMT".parse().unwrap());
        assert_eq!(header(&headers, &name), Some(None), "two lines");
    }
}
