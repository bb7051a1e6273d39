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

/// Parses a JSON document holding an integer, or a string holding one.
pub(crate) fn integer_from_json(bytes: &[u8]) -> Option<i64> {
    match serde_json::from_slice::<serde_json::Value>(bytes).ok()? {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
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
    fn integers_are_read_from_any_integer_type_or_string() {
        assert_eq!(read_integer(&*erase(5_i64)), Some(5));
        assert_eq!(read_integer(&*erase(5_u8)), Some(5));
        assert_eq!(read_integer(&*erase(String::from("-12"))), Some(-12));
        assert_eq!(read_integer(&*erase(String::from("twelve"))), None);
        assert_eq!(read_integer(&*erase(1.5_f64)), None);
        assert_eq!(read_integer(&*erase(vec![1])), None);
    }
}
