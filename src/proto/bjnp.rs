//! Canon BJNP / MFNP wire format (docs/PROTOCOLS.md §1-3, §5).
//!
//! Zero-copy views over `&[u8]`: nothing here allocates or knows about flows. Codes are newtypes
//! with named constants so an unknown code survives as its number instead of failing the parse.

use crate::net::named_enum;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const HEADER_LEN: usize = 16;
/// The largest payload a UDP datagram can carry after the BJNP header.
pub const MAX_UDP_PAYLOAD: u32 = 65_507 - HEADER_LEN as u32;
/// cups sends at most 4 KiB per print-data message and SANE at most 64 KiB; 1 MiB is generous and
/// still rejects a random 32-bit length as "not BJNP".
pub const MAX_TCP_PAYLOAD: u32 = 1 << 20;
/// cups and SANE refuse longer device IDs.
pub const MAX_DEVICE_ID: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Magic(pub [u8; 4]);

impl Magic {
    pub const BJNP: Magic = Magic(*b"BJNP");
    pub const MFNP: Magic = Magic(*b"MFNP");
    /// Canon SELPHY photo printers: same layout.
    pub const CPNP: Magic = Magic(*b"CPNP");
    /// Spellings nDPI accepts; origin unknown, so they are accepted but flagged.
    pub const BNJB: Magic = Magic(*b"BNJB");
    pub const BJNB: Magic = Magic(*b"BJNB");

    pub fn is_known(self) -> bool {
        matches!(
            self,
            Self::BJNP | Self::MFNP | Self::CPNP | Self::BNJB | Self::BJNB
        )
    }
    pub fn is_low_confidence(self) -> bool {
        matches!(self, Self::BNJB | Self::BJNB)
    }
    /// The four bytes as text; only ever called on a known (ASCII) magic.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("????")
    }
}

impl serde::Serialize for Magic {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Byte 4: which stack (printer / scanner) and, in bit 7, request or response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DevType(pub u8);

impl DevType {
    pub const PRINTER_CMD: DevType = DevType(0x01);
    pub const SCANNER_CMD: DevType = DevType(0x02);
    pub const PRINTER_RESP: DevType = DevType(0x81);
    pub const SCANNER_RESP: DevType = DevType(0x82);

    pub fn is_known(self) -> bool {
        matches!(self.0, 0x01 | 0x02 | 0x81 | 0x82)
    }
    pub fn is_response(self) -> bool {
        self.0 & 0x80 != 0
    }
    /// The stack regardless of direction: 1 printer, 2 scanner.
    pub fn stack(self) -> u8 {
        self.0 & 0x7f
    }
    pub fn name(self) -> &'static str {
        match self.0 {
            0x01 => "printer_command",
            0x02 => "scanner_command",
            0x81 => "printer_response",
            0x82 => "scanner_response",
            _ => "unknown",
        }
    }
}

/// Byte 5. The same code means different things on UDP and TCP (docs/PROTOCOLS.md §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Command(pub u8);

named_enum! {
    /// What a command code means where it was seen (`command_name` in records).
    pub enum CommandName {
        Discover = "discover",
        StartScan = "start_scan",
        JobDetails = "job_details",
        Close = "close",
        /// UDP 0x20.
        GetStatus = "get_status",
        /// TCP 0x20: a scanner read request.
        ReadData = "read_data",
        /// 0x21 on the printer stack.
        PrintData = "print_data",
        /// TCP 0x21 on the scanner stack.
        ScanCommand = "scan_command",
        GetIdentity = "get_identity",
        ScanPoll = "scan_poll",
        Unknown = "unknown",
    }
}

/// Declares every command code once: its constant, and its name on UDP, on TCP for the printer
/// stack and on TCP for the scanner stack. Known-ness and names are read from the same table.
macro_rules! command_codes {
    ($( $(#[$doc:meta])* $konst:ident = $code:literal => $udp:ident, $tcp_printer:ident, $tcp_scanner:ident; )*) => {
        impl Command {
            $( $(#[$doc])* pub const $konst: Command = Command($code); )*
        }
        const COMMANDS: &[(Command, [CommandName; 3])] = &[
            $( (Command::$konst, [CommandName::$udp, CommandName::$tcp_printer, CommandName::$tcp_scanner]), )*
        ];
    };
}

command_codes! {
    DISCOVER = 0x01 => Discover, Discover, Discover;
    START_SCAN = 0x02 => StartScan, StartScan, StartScan;
    JOB_DETAILS = 0x10 => JobDetails, JobDetails, JobDetails;
    CLOSE = 0x11 => Close, Close, Close;
    /// UDP: printer status. TCP: scanner read request.
    GET_STATUS = 0x20 => GetStatus, ReadData, ReadData;
    /// TCP: print data (printer stack) or a scanner command (scanner stack).
    PRINT_DATA = 0x21 => PrintData, PrintData, ScanCommand;
    GET_ID = 0x30 => GetIdentity, GetIdentity, GetIdentity;
    SCAN_POLL = 0x32 => ScanPoll, ScanPoll, ScanPoll;
}

impl Command {
    fn names(self) -> Option<&'static [CommandName; 3]> {
        COMMANDS.iter().find(|(c, _)| *c == self).map(|(_, n)| n)
    }

    pub fn is_known(self) -> bool {
        self.names().is_some()
    }

    /// What the code means on `transport` for `stack` (1 printer, 2 scanner).
    pub fn name(self, transport: Transport, stack: u8) -> CommandName {
        let Some(names) = self.names() else {
            return CommandName::Unknown;
        };
        match (transport, stack) {
            (Transport::Udp, _) => names[0],
            (Transport::Tcp, 2) => names[2],
            (Transport::Tcp, _) => names[1],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Why bytes on a BJNP port are not BJNP (the hard checks of protocols.md §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("{0} bytes, shorter than the 16-byte BJNP header")]
    TooShort(usize),
    #[error("magic is not BJNP/MFNP/CPNP")]
    BadMagic,
    #[error("payload_len {len} exceeds the {max}-byte limit")]
    PayloadTooLong { len: u32, max: u32 },
}

impl HeaderError {
    /// Stable machine-readable name for records and counters.
    pub fn code(&self) -> &'static str {
        match self {
            HeaderError::TooShort(_) => "too_short",
            HeaderError::BadMagic => "bad_magic",
            HeaderError::PayloadTooLong { .. } => "payload_too_long",
        }
    }
}

/// A validated 16-byte header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    buf: &'a [u8; HEADER_LEN],
}

impl<'a> Header<'a> {
    /// Applies the hard checks; `max_payload` depends on the transport. An unknown dev_type is
    /// not one of them: with a known magic the message is BJNP (Wireshark agrees), and the odd
    /// dev_type is reported as an anomaly.
    pub fn parse(buf: &'a [u8], max_payload: u32) -> Result<Self, HeaderError> {
        let buf: &[u8; HEADER_LEN] = buf
            .get(..HEADER_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(HeaderError::TooShort(buf.len()))?;
        let h = Header { buf };
        if !h.magic().is_known() {
            return Err(HeaderError::BadMagic);
        }
        if h.payload_len() > max_payload {
            return Err(HeaderError::PayloadTooLong {
                len: h.payload_len(),
                max: max_payload,
            });
        }
        Ok(h)
    }

    pub fn magic(&self) -> Magic {
        Magic([self.buf[0], self.buf[1], self.buf[2], self.buf[3]])
    }
    pub fn dev_type(&self) -> DevType {
        DevType(self.buf[4])
    }
    pub fn command(&self) -> Command {
        Command(self.buf[5])
    }
    /// Bytes 6-7: zero in every implementation seen; non-zero is an anomaly.
    pub fn reserved(&self) -> u16 {
        u16::from_be_bytes([self.buf[6], self.buf[7]])
    }
    /// Sequence number as Wireshark reads it (u32 at offset 6); equals SANE/cups' u16 at offset 8
    /// whenever the reserved bytes are zero, and keeps a 1:1 comparison with `bjnp.seq_no`.
    pub fn seq(&self) -> u32 {
        u32::from_be_bytes([self.buf[6], self.buf[7], self.buf[8], self.buf[9]])
    }
    pub fn session_id(&self) -> u16 {
        u16::from_be_bytes([self.buf[10], self.buf[11]])
    }
    pub fn payload_len(&self) -> u32 {
        u32::from_be_bytes([self.buf[12], self.buf[13], self.buf[14], self.buf[15]])
    }
    pub fn bytes(&self) -> &'a [u8; HEADER_LEN] {
        self.buf
    }
}

/// One message: its header and as much of its payload as was captured.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    pub header: Header<'a>,
    /// At most `payload_len` bytes; shorter when the datagram or the capture was cut.
    pub payload: &'a [u8],
}

impl<'a> Message<'a> {
    pub fn is_complete(&self) -> bool {
        self.payload.len() as u64 == u64::from(self.header.payload_len())
    }
}

/// Splits a UDP datagram into BJNP messages. The first must pass the hard checks; further
/// messages are recognised only if a valid header starts exactly where the previous one ends
/// (protocols.md §5 check 5). Nothing is allocated.
pub struct DatagramIter<'a> {
    rest: &'a [u8],
}

pub fn datagram(payload: &[u8]) -> Result<(Message<'_>, DatagramIter<'_>), HeaderError> {
    let header = Header::parse(payload, MAX_UDP_PAYLOAD)?;
    let (msg, rest) = split_message(header, &payload[HEADER_LEN..]);
    Ok((msg, DatagramIter { rest }))
}

fn split_message<'a>(header: Header<'a>, after: &'a [u8]) -> (Message<'a>, &'a [u8]) {
    let want = usize::try_from(header.payload_len()).unwrap_or(usize::MAX);
    let take = want.min(after.len());
    (
        Message {
            header,
            payload: &after[..take],
        },
        &after[take..],
    )
}

impl<'a> DatagramIter<'a> {
    /// Bytes after the last message that do not form another message.
    pub fn trailing(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for DatagramIter<'a> {
    type Item = Message<'a>;
    fn next(&mut self) -> Option<Message<'a>> {
        let header = Header::parse(self.rest, MAX_UDP_PAYLOAD).ok()?;
        let (msg, rest) = split_message(header, &self.rest[HEADER_LEN..]);
        self.rest = rest;
        Some(msg)
    }
}

// ---------------------------------------------------------------------------------------------
// TCP framing

/// How many payload bytes of each TCP message are kept for decoding (acks are 4 bytes; bulk
/// print or scan data is counted and skipped, never buffered).
pub const TCP_KEEP: usize = 64;

/// What the framer found in the stream.
#[derive(Debug)]
pub enum Framed<'a> {
    /// A whole message; `payload` holds at most `TCP_KEEP` bytes of it.
    Message(Message<'a>),
    /// Payload bytes of the message being read, as they stream past (print data is scanned
    /// for BJL commands this way without being buffered).
    Payload(Header<'a>, &'a [u8]),
    /// The hard checks failed at a message boundary; the framer stops for good, because print
    /// data can contain anything and resynchronising on "BJNP" inside it would invent messages.
    NotBjnp(HeaderError),
}

/// Splits one direction of a BJNP TCP stream into messages. Headers may straddle segments;
/// memory is fixed (a header and `TCP_KEEP` bytes) however long the stream.
#[derive(Clone, Debug)]
pub struct Framer {
    hdr: [u8; HEADER_LEN],
    have: usize,
    in_payload: bool,
    remaining: u32,
    keep: [u8; TCP_KEEP],
    kept: usize,
    failed: bool,
}

impl Default for Framer {
    fn default() -> Self {
        Framer {
            hdr: [0; HEADER_LEN],
            have: 0,
            in_payload: false,
            remaining: 0,
            keep: [0; TCP_KEEP],
            kept: 0,
            failed: false,
        }
    }
}

impl Framer {
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// True between messages: the next byte fed starts a header.
    pub fn at_boundary(&self) -> bool {
        !self.in_payload && self.have == 0
    }

    /// Feeds in-order stream bytes; calls `on` for each completed message or the first error.
    pub fn feed(&mut self, mut data: &[u8], on: &mut dyn FnMut(Framed<'_>)) {
        while !data.is_empty() && !self.failed {
            if !self.in_payload {
                let n = (HEADER_LEN - self.have).min(data.len());
                self.hdr[self.have..self.have + n].copy_from_slice(&data[..n]);
                self.have += n;
                data = &data[n..];
                if self.have < HEADER_LEN {
                    return;
                }
                match Header::parse(&self.hdr, MAX_TCP_PAYLOAD) {
                    Ok(h) => {
                        self.remaining = h.payload_len();
                        self.kept = 0;
                        self.in_payload = true;
                    }
                    Err(e) => {
                        self.failed = true;
                        on(Framed::NotBjnp(e));
                        return;
                    }
                }
            }
            let n = usize::try_from(self.remaining).map_or(data.len(), |r| r.min(data.len()));
            if n > 0 {
                if let Ok(header) = Header::parse(&self.hdr, MAX_TCP_PAYLOAD) {
                    on(Framed::Payload(header, &data[..n]));
                }
            }
            let k = n.min(TCP_KEEP - self.kept);
            self.keep[self.kept..self.kept + k].copy_from_slice(&data[..k]);
            self.kept += k;
            self.remaining -= n as u32;
            data = &data[n..];
            if self.remaining == 0 {
                self.in_payload = false;
                self.have = 0;
                if let Ok(header) = Header::parse(&self.hdr, MAX_TCP_PAYLOAD) {
                    on(Framed::Message(Message {
                        header,
                        payload: &self.keep[..self.kept],
                    }));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Payloads

/// Why a payload does not have the shape its command requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("payload is {got} bytes, expected {expected}")]
    Length { got: usize, expected: &'static str },
    #[error("field {0} is inconsistent")]
    Field(&'static str),
}

/// Discover response: hardware/protocol type, MAC, one IPv4 or N IPv6 addresses (§3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Discover<'a> {
    pub mac: [u8; 6],
    addrs: &'a [u8],
    addr_len: u8,
}

impl<'a> Discover<'a> {
    pub fn parse(p: &'a [u8]) -> Result<Self, PayloadError> {
        if p.len() < 12 {
            return Err(PayloadError::Length {
                got: p.len(),
                expected: "16 (IPv4) or 12+16*N (IPv6)",
            });
        }
        if p[4] != 6 {
            return Err(PayloadError::Field("mac_len"));
        }
        let addr_len = p[5];
        let addrs = &p[12..];
        let ok = match addr_len {
            4 => addrs.len() >= 4,
            n if n > 0 && n % 16 == 0 => addrs.len() >= usize::from(n),
            _ => false,
        };
        if !ok {
            return Err(PayloadError::Field("addr_len"));
        }
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&p[6..12]);
        Ok(Discover {
            mac,
            addrs: &addrs[..usize::from(addr_len)],
            addr_len,
        })
    }

    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + 'a {
        let v4 = self.addr_len == 4;
        self.addrs
            .chunks_exact(if v4 { 4 } else { 16 })
            .map(move |c| {
                if v4 {
                    IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                } else {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(c);
                    IpAddr::V6(Ipv6Addr::from(o))
                }
            })
    }
}

/// IEEE 1284 device ID from a get-identity response (§3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceId<'a> {
    /// The `KEY:value;` text, capped at `MAX_DEVICE_ID`.
    pub raw: &'a [u8],
}

impl<'a> DeviceId<'a> {
    /// BJNP frames the ID with a u16 length that counts itself; MFNP sends the bare ID.
    pub fn parse(magic: Magic, p: &'a [u8]) -> Result<Self, PayloadError> {
        let raw = if magic == Magic::MFNP {
            p
        } else {
            let len = p
                .get(..2)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                .ok_or(PayloadError::Length {
                    got: p.len(),
                    expected: ">= 2",
                })?;
            if len < 2 || len > p.len() {
                return Err(PayloadError::Field("device_id_len"));
            }
            &p[2..len]
        };
        let raw = &raw[..raw.len().min(MAX_DEVICE_ID)];
        Ok(DeviceId { raw })
    }

    /// `KEY:value` pairs; keys are trimmed, values kept as sent.
    pub fn fields(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        self.raw.split(|&b| b == b';').filter_map(|item| {
            let colon = item.iter().position(|&b| b == b':')?;
            Some((item[..colon].trim_ascii(), &item[colon + 1..]))
        })
    }

    /// The first value whose key matches one of `keys`, case-insensitively.
    pub fn get(&self, keys: &[&str]) -> Option<&'a [u8]> {
        self.fields()
            .find(|(k, _)| keys.iter().any(|w| k.eq_ignore_ascii_case(w.as_bytes())))
            .map(|(_, v)| v)
    }

    /// Printable ASCII with at least one `KEY:value` pair: the consistency check of §5.
    pub fn looks_valid(&self) -> bool {
        !self.raw.is_empty()
            && self
                .raw
                .iter()
                .all(|&b| (0x20..0x7f).contains(&b) || b == b'\t')
            && self.fields().next().is_some()
    }

    pub fn manufacturer(&self) -> Option<&'a [u8]> {
        self.get(&["MFG", "MANUFACTURER"])
    }
    pub fn model(&self) -> Option<&'a [u8]> {
        self.get(&["MDL", "MODEL"])
    }
    pub fn description(&self) -> Option<&'a [u8]> {
        self.get(&["DES", "DESCRIPTION"])
    }
    pub fn version(&self) -> Option<&'a [u8]> {
        self.get(&["VER"])
    }
    pub fn command_set(&self) -> Option<&'a [u8]> {
        self.get(&["CMD", "COMMAND SET"])
    }
    pub fn class(&self) -> Option<&'a [u8]> {
        self.get(&["CLS", "CLASS"])
    }
}

/// Job-details request (0x10): 8 bytes, then host, user and title in UTF-16BE, zero padded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobDetails<'a> {
    pub host: &'a [u8],
    pub user: &'a [u8],
    pub title: &'a [u8],
}

pub const JOB_DETAILS_LEN: usize = 392;

impl<'a> JobDetails<'a> {
    pub fn parse(p: &'a [u8]) -> Result<Self, PayloadError> {
        if p.len() < JOB_DETAILS_LEN {
            return Err(PayloadError::Length {
                got: p.len(),
                expected: "392",
            });
        }
        Ok(JobDetails {
            host: &p[8..72],
            user: &p[72..136],
            title: &p[136..392],
        })
    }
}

/// Scan-poll request (0x32): a type and, for types 1, 2 and 5, "user  host" in UTF-16BE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanPoll<'a> {
    pub kind: u16,
    pub user_host: Option<&'a [u8]>,
}

impl<'a> ScanPoll<'a> {
    pub fn parse(p: &'a [u8]) -> Result<Self, PayloadError> {
        let kind =
            p.get(..2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or(PayloadError::Length {
                    got: p.len(),
                    expected: "80, 100 or 116",
                })?;
        // The name is at offset 8 in every variant: type 1 pads with 6 zero bytes, types 2 and
        // 5 put 2 bytes and the u32 dialog number there.
        let (expected_len, has_name) = match kind {
            0 => (80, false),
            1 => (80, true),
            2 => (116, true),
            5 => (100, true),
            _ => return Err(PayloadError::Field("poll_type")),
        };
        if p.len() != expected_len {
            return Err(PayloadError::Length {
                got: p.len(),
                expected: "80, 100 or 116 by type",
            });
        }
        Ok(ScanPoll {
            kind,
            user_host: has_name.then(|| &p[8..72]),
        })
    }
}

/// UDP status response (0x20): XML from newer devices, else a u16 length and `KEY:value;` text.
pub fn status_text(p: &[u8]) -> Option<&[u8]> {
    if p.starts_with(b"<?xml") {
        return Some(p);
    }
    let len = usize::from(u16::from_be_bytes([*p.first()?, *p.get(1)?]));
    // Both "length counts itself" and "length counts the text" are seen in the field; accept
    // either as long as it stays inside the payload.
    let body = &p[2..];
    Some(&body[..body.len().min(len)])
}

/// TCP data acknowledgement (0x21 response): u32 count of bytes the device accepted.
pub fn accepted_bytes(p: &[u8]) -> Option<u32> {
    let b: [u8; 4] = p.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

/// Decodes UTF-16BE up to the first NUL; invalid units become U+FFFD. Allocates: call only when
/// building a record.
pub fn utf16be_string(b: &[u8]) -> String {
    let units = b
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0);
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Consistency checks (protocols.md §5, checks 5-9)

/// A set of anomalies found in one message; a bit set so the hot path does not allocate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Anomalies(pub u32);

impl Anomalies {
    pub const PAYLOAD_TRUNCATED: u32 = 1 << 0;
    pub const TRAILING_DATA: u32 = 1 << 1;
    pub const UNKNOWN_COMMAND: u32 = 1 << 2;
    pub const RESERVED_NONZERO: u32 = 1 << 3;
    pub const WRONG_DIRECTION: u32 = 1 << 4;
    pub const BAD_PAYLOAD: u32 = 1 << 5;
    pub const UNSOLICITED_RESPONSE: u32 = 1 << 6;
    pub const LOW_CONFIDENCE_MAGIC: u32 = 1 << 7;
    pub const CAPTURE_TRUNCATED: u32 = 1 << 8;
    pub const MULTIPLE_MESSAGES: u32 = 1 << 9;
    pub const IP_FRAGMENT: u32 = 1 << 10;
    pub const UNKNOWN_DEV_TYPE: u32 = 1 << 11;

    const NAMES: [(u32, &'static str); 12] = [
        (Self::PAYLOAD_TRUNCATED, "payload_truncated"),
        (Self::TRAILING_DATA, "trailing_data"),
        (Self::UNKNOWN_COMMAND, "unknown_command"),
        (Self::RESERVED_NONZERO, "reserved_nonzero"),
        (Self::WRONG_DIRECTION, "wrong_direction"),
        (Self::BAD_PAYLOAD, "bad_payload"),
        (Self::UNSOLICITED_RESPONSE, "unsolicited_response"),
        (Self::LOW_CONFIDENCE_MAGIC, "low_confidence_magic"),
        (Self::CAPTURE_TRUNCATED, "capture_truncated"),
        (Self::MULTIPLE_MESSAGES, "multiple_messages"),
        (Self::IP_FRAGMENT, "ip_fragment"),
        (Self::UNKNOWN_DEV_TYPE, "unknown_dev_type"),
    ];

    pub fn set(&mut self, bit: u32) {
        self.0 |= bit;
    }
    pub fn has(&self, bit: u32) -> bool {
        self.0 & bit != 0
    }
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
    /// Anomalies that make the message "malformed BJNP" (alert 1102), as opposed to facts about
    /// the capture (snaplen, fragments) or the conversation (an answer we did not see asked).
    pub fn is_malformed(&self) -> bool {
        !self.malformed().is_empty()
    }
    /// Only the anomalies that make the message malformed.
    pub fn malformed(&self) -> Anomalies {
        Anomalies(self.0 & !Self::INFORMATIONAL)
    }
    /// Facts about the capture (snaplen, fragments) or the conversation, not the sender's fault.
    const INFORMATIONAL: u32 = Anomalies::CAPTURE_TRUNCATED
        | Anomalies::IP_FRAGMENT
        | Anomalies::UNSOLICITED_RESPONSE
        | Anomalies::MULTIPLE_MESSAGES;
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        Self::NAMES
            .iter()
            .filter(|(bit, _)| self.has(*bit))
            .map(|(_, n)| *n)
    }
}

impl serde::Serialize for Anomalies {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
    }
}

/// Where the message travelled, for the direction check.
#[derive(Clone, Copy, Debug)]
pub struct Context {
    pub transport: Transport,
    /// The destination port is a BJNP service port (8610-8614).
    pub to_service: bool,
    /// The source port is a BJNP service port.
    pub from_service: bool,
}

/// Checks 6, 7, 8 (the direction half) and 9. Length checks against the datagram (5) are the
/// caller's, because only it knows whether the capture or the sender cut the data.
pub fn check(msg: &Message<'_>, ctx: Context) -> Anomalies {
    let mut a = Anomalies::default();
    let h = &msg.header;
    if h.magic().is_low_confidence() {
        a.set(Anomalies::LOW_CONFIDENCE_MAGIC);
    }
    if !h.dev_type().is_known() {
        a.set(Anomalies::UNKNOWN_DEV_TYPE);
    }
    if !h.command().is_known() {
        a.set(Anomalies::UNKNOWN_COMMAND);
    }
    if h.reserved() != 0 {
        a.set(Anomalies::RESERVED_NONZERO);
    }
    let response = h.dev_type().is_response();
    if (!response && !ctx.to_service) || (response && !ctx.from_service) {
        a.set(Anomalies::WRONG_DIRECTION);
    }
    if msg.is_complete() && !payload_shape_ok(msg, ctx.transport) {
        a.set(Anomalies::BAD_PAYLOAD);
    }
    a
}

fn payload_shape_ok(msg: &Message<'_>, transport: Transport) -> bool {
    let h = &msg.header;
    let p = msg.payload;
    let response = h.dev_type().is_response();
    match (h.command(), transport, response) {
        // nmap's scanner get-id probe carries 4 zero bytes; everyone else sends none.
        (Command::GET_ID, _, false) => p.is_empty() || p == [0, 0, 0, 0],
        (Command::GET_ID, _, true) => {
            DeviceId::parse(h.magic(), p).is_ok_and(|id| id.looks_valid())
                && (h.magic() == Magic::MFNP
                    || p.len() >= 2 && usize::from(u16::from_be_bytes([p[0], p[1]])) == p.len())
        }
        (Command::DISCOVER, _, false) => p.is_empty(),
        (Command::DISCOVER, _, true) => {
            Discover::parse(p).is_ok_and(|d| p.len() == 12 + usize::from(d.addr_len))
        }
        (Command::JOB_DETAILS, _, false) => p.len() == JOB_DETAILS_LEN,
        (Command::CLOSE, _, _) => p.is_empty(),
        (Command::SCAN_POLL, _, false) => ScanPoll::parse(p).is_ok(),
        (Command::PRINT_DATA, Transport::Tcp, true) => p.len() == 4,
        (Command::GET_STATUS, Transport::Udp, false) => p.is_empty(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(magic: &[u8; 4], dev: u8, code: u8, seq: u32, session: u16, len: u32) -> Vec<u8> {
        let mut v = magic.to_vec();
        v.extend([dev, code]);
        v.extend(seq.to_be_bytes());
        v.extend(session.to_be_bytes());
        v.extend(len.to_be_bytes());
        v
    }

    const TO_SERVICE: Context = Context {
        transport: Transport::Udp,
        to_service: true,
        from_service: false,
    };
    const FROM_SERVICE: Context = Context {
        transport: Transport::Udp,
        to_service: false,
        from_service: true,
    };

    fn collect(f: &mut Framer, chunks: &[&[u8]]) -> Vec<(u8, u32, u32, Vec<u8>)> {
        let mut out = vec![];
        for c in chunks {
            f.feed(c, &mut |ev| match ev {
                Framed::Message(m) => out.push((
                    m.header.command().0,
                    m.header.seq(),
                    m.header.payload_len(),
                    m.payload.to_vec(),
                )),
                Framed::NotBjnp(_) => out.push((0xff, 0, 0, vec![])),
                Framed::Payload(..) => {}
            });
        }
        out
    }

    #[test]
    fn tcp_framing_with_split_headers() {
        let mut s = hdr(b"BJNP", 0x01, 0x21, 1, 7, 100);
        s.extend(vec![0xab; 100]);
        s.extend(hdr(b"BJNP", 0x01, 0x21, 2, 7, 3));
        s.extend(b"BJN"); // payload that looks like a magic must not confuse the framer
        s.extend(hdr(b"BJNP", 0x01, 0x21, 3, 7, 0));
        // every split point gives the same messages
        for cut in 0..s.len() {
            let mut f = Framer::default();
            let got = collect(&mut f, &[&s[..cut], &s[cut..]]);
            assert_eq!(got.len(), 3, "cut at {cut}");
            assert_eq!(got[0].0, 0x21);
            assert_eq!((got[0].1, got[0].2, got[0].3.len()), (1, 100, TCP_KEEP));
            assert_eq!((got[1].1, got[1].3.as_slice()), (2, &b"BJN"[..]));
            assert_eq!((got[2].1, got[2].2), (3, 0));
            assert!(f.at_boundary());
        }
        // byte by byte
        let mut f = Framer::default();
        let bytes: Vec<&[u8]> = s.chunks(1).collect();
        assert_eq!(collect(&mut f, &bytes).len(), 3);
    }

    #[test]
    fn tcp_framing_stops_at_garbage() {
        let mut s = hdr(b"BJNP", 0x01, 0x21, 1, 7, 2);
        s.extend([1, 2]);
        s.extend(b"GET / HTTP/1.0\r\n\r\n");
        s.extend(hdr(b"BJNP", 0x01, 0x21, 2, 7, 0));
        let mut f = Framer::default();
        let got = collect(&mut f, &[&s]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].0, 0xff);
        assert!(f.failed());
        // nothing more is reported once failed
        assert!(collect(&mut f, &[&hdr(b"BJNP", 1, 0x21, 3, 0, 0)]).is_empty());
    }

    #[test]
    fn parses_the_wire_images_of_protocols_md() {
        // get-id (nmap printer): 42 4A 4E 50 01 30 00 00 00 01 00 00 00 00 00 00
        let b = [
            0x42, 0x4A, 0x4E, 0x50, 0x01, 0x30, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
        ];
        let h = Header::parse(&b, MAX_UDP_PAYLOAD).unwrap();
        assert_eq!(h.magic(), Magic::BJNP);
        assert_eq!(h.dev_type(), DevType::PRINTER_CMD);
        assert_eq!(h.command(), Command::GET_ID);
        assert_eq!(h.seq(), 1);
        assert_eq!(h.session_id(), 0);
        assert_eq!(h.payload_len(), 0);
        // discover (SANE, MFNP)
        let b = hdr(b"MFNP", 2, 1, 0, 0, 0);
        let h = Header::parse(&b, MAX_UDP_PAYLOAD).unwrap();
        assert_eq!(h.magic(), Magic::MFNP);
        assert_eq!(h.command().name(Transport::Udp, 2), CommandName::Discover);
    }

    #[test]
    fn hard_checks_reject_non_bjnp() {
        assert_eq!(
            Header::parse(b"BJNP\x01\x30\0\0", 100),
            Err(HeaderError::TooShort(8))
        );
        assert_eq!(
            Header::parse(b"HELLO WORLD, this is not", 100),
            Err(HeaderError::BadMagic)
        );
        // an unknown dev_type with a known magic is BJNP, flagged (protocols.md §2, Wireshark)
        let b = hdr(b"BJNP", 0x03, 0x30, 1, 0, 0);
        let (m, _) = datagram(&b).unwrap();
        assert_eq!(m.header.dev_type(), DevType(3));
        let a = check(&m, TO_SERVICE);
        assert!(a.has(Anomalies::UNKNOWN_DEV_TYPE) && a.is_malformed());
        let b = hdr(b"BJNP", 0x01, 0x21, 1, 0, MAX_TCP_PAYLOAD + 1);
        assert_eq!(
            Header::parse(&b, MAX_TCP_PAYLOAD),
            Err(HeaderError::PayloadTooLong {
                len: MAX_TCP_PAYLOAD + 1,
                max: MAX_TCP_PAYLOAD
            })
        );
        let b = hdr(b"BJNP", 0x01, 0x01, 1, 0, 65_500);
        assert!(matches!(
            Header::parse(&b, MAX_UDP_PAYLOAD),
            Err(HeaderError::PayloadTooLong { .. })
        ));
    }

    #[test]
    fn low_confidence_magic_is_flagged_not_rejected() {
        let b = hdr(b"BNJB", 0x01, 0x30, 1, 0, 0);
        let (m, _) = datagram(&b).unwrap();
        assert!(check(&m, TO_SERVICE).has(Anomalies::LOW_CONFIDENCE_MAGIC));
    }

    #[test]
    fn unknown_codes_survive_as_numbers() {
        let b = hdr(b"BJNP", 0x01, 0x55, 7, 0, 0);
        let (m, _) = datagram(&b).unwrap();
        assert_eq!(m.header.command(), Command(0x55));
        assert_eq!(
            m.header.command().name(Transport::Udp, 1),
            CommandName::Unknown
        );
        let a = check(&m, TO_SERVICE);
        assert!(a.has(Anomalies::UNKNOWN_COMMAND));
        assert!(a.is_malformed());
    }

    #[test]
    fn every_known_command_has_a_name() {
        for code in [0x01, 0x02, 0x10, 0x11, 0x20, 0x21, 0x30, 0x32] {
            assert!(Command(code).is_known());
            for stack in [1, 2] {
                assert_ne!(
                    Command(code).name(Transport::Udp, stack),
                    CommandName::Unknown
                );
                assert_ne!(
                    Command(code).name(Transport::Tcp, stack),
                    CommandName::Unknown
                );
            }
        }
        assert_eq!(
            Command::GET_STATUS.name(Transport::Tcp, 2),
            CommandName::ReadData
        );
        assert_eq!(
            Command::PRINT_DATA.name(Transport::Tcp, 1),
            CommandName::PrintData
        );
        assert_eq!(
            Command::PRINT_DATA.name(Transport::Tcp, 2),
            CommandName::ScanCommand
        );
    }

    #[test]
    fn reserved_bytes_change_wiresharks_seq_and_are_flagged() {
        let b = hdr(b"BJNP", 0x01, 0x20, 0x0001_0005, 0, 0);
        let (m, _) = datagram(&b).unwrap();
        assert_eq!(m.header.seq(), 0x0001_0005);
        assert_eq!(m.header.reserved(), 1);
        assert!(check(&m, TO_SERVICE).has(Anomalies::RESERVED_NONZERO));
    }

    #[test]
    fn direction_check() {
        let b = hdr(b"BJNP", 0x01, 0x30, 1, 0, 0);
        let (m, _) = datagram(&b).unwrap();
        assert!(check(&m, FROM_SERVICE).has(Anomalies::WRONG_DIRECTION));
        assert!(!check(&m, TO_SERVICE).has(Anomalies::WRONG_DIRECTION));
        let b = hdr(b"BJNP", 0x81, 0x30, 1, 0, 0);
        let (m, _) = datagram(&b).unwrap();
        assert!(check(&m, TO_SERVICE).has(Anomalies::WRONG_DIRECTION));
    }

    #[test]
    fn payload_longer_than_datagram_is_cut_not_overread() {
        let mut b = hdr(b"BJNP", 0x81, 0x30, 1, 0, 500);
        b.extend([0, 10, b'M', b'F', b'G', b':', b'C', b';']);
        let (m, rest) = datagram(&b).unwrap();
        assert_eq!(m.payload.len(), 8);
        assert!(!m.is_complete());
        assert!(rest.trailing().is_empty());
    }

    #[test]
    fn two_messages_in_one_datagram_and_trailing_bytes() {
        let mut b = hdr(b"BJNP", 0x01, 0x20, 3, 0, 0);
        b.extend(hdr(b"BJNP", 0x01, 0x11, 4, 0, 0));
        b.extend(b"junk");
        let (first, mut rest) = datagram(&b).unwrap();
        assert_eq!(first.header.command(), Command::GET_STATUS);
        let second = rest.next().unwrap();
        assert_eq!(second.header.command(), Command::CLOSE);
        assert_eq!(second.header.seq(), 4);
        assert!(rest.next().is_none());
        assert_eq!(rest.trailing(), b"junk");
    }

    #[test]
    fn discover_response_ipv4_and_ipv6() {
        let p = [0, 1, 8, 0, 6, 4, 2, 0, 0x5e, 0x10, 0, 0x30, 192, 0, 2, 30];
        let d = Discover::parse(&p).unwrap();
        assert_eq!(d.mac, [2, 0, 0x5e, 0x10, 0, 0x30]);
        assert_eq!(
            d.addresses().collect::<Vec<_>>(),
            vec!["192.0.2.30".parse::<IpAddr>().unwrap()]
        );
        let mut p6 = vec![0, 1, 0x86, 0xdd, 6, 16, 2, 0, 0, 0, 0, 1];
        p6.extend("2001:db8::30".parse::<Ipv6Addr>().unwrap().octets());
        let d = Discover::parse(&p6).unwrap();
        assert_eq!(
            d.addresses().collect::<Vec<_>>(),
            vec!["2001:db8::30".parse::<IpAddr>().unwrap()]
        );
        // malformed: bad MAC length, short address field, bad address length
        assert_eq!(
            Discover::parse(&[0, 1, 8, 0, 5, 4, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4]),
            Err(PayloadError::Field("mac_len"))
        );
        assert_eq!(
            Discover::parse(&[0, 1, 8, 0, 6, 4, 1, 2, 3, 4, 5, 6, 1, 2]),
            Err(PayloadError::Field("addr_len"))
        );
        assert_eq!(
            Discover::parse(&[0, 1, 8, 0, 6, 7, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 7]),
            Err(PayloadError::Field("addr_len"))
        );
        assert!(Discover::parse(&[0; 5]).is_err());
        // an IPv4 answer with extra bytes parses but fails the shape check
        let mut long = vec![0, 1, 8, 0, 6, 4, 2, 0, 0x5e, 0x10, 0, 0x30, 192, 0, 2, 30];
        long.extend([0u8; 12]);
        let mut m = hdr(b"BJNP", 0x81, 0x01, 0, 0, long.len() as u32);
        m.extend(&long);
        let (msg, _) = datagram(&m).unwrap();
        assert!(check(&msg, FROM_SERVICE).has(Anomalies::BAD_PAYLOAD));
        let mut m = hdr(b"BJNP", 0x81, 0x01, 0, 0, 16);
        m.extend(&long[..16]);
        let (msg, _) = datagram(&m).unwrap();
        assert!(check(&msg, FROM_SERVICE).is_empty());
    }

    #[test]
    fn device_id_bjnp_counts_its_own_length() {
        let id =
            b"MFG:Canon;CMD:BJL,BJRaster3;MDL:MG5500 series;DES:Canon MG5500 series;VER:1.050;";
        let mut p = ((id.len() + 2) as u16).to_be_bytes().to_vec();
        p.extend(id);
        let d = DeviceId::parse(Magic::BJNP, &p).unwrap();
        assert_eq!(d.raw, id);
        assert!(d.looks_valid());
        assert_eq!(d.manufacturer(), Some(&b"Canon"[..]));
        assert_eq!(d.model(), Some(&b"MG5500 series"[..]));
        assert_eq!(d.description(), Some(&b"Canon MG5500 series"[..]));
        assert_eq!(d.version(), Some(&b"1.050"[..]));
        assert_eq!(d.command_set(), Some(&b"BJL,BJRaster3"[..]));
        // the full response passes the shape check
        let mut m = hdr(b"BJNP", 0x81, 0x30, 1, 0, p.len() as u32);
        m.extend(&p);
        let (msg, _) = datagram(&m).unwrap();
        assert!(check(&msg, FROM_SERVICE).is_empty());
    }

    #[test]
    fn device_id_long_keys_and_case() {
        let d = DeviceId {
            raw: b"manufacturer:Canon;Model:MX700;command set:BJL;",
        };
        assert_eq!(d.manufacturer(), Some(&b"Canon"[..]));
        assert_eq!(d.model(), Some(&b"MX700"[..]));
        assert_eq!(d.command_set(), Some(&b"BJL"[..]));
    }

    #[test]
    fn device_id_malformed_lengths() {
        assert!(DeviceId::parse(Magic::BJNP, &[0]).is_err());
        assert_eq!(
            DeviceId::parse(Magic::BJNP, &[0, 1, b'x']),
            Err(PayloadError::Field("device_id_len"))
        );
        assert_eq!(
            DeviceId::parse(Magic::BJNP, &[0, 40, b'M', b':']),
            Err(PayloadError::Field("device_id_len"))
        );
        // MFNP has no prefix
        let d = DeviceId::parse(Magic::MFNP, b"MFG:Canon;MDL:MF4400 Series;").unwrap();
        assert_eq!(d.model(), Some(&b"MF4400 Series"[..]));
        // capped
        let big = vec![b'A'; 5000];
        assert_eq!(
            DeviceId::parse(Magic::MFNP, &big).unwrap().raw.len(),
            MAX_DEVICE_ID
        );
        // binary garbage is not a valid ID
        assert!(!DeviceId {
            raw: b"\x01\x02MFG:x;"
        }
        .looks_valid());
    }

    #[test]
    fn job_details_utf16be() {
        let mut p = vec![0u8; JOB_DETAILS_LEN];
        let put = |p: &mut Vec<u8>, at: usize, s: &str| {
            for (i, u) in s.encode_utf16().enumerate() {
                p[at + 2 * i..at + 2 * i + 2].copy_from_slice(&u.to_be_bytes());
            }
        };
        put(&mut p, 8, "wks-05");
        put(&mut p, 72, "alice");
        put(&mut p, 136, "Quarterly report ü");
        let j = JobDetails::parse(&p).unwrap();
        assert_eq!(utf16be_string(j.host), "wks-05");
        assert_eq!(utf16be_string(j.user), "alice");
        assert_eq!(utf16be_string(j.title), "Quarterly report ü");
        assert!(JobDetails::parse(&p[..100]).is_err());
        // a lone surrogate does not panic
        assert_eq!(utf16be_string(&[0xd8, 0x00, 0, 0x41]), "\u{fffd}A");
        // job-details request of the wrong size is a bad payload
        let mut m = hdr(b"BJNP", 0x01, 0x10, 0, 0, 100);
        m.extend([0u8; 100]);
        let (msg, _) = datagram(&m).unwrap();
        assert!(check(&msg, TO_SERVICE).has(Anomalies::BAD_PAYLOAD));
    }

    #[test]
    fn scan_poll_types() {
        let mut p = vec![0u8; 80];
        p[1] = 1;
        p[8] = 0;
        p[9] = b'a';
        let s = ScanPoll::parse(&p).unwrap();
        assert_eq!(s.kind, 1);
        assert_eq!(utf16be_string(s.user_host.unwrap()), "a");
        let mut p = vec![0u8; 80];
        p[1] = 0;
        assert_eq!(ScanPoll::parse(&p).unwrap().user_host, None);
        // type 2 as SANE sends it: dialog 1 at bytes 4-7, name at 8
        let mut p = vec![0u8; 116];
        p[1] = 2;
        p[7] = 1;
        p[9] = b'r';
        let s = ScanPoll::parse(&p).unwrap();
        assert_eq!(s.kind, 2);
        assert_eq!(utf16be_string(s.user_host.unwrap()), "r");
        let mut p = vec![0u8; 100];
        p[1] = 5;
        assert_eq!(ScanPoll::parse(&p).unwrap().kind, 5);
        let mut p = vec![0u8; 80];
        p[1] = 3;
        assert_eq!(ScanPoll::parse(&p), Err(PayloadError::Field("poll_type")));
        p[1] = 2; // type 2 must be 116 bytes
        assert!(ScanPoll::parse(&p).is_err());
    }

    #[test]
    fn status_and_ack_payloads() {
        assert_eq!(
            status_text(b"\x00\x0fBST:00;CIR:Y,K;"),
            Some(&b"BST:00;CIR:Y,K;"[..])
        );
        assert_eq!(status_text(b"<?xml version"), Some(&b"<?xml version"[..]));
        assert_eq!(status_text(b"\x00\xffshort"), Some(&b"short"[..]));
        assert_eq!(status_text(b"\x00"), None);
        assert_eq!(accepted_bytes(&[0, 0, 0x10, 0]), Some(4096));
        assert_eq!(accepted_bytes(&[0, 0]), None);
        // a TCP print-data ack must carry exactly 4 bytes
        let mut m = hdr(b"BJNP", 0x81, 0x21, 1, 1, 2);
        m.extend([0, 0]);
        let (msg, _) = datagram(&m).unwrap();
        let tcp = Context {
            transport: Transport::Tcp,
            ..FROM_SERVICE
        };
        assert!(check(&msg, tcp).has(Anomalies::BAD_PAYLOAD));
    }

    #[test]
    fn shape_checks_for_header_only_commands() {
        let mut m = hdr(b"BJNP", 0x01, 0x01, 0, 0, 4);
        m.extend([1, 2, 3, 4]);
        let (msg, _) = datagram(&m).unwrap();
        assert!(check(&msg, TO_SERVICE).has(Anomalies::BAD_PAYLOAD));
        let mut m = hdr(b"BJNP", 0x01, 0x11, 0, 0, 1);
        m.push(9);
        let (msg, _) = datagram(&m).unwrap();
        assert!(check(&msg, TO_SERVICE).has(Anomalies::BAD_PAYLOAD));
        // nmap's scanner get-id probe is fine
        let mut m = hdr(b"BJNP", 0x02, 0x30, 1, 0, 4);
        m.extend([0, 0, 0, 0]);
        let (msg, _) = datagram(&m).unwrap();
        assert!(check(&msg, TO_SERVICE).is_empty());
    }

    #[test]
    fn anomaly_names_are_stable() {
        let mut a = Anomalies::default();
        a.set(Anomalies::TRAILING_DATA);
        a.set(Anomalies::CAPTURE_TRUNCATED);
        assert_eq!(
            a.names().collect::<Vec<_>>(),
            ["trailing_data", "capture_truncated"]
        );
        let mut info = Anomalies::default();
        info.set(Anomalies::CAPTURE_TRUNCATED);
        assert!(!info.is_malformed());
    }
}
