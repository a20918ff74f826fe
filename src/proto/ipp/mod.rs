//! The IPP message (RFC 8010 §3): an 8-byte header (version, operation-id or status-code,
//! request-id), attribute groups, end-of-attributes, then document data. A push parser over the
//! HTTP body as the framer hands it on, in pieces cut anywhere, in fixed memory.
//!
//! Names are the IANA registry's spellings ("Print-Job", "client-error-not-possible",
//! "textWithoutLanguage"): what CUPS logs and what packet dissectors show, so an analyst can
//! search for them.

mod names;

#[cfg(test)]
use names::{OPERATIONS, VALUE_TAGS};

pub use names::*;

/// The header: version-number (2), operation-id or status-code (2), request-id (4).
pub const HEADER_LEN: usize = 8;
/// The longest attribute name accepted. IPP keywords, attribute names among them, are at most 255
/// octets (RFC 8011); a longer name is not IPP from any implementation, so it is an error rather
/// than a name to cap.
pub const MAX_NAME: usize = 256;
/// The most value bytes kept of one attribute; the rest is skipped and counted (`value_len`).
/// Enough for any URI, name or text a record shows; octetStrings can be longer and are cut.
pub const MAX_VALUE: usize = 4096;

/// The fixed header. `code` is the operation-id in a request and the status-code in a response:
/// the message alone does not say which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub version: (u8, u8),
    pub code: u16,
    pub request_id: u32,
}

impl Header {
    /// The operation, when this is a request.
    pub fn operation(&self) -> Operation {
        Operation::from_code(self.code)
    }

    /// The status-code's name, when this is a response.
    pub fn status_name(&self) -> &'static str {
        status_name(self.code)
    }
}

/// The text of a string-valued attribute's value: the text part of a WithLanguage value
/// (language length, language, text length, text), the whole value of the other text syntaxes,
/// nothing for the rest. A WithLanguage value that was cut (`MAX_VALUE`) gives the text as far
/// as it was kept; one whose lengths do not fit gives what follows the language, or nothing.
pub fn text_value(tag: ValueTag, value: &[u8]) -> &[u8] {
    match tag {
        ValueTag::TextWithLanguage | ValueTag::NameWithLanguage => {
            let Some((lang_len, rest)) = split_u16(value) else {
                return &[];
            };
            let Some((_, rest)) = rest.split_at_checked(usize::from(lang_len)) else {
                return &[];
            };
            let Some((text_len, text)) = split_u16(rest) else {
                return &[];
            };
            &text[..text.len().min(usize::from(text_len))]
        }
        t if t.is_text() => value,
        _ => &[],
    }
}

fn split_u16(b: &[u8]) -> Option<(u16, &[u8])> {
    let (n, rest) = b.split_first_chunk::<2>()?;
    Some((u16::from_be_bytes(*n), rest))
}

/// True when `first` starts like an IPP message: a version from 1.0 to 2.2 and, when the bytes
/// reach it, a delimiter tag right after the 8-byte header (every message starts a group or ends
/// its attributes there). For telling IPP from the forms and pages also POSTed to port 631.
pub fn looks_like_ipp(first: &[u8]) -> bool {
    let version_ok = matches!(
        first,
        [1, 0, ..] | [1, 1, ..] | [2, 0, ..] | [2, 1, ..] | [2, 2, ..]
    );
    version_ok
        && first
            .get(HEADER_LEN)
            .is_none_or(|&t| (0x01..=0x0F).contains(&t))
}

/// One attribute value as it was on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attribute<'a> {
    pub tag: ValueTag,
    /// The attribute's name. An additional value (name-length 0 on the wire) is given the name
    /// of the attribute it adds to, so every value can be read on its own; `additional` tells
    /// them apart. Collection members are reported flat the same way: the begCollection value,
    /// then memberAttrName and member values, then endCollection, all additional values of the
    /// collection attribute.
    pub name: &'a [u8],
    pub additional: bool,
    /// At most `MAX_VALUE` bytes of the value (for `Extension`, of what follows its 4-byte tag).
    pub value: &'a [u8],
    /// The value's real length (for `Extension`, without its 4-byte tag).
    pub value_len: u16,
    /// The value was longer than `MAX_VALUE`; `value` holds its start.
    pub cut: bool,
}

/// What the parser found, in message order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IppEvent<'a> {
    Header(Header),
    Group(GroupTag),
    Attribute(Attribute<'a>),
    EndOfAttributes,
    /// Document data after end-of-attributes, straight from the bytes fed.
    Data(&'a [u8]),
    /// The message is not well-formed IPP; the rest of it is ignored.
    Error(IppError),
}

/// Why a message is not well-formed IPP (`name()` is what records carry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum IppError {
    #[error("the message ended before its end-of-attributes tag")]
    Truncated,
    #[error("delimiter tag 0x00")]
    BadTag,
    #[error("an attribute before any begin-attribute-group tag")]
    NoGroup,
    #[error("an additional value (name-length 0) with no attribute to add to")]
    NoName,
    #[error("an extension (0x7F) value shorter than its 4-byte tag")]
    BadExtension,
}

impl IppError {
    /// Stable machine-readable name for records and counters.
    pub fn name(self) -> &'static str {
        match self {
            IppError::Truncated => "truncated",
            IppError::BadTag => "bad_tag",
            IppError::NoGroup => "no_group",
            IppError::NoName => "no_name",
            IppError::BadExtension => "bad_extension",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading the 8-byte header (`have` bytes in `fixed`).
    Header,
    /// Expecting a tag: a delimiter or an attribute's value-tag.
    Tag,
    /// Reading a name-length (`have` bytes in `fixed`).
    NameLen,
    /// This many name bytes still to come.
    Name(u16),
    /// Reading a value-length (`have` bytes in `fixed`).
    ValueLen,
    /// This many value bytes still to come.
    Value(u16),
    /// After end-of-attributes: document data.
    Data,
    /// After an error or `finish`.
    Stopped,
}

/// One IPP message (one HTTP body), parsed as it arrives. Memory is fixed: the current name
/// (`MAX_NAME`) and the kept start of the current value (`MAX_VALUE`); document data is passed
/// through. The version is reported, not judged (see `looks_like_ipp`).
#[derive(Clone, Debug)]
pub struct Parser {
    state: State,
    fixed: [u8; HEADER_LEN],
    have: usize,
    /// The current attribute's value-tag.
    tag: u8,
    /// The name of the attribute additional values add to.
    name: Vec<u8>,
    additional: bool,
    in_group: bool,
    /// An attribute was seen in the current group, so name-length 0 has one to add to.
    has_attr: bool,
    value: Vec<u8>,
    value_len: u16,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new()
    }
}

impl Parser {
    pub fn new() -> Parser {
        Parser {
            state: State::Header,
            fixed: [0; HEADER_LEN],
            have: 0,
            tag: 0,
            name: Vec::new(),
            additional: false,
            in_group: false,
            has_attr: false,
            value: Vec::new(),
            value_len: 0,
        }
    }

    /// True once end-of-attributes was read: what follows is document data.
    pub fn in_data(&self) -> bool {
        self.state == State::Data
    }

    /// Feeds the next body bytes, cut anywhere; `out` gets what they complete.
    pub fn feed(&mut self, mut data: &[u8], out: &mut impl FnMut(IppEvent<'_>)) {
        while !data.is_empty() {
            let used = match self.state {
                State::Header => {
                    let n = self.fill(data, HEADER_LEN);
                    if self.have == HEADER_LEN {
                        let f = self.fixed;
                        out(IppEvent::Header(Header {
                            version: (f[0], f[1]),
                            code: u16::from_be_bytes([f[2], f[3]]),
                            request_id: u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
                        }));
                        self.state = State::Tag;
                    }
                    n
                }
                State::Tag => {
                    self.tag(data[0], out);
                    1
                }
                State::NameLen => {
                    let n = self.fill(data, 2);
                    if self.have == 2 {
                        self.name_len(u16::from_be_bytes([self.fixed[0], self.fixed[1]]), out);
                    }
                    n
                }
                State::Name(rest) => {
                    let n = data.len().min(usize::from(rest));
                    // a longer name keeps its start: servers read it whole and go on, so the
                    // parser must too (else a long unknown name would hide the document)
                    let keep = n.min(MAX_NAME.saturating_sub(self.name.len()));
                    self.name.extend_from_slice(&data[..keep]);
                    // n <= rest, which is a u16.
                    let left = rest - n as u16;
                    self.state = if left == 0 {
                        self.have = 0;
                        State::ValueLen
                    } else {
                        State::Name(left)
                    };
                    n
                }
                State::ValueLen => {
                    let n = self.fill(data, 2);
                    if self.have == 2 {
                        self.value_len = u16::from_be_bytes([self.fixed[0], self.fixed[1]]);
                        self.value.clear();
                        if self.value_len == 0 {
                            self.attribute(out);
                        } else {
                            self.state = State::Value(self.value_len);
                        }
                    }
                    n
                }
                State::Value(rest) => {
                    let n = data.len().min(usize::from(rest));
                    let keep = n.min(MAX_VALUE - self.value.len().min(MAX_VALUE));
                    self.value.extend_from_slice(&data[..keep]);
                    let left = rest - n as u16;
                    if left == 0 {
                        self.attribute(out);
                    } else {
                        self.state = State::Value(left);
                    }
                    n
                }
                State::Data => {
                    out(IppEvent::Data(data));
                    data.len()
                }
                State::Stopped => return,
            };
            data = &data[used.min(data.len())..];
        }
    }

    /// The message's end: unless end-of-attributes was reached (or an error already said what
    /// was wrong), it was cut short. Later feeds are ignored.
    pub fn finish(&mut self, out: &mut impl FnMut(IppEvent<'_>)) {
        if !matches!(self.state, State::Data | State::Stopped) {
            out(IppEvent::Error(IppError::Truncated));
        }
        self.stop();
    }

    fn stop(&mut self) {
        self.state = State::Stopped;
        self.name = Vec::new();
        self.value = Vec::new();
    }

    fn fail(&mut self, e: IppError, out: &mut impl FnMut(IppEvent<'_>)) {
        out(IppEvent::Error(e));
        self.stop();
    }

    /// Copies bytes of a fixed-size field into `fixed` until it holds `want`; returns how many
    /// of `data` it took.
    fn fill(&mut self, data: &[u8], want: usize) -> usize {
        let n = data.len().min(want.saturating_sub(self.have));
        self.fixed[self.have..self.have + n].copy_from_slice(&data[..n]);
        self.have += n;
        n
    }

    fn tag(&mut self, t: u8, out: &mut impl FnMut(IppEvent<'_>)) {
        if t == 0x03 {
            out(IppEvent::EndOfAttributes);
            self.state = State::Data;
        } else if t == 0x00 {
            self.fail(IppError::BadTag, out);
        } else if let Some(g) = GroupTag::from_code(t) {
            out(IppEvent::Group(g));
            self.in_group = true;
            self.has_attr = false;
        } else if !self.in_group {
            self.fail(IppError::NoGroup, out);
        } else {
            self.tag = t;
            self.have = 0;
            self.state = State::NameLen;
        }
    }

    fn name_len(&mut self, len: u16, out: &mut impl FnMut(IppEvent<'_>)) {
        self.have = 0;
        if len == 0 {
            if !self.has_attr {
                return self.fail(IppError::NoName, out);
            }
            self.additional = true;
            self.state = State::ValueLen;
        } else {
            self.additional = false;
            self.name.clear();
            self.state = State::Name(len);
        }
    }

    /// Reports the attribute value just read and expects the next tag.
    fn attribute(&mut self, out: &mut impl FnMut(IppEvent<'_>)) {
        let (tag, value, value_len) = if self.tag == 0x7F {
            let Some((ext, rest)) = self.value.split_first_chunk::<4>() else {
                return self.fail(IppError::BadExtension, out);
            };
            (
                ValueTag::Extension(u32::from_be_bytes(*ext)),
                rest,
                self.value_len - 4,
            )
        } else {
            (
                ValueTag::from_code(self.tag),
                &self.value[..],
                self.value_len,
            )
        };
        out(IppEvent::Attribute(Attribute {
            tag,
            name: &self.name,
            additional: self.additional,
            value,
            value_len,
            cut: usize::from(self.value_len) > MAX_VALUE,
        }));
        self.has_attr = true;
        self.state = State::Tag;
    }
}

#[cfg(test)]
mod tests;
