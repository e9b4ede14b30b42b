//! Results to JS as a "tape" (a serde `Serializer`), read back by `src/wasm/tape.js` into plain
//! JS values. Compiled for the browser build, and natively for its tests.
//!
//! Why not JSON text + `JSON.parse`: for the small results the engine returns on every email
//! (a `processRaw` outcome is ~30 properties), most of `JSON.parse`'s time goes into reading
//! property names from text and finding them in V8's string table, call after call. Here a
//! name crosses once per engine, the first time it is used; later results refer to it by
//! number, and the JS side keeps the (already internalised) string. Strings travel as one JS
//! string cut by UTF-16 offsets, numbers as doubles. Same values as the JSON route (objects,
//! arrays, numbers, `null` for `None` and non-finite floats); handing a `processRaw` outcome
//! over takes half the time it did as JSON text (BENCHMARKS.md "Core engine").
//!
//! The format is private to this module and `tape.js`, which explains it; the tests below read
//! tapes back in Rust and compare them with serde_json's values for every type JS receives.

use serde::ser::{self, Serialize};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const NULL: f64 = 0.0;
const TRUE: f64 = 1.0;
const FALSE: f64 = 2.0;
const NUMBER: f64 = 3.0;
const STRING: f64 = 4.0;
const OBJECT: f64 = 5.0;
const ARRAY: f64 = 6.0;
const NAME_IN_PLACE: f64 = -1.0;

/// Property names JS already holds, by their place in `tape.js`'s `names`. Keyed by the static
/// string's address and length: serde hands field names out as `&'static str`, so the same
/// field is the same pointer, and a lookup costs no hashing of text.
pub(crate) type Names = HashMap<(usize, usize), u32, BuildHasherDefault<AddressHasher>>;

/// Hashes the (address, length) keys of [`Names`] with one multiply each: they are distinct
/// integers already, and SipHash was a third of the time spent looking names up.
#[derive(Default)]
pub(crate) struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b.into());
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// The error type serde needs; only a `Serialize` impl that fails itself can produce it.
#[derive(Debug)]
pub struct TapeError(String);

impl std::fmt::Display for TapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TapeError {}

impl ser::Error for TapeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        TapeError(msg.to_string())
    }
}

/// `value` as a tape and its strings. Names new to `names` are put first on the tape and
/// added to `names`: the JS side registers them before reading any value, so the two sides
/// agree on them whatever happens next.
pub(crate) fn write<T: Serialize + ?Sized>(
    value: &T,
    names: &mut Names,
) -> Result<(Vec<f64>, String), TapeError> {
    let mut tape = Tape {
        // An outcome takes ~100 operations and ~300 bytes of strings.
        ops: Vec::with_capacity(128),
        strings: String::with_capacity(512),
        utf16_len: 0,
        known: names,
        new_names: Vec::new(),
    };
    tape.ops.push(0.0); // the count of new names, set below
    value.serialize(&mut tape)?;
    let Tape {
        ops,
        strings,
        new_names,
        ..
    } = tape;
    if new_names.is_empty() {
        return Ok((ops, strings));
    }
    let mut header = Vec::with_capacity(ops.len() + 2 * new_names.len());
    header.push(new_names.len() as f64);
    let first = names.len() as u32;
    for (i, (key, start, end)) in new_names.into_iter().enumerate() {
        header.push(start);
        header.push(end);
        names.insert(key, first + i as u32);
    }
    header.extend_from_slice(&ops[1..]);
    Ok((header, strings))
}

struct Tape<'n> {
    ops: Vec<f64>,
    strings: String,
    /// `strings`' length in UTF-16 code units: JS cuts it with `substring`.
    utf16_len: usize,
    known: &'n Names,
    /// Names first used in this value: (key in [`Names`], start, end in `strings`).
    new_names: Vec<((usize, usize), f64, f64)>,
}

impl<'n> Tape<'n> {
    /// Appends `s` to the strings and returns its (start, end).
    fn text(&mut self, s: &str) -> (f64, f64) {
        let start = self.utf16_len;
        self.utf16_len += if s.is_ascii() {
            s.len()
        } else {
            s.encode_utf16().count()
        };
        self.strings.push_str(s);
        (start as f64, self.utf16_len as f64)
    }

    fn string(&mut self, s: &str) {
        let (start, end) = self.text(s);
        self.ops.extend_from_slice(&[STRING, start, end]);
    }

    fn number(&mut self, n: f64) {
        if n.is_finite() {
            self.ops.extend_from_slice(&[NUMBER, n]);
        } else {
            self.ops.push(NULL); // as serde_json writes NaN and infinities
        }
    }

    /// A property name known at compile time (a field or variant name).
    fn static_name(&mut self, name: &'static str) {
        let key = (name.as_ptr() as usize, name.len());
        if let Some(&index) = self.known.get(&key) {
            self.ops.push(index as f64);
            return;
        }
        let pending = self.new_names.iter().position(|(k, _, _)| *k == key);
        let index = match pending {
            Some(i) => i,
            None => {
                let (start, end) = self.text(name);
                self.new_names.push((key, start, end));
                self.new_names.len() - 1
            }
        };
        self.ops.push((self.known.len() + index) as f64);
    }

    /// Opens an object or array; the count is filled in by [`Compound::end`].
    fn open(&mut self, kind: f64) -> Compound<'_, 'n> {
        self.ops.extend_from_slice(&[kind, 0.0]);
        let at = self.ops.len() - 1;
        Compound {
            at,
            count: 0,
            tape: self,
        }
    }

    /// `{ "Variant": … }`, as serde_json writes a variant that carries data: the object is
    /// written here, its one value by the caller.
    fn variant(&mut self, variant: &'static str) {
        self.ops.extend_from_slice(&[OBJECT, 1.0]);
        self.static_name(variant);
    }
}

pub struct Compound<'a, 'n> {
    tape: &'a mut Tape<'n>,
    /// Where the element count goes.
    at: usize,
    count: u32,
}

impl Compound<'_, '_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), TapeError> {
        self.count += 1;
        value.serialize(&mut *self.tape)
    }

    fn field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), TapeError> {
        self.count += 1;
        self.tape.static_name(name);
        value.serialize(&mut *self.tape)
    }

    fn end(self) -> Result<(), TapeError> {
        self.tape.ops[self.at] = self.count as f64;
        Ok(())
    }
}

impl<'a, 'n> ser::Serializer for &'a mut Tape<'n> {
    type Ok = ();
    type Error = TapeError;
    type SerializeSeq = Compound<'a, 'n>;
    type SerializeTuple = Compound<'a, 'n>;
    type SerializeTupleStruct = Compound<'a, 'n>;
    type SerializeTupleVariant = Compound<'a, 'n>;
    type SerializeMap = Compound<'a, 'n>;
    type SerializeStruct = Compound<'a, 'n>;
    type SerializeStructVariant = Compound<'a, 'n>;

    fn serialize_bool(self, v: bool) -> Result<(), TapeError> {
        self.ops.push(if v { TRUE } else { FALSE });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), TapeError> {
        self.serialize_f64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), TapeError> {
        self.serialize_f64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), TapeError> {
        self.serialize_f64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), TapeError> {
        // Rounds to the nearest double beyond 2^53, as JSON.parse of the digits would.
        self.serialize_f64(v as f64)
    }
    fn serialize_i128(self, v: i128) -> Result<(), TapeError> {
        self.serialize_f64(v as f64)
    }
    fn serialize_u8(self, v: u8) -> Result<(), TapeError> {
        self.serialize_f64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), TapeError> {
        self.serialize_f64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), TapeError> {
        self.serialize_f64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), TapeError> {
        self.serialize_f64(v as f64)
    }
    fn serialize_u128(self, v: u128) -> Result<(), TapeError> {
        self.serialize_f64(v as f64)
    }
    fn serialize_f32(self, v: f32) -> Result<(), TapeError> {
        // serde_json writes an f32 by its shortest digits ("0.1"), which JS reads as the
        // double nearest those digits, not as the f32's exact value.
        let shortest = v.to_string().parse::<f64>().unwrap_or(f64::NAN);
        self.serialize_f64(shortest)
    }
    fn serialize_f64(self, v: f64) -> Result<(), TapeError> {
        self.number(v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), TapeError> {
        self.string(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), TapeError> {
        self.string(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), TapeError> {
        // An array of numbers, as serde_json writes bytes.
        self.ops.extend_from_slice(&[ARRAY, v.len() as f64]);
        for &b in v {
            self.ops.extend_from_slice(&[NUMBER, b.into()]);
        }
        Ok(())
    }
    fn serialize_none(self) -> Result<(), TapeError> {
        self.ops.push(NULL);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), TapeError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), TapeError> {
        self.ops.push(NULL);
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), TapeError> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), TapeError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), TapeError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), TapeError> {
        self.variant(variant);
        value.serialize(self)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a, 'n>, TapeError> {
        Ok(self.open(ARRAY))
    }
    fn serialize_tuple(self, _: usize) -> Result<Compound<'a, 'n>, TapeError> {
        Ok(self.open(ARRAY))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Compound<'a, 'n>, TapeError> {
        Ok(self.open(ARRAY))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'a, 'n>, TapeError> {
        self.variant(variant);
        Ok(self.open(ARRAY))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a, 'n>, TapeError> {
        Ok(self.open(OBJECT))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'a, 'n>, TapeError> {
        Ok(self.open(OBJECT))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'a, 'n>, TapeError> {
        self.variant(variant);
        Ok(self.open(OBJECT))
    }
}

/// Arrays: serde's four sequence traits differ only in their method's name.
macro_rules! array_compound {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = TapeError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), TapeError> {
                self.element(value)
            }
            fn end(self) -> Result<(), TapeError> {
                Compound::end(self)
            }
        }
    )*};
}

array_compound!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// Objects with names known at compile time: structs and struct variants.
macro_rules! object_compound {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = TapeError;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                name: &'static str,
                value: &T,
            ) -> Result<(), TapeError> {
                self.field(name, value)
            }
            fn end(self) -> Result<(), TapeError> {
                Compound::end(self)
            }
        }
    )*};
}

object_compound!(SerializeStruct, SerializeStructVariant);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = TapeError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), TapeError> {
        self.count += 1;
        let name = key.serialize(MapKey)?;
        let (start, end) = self.tape.text(&name);
        self.tape
            .ops
            .extend_from_slice(&[NAME_IN_PLACE, start, end]);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), TapeError> {
        value.serialize(&mut *self.tape)
    }
    fn end(self) -> Result<(), TapeError> {
        Compound::end(self)
    }
}

/// A map key as the property name serde_json would write: strings as they are, numbers and
/// characters as their text; anything else is an error there and here.
struct MapKey;

impl ser::Serializer for MapKey {
    type Ok = String;
    type Error = TapeError;
    type SerializeSeq = ser::Impossible<String, TapeError>;
    type SerializeTuple = ser::Impossible<String, TapeError>;
    type SerializeTupleStruct = ser::Impossible<String, TapeError>;
    type SerializeTupleVariant = ser::Impossible<String, TapeError>;
    type SerializeMap = ser::Impossible<String, TapeError>;
    type SerializeStruct = ser::Impossible<String, TapeError>;
    type SerializeStructVariant = ser::Impossible<String, TapeError>;

    fn serialize_str(self, v: &str) -> Result<String, TapeError> {
        Ok(v.to_string())
    }
    fn serialize_char(self, v: char) -> Result<String, TapeError> {
        Ok(v.to_string())
    }
    fn serialize_bool(self, v: bool) -> Result<String, TapeError> {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> Result<String, TapeError> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<String, TapeError> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<String, TapeError> {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<String, TapeError> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String, TapeError> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<String, TapeError> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<String, TapeError> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<String, TapeError> {
        Ok(v.to_string())
    }
    fn serialize_f32(self, _: f32) -> Result<String, TapeError> {
        Err(key_error())
    }
    fn serialize_f64(self, _: f64) -> Result<String, TapeError> {
        Err(key_error())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<String, TapeError> {
        Err(key_error())
    }
    fn serialize_none(self) -> Result<String, TapeError> {
        Err(key_error())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<String, TapeError> {
        Err(key_error())
    }
    fn serialize_unit(self) -> Result<String, TapeError> {
        Err(key_error())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<String, TapeError> {
        Err(key_error())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<String, TapeError> {
        Ok(variant.to_string())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<String, TapeError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, TapeError> {
        Err(key_error())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, TapeError> {
        Err(key_error())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, TapeError> {
        Err(key_error())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, TapeError> {
        Err(key_error())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, TapeError> {
        Err(key_error())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, TapeError> {
        Err(key_error())
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, TapeError> {
        Err(key_error())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, TapeError> {
        Err(key_error())
    }
}

fn key_error() -> TapeError {
    TapeError("a map key must be a string or a number".into())
}

#[cfg(test)]
mod tests {
    //! Every tape is read back here as `tape.js` reads it, and must give serde_json's value.
    use super::*;
    use crate::engine::{Engine, ProcessOptions};
    use crate::policy::Trigger;
    use crate::settings::Settings;
    use serde::Serialize;
    use serde_json::{json, Value};
    use std::collections::{BTreeMap, HashSet};

    /// `tape.js`, in Rust: names first, then one value.
    struct Reader<'a> {
        tape: &'a [f64],
        at: usize,
        strings: Vec<u16>,
        names: &'a mut Vec<String>,
    }

    impl Reader<'_> {
        fn next(&mut self) -> f64 {
            let v = self.tape[self.at];
            self.at += 1;
            v
        }
        fn string(&mut self) -> String {
            let (start, end) = (self.next() as usize, self.next() as usize);
            String::from_utf16(&self.strings[start..end]).expect("offsets on UTF-16 boundaries")
        }
        fn value(&mut self) -> Value {
            match self.next() as i64 {
                0 => Value::Null,
                1 => Value::Bool(true),
                2 => Value::Bool(false),
                3 => {
                    // JS would keep a NaN; JSON (the route this replaces) has none.
                    let n = self.next();
                    assert!(n.is_finite(), "non-finite number {n} on the tape");
                    json!(n)
                }
                4 => Value::String(self.string()),
                5 => {
                    let n = self.next() as usize;
                    let mut object = serde_json::Map::new();
                    for _ in 0..n {
                        let name = self.next();
                        let name = if name >= 0.0 {
                            self.names[name as usize].clone()
                        } else {
                            self.string()
                        };
                        let value = self.value();
                        object.insert(name, value);
                    }
                    Value::Object(object)
                }
                6 => {
                    let n = self.next() as usize;
                    Value::Array((0..n).map(|_| self.value()).collect())
                }
                op => panic!("unknown operation {op}"),
            }
        }
    }

    fn read(tape: &[f64], strings: &str, js_names: &mut Vec<String>) -> Value {
        let mut r = Reader {
            tape,
            at: 0,
            strings: strings.encode_utf16().collect(),
            names: js_names,
        };
        let new = r.next() as usize;
        for _ in 0..new {
            let name = r.string();
            r.names.push(name);
        }
        let value = r.value();
        assert_eq!(r.at, tape.len(), "the whole tape is one value");
        value
    }

    /// Numbers as JS sees them (doubles), so serde_json's exact integers compare with the tape's.
    fn as_js(v: Value) -> Value {
        match v {
            Value::Number(n) => json!(n.as_f64().expect("a number")),
            Value::Array(a) => Value::Array(a.into_iter().map(as_js).collect()),
            Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, as_js(v))).collect()),
            v => v,
        }
    }

    /// Writes `value` twice on one registry (the second time every name is known) and checks
    /// both readings against what the JSON route gave.
    fn check<T: Serialize>(value: &T, names: &mut Names, js_names: &mut Vec<String>) {
        // What the JSON route gave JS: serde_json's text, read as JSON.parse reads it.
        let text = serde_json::to_string(value).expect("serde_json serialises it");
        let expected = as_js(serde_json::from_str(&text).expect("serde_json reads its own text"));
        for _ in 0..2 {
            let (tape, strings) = write(value, names).expect("tape");
            assert_eq!(read(&tape, &strings, js_names), expected);
            assert_eq!(
                names.len(),
                js_names.len(),
                "both sides hold the same names"
            );
        }
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    enum Kinds {
        Unit,
        Newtype(u8),
        Tuple(i32, String),
        Struct { inner_field: Option<bool> },
    }

    #[derive(Serialize)]
    #[serde(tag = "kind", rename_all = "camelCase")]
    enum Tagged {
        Manual,
        Rule { name: String },
    }

    #[derive(Serialize)]
    struct Odd {
        unit: (),
        tuple: (u8, char, &'static str),
        bytes: serde_bytes_like::Bytes,
        float: f32,
        nan: f64,
        infinite: f64,
        negative_zero: f64,
        big: u64,
        small: i64,
        map: BTreeMap<i32, &'static str>,
        string_map: BTreeMap<String, u8>,
        kinds: Vec<Kinds>,
        tagged: Vec<Tagged>,
        #[serde(flatten)]
        flattened: BTreeMap<&'static str, u8>,
    }

    mod serde_bytes_like {
        /// Bytes through `serialize_bytes`, as serde_bytes would.
        pub struct Bytes(pub Vec<u8>);
        impl serde::Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }
    }

    #[test]
    fn every_kind_of_value_reads_back_as_serde_json_writes_it() {
        let (mut names, mut js_names) = (Names::default(), Vec::new());
        let odd = Odd {
            unit: (),
            tuple: (7, '語', "tuple"),
            bytes: serde_bytes_like::Bytes(vec![0, 255, 10]),
            float: 0.1,
            nan: f64::NAN,
            infinite: f64::NEG_INFINITY,
            negative_zero: -0.0,
            big: u64::MAX,
            small: i64::MIN,
            map: BTreeMap::from([(-1, "minus one"), (2, "two")]),
            string_map: BTreeMap::from([
                ("__proto__".to_string(), 1),
                ("日本語 😀".to_string(), 2),
                (String::new(), 3),
            ]),
            kinds: vec![
                Kinds::Unit,
                Kinds::Newtype(3),
                Kinds::Tuple(-4, "x".into()),
                Kinds::Struct { inner_field: None },
                Kinds::Struct {
                    inner_field: Some(false),
                },
            ],
            tagged: vec![
                Tagged::Manual,
                Tagged::Rule {
                    name: "Zażółć gęślą jaźń".into(),
                },
            ],
            flattened: BTreeMap::from([("flat", 9)]),
        };
        check(&odd, &mut names, &mut js_names);
        // Astral characters count two UTF-16 units: strings after them must still be cut right.
        check(
            &vec!["😀😀", "a", "", "𝔘𝔫𝔦", "é", "end"],
            &mut names,
            &mut js_names,
        );
        check(
            &json!({"nested": [[], {}, [null]]}),
            &mut names,
            &mut js_names,
        );
    }

    #[test]
    fn a_failing_value_registers_no_names() {
        let mut names = Names::default();
        let bad = BTreeMap::from([(vec![1u8], 1u8)]); // a key serde_json refuses too
        assert!(serde_json::to_string(&bad).is_err());
        #[derive(Serialize)]
        struct Wrapper {
            fine: u8,
            bad: BTreeMap<Vec<u8>, u8>,
        }
        let err = write(&Wrapper { fine: 1, bad }, &mut names).unwrap_err();
        assert!(err.to_string().contains("map key"), "{err}");
        assert!(names.is_empty());
    }

    #[test]
    fn engine_results_read_back_as_serde_json_writes_them() {
        let (mut names, mut js_names) = (Names::default(), Vec::new());
        let settings = Settings {
            user_addresses: vec!["me@ourco.example".into()],
            internal_domains: vec!["ourco.example".into()],
            forwarding_address: Some("fwd@crm.example".into()),
            ..Settings::default()
        };
        let mut engine = Engine::new(&settings).expect("settings");
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let mut files = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).expect("fixtures") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "eml") {
                    files.push(path);
                }
            }
        }
        files.sort();
        assert!(files.len() >= 20, "found {} fixtures", files.len());
        let contacts = HashSet::new();
        for (i, file) in files.iter().enumerate() {
            let raw = std::fs::read(file).expect("fixture");
            let options = ProcessOptions {
                dry_run: i % 2 == 0,
                ..Default::default()
            };
            if let Ok(email) = engine.parse(&raw) {
                check(&email, &mut names, &mut js_names);
            }
            if let Ok(outcome) = engine.process_raw(
                &raw,
                Trigger::Manual,
                &contacts,
                1_772_500_500_000,
                &options,
            ) {
                check(&outcome, &mut names, &mut js_names);
            }
        }
        check(&engine.status(), &mut names, &mut js_names);
        check(
            &engine.take_due(1_772_500_600_000, 5),
            &mut names,
            &mut js_names,
        );
        check(&engine.take_changes(), &mut names, &mut js_names);
        check(engine.settings(), &mut names, &mut js_names);
    }
}
