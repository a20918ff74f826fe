//! BJNP over TCP: each direction reassembled in order and cut into messages by the framer; a
//! lost segment, garbage or a close inside a message stops that direction, once, with an anomaly.

use super::{BjnpFlow, BjnpShared, REPORTED_GAP, REPORTED_INCOMPLETE, REPORTED_OVERLAP};
use crate::analyze::{AppEvent, PacketCx};
use crate::decode::Tcp;
use crate::event::AnomalyEvent;
use crate::flow::stream::{Delivery, Reassembler};
use crate::flow::Dir;
use crate::proto::bjnp::{self, Anomalies, Command, Framed, Framer, Transport};

/// One direction of the stream.
#[derive(Default)]
pub(super) struct Stream {
    /// In-order delivery: retransmissions trimmed, early segments held (capped).
    reasm: Reassembler,
    saw_syn: bool,
    /// The first delivered byte was checked to start a message (mid-stream pickup).
    started: bool,
    framer: Framer,
    /// A gap, a cut capture or garbage: this direction is no longer parsed.
    stopped: bool,
}

impl BjnpFlow {
    pub(super) fn on_tcp(
        &mut self,
        sh: &mut BjnpShared,
        cx: &PacketCx<'_, '_>,
        out: &mut Vec<AppEvent>,
    ) {
        let p = cx.p;
        let di = cx.dir.index();
        let closing = p.tcp.has(Tcp::FIN) || p.tcp.has(Tcp::RST);
        if self.streams.is_none() && p.payload.is_empty() {
            return; // handshake and bare ACKs: nothing to frame yet
        }
        let isns = cx.conn.isn;
        // Out of `self` while the messages it frames are handed to `self` (a pointer moved,
        // not the two streams), back at the end.
        let mut streams = self.streams.take().unwrap_or_else(|| {
            let mut s: Box<[Stream; 2]> = Box::default();
            // the client's side is what the printer runs: its overlaps are compared
            s[Dir::ToServer.index()].reasm.verify = true;
            for (d, isn) in s.iter_mut().zip(isns) {
                if let Some(isn) = isn {
                    // A retransmitted SYN changes nothing: the reassembler keeps its first ISN.
                    d.reasm.syn(isn);
                    d.saw_syn = true;
                }
            }
            s
        });
        if p.tcp.has(Tcp::ACK) {
            // what this side acknowledges, the other side may no longer change
            streams[1 - di].reasm.acked(p.tcp.ack);
        }
        let stream = &mut streams[di];
        let seq = p.tcp.seq.wrapping_add(u32::from(p.tcp.has(Tcp::SYN)));
        if !p.payload.is_empty() && !stream.stopped {
            let Stream {
                reasm,
                saw_syn,
                started,
                framer,
                stopped,
            } = &mut *stream;
            let mut not_bjnp = None;
            let mut gap = None;
            reasm.segment(seq, p.payload, &mut |d| {
                if *stopped {
                    return;
                }
                let data = match d {
                    Delivery::Gap(n) => {
                        // A lost segment: the framing is gone for this direction (print data
                        // may contain anything, so there is no safe place to resume).
                        *stopped = true;
                        gap = Some(n);
                        return;
                    }
                    Delivery::Data(b) => b,
                };
                if !*started {
                    *started = true;
                    // Picked up mid-stream: parse only where a header evidently starts.
                    if !*saw_syn && bjnp::Header::parse(data, bjnp::MAX_TCP_PAYLOAD).is_err() {
                        *stopped = true;
                        sh.stats.tcp_midstream += 1;
                        return;
                    }
                }
                framer.feed(data, &mut |ev| match ev {
                    Framed::Message(m) => {
                        self.message(sh, cx, Transport::Tcp, &m, Anomalies::default(), out)
                    }
                    Framed::NotBjnp(e) => not_bjnp = Some(e),
                    // print data from the client (printer stack): scanned for BJL commands
                    Framed::Payload(h, bytes)
                        if cx.dir == Dir::ToServer
                            && h.command() == Command::PRINT_DATA
                            && h.dev_type() == bjnp::DevType::PRINTER_CMD =>
                    {
                        self.print_data(bytes)
                    }
                    Framed::Payload(..) => {}
                });
                if not_bjnp.is_some() {
                    *stopped = true;
                }
            });
            if p.capture_truncated() || p.fragments_missing() {
                // snaplen cut the segment: the rest of the stream cannot be framed.
                stream.stopped = true;
                sh.stats.tcp_gaps += 1;
            }
            if let Some(n) = gap {
                sh.stats.tcp_gaps += 1;
                self.stream_anomaly(
                    REPORTED_GAP,
                    AnomalyEvent::BjnpTcpGap,
                    format!("{n} bytes missing; this direction is no longer parsed"),
                    out,
                );
            }
            if let Some(e) = not_bjnp {
                self.not_bjnp(sh, p, e, out);
            }
            if let Some(at) = stream.reasm.first_conflict {
                self.stream_anomaly(
                    REPORTED_OVERLAP,
                    AnomalyEvent::TcpOverlapConflict,
                    format!("a segment at seq {at} overlaps bytes already received with other bytes; the first copy was kept"),
                    out,
                );
            }
        }
        if closing && !stream.stopped && !stream.framer.failed() && !stream.framer.at_boundary() {
            // The connection ended inside a message: say so rather than let it vanish.
            stream.stopped = true;
            self.stream_anomaly(
                REPORTED_INCOMPLETE,
                AnomalyEvent::BjnpTcpIncompleteMessage,
                "the connection closed in the middle of a BJNP message".into(),
                out,
            );
        }
        self.streams = Some(streams);
    }

    /// The flow ended: data still waiting behind a hole was never parsed — a gap.
    pub(super) fn finish_streams(&mut self, sh: &mut BjnpShared, out: &mut Vec<AppEvent>) {
        let waiting: usize = self.streams.as_ref().map_or(0, |s| {
            s.iter()
                .filter(|d| !d.stopped)
                .map(|d| d.reasm.buffered())
                .sum()
        });
        if waiting > 0 {
            sh.stats.tcp_gaps += 1;
            self.stream_anomaly(
                REPORTED_GAP,
                AnomalyEvent::BjnpTcpGap,
                format!(
                    "{waiting} bytes waited behind a missing segment until the connection ended"
                ),
                out,
            );
        }
    }
}
