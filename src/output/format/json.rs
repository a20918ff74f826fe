//! JSON as serde_json writes it (compact), plus `\u` escapes for the characters JSON leaves raw
//! but a terminal or a log viewer may act on: DEL, the C1 controls (U+009B is a one-byte CSI on
//! some terminals) and the line/paragraph separators U+2028/U+2029 (line breaks to
//! JavaScript).
//!
//! The records are written by a serializer of our own rather than serde_json's: every string
//! of a record passes one escaping scan, eight bytes at a time where nothing needs escaping,
//! instead of serde_json's byte-by-byte scan followed by a second scan for the characters above
//! (on printer-heavy traffic, escaping was a quarter of all the work). Its output is byte for
//! byte what serde_json with those extra escapes writes: [`write_reference`] is that, and the
//! tests and a fuzz target hold the two equal.

use serde::ser::{self, Impossible, Serialize};
use std::fmt::{self, Display};
use std::io::{self, Write};

/// Serialises `v` as one line of JSON into `out` (appended).
pub fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    v.serialize(&mut Json { out })
        .expect("records and values always serialise");
}

/// The same through serde_json's own serializer: the reference the fast path must equal.
pub fn write_reference<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    let mut ser = serde_json::Serializer::with_formatter(out, SafeFormatter);
    v.serialize(&mut ser)
        .expect("records and values always serialise");
}

/// serde_json's compact formatter with the extra escapes.
#[derive(Clone, Copy, Default)]
pub struct SafeFormatter;

fn needs_extra_escape(c: char) -> bool {
    matches!(c, '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}')
}

impl serde_json::ser::Formatter for SafeFormatter {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if needs_extra_escape(c) {
                w.write_all(&fragment.as_bytes()[start..i])?;
                write!(w, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Every integer method of a serializer, each handing its value to `$write`.
macro_rules! integers {
    ($write:ident) => {
        integers!($write; serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
            serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
            serialize_u32: u32, serialize_u64: u64, serialize_u128: u128);
    };
    ($write:ident; $($method:ident: $ty:ty),*) => {$(
        fn $method(self, v: $ty) -> Result<(), Error> {
            self.$write(v)
        }
    )*};
}

/// True when any of the eight bytes of `w` is below 0x20, is `"` or `\`, or is 0x7F or above
/// (a byte that may need an escape: controls, the two JSON specials, DEL and every non-ASCII
/// byte, which the careful path then looks at).
#[inline]
fn word_needs_look(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w;
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    let is_quote = quote.wrapping_sub(ONES) & !quote;
    let is_backslash = backslash.wrapping_sub(ONES) & !backslash;
    // 0x7F: adding 1 to a byte of 0x7F sets its high bit
    let del_or_high = w.wrapping_add(ONES) | w;
    (below_space | is_quote | is_backslash | del_or_high) & HIGH != 0
}

/// Bytes written as they are: printable ASCII but `"` and `\\`, and every byte of a multi-byte
/// character except the two leads that may start one of the extra escapes (0xC2: the C1
/// controls; 0xE2: U+2028, U+2029).
static PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0x20;
    while i < 256 {
        t[i] = !matches!(i, 0x22 | 0x5c | 0x7f | 0xc2 | 0xe2);
        i += 1;
    }
    t
};

/// Appends `s` as a JSON string, quotes included.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    let n = b.len();
    out.reserve(n + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    loop {
        // runs of plain bytes: eight at a time, then one at a time
        while i + 8 <= n {
            let w = u64::from_le_bytes(b[i..i + 8].try_into().expect("eight bytes"));
            if word_needs_look(w) {
                break;
            }
            i += 8;
        }
        while i < n && PLAIN[usize::from(b[i])] {
            i += 1;
        }
        if i >= n {
            break;
        }
        let c = b[i];
        let next = b.get(i + 1).copied();
        let short: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            _ => b"",
        };
        let (width, code) = if !short.is_empty() {
            out.extend_from_slice(&b[start..i]);
            out.extend_from_slice(short);
            (1, None)
        } else if c < 0x20 || c == 0x7f {
            (1, Some(u16::from(c)))
        } else if c == 0xc2 && next.is_some_and(|x| (0x80..=0x9f).contains(&x)) {
            // U+0080..U+009F, the C1 controls
            (2, next.map(u16::from))
        } else if c == 0xe2 && next == Some(0x80) && matches!(b.get(i + 2), Some(0xa8 | 0xa9)) {
            // U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR
            (3, Some(0x2000 | u16::from(b[i + 2] & 0x0f) | 0x20))
        } else {
            // a lead byte of some other character
            i += 1;
            continue;
        };
        if let Some(u) = code {
            out.extend_from_slice(&b[start..i]);
            let h = |shift: u16| HEX[usize::from((u >> shift) & 0xf)];
            out.extend_from_slice(&[b'\\', b'u', h(12), h(8), h(4), h(0)]);
        }
        i += width;
        start = i;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

/// The error of a value that cannot be JSON (a map key that is not a string or a number).
#[derive(Debug)]
pub struct Error(String);

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// The serializer: compact JSON appended to a buffer.
pub struct Json<'a> {
    out: &'a mut Vec<u8>,
}

impl Json<'_> {
    fn int(&mut self, v: impl itoa::Integer) -> Result<(), Error> {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        Ok(())
    }

    /// As serde_json: the shortest form that reads back the same, `null` for NaN and the
    /// infinities.
    fn float<F: zmij::Float>(&mut self, v: F, finite: bool) {
        if finite {
            self.out
                .extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
        } else {
            self.out.extend_from_slice(b"null");
        }
    }
}

impl<'a> Json<'a> {
    /// Starts an array (`open` = `[`) or an object (`{`), inside `{"variant":` for an enum
    /// variant's. One declared empty is written closed at once, as serde_json writes it.
    fn compound<'b>(
        &'b mut self,
        variant: Option<&str>,
        open: u8,
        len: Option<usize>,
    ) -> Compound<'a, 'b> {
        if let Some(v) = variant {
            self.out.push(b'{');
            write_str(self.out, v);
            self.out.push(b':');
        }
        self.out.push(open);
        // what ends the compound, then what ends the variant's object around it
        let full: &'static [u8] = match (open, variant.is_some()) {
            (b'[', false) => b"]",
            (b'[', true) => b"]}",
            (_, false) => b"}",
            (_, true) => b"}}",
        };
        if len == Some(0) {
            self.out.push(full[0]);
            return Compound {
                ser: self,
                first: false,
                close: &full[1..],
                late_close: Some(full),
            };
        }
        Compound {
            ser: self,
            first: true,
            close: full,
            late_close: None,
        }
    }
}

/// A compound being written: whether a comma goes before the next element.
pub struct Compound<'a, 'b> {
    ser: &'b mut Json<'a>,
    first: bool,
    /// Closing bytes: `]`, `}`, or `]}` / `}}` for a variant's.
    close: &'static [u8],
    /// A compound declared empty is written closed at once; should elements come anyway, they
    /// follow a comma and this closes them (serde_json's bytes, for a length that lied).
    late_close: Option<&'static [u8]>,
}

impl Compound<'_, '_> {
    fn comma(&mut self) {
        if !self.first {
            self.ser.out.push(b',');
        }
        self.first = false;
        if let Some(late) = self.late_close.take() {
            self.close = late;
        }
    }
}

impl<'a, 'b> ser::Serializer for &'b mut Json<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a, 'b>;
    type SerializeTuple = Compound<'a, 'b>;
    type SerializeTupleStruct = Compound<'a, 'b>;
    type SerializeTupleVariant = Compound<'a, 'b>;
    type SerializeMap = Compound<'a, 'b>;
    type SerializeStruct = Compound<'a, 'b>;
    type SerializeStructVariant = Compound<'a, 'b>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    integers!(int);
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.float(v, v.is_finite());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.float(v, v.is_finite());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        use ser::SerializeSeq;
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(b)?;
        }
        seq.end()
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.push(b':');
        v.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a, 'b>, Error> {
        Ok(self.compound(None, b'[', len))
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, 'b>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'b>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'b>, Error> {
        Ok(self.compound(Some(variant), b'[', Some(len)))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a, 'b>, Error> {
        Ok(self.compound(None, b'{', len))
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Compound<'a, 'b>, Error> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'b>, Error> {
        Ok(self.compound(Some(variant), b'{', Some(len)))
    }
    fn collect_str<T: Display + ?Sized>(self, v: &T) -> Result<(), Error> {
        self.serialize_str(&v.to_string())
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.comma();
        v.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<(), Error> {
        self.ser.out.extend_from_slice(self.close);
        Ok(())
    }
}

/// Tuples of every kind are JSON arrays: their elements are written as a sequence's.
macro_rules! array_like {
    ($($kind:ident :: $method:ident),*) => {$(
        impl ser::$kind for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
                ser::SerializeSeq::serialize_element(self, v)
            }
            fn end(self) -> Result<(), Error> {
                ser::SerializeSeq::end(self)
            }
        }
    )*};
}

array_like!(
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.comma();
        key.serialize(MapKey {
            out: &mut *self.ser.out,
        })?;
        self.ser.out.push(b':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        v.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<(), Error> {
        self.ser.out.extend_from_slice(self.close);
        Ok(())
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        self.comma();
        // A field's name is one of our own identifiers, which need no escaping; a renamed one
        // that would is escaped like any string.
        let out = &mut *self.ser.out;
        if key.bytes().all(|b| PLAIN[usize::from(b)] && b < 0x80) {
            out.push(b'"');
            out.extend_from_slice(key.as_bytes());
            out.push(b'"');
        } else {
            write_str(out, key);
        }
        out.push(b':');
        v.serialize(&mut *self.ser)
    }
    fn end(self) -> Result<(), Error> {
        self.ser.out.extend_from_slice(self.close);
        Ok(())
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(self, key, v)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeStruct::end(self)
    }
}

/// A map key: JSON keys are strings, so numbers and names are written quoted (as serde_json
/// does); anything else cannot be a key.
struct MapKey<'a> {
    out: &'a mut Vec<u8>,
}

impl MapKey<'_> {
    /// A finite float key is written quoted, as serde_json writes it; NaN and the infinities
    /// cannot be keys.
    fn float<F: zmij::Float>(self, v: F, finite: bool) -> Result<(), Error> {
        if !finite {
            return Err(key_error());
        }
        self.out.push(b'"');
        self.out
            .extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
        self.out.push(b'"');
        Ok(())
    }

    fn quoted(self, v: impl itoa::Integer) -> Result<(), Error> {
        self.out.push(b'"');
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        self.out.push(b'"');
        Ok(())
    }
}

fn key_error() -> Error {
    Error("key must be a string".into())
}

impl ser::Serializer for MapKey<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.serialize_str(if v { "true" } else { "false" })
    }
    integers!(quoted);
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.float(v, v.is_finite())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.float(v, v.is_finite())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_none(self) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(key_error())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_error())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_error())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_error())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_error())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_error())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Err(key_error())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_error())
    }
    fn collect_str<T: Display + ?Sized>(self, v: &T) -> Result<(), Error> {
        self.serialize_str(&v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both<T: Serialize + ?Sized>(v: &T) -> (String, String) {
        let (mut a, mut b) = (vec![], vec![]);
        write(&mut a, v);
        write_reference(&mut b, v);
        (String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap())
    }

    #[test]
    fn escapes_what_json_leaves_raw() {
        let mut out = vec![];
        write(&mut out, "a\u{7f}b\u{9b}31mc\u{2028}d\u{1b}é");
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s, r#""a\u007fb\u009b31mc\u2028d\u001bé""#);
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a\u{7f}b\u{9b}31mc\u{2028}d\u{1b}é");
    }

    #[test]
    fn every_character_class_as_serde_json_writes_it() {
        // every byte value as a character, the specials at every place of an 8-byte word,
        // the C1 block, its neighbours and the separators' neighbours
        let mut cases: Vec<String> = (0u32..0x300)
            .chain(0x2000..0x2040)
            .filter_map(char::from_u32)
            .map(|c| format!("{c}"))
            .collect();
        for pad in 0..9 {
            for special in [
                "\"", "\\", "\n", "\u{7f}", "\u{85}", "\u{2029}", "é", "\u{1}",
            ] {
                cases.push(format!(
                    "{}{special}{}",
                    "x".repeat(pad),
                    "y".repeat(9 - pad)
                ));
            }
        }
        cases.push(String::new());
        cases.push("\u{10ffff}\u{a0}\u{c0}\u{2027}\u{202a}".into());
        for s in &cases {
            let (a, b) = both(s.as_str());
            assert_eq!(a, b, "{s:?}");
        }
        let (a, b) = both(&cases);
        assert_eq!(a, b);
    }

    #[test]
    fn every_shape_as_serde_json_writes_it() {
        use serde_json::json;
        let v = json!({
            "n": null, "t": true, "f": false, "i": -5, "u": u64::MAX, "x": 0.0081, "z": 0.0,
            "big": 1e300, "a": [], "o": {}, "nested": [[1, [2]], {"k": "v\u{9b}"}],
        });
        let (a, b) = both(&v);
        assert_eq!(a, b);
        let (a, b) = both(&(
            1u8,
            'c',
            [f64::NAN, f64::INFINITY, -0.0],
            Some(2i32),
            None::<u8>,
        ));
        assert_eq!(a, b);
        let map: std::collections::BTreeMap<u16, &str> = [(1, "a"), (65535, "b")].into();
        let (a, b) = both(&map);
        assert_eq!(a, b);
        let map: std::collections::BTreeMap<Option<&str>, u8> = [(Some("k\u{9b}"), 1)].into();
        let (a, b) = both(&map);
        assert_eq!(a, b);
        let floats = [(1.5f64, 1u8), (-0.0, 2), (1e300, 3)];
        let map: Vec<(f64, u8)> = floats.to_vec();
        struct FloatKeys(Vec<(f64, u8)>);
        impl Serialize for FloatKeys {
            fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
            }
        }
        let (a, b) = both(&FloatKeys(map));
        assert_eq!(a, b);
        // a compound declared empty that gets elements anyway, and a field name that needs
        // escaping
        struct Liar;
        impl Serialize for Liar {
            fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use ser::{SerializeMap, SerializeSeq, SerializeStruct};
                let mut t = s.serialize_struct("Liar", 3)?;
                struct Seq;
                impl Serialize for Seq {
                    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                        let mut q = s.serialize_seq(Some(0))?;
                        q.serialize_element(&1)?;
                        q.serialize_element(&2)?;
                        q.end()
                    }
                }
                struct Map;
                impl Serialize for Map {
                    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                        let mut m = s.serialize_map(Some(0))?;
                        m.serialize_entry("k", &1)?;
                        m.end()
                    }
                }
                t.serialize_field("seq", &Seq)?;
                t.serialize_field("map", &Map)?;
                t.serialize_field("q\"\u{7f}", &0)?;
                t.end()
            }
        }
        let (a, b) = both(&Liar);
        assert_eq!(a, b);
        #[derive(serde::Serialize)]
        enum E {
            Unit,
            New(u8),
            Tuple(u8, u8),
            Empty(),
            Struct { a: u8 },
            Nothing {},
        }
        let (a, b) = both(&[
            E::Unit,
            E::New(1),
            E::Tuple(1, 2),
            E::Empty(),
            E::Struct { a: 3 },
            E::Nothing {},
        ]);
        assert_eq!(a, b);
    }
}
