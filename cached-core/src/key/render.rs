//! Rendering of values into keys through `serde`: the form a `#[cached]` argument or a key
//! template placeholder takes in a key.
//!
//! Strings are written bare, escaped by the rule of the parent module; numbers in decimal;
//! composite values with the markers `(`, `)`, `,`, `@`, `!` and `'`, none of which escaping
//! ever emits and none of which is a separator (`:`, `=`) or a glob metacharacter. See
//! [`render_into`](super::render_into) for the whole rule and why it is injective.

use std::fmt::{self, Display, Write as _};

use serde::ser::{self, Serialize};

use super::escape_into;

/// Why a value could not be rendered into a key: its `Serialize` implementation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError(String);

impl Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot render the value into a cache key: {}", self.0)
    }
}

impl std::error::Error for RenderError {}

impl ser::Error for RenderError {
    fn custom<T: Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

type Result<T = (), E = RenderError> = std::result::Result<T, E>;

/// Writes `value` at the end of `out`; `nested` is whether it is an element of a composite
/// value, where an empty rendering is written `''` so that it cannot vanish.
pub(super) fn render<T: ?Sized + Serialize>(out: &mut String, value: &T, nested: bool) -> Result {
    value.serialize(&mut KeySerializer { out, nested })
}

struct KeySerializer<'a> {
    out: &'a mut String,
    nested: bool,
}

impl KeySerializer<'_> {
    fn scalar(&mut self, text: &str) -> Result {
        if text.is_empty() && self.nested {
            self.out.push_str("''");
        } else {
            escape_into(self.out, text);
        }
        Ok(())
    }

    fn integer(&mut self, n: impl itoa::Integer) -> Result {
        self.out.push_str(itoa::Buffer::new().format(n));
        Ok(())
    }

    fn float(&mut self, n: impl Display) -> Result {
        let _ = write!(self.out, "{n}");
        Ok(())
    }

    fn open(&mut self, name: Option<&str>) -> Result<Composite<'_>> {
        if let Some(name) = name {
            escape_into(self.out, name);
        }
        self.out.push('(');
        Ok(Composite {
            out: self.out,
            first: true,
            entries: Vec::new(),
        })
    }
}

/// The elements of a composite value being written, between `(` and `)`.
struct Composite<'a> {
    out: &'a mut String,
    first: bool,
    /// Map entries, rendered apart and sorted on `end`, so that a map's key does not
    /// depend on its iteration order.
    entries: Vec<String>,
}

impl Composite<'_> {
    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        render(self.out, value, true)
    }

    /// A struct field left out by `skip_serializing_if`: an empty element, which no value
    /// renders to, so that which field was skipped stays visible.
    fn skipped(&mut self) -> Result {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        Ok(())
    }

    fn end(self) -> Result {
        let mut entries = self.entries;
        entries.sort_unstable();
        for (i, entry) in entries.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.out.push_str(entry);
        }
        self.out.push(')');
        Ok(())
    }
}

impl<'a> ser::Serializer for &'a mut KeySerializer<'_> {
    type Ok = ();
    type Error = RenderError;
    type SerializeSeq = Composite<'a>;
    type SerializeTuple = Composite<'a>;
    type SerializeTupleStruct = Composite<'a>;
    type SerializeTupleVariant = Composite<'a>;
    type SerializeMap = MapComposite<'a>;
    type SerializeStruct = Composite<'a>;
    type SerializeStructVariant = Composite<'a>;

    fn serialize_bool(self, v: bool) -> Result {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result {
        self.integer(v)
    }
    fn serialize_i16(self, v: i16) -> Result {
        self.integer(v)
    }
    fn serialize_i32(self, v: i32) -> Result {
        self.integer(v)
    }
    fn serialize_i64(self, v: i64) -> Result {
        self.integer(v)
    }
    fn serialize_i128(self, v: i128) -> Result {
        self.integer(v)
    }
    fn serialize_u8(self, v: u8) -> Result {
        self.integer(v)
    }
    fn serialize_u16(self, v: u16) -> Result {
        self.integer(v)
    }
    fn serialize_u32(self, v: u32) -> Result {
        self.integer(v)
    }
    fn serialize_u64(self, v: u64) -> Result {
        self.integer(v)
    }
    fn serialize_u128(self, v: u128) -> Result {
        self.integer(v)
    }
    /// `Display` of a float is its shortest round-trip form, so distinct values differ.
    fn serialize_f32(self, v: f32) -> Result {
        self.float(v)
    }
    fn serialize_f64(self, v: f64) -> Result {
        self.float(v)
    }
    fn serialize_char(self, v: char) -> Result {
        self.scalar(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result {
        self.scalar(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result {
        let mut hex = String::with_capacity(v.len() * 2);
        for byte in v {
            let _ = write!(hex, "{byte:02x}");
        }
        self.scalar(&hex)
    }
    fn serialize_none(self) -> Result {
        self.out.push('!');
        Ok(())
    }
    /// The inner value's rendering, marked with `@` only when it could be read as `None` or
    /// as an already marked value (it starts with `!` or `@`).
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result {
        let start = self.out.len();
        value.serialize(&mut *self)?;
        if matches!(self.out.as_bytes().get(start), Some(b'!' | b'@')) {
            self.out.insert(start, '@');
        }
        Ok(())
    }
    fn serialize_unit(self) -> Result {
        self.out.push_str("()");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.scalar(variant)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result {
        let mut composite = self.open(Some(variant))?;
        composite.element(value)?;
        composite.end()
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Composite<'a>> {
        self.open(None)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Composite<'a>> {
        self.open(None)
    }
    fn serialize_tuple_struct(self, _: &'static str, _len: usize) -> Result<Composite<'a>> {
        self.open(None)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Composite<'a>> {
        self.open(Some(variant))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapComposite<'a>> {
        Ok(MapComposite {
            composite: self.open(None)?,
            entry: String::new(),
        })
    }
    fn serialize_struct(self, _: &'static str, _len: usize) -> Result<Composite<'a>> {
        self.open(None)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Composite<'a>> {
        self.open(Some(variant))
    }
}

impl ser::SerializeSeq for Composite<'_> {
    type Ok = ();
    type Error = RenderError;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result {
        self.element(value)
    }
    fn end(self) -> Result {
        Composite::end(self)
    }
}

impl ser::SerializeTuple for Composite<'_> {
    type Ok = ();
    type Error = RenderError;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result {
        self.element(value)
    }
    fn end(self) -> Result {
        Composite::end(self)
    }
}

impl ser::SerializeTupleStruct for Composite<'_> {
    type Ok = ();
    type Error = RenderError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result {
        self.element(value)
    }
    fn end(self) -> Result {
        Composite::end(self)
    }
}

impl ser::SerializeTupleVariant for Composite<'_> {
    type Ok = ();
    type Error = RenderError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result {
        self.element(value)
    }
    fn end(self) -> Result {
        Composite::end(self)
    }
}

impl ser::SerializeStruct for Composite<'_> {
    type Ok = ();
    type Error = RenderError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, _: &'static str, value: &T) -> Result {
        self.element(value)
    }
    fn skip_field(&mut self, _: &'static str) -> Result {
        self.skipped()
    }
    fn end(self) -> Result {
        Composite::end(self)
    }
}

impl ser::SerializeStructVariant for Composite<'_> {
    type Ok = ();
    type Error = RenderError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, _: &'static str, value: &T) -> Result {
        self.element(value)
    }
    fn skip_field(&mut self, _: &'static str) -> Result {
        self.skipped()
    }
    fn end(self) -> Result {
        Composite::end(self)
    }
}

/// A map being written: each entry `key@value` is rendered apart, then sorted.
struct MapComposite<'a> {
    composite: Composite<'a>,
    entry: String,
}

impl ser::SerializeMap for MapComposite<'_> {
    type Ok = ();
    type Error = RenderError;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result {
        self.entry.clear();
        render(&mut self.entry, key, true)
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result {
        self.entry.push('@');
        render(&mut self.entry, value, true)?;
        self.composite.entries.push(std::mem::take(&mut self.entry));
        Ok(())
    }
    fn end(self) -> Result {
        self.composite.end()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Serialize;

    use crate::key::render;

    /// The rendering, never shortened.
    fn r<T: Serialize + ?Sized>(value: &T) -> String {
        let mut out = String::new();
        super::render(&mut out, value, false).unwrap();
        out
    }

    #[test]
    fn scalars_are_bare_and_escaped() {
        assert_eq!(r("abc123"), "abc123");
        assert_eq!(r("abc:profile"), "abc%3Aprofile");
        assert_eq!(r(""), "");
        assert_eq!(r(&'*'), "%2A");
        assert_eq!(r(&42_u8), "42");
        assert_eq!(r(&-7_i64), "-7");
        assert_eq!(r(&u128::MAX), u128::MAX.to_string());
        assert_eq!(r(&0.5_f64), "0.5");
        assert_eq!(r(&1e21_f64), "1000000000000000000000");
        assert_eq!(r(&true), "true");
    }

    #[test]
    fn options_mark_none_and_only_ambiguous_somes() {
        assert_eq!(r(&None::<String>), "!");
        assert_eq!(r(&Some("")), "");
        assert_eq!(r(&Some("draft")), "draft");
        assert_eq!(r(&Some(None::<u8>)), "@!");
        assert_eq!(r(&Some(Some(None::<u8>))), "@@!");
        assert_eq!(r(&Some(Some(3))), "3");
    }

    #[test]
    fn composites_use_markers_and_never_lose_empty_strings() {
        assert_eq!(r(&["rust", "async"]), "(rust,async)");
        assert_eq!(r(&Vec::<String>::new()), "()");
        assert_eq!(r(&[""]), "('')");
        assert_eq!(r(&["", ""]), "('','')");
        assert_eq!(r(&("a", 1, None::<u8>)), "(a,1,!)");
        assert_eq!(r(&vec![vec!["a"], vec![]]), "((a),())");
        assert_eq!(r(&()), "()");
    }

    #[derive(Serialize)]
    struct Filter {
        status: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        page: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        size: Option<u32>,
    }

    #[derive(Serialize)]
    enum Shape {
        Unit,
        New(u8),
        Pair(u8, u8),
        Named { x: u8 },
    }

    #[derive(Serialize)]
    struct Id(u64);

    #[test]
    fn structs_enums_and_newtypes() {
        let filter = |page, size| Filter {
            status: "open",
            page,
            size,
        };
        assert_eq!(r(&filter(Some(2), None)), "(open,2,)");
        assert_eq!(r(&filter(None, Some(2))), "(open,,2)");
        assert_eq!(r(&filter(None, None)), "(open,,)");
        assert_eq!(r(&Shape::Unit), "Unit");
        assert_eq!(r(&Shape::New(1)), "New(1)");
        assert_eq!(r(&Shape::Pair(1, 2)), "Pair(1,2)");
        assert_eq!(r(&Shape::Named { x: 3 }), "Named(3)");
        assert_eq!(r(&Id(9)), "9");
    }

    #[test]
    fn maps_are_sorted_so_iteration_order_does_not_matter() {
        let ordered: BTreeMap<&str, u8> = [("b", 2), ("a", 1)].into();
        assert_eq!(r(&ordered), "(a@1,b@2)");
        let hashed: HashMap<String, u8> = (0..50).map(|i| (format!("k{i}"), i)).collect();
        let sorted: BTreeMap<String, u8> = hashed.clone().into_iter().collect();
        let mut entries: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}@{v}")).collect();
        entries.sort();
        assert_eq!(r(&hashed), format!("({})", entries.join(",")));
    }

    #[test]
    fn renderings_never_hold_separators_or_glob_characters() {
        let hostile = [
            "a:b", "x=y", "*", "?", "[a]", "\\", "%", " ", "\n", "()", ",", "@!", "'",
        ];
        for value in hostile {
            for rendered in [r(value), r(&[value, value]), r(&Some(value))] {
                assert!(
                    !rendered.contains([':', '=', '*', '?', '[', ']', '\\', ' ', '\n']),
                    "{value:?} -> {rendered}"
                );
            }
        }
        assert_eq!(r("()"), "%28%29");
        assert_eq!(r("@!"), "%40%21");
    }

    struct Failing;

    impl Serialize for Failing {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no key for this"))
        }
    }

    #[test]
    fn a_failing_serialize_is_an_error() {
        let error = render(&Failing).unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot render the value into a cache key: no key for this"
        );
    }
}
