//! Requests waiting for their answers. A response is matched on what it echoes, not on its flow:
//! answers to a broadcast come from each device's own address, in flows of their own.

use crate::bounded::BoundedMap;
use crate::decode::Packet;
use crate::event::{Bjnp, ResponseTo};
use crate::net::Timestamp;
use crate::proto::bjnp::{Anomalies, Message, Transport};
use std::net::IpAddr;

/// Requests wait this long for their answer. Clients give up within a few seconds (three tries),
/// but a slow printer's TCP acknowledgement can take longer while it is busy; 30 s keeps those
/// paired, and the cap bounds the table whatever the rate.
const PENDING_TTL_NS: u64 = 30 * 1_000_000_000;
const PENDING_CAP: usize = 65_536;

/// (client address, client port, service port, stack, command, seq).
type PendingKey = (IpAddr, u16, u16, u8, u8, u32);

#[derive(Clone, Copy)]
struct Pending {
    cnt: Option<u64>,
}

/// What pairing needs to know of a message: when and where it travelled, and what it echoes.
/// Analyzers make it; the judge pairs, in the order the messages happened, so the answer to a
/// broadcast finds its request whatever flow (or worker) each came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairKey {
    pub ts: Timestamp,
    pub cnt: Option<u64>,
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
    pub stack: u8,
    pub command: u8,
    pub seq: u32,
    pub response: bool,
    pub transport: Transport,
}

impl PairKey {
    pub fn of(
        ts: Timestamp,
        cnt: Option<u64>,
        p: &Packet<'_>,
        m: &Message<'_>,
        transport: Transport,
    ) -> Self {
        let h = &m.header;
        PairKey {
            ts,
            cnt,
            src: p.src,
            sport: p.src_port,
            dst: p.dst,
            dport: p.dst_port,
            stack: h.dev_type().stack(),
            command: h.command().0,
            seq: h.seq(),
            response: h.dev_type().is_response(),
            transport,
        }
    }
}

pub struct Pairing {
    pending: BoundedMap<PendingKey, Pending>,
    matched: u64,
    unmatched: u64,
}

impl Default for Pairing {
    fn default() -> Self {
        Pairing {
            pending: BoundedMap::new(PENDING_CAP),
            matched: 0,
            unmatched: 0,
        }
    }
}

/// What pairing made of a response.
enum Paired {
    /// A request: remembered.
    Request,
    Matched(ResponseTo),
    /// A response to a request never seen, or seen too long ago.
    Unmatched,
}

impl Pairing {
    /// Requests dropped at the cap before an answer came.
    pub fn evicted(&self) -> u64 {
        self.pending.evicted()
    }

    /// Answers matched to their request, and answers to a request never seen.
    pub fn counts(&self) -> (u64, u64) {
        (self.matched, self.unmatched)
    }

    /// Drops requests nobody answered in time.
    pub fn expire(&mut self, now: Timestamp) {
        self.pending.expire(now, PENDING_TTL_NS);
    }

    /// Remembers a request, or finds the request a response answers and says so in the
    /// response's record (when it has one): `response_to`, or `unsolicited_response`.
    pub fn apply(&mut self, k: &PairKey, record: Option<&mut Bjnp>) {
        match self.pair(k) {
            Paired::Request => {}
            Paired::Matched(r) => {
                self.matched += 1;
                if let Some(b) = record {
                    b.response_to = Some(r);
                }
            }
            Paired::Unmatched => {
                self.unmatched += 1;
                if let Some(b) = record {
                    b.anomalies.set(Anomalies::UNSOLICITED_RESPONSE);
                }
            }
        }
    }

    fn pair(&mut self, k: &PairKey) -> Paired {
        if !k.response {
            let key = (k.src, k.sport, k.dport, k.stack, k.command, k.seq);
            self.pending.insert(key, Pending { cnt: k.cnt }, k.ts);
            return Paired::Request;
        }
        let key = (k.dst, k.dport, k.sport, k.stack, k.command, k.seq);
        let found = match k.transport {
            // TCP answers are one to one; a UDP request (a broadcast) may have many answers.
            Transport::Tcp => self.pending.remove(&key),
            Transport::Udp => self.pending.get(&key).map(|(ts, r)| (ts, *r)),
        };
        let Some((at, req)) = found else {
            return Paired::Unmatched;
        };
        if k.ts.since(at) > PENDING_TTL_NS {
            return Paired::Unmatched;
        }
        Paired::Matched(ResponseTo {
            timestamp: at,
            pcap_cnt: req.cnt,
            rtt_usec: k.ts.since(at) / 1000,
        })
    }
}
