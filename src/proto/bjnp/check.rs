//! The consistency checks (docs/PROTOCOLS.md §5, checks 5-9): what makes a message malformed,
//! as opposed to facts about the capture or the conversation.

use super::header::{Command, Magic, Message, Transport};
use super::payload::{DeviceId, Discover, ScanPoll, JOB_DETAILS_LEN};

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
            Discover::parse(p).is_ok_and(|d| p.len() == 12 + usize::from(d.addr_len()))
        }
        (Command::JOB_DETAILS, _, false) => p.len() == JOB_DETAILS_LEN,
        (Command::CLOSE, _, _) => p.is_empty(),
        (Command::SCAN_POLL, _, false) => ScanPoll::parse(p).is_ok(),
        (Command::PRINT_DATA, Transport::Tcp, true) => p.len() == 4,
        (Command::GET_STATUS, Transport::Udp, false) => p.is_empty(),
        _ => true,
    }
}
