//! Requests waiting for their answers. A response is matched on what it echoes, not on its flow:
//! answers to a broadcast come from each device's own address, in flows of their own.

use crate::bounded::BoundedMap;
use crate::event::ResponseTo;
use crate::net::Timestamp;
use crate::proto::bjnp::{Message, Transport};
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

pub struct Pairing {
    pending: BoundedMap<PendingKey, Pending>,
}

impl Default for Pairing {
    fn default() -> Self {
        Pairing {
            pending: BoundedMap::new(PENDING_CAP),
        }
    }
}

/// Where a message travelled: (source address, source port, destination port).
pub type Route = (IpAddr, u16, u16);

/// What pairing made of a response.
pub enum Paired {
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

    /// Drops requests nobody answered in time.
    pub fn expire(&mut self, now: Timestamp) {
        self.pending.expire(now, PENDING_TTL_NS);
    }

    /// Remembers a request, or finds the request a response answers. `route` is the message's
    /// own (source, source port, destination port); `dst` its destination address.
    pub fn pair(
        &mut self,
        ts: Timestamp,
        cnt: Option<u64>,
        (src, sport, dport): Route,
        dst: IpAddr,
        m: &Message<'_>,
        t: Transport,
    ) -> Paired {
        let h = &m.header;
        let stack = h.dev_type().stack();
        if !h.dev_type().is_response() {
            let key = (src, sport, dport, stack, h.command().0, h.seq());
            self.pending.insert(key, Pending { cnt }, ts);
            return Paired::Request;
        }
        let key = (dst, dport, sport, stack, h.command().0, h.seq());
        let found = match t {
            // TCP answers are one to one; a UDP request (a broadcast) may have many answers.
            Transport::Tcp => self.pending.remove(&key),
            Transport::Udp => self.pending.get(&key).map(|(ts, r)| (ts, *r)),
        };
        let Some((at, req)) = found else {
            return Paired::Unmatched;
        };
        if ts.since(at) > PENDING_TTL_NS {
            return Paired::Unmatched;
        }
        Paired::Matched(ResponseTo {
            timestamp: at,
            pcap_cnt: req.cnt,
            rtt_usec: ts.since(at) / 1000,
        })
    }
}
