//! JSON as serde_json writes it, plus `\u` escapes for the characters JSON leaves raw but a
//! terminal or a log viewer may act on: DEL, the C1 controls (U+009B is a one-byte CSI on some
//! terminals) and the line/paragraph separators U+2028/U+2029 (line breaks to JavaScript).

use serde::Serialize;
use std::io::{self, Write};

#[derive(Clone, Copy, Default)]
pub struct SafeFormatter;

fn needs_escape(c: char) -> bool {
    matches!(c, '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}')
}

impl serde_json::ser::Formatter for SafeFormatter {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Every character escaped here starts with one of these bytes in UTF-8: most fragments
        // have none and are written as they are.
        if !fragment
            .bytes()
            .any(|b| b == 0x7f || b == 0xc2 || b == 0xe2)
        {
            return w.write_all(fragment.as_bytes());
        }
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if needs_escape(c) {
                w.write_all(&fragment.as_bytes()[start..i])?;
                write!(w, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

/// Serialises `v` as one line of JSON into `out`.
pub fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    let mut ser = serde_json::Serializer::with_formatter(out, SafeFormatter);
    v.serialize(&mut ser)
        .expect("records and values always serialise");
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_what_json_leaves_raw() {
        let mut out = vec![];
        super::write(&mut out, "a\u{7f}b\u{9b}31mc\u{2028}d\u{1b}é");
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s, r#""a\u007fb\u009b31mc\u2028d\u001bé""#);
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a\u{7f}b\u{9b}31mc\u{2028}d\u{1b}é");
    }
}
