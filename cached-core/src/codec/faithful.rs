//! Finds what a codec would not give back as it was: JSON has no form for NaN or an
//! infinity (`serde_json` writes `null`, which reads back as another value or not at all),
//! and neither JSON nor MessagePack tells `Some(None)`, `Some(())` or `Some` of a unit
//! struct from `None` (each is one `null`/`nil`). The codec refuses such values instead of
//! changing them.
//!
//! A serializer that writes nothing and fails at the first such thing.

use std::fmt::{self, Display};

use serde::ser::{self, Serialize};

/// A value holds something its codec cannot give back.
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

/// `Err` when `value` holds a `Some` of a null (or, with `floats`, a NaN or an infinity),
/// or its `Serialize` fails.
pub(crate) fn check<T: ?Sized + Serialize>(value: &T, floats: bool) -> Result<(), NonFinite> {
    value.serialize(Probe {
        floats,
        in_some: false,
    })
}

/// The serializer that looks for what the codec cannot give back: `floats` when non-finite
/// floats count, `in_some` while serializing the value directly inside a `Some`.
#[derive(Clone, Copy)]
struct Probe {
    floats: bool,
    in_some: bool,
}

impl Probe {
    /// The probe for a value inside this one.
    fn inner(self) -> Self {
        Self {
            in_some: false,
            ..self
        }
    }

    /// A null in the encoding: refused directly inside a `Some`.
    fn null(self, what: &str) -> Result {
        if self.in_some {
            Err(NonFinite(format!(
                "the value holds Some({what}), which reads back as None; use an enum of its own"
            )))
        } else {
            Ok(())
        }
    }
}

type Result<T = (), E = NonFinite> = std::result::Result<T, E>;

fn float(probe: Probe, value: f64) -> Result {
    if !probe.floats || value.is_finite() {
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
    );

    fn serialize_f32(self, v: f32) -> Result {
        float(self, f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result {
        float(self, v)
    }
    fn serialize_none(self) -> Result {
        self.null("None")
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result {
        value.serialize(Probe {
            in_some: true,
            ..self
        })
    }
    fn serialize_unit(self) -> Result {
        self.null("()")
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result {
        self.null(name)
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
        value.serialize(self.inner())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Probe> {
        Ok(self.inner())
    }
    fn serialize_tuple(self, _: usize) -> Result<Probe> {
        Ok(self.inner())
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Probe> {
        Ok(self.inner())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Probe> {
        Ok(self.inner())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Probe> {
        Ok(self.inner())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Probe> {
        Ok(self.inner())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Probe> {
        Ok(self.inner())
    }
}

/// The compound types: each element is probed in turn.
macro_rules! compound {
    ($($trait:ident :: $method:ident ($($name:ty),*)),* $(,)?) => {
        $(impl ser::$trait for Probe {
            type Ok = ();
            type Error = NonFinite;
            fn $method<T: ?Sized + Serialize>(&mut self, $(_: $name,)* value: &T) -> Result {
                value.serialize(self.inner())
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
        key.serialize(self.inner())
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result {
        value.serialize(self.inner())
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

    fn check(value: &(impl Serialize + ?Sized)) -> Result<(), NonFinite> {
        super::check(value, true)
    }

    #[test]
    fn finds_a_some_of_a_null_in_every_codec_and_non_finite_floats_for_json() {
        assert!(super::check(&f64::NAN, false).is_ok());
        assert!(super::check(&Some(None::<u8>), false).is_err());
        assert!(check(&vec![Some(Some(()))]).is_err());
        assert!(check(&vec![Some(Some(1))]).is_ok());
        assert!(
            check(&Some(vec![None::<u8>])).is_ok(),
            "a None inside a list is fine"
        );
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
