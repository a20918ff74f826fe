//! BJNP over TCP: messages cut out of one direction of a stream, in fixed memory.

use super::header::{Header, HeaderError, Message, HEADER_LEN, MAX_TCP_PAYLOAD};

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
