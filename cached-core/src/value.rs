//! Values as the in-process store keeps them: typed, so that a hit is a clone and never a
//! deserialization, yet able to serialize themselves when another type or a byte-oriented
//! backend asks for them.

use std::any::Any;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A value of any serializable type, erased behind one vtable.
pub(crate) trait ErasedValue: Any + Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn to_json(&self) -> serde_json::Result<Vec<u8>>;
}

impl<T: Serialize + Send + Sync + 'static> ErasedValue for T {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec(self)
    }
}

/// A shared, typed value.
pub(crate) type Value = Arc<dyn ErasedValue>;

/// Wraps a value for the in-process store.
pub(crate) fn erase<T: Serialize + Send + Sync + 'static>(value: T) -> Value {
    Arc::new(value)
}

/// Reads a stored value as `T`: a clone when it was stored as `T`, otherwise a round trip
/// through JSON, so that reading `u64` where `u32` was stored behaves as it does on Redis.
pub(crate) fn read<T>(value: &dyn ErasedValue) -> serde_json::Result<T>
where
    T: DeserializeOwned + Clone + 'static,
{
    match value.as_any().downcast_ref::<T>() {
        Some(typed) => Ok(typed.clone()),
        None => serde_json::from_slice(&value.to_json()?),
    }
}

/// Reads a stored value as an integer counter, accepting any integer type and integers held
/// in strings (as Redis' `INCR` does).
pub(crate) fn read_integer(value: &dyn ErasedValue) -> Option<i64> {
    if let Some(n) = value.as_any().downcast_ref::<i64>() {
        return Some(*n);
    }
    integer_from_json(&value.to_json().ok()?)
}

/// Parses a JSON document holding an integer, or a string holding one in the only form
/// Redis' `INCR` accepts (see [`canonical_integer`]).
pub(crate) fn integer_from_json(bytes: &[u8]) -> Option<i64> {
    match serde_json::from_slice::<serde_json::Value>(bytes).ok()? {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => canonical_integer(&s),
        _ => None,
    }
}

/// `text` as an `i64` if it is one in canonical decimal form, the only form Redis' `INCR`
/// takes (`string2ll`): `0`, or an optional `-` and digits without a leading zero; no sign
/// `+`, no `-0`, no spaces, no other characters, within `i64`. Both backends read counters
/// held in strings this way, so that they agree on every string.
pub(crate) fn canonical_integer(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let canonical = match digits.as_bytes() {
        [b'0'] => digits.len() == text.len(),
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    if canonical { text.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_type_is_a_clone_other_types_go_through_json() {
        let stored = erase(7_u32);
        assert_eq!(read::<u32>(&*stored).unwrap(), 7);
        assert_eq!(read::<u64>(&*stored).unwrap(), 7);
        assert_eq!(read::<f64>(&*stored).unwrap(), 7.0);
        assert!(read::<String>(&*stored).is_err());
    }

    #[test]
    fn only_canonical_decimal_strings_are_integers() {
        for (text, value) in [
            ("0", Some(0)),
            ("7", Some(7)),
            ("-7", Some(-7)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("-0", None),
            ("+5", None),
            ("05", None),
            ("00", None),
            ("", None),
            ("-", None),
            (" 5", None),
            ("5\n", None),
            ("\t5", None),
            ("\u{a0}5", None),
            ("5.0", None),
            ("1e3", None),
            ("٣", None),
        ] {
            assert_eq!(canonical_integer(text), value, "{text:?}");
        }
    }

    #[test]
    fn integers_are_read_from_any_integer_type_or_string() {
        assert_eq!(read_integer(&*erase(5_i64)), Some(5));
        assert_eq!(read_integer(&*erase(5_u8)), Some(5));
        assert_eq!(read_integer(&*erase(String::from("-12"))), Some(-12));
        assert_eq!(read_integer(&*erase(String::from("twelve"))), None);
        assert_eq!(read_integer(&*erase(String::from(" 12"))), None);
        assert_eq!(read_integer(&*erase(1.5_f64)), None);
        assert_eq!(read_integer(&*erase(vec![1])), None);
    }
}
