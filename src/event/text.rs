//! Strings that came off the wire: made valid UTF-8 and capped before they enter a record.
//! Escaping is the output format's job (serde_json escapes quotes, backslashes and every
//! control character, ANSI escapes included).

/// Default cap for a wire string (device ID fields, job names, user names).
pub const MAX_FIELD: usize = 256;
/// Cap for a whole raw device ID.
pub const MAX_RAW: usize = 1024;

/// Lossy UTF-8, cut at a character boundary to at most `max` bytes.
pub fn capped(bytes: &[u8], max: usize) -> String {
    // Cutting the input first bounds the work on huge inputs; a cut multi-byte sequence at the
    // end becomes U+FFFD, then the final cut keeps the result within `max`.
    let bytes = &bytes[..bytes.len().min(max)];
    // Most wire strings are valid UTF-8 (printer names, versions): the plain check is several
    // times faster than the repairing one, and gives the same string.
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_owned();
    }
    let s = String::from_utf8_lossy(bytes);
    cap_str(&s, max).to_owned()
}

/// Cuts a string to at most `max` bytes at a character boundary.
pub fn cap_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Lower-case hex of at most `max` bytes.
pub fn hex_preview(bytes: &[u8], max: usize) -> String {
    // Two table look-ups a byte: the formatter's `{:02x}` took ~290 instructions a byte, and a
    // printer-heavy replay previews tens of thousands of payloads that are not BJNP.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let bytes = &bytes[..bytes.len().min(max)];
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// `02:00:5e:10:00:30`.
pub fn mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        // the valid-UTF-8 shortcut gives what the repairing path gives
        #[test]
        fn capping_is_the_repairing_cut(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            max in 0usize..80,
        ) {
            let repaired = String::from_utf8_lossy(&bytes[..bytes.len().min(max)]);
            proptest::prop_assert_eq!(capped(&bytes, max), cap_str(&repaired, max));
        }
    }

    #[test]
    fn hex_previews_are_the_formatters_digits() {
        let all: Vec<u8> = (0..=255).collect();
        let by_format: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex_preview(&all, 256), by_format);
        assert_eq!(hex_preview(&all, 3), "000102");
        assert_eq!(hex_preview(&[], 8), "");
    }

    #[test]
    fn caps_and_repairs() {
        assert_eq!(capped(b"abc", 2), "ab");
        assert_eq!(capped(b"a\xffb", 10), "a\u{fffd}b");
        // "ü" is two bytes; a cap in its middle drops it rather than splitting it
        let s = capped("aü".as_bytes(), 2);
        assert!(s.len() <= 2 && s.starts_with('a'));
        let big = vec![b'x'; 70_000];
        assert_eq!(capped(&big, MAX_FIELD).len(), MAX_FIELD);
        assert_eq!(hex_preview(&[0xde, 0xad, 0xbe], 2), "dead");
        assert_eq!(mac(&[2, 0, 0x5e, 0x10, 0, 0x30]), "02:00:5e:10:00:30");
    }

    #[test]
    fn hostile_strings_stay_one_json_line() {
        let hostile = b"a\"b\\c\nd\re\x1b[31mred\x00\xff|=";
        let s = capped(hostile, MAX_FIELD);
        let j = serde_json::to_string(&s).unwrap();
        assert!(!j.contains('\n') && !j.contains('\r') && !j.contains('\x1b'));
        assert!(j.contains("\\u001b") && j.contains("\\\"") && j.contains("\\\\"));
        let back: String = serde_json::from_str(&j).unwrap();
        assert_eq!(back, s);
    }
}
