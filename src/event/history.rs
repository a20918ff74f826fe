//! Zeek's connection history (`history`), as a value.

/// Zeek's history letters, each at most once per direction, in order of first occurrence:
/// upper case from the originator, lower case from the responder. Kept and carried in 16
/// bytes, serialised as the string of its letters: a flow record does not allocate for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct History {
    letters: [u8; 12],
    len: u8,
    seen: u16,
}

impl History {
    pub fn push(&mut self, upper: u8, from_orig: bool) {
        let letter = if from_orig {
            upper
        } else {
            upper.to_ascii_lowercase()
        };
        let bit = match upper {
            b'S' => 0,
            b'H' => 1,
            b'A' => 2,
            b'D' => 3,
            b'F' => 4,
            b'R' => 5,
            _ => return,
        } + if from_orig { 0 } else { 6 };
        if self.seen & (1 << bit) != 0 || usize::from(self.len) >= self.letters.len() {
            return;
        }
        self.seen |= 1 << bit;
        self.letters[usize::from(self.len)] = letter;
        self.len += 1;
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.letters[..usize::from(self.len)]).unwrap_or("")
    }
}

impl serde::Serialize for History {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialEq<&str> for History {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
