//! The 16-byte header, the codes it carries (each declared once), and the messages a UDP
//! datagram holds.

use crate::net::named_enum;

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

/// Why bytes on a BJNP port are not BJNP (the hard checks of docs/PROTOCOLS.md §5).
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
/// (docs/PROTOCOLS.md §5 check 5). Nothing is allocated.
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
