//! Finds non-finite floats in a value: JSON has no form for NaN or an infinity, and
//! `serde_json` writes them as `null`, which reads back as another value (`Some(f64::NAN)`
//! as `None`) or not at all (`[1.0, inf]` as a `Vec<f64>`). The codec refuses such values
//! instead of changing them.
//!
//! A serializer that writes nothing and fails at the first non-finite float. The codec runs
//! it only on values whose JSON holds a `null`, so that other values pay nothing.

use std::fmt::{self, Display};

use serde::ser::{self, Serialize};

/// A value holds a non-finite float.
#[derive(Debug)]
pub(crate) struct NonFinite(String);

impl Display for NonFinite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NonFinite {}

impl ser::Error for NonFinite {
    fn custom<T: Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// `Err` when `value` holds a NaN or an infinity (or its `Serialize` fails).
pub(crate) fn check<T: ?Sized + Serialize>(value: &T) -> Result<(), NonFinite> {
    value.serialize(Probe)
}

/// The serializer that looks for non-finite floats.
struct Probe;

type Result<T = (), E = NonFinite> = std::result::Result<T, E>;

fn float(value: f64) -> Result {
    if value.is_finite() {
        Ok(())
    } else {
        Err(NonFinite(format!(
            "the value holds the float {value}, which JSON cannot represent (it would be read \
             back as null); store it as an Option or a string"
        )))
    }
}

/// Every method that is not about floats, compound types or the values inside them.
macro_rules! scalars {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, _: $ty) -> Result { Ok(()) })*
    };
}

impl ser::Serializer for Probe {
    type Ok = ();
    type Error = NonFinite;
    type SerializeSeq = Probe;
    type SerializeTuple = Probe;
    type SerializeTupleStruct = Probe;
    type SerializeTupleVariant = Probe;
    type SerializeMap = Probe;
    type SerializeStruct = Probe;
    type SerializeStructVariant = Probe;

    scalars!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    );

    fn serialize_f32(self, v: f32) -> Result {
        float(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result {
        float(v)
    }
    fn serialize_none(self) -> Result {
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result {
        Ok(())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, v: &T) -> Result {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        value: &T,
    ) -> Result {
        value.serialize(self)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Probe> {
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Probe> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Probe> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Probe> {
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Probe> {
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Probe> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Probe> {
        Ok(self)
    }
}

/// The compound types: each element is probed in turn.
macro_rules! compound {
    ($($trait:ident :: $method:ident ($($name:ty),*)),* $(,)?) => {
        $(impl ser::$trait for Probe {
            type Ok = ();
            type Error = NonFinite;
            fn $method<T: ?Sized + Serialize>(&mut self, $(_: $name,)* value: &T) -> Result {
                value.serialize(Probe)
            }
            fn end(self) -> Result {
                Ok(())
            }
        })*
    };
}

compound!(
    SerializeSeq::serialize_element(),
    SerializeTuple::serialize_element(),
    SerializeTupleStruct::serialize_field(),
    SerializeTupleVariant::serialize_field(),
    SerializeStruct::serialize_field(&'static str),
    SerializeStructVariant::serialize_field(&'static str),
);

impl ser::SerializeMap for Probe {
    type Ok = ();
    type Error = NonFinite;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result {
        key.serialize(Probe)
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result {
        value.serialize(Probe)
    }
    fn end(self) -> Result {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(serde::Serialize)]
    struct Reading {
        label: &'static str,
        value: Option<f32>,
        history: Vec<(u8, f64)>,
    }

    #[test]
    fn finds_non_finite_floats_anywhere_in_a_value() {
        assert!(check(&1.5_f64).is_ok());
        assert!(check(&f64::NAN).is_err());
        assert!(check(&Some(f64::INFINITY)).is_err());
        assert!(check(&vec![1.0, f64::NEG_INFINITY]).is_err());
        let reading = |value, last| Reading {
            label: "t",
            value,
            history: vec![(1, 0.5), (2, last)],
        };
        assert!(check(&reading(Some(1.0), 2.0)).is_ok());
        assert!(check(&reading(Some(f32::NAN), 2.0)).is_err());
        assert!(check(&reading(None, f64::NAN)).is_err());
        let map: BTreeMap<&str, f64> = [("a", 1.0), ("b", f64::NAN)].into();
        assert!(check(&map).is_err());
        assert!(check(&None::<f64>).is_ok());
    }
}
