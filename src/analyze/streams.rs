//! Both directions of a TCP connection in order, as every stream analyzer (raw printing, LPD,
//! IPP) reads them: the client's side verified against overlaps (it is what the printer runs),
//! acknowledgements releasing what may no longer change, the first conflicting overlap reported
//! once.

use crate::decode::Tcp;
use crate::event::{Anomaly, AnomalyEvent, AnomalyType, AppProto};
use crate::flow::stream::{Delivery, Reassembler};
use crate::flow::Dir;

pub struct Streams {
    streams: [Reassembler; 2],
    overlap_reported: bool,
}

impl Default for Streams {
    fn default() -> Self {
        Streams {
            streams: [Reassembler::verifying(), Reassembler::default()],
            overlap_reported: false,
        }
    }
}

impl Streams {
    /// Starts from the ISNs seen before the first payload.
    pub fn with_isns(isns: [Option<u32>; 2]) -> Self {
        let mut s = Streams::default();
        for (stream, isn) in s.streams.iter_mut().zip(isns) {
            if let Some(isn) = isn {
                stream.syn(isn);
            }
        }
        s
    }

    pub fn gaps(&self) -> u64 {
        u64::from(self.streams[0].gaps) + u64::from(self.streams[1].gaps)
    }

    /// One segment: what it delivers in order goes to `deliver`. Returns the sequence number of
    /// the first overlap with other bytes in the client's stream, once per connection.
    pub fn segment(
        &mut self,
        dir: Dir,
        tcp: Tcp,
        payload: &[u8],
        deliver: &mut dyn FnMut(Delivery<'_>),
    ) -> Option<u32> {
        let di = dir.index();
        if tcp.has(Tcp::SYN) {
            self.streams[di].syn(tcp.seq);
        }
        if tcp.has(Tcp::ACK) {
            // what this side acknowledges, the other side may no longer change
            self.streams[1 - di].acked(tcp.ack);
        }
        if payload.is_empty() {
            return None;
        }
        // data on a SYN starts after the SYN's own sequence number
        let seq = tcp.seq.wrapping_add(u32::from(tcp.has(Tcp::SYN)));
        let stream = &mut self.streams[di];
        stream.segment(seq, payload, deliver);
        match (self.overlap_reported, stream.first_conflict) {
            (false, Some(at)) => {
                self.overlap_reported = true;
                Some(at)
            }
            _ => None,
        }
    }

    /// The connection is over: what waits behind holes, client's side first.
    pub fn finish(&mut self, deliver: &mut dyn FnMut(Dir, Delivery<'_>)) {
        for dir in [Dir::ToServer, Dir::ToClient] {
            self.streams[dir.index()].finish(&mut |d| deliver(dir, d));
        }
    }
}

/// The anomaly of a client stream whose segments overlapped bytes already received with other
/// bytes (the first copy is what every analyzer reads).
pub fn overlap_conflict(at: u32, layer: Option<AppProto>) -> Anomaly {
    Anomaly {
        kind: AnomalyType::Stream,
        event: AnomalyEvent::TcpOverlapConflict,
        layer,
        reason: Some(format!(
            "a segment at seq {at} overlaps bytes already received with other bytes; the first copy was kept"
        )),
        bytes: None,
        preview_hex: None,
    }
}
