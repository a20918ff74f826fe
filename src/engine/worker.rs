//! The flow stage: frames in, facts out. A worker owns what belongs to single flows: the
//! prefilter and decoder, the flow table, IP fragment trains and each flow's analyzer. It judges
//! nothing; a packet reaches the judge only when it changed what detection watches or its
//! analyzer reported something, so most packets of a long print stream stay here.

use super::fact::{EndView, FactSink, PacketInfo, PacketView, Pos, WorkerStats};
use crate::analyze::{self, Analyzer, AppEvent, AppState, PacketCx};
use crate::capture::{Frame, Source};
use crate::decode::{self, prefilter, Decoded, Packet, Reassembled, Screened, Unreachable, L4};
use crate::defrag::{DefragConfig, Defragmenter, Done, Ending, OverlapPolicy};
use crate::detect::{self, Seen};
use crate::event::{
    Anomaly, AnomalyEvent, AnomalyType, CaptureStats, DecoderStats, EndReason, Origin,
};
use crate::flow::{Conn, Dir, Flow, FlowConfig, FlowKey, FlowTable};
use crate::net::{PortSet, Timestamp};
use std::net::IpAddr;

/// What a worker keeps with each flow: its analyzer and the transitions already reported.
pub struct WorkerFlow {
    app: AppState,
    seen: Seen,
}

/// When and how big a packet was: its frame's, or for a datagram put together from fragments,
/// its last fragment's time and number and the wire bytes of all of them.
#[derive(Clone, Copy)]
struct At {
    ts: Timestamp,
    cnt: u64,
    wire: u32,
}

impl At {
    fn frame(f: &Frame<'_>) -> Self {
        At {
            ts: f.ts,
            cnt: f.cnt,
            wire: f.orig_len,
        }
    }
}

/// How the judge knows a flow: its worker and its place in that worker's table (a place is
/// reused only after the flow that held it ended, and the judge sees that end first).
pub fn handle(worker: u16, slot: u32) -> u64 {
    u64::from(worker) << 32 | u64::from(slot)
}

impl WorkerFlow {
    fn app_proto(&self, conn: &Conn) -> Option<crate::event::AppProto> {
        self.app.app_proto(conn.l4, conn.server.1)
    }
}

pub struct Worker {
    ports: PortSet,
    prefilter: bool,
    flows: FlowTable<WorkerFlow>,
    defrag: Defragmenter,
    analyzers: analyze::Shared,
    capture: CaptureStats,
    decoder: DecoderStats,
    first_ts: Option<Timestamp>,
    last_ts: Timestamp,
    source: Option<Source>,
    id: u16,
    /// Analyzer events of the current packet, reused so no packet allocates a list.
    events: Vec<AppEvent>,
    /// The flow the last frame belonged to (its id), for `-w`.
    last_flow: Option<u64>,
}

impl Worker {
    pub fn new(
        id: u16,
        ports: PortSet,
        flow: FlowConfig,
        prefilter: bool,
        defrag: DefragConfig,
    ) -> Self {
        Worker {
            ports,
            prefilter,
            flows: FlowTable::new(flow),
            defrag: Defragmenter::new(defrag),
            analyzers: analyze::Shared::default(),
            capture: CaptureStats::default(),
            decoder: DecoderStats::default(),
            first_ts: None,
            last_ts: Timestamp::default(),
            source: None,
            id,
            events: Vec::new(),
            last_flow: None,
        }
    }

    pub fn ports(&self) -> &PortSet {
        &self.ports
    }

    /// Monitored ports after a policy reload: new flows follow them; flows already tracked go
    /// on to their end.
    pub fn set_ports(&mut self, ports: PortSet) {
        self.ports = ports;
    }

    /// A new file or interface starts; flow state carries across files. `count` says whether
    /// this worker counts it (one counter per run, whatever the workers).
    pub fn set_source(&mut self, src: Source, count: bool) {
        if count && matches!(src, Source::File(_)) {
            self.capture.files += 1;
        }
        self.source = Some(src);
    }

    fn origin_at(&self, cnt: u64) -> Origin {
        origin_of(&self.source, cnt)
    }

    /// Counts a frame (`-f` filtered or not).
    pub fn count_frame(&mut self, frame: &Frame<'_>) {
        self.capture.packets += 1;
        self.capture.bytes += u64::from(frame.orig_len);
        if self.first_ts.is_none() {
            self.first_ts = Some(frame.ts);
        }
        if frame.ts > self.last_ts {
            self.last_ts = frame.ts;
        }
    }

    /// Counts a frame that a `-f` filter rejected before it reached the engine.
    pub fn count_filtered(&mut self, frame: &Frame<'_>) {
        self.count_frame(frame);
        self.capture.filtered += 1;
    }

    /// The cheap verdict before decoding: `false` when the frame touches no monitored port
    /// (counted here).
    pub fn wanted(&mut self, frame: &Frame<'_>) -> bool {
        if !self.prefilter {
            return true;
        }
        match prefilter::check(frame.linktype, frame.data, &self.ports) {
            prefilter::Verdict::IgnoreIp => {
                self.decoder.ignored += 1;
                false
            }
            prefilter::Verdict::IgnoreNotIp => {
                self.decoder.not_ip += 1;
                false
            }
            prefilter::Verdict::Decode => true,
        }
    }

    /// [`wanted`](Self::wanted) and the decoding at once for the common frame (plain IPv4 TCP
    /// or UDP), whose headers are then read once: `Ignored` (counted), a `Packet` for
    /// [`decoded`](Self::decoded), or `Other` for [`frame`](Self::frame).
    pub fn screen<'a>(&mut self, frame: &Frame<'a>) -> Screened<'a> {
        if !self.prefilter {
            return Screened::Other;
        }
        match decode::screen(frame.linktype, frame.data, &self.ports) {
            Screened::Ignored => {
                self.decoder.ignored += 1;
                Screened::Ignored
            }
            Screened::Other if !self.wanted(frame) => Screened::Ignored,
            s => s,
        }
    }

    /// One frame that passed [`wanted`](Self::wanted) (and was counted): its facts, at `seq`.
    pub fn frame(&mut self, frame: &Frame<'_>, seq: u64, out: &mut dyn FactSink) {
        self.last_flow = None;
        match decode::decode(frame.linktype, frame.data) {
            Decoded::Packet(p) => self.decoded(frame, p, seq, out),
            Decoded::Fragment(f) => {
                self.decoder.fragments += 1;
                self.defrag
                    .fragment(&f, frame.ts, frame.cnt, frame.orig_len);
                self.datagrams(seq, out);
            }
            Decoded::Unreachable(u) => self.unreachable(frame, &u, seq, out),
            Decoded::OtherIp => self.decoder.ignored += 1,
            Decoded::NotIp => self.decoder.not_ip += 1,
            Decoded::Truncated => self.decoder.truncated += 1,
            Decoded::Invalid => self.decoder.invalid += 1,
            Decoded::UnsupportedLinktype => self.decoder.unsupported_linktype += 1,
        }
    }

    /// A frame decoded to a packet, by [`frame`](Self::frame) or by [`screen`](Self::screen):
    /// its facts, at `seq`.
    pub fn decoded(
        &mut self,
        frame: &Frame<'_>,
        mut p: Packet<'_>,
        seq: u64,
        out: &mut dyn FactSink,
    ) {
        self.last_flow = None;
        p.frame_cut = frame.data.len() < frame.orig_len as usize;
        self.packet(At::frame(frame), &p, seq, out, None)
    }

    /// Datagrams the defragmenter handed on: each goes on as one packet.
    fn datagrams(&mut self, seq: u64, out: &mut dyn FactSink) {
        while let Some(done) = self.defrag.take_done() {
            self.datagram(&done, seq, out);
        }
    }

    fn datagram(&mut self, done: &Done, seq: u64, out: &mut dyn FactSink) {
        let d = &done.datagram;
        let complete = done.ending == Ending::Complete;
        match done.ending {
            Ending::Complete => self.decoder.fragments_reassembled += 1,
            Ending::Discarded => self.decoder.fragment_trains_discarded += 1,
            Ending::TimedOut | Ending::Evicted | Ending::EndOfInput => {
                self.decoder.fragment_trains_incomplete += 1
            }
        }
        let how = Reassembled {
            id: done.key.id,
            fragments: d.fragments,
            complete,
        };
        let (k, head) = (done.key, d.head());
        let Some(p) = decode::reassembled(d.vlan, k.src, k.dst, d.proto, head, how) else {
            self.decoder.fragment_trains_headless += 1;
            return;
        };
        let at = At {
            ts: d.last_ts,
            cnt: d.last_cnt,
            wire: u32::try_from(d.wire_bytes).unwrap_or(u32::MAX),
        };
        self.packet(at, &p, seq, out, Some(done));
    }

    fn packet(
        &mut self,
        at: At,
        p: &Packet<'_>,
        seq: u64,
        out: &mut dyn FactSink,
        defrag: Option<&Done>,
    ) {
        let proto = p.l4.ip_number();
        let (msrc, mdst) = (
            self.ports.contains(proto, p.src_port),
            self.ports.contains(proto, p.dst_port),
        );
        if !msrc && !mdst {
            self.decoder.ignored += 1;
            return;
        }
        self.count_monitored(p);
        let ts = at.ts;
        let pos = Pos::at(seq);
        // Known printers orient a new flow whose two ports are both monitored.
        let printers = if msrc && mdst {
            (out.is_printer(p.src), out.is_printer(p.dst))
        } else {
            (false, false)
        };
        let id = self.id;
        let analyzers = &mut self.analyzers;
        let events = &mut self.events;
        let source = &self.source;
        let flow = self.flows.upsert(
            p,
            ts,
            || {
                let printer = |ip| if ip == p.src { printers.0 } else { printers.1 };
                let client = analyze::src_is_client(p, msrc, mdst, printer);
                let server_port = if client { p.dst_port } else { p.src_port };
                let ext = WorkerFlow {
                    app: AppState::for_port(p.l4, server_port),
                    seen: Seen::default(),
                };
                (client, ext)
            },
            // At the cap, the longest idle make room, ended before this packet goes on.
            &mut |f, reason| {
                let view = end_view(id, f, reason, ts, origin_of(source, 0), analyzers, events);
                out.end(pos, view);
            },
        );
        // What the target never received moves no connection state: a datagram the overlap
        // policy threw away, or a TCP segment whose fragments never all came (its SYN would
        // otherwise fix the stream's start, its head stop the stream). Its findings still go
        // to detection on the flow.
        let unseen = defrag.is_some_and(|d| {
            d.ending == Ending::Discarded || (d.ending != Ending::Complete && p.l4 == L4::Tcp)
        });
        let dir = if unseen {
            flow.conn.dir_of(p)
        } else {
            flow.conn.update(p, at.wire)
        };
        self.last_flow = Some(flow.conn.id());
        let cx = PacketCx {
            ts,
            cnt: (at.cnt > 0).then_some(at.cnt),
            dir,
            conn: &flow.conn,
            p,
        };
        // A datagram the overlap policy threw away never reached the target: nothing to
        // analyse, only what its fragments did.
        if unseen {
            events.clear();
        } else {
            flow.ext.app.on_packet(analyzers, &cx, events);
        }
        if let Some(done) = defrag {
            defrag_events(p, done, self.defrag.policy(), events);
        }
        let transitions = detect::transitions(&flow.conn, &mut flow.ext.seen, dir);
        if events.is_empty() && !transitions.any() {
            return;
        }
        let view = PacketView {
            flow: handle(id, flow.slot),
            conn: &flow.conn,
            app_proto: flow.ext.app_proto(&flow.conn),
            dir,
            ts,
            origin: origin_of(source, at.cnt),
            packet: PacketInfo::of(p),
            transitions,
            events,
        };
        out.packet(pos, view);
    }

    /// An ICMP destination unreachable: when it refuses a tracked client's attempt on a
    /// monitored port, the flow learns it as if the server had answered (the refusal is an
    /// outcome the judge must see).
    fn unreachable(
        &mut self,
        frame: &Frame<'_>,
        u: &Unreachable,
        seq: u64,
        out: &mut dyn FactSink,
    ) {
        let proto = u.l4.ip_number();
        if !self.ports.contains(proto, u.dst_port) {
            self.decoder.ignored += 1;
            return;
        }
        let key = FlowKey::new(u.l4, u.src, u.src_port, u.dst, u.dst_port, u.vlan);
        let Some(flow) = self.flows.find_mut(&key) else {
            // Never seen, already ended, or (live, several workers) the kernel's hash put the
            // error on another worker than its flow.
            self.decoder.unreachables_unmatched += 1;
            return;
        };
        if (u.src, u.src_port) != flow.conn.client {
            // It refused a packet the server side sent: no attempt of the client's.
            self.decoder.ignored += 1;
            return;
        }
        self.decoder.unreachables += 1;
        let ts = frame.ts;
        flow.conn.track.unreachable.get_or_insert(u.code);
        if ts > flow.conn.last_ts {
            flow.conn.last_ts = ts;
        }
        let transitions = detect::transitions(&flow.conn, &mut flow.ext.seen, Dir::ToClient);
        if !transitions.any() {
            return;
        }
        self.events.clear();
        let view = PacketView {
            flow: handle(self.id, flow.slot),
            conn: &flow.conn,
            app_proto: flow.ext.app_proto(&flow.conn),
            dir: Dir::ToClient,
            ts,
            origin: origin_of(&self.source, frame.cnt),
            packet: PacketInfo {
                src: u.dst,
                sport: u.dst_port,
                dst: u.src,
                dport: u.src_port,
                l4: u.l4,
                vlan: u.vlan,
            },
            transitions,
            events: &mut self.events,
        };
        out.packet(Pos::at(seq), view);
    }

    fn count_monitored(&mut self, p: &Packet<'_>) {
        let d = &mut self.decoder;
        d.monitored += 1;
        match p.src {
            IpAddr::V4(_) => d.ipv4 += 1,
            IpAddr::V6(_) => d.ipv6 += 1,
        }
        match p.l4 {
            L4::Tcp => d.tcp += 1,
            L4::Udp => d.udp += 1,
        }
        if !p.vlan.is_empty() {
            d.vlan += 1;
        }
        if p.capture_truncated() {
            d.truncated += 1;
        }
    }

    /// Flows idle past their timeout end (oldest first, ties by flow id), at `seq`.
    pub fn expire(&mut self, now: Timestamp, seq: u64, out: &mut dyn FactSink) {
        let origin = self.origin_at(0);
        let (id, analyzers, events) = (self.id, &mut self.analyzers, &mut self.events);
        self.flows.expire(now, &mut |f, reason| {
            let pos = Pos {
                seq,
                last: f.conn.last_ts.0,
                id: f.conn.id(),
            };
            out.end(
                pos,
                end_view(id, f, reason, now, origin.clone(), analyzers, events),
            );
        });
        self.defrag.expire(now);
        self.datagrams(seq, out);
    }

    /// Every flow ends (end of input, stop signal), at `seq`.
    pub fn drain(&mut self, now: Timestamp, seq: u64, out: &mut dyn FactSink) {
        // Datagrams still waiting for fragments go on first, as far as they came.
        self.defrag.drain();
        self.datagrams(seq, out);
        let origin = self.origin_at(0);
        let (id, analyzers, events) = (self.id, &mut self.analyzers, &mut self.events);
        self.flows.drain(&mut |f, reason| {
            let pos = Pos {
                seq,
                last: f.conn.last_ts.0,
                id: f.conn.id(),
            };
            out.end(
                pos,
                end_view(id, f, reason, now, origin.clone(), analyzers, events),
            );
        });
    }

    /// The id of the monitored flow the last frame belonged to, if it belonged to one.
    pub fn last_flow(&self) -> Option<u64> {
        self.last_flow
    }

    pub fn stats(&self) -> WorkerStats {
        WorkerStats {
            capture: self.capture,
            decoder: self.decoder,
            fragment_trains: self.defrag.stats().held,
            fragment_trains_evicted: self.defrag.stats().evicted,
            flow: self.flows.stats(),
            bjnp: self.analyzers.stats(),
            doors: self.analyzers.doors,
            first_ts: self.first_ts,
            last_ts: self.last_ts,
        }
    }

    /// The newest packet time seen (replay clock).
    pub fn last_ts(&self) -> Timestamp {
        self.last_ts
    }

    pub fn packets(&self) -> u64 {
        self.capture.packets
    }
}

fn origin_of(source: &Option<Source>, cnt: u64) -> Origin {
    match source {
        Some(Source::File(name)) => Origin::File {
            name: name.clone(),
            cnt,
        },
        Some(Source::Iface(i)) => Origin::Iface(i.clone()),
        None => Origin::None,
    }
}

/// What a datagram's fragments did, as anomalies on its flow: that it came in fragments (once
/// per datagram), then each thing a well-behaved sender never does.
fn defrag_events(p: &Packet<'_>, done: &Done, policy: OverlapPolicy, out: &mut Vec<AppEvent>) {
    let d = &done.datagram;
    let f = &d.findings;
    let mut push = |event, reason: String| {
        out.push(AppEvent::Anomaly(Anomaly {
            kind: AnomalyType::Decode,
            event,
            layer: None,
            reason: Some(reason),
            bytes: None,
            preview_hex: None,
        }))
    };
    let what = match done.ending {
        Ending::Complete => "put together",
        Ending::Discarded => "thrown away, as the target would",
        Ending::TimedOut => "incomplete: its fragments stopped coming",
        Ending::Evicted => "incomplete: dropped to make room",
        Ending::EndOfInput => "incomplete when the capture ended",
    };
    push(
        if p.src.is_ipv4() {
            AnomalyEvent::Ipv4Fragment
        } else {
            AnomalyEvent::Ipv6Fragment
        },
        format!(
            "datagram id {} in {} fragments, {what} ({} bytes from offset 0)",
            done.key.id,
            d.fragments,
            d.head().len()
        ),
    );
    if let Some(at) = f.conflict_at {
        push(
            AnomalyEvent::FragmentOverlap,
            format!(
                "fragments overlap with different bytes at offset {at}; overlap policy {policy}"
            ),
        );
    }
    if let Some(len) = f.tiny_first {
        push(
            AnomalyEvent::FragmentTiny,
            format!("first fragment of {len} bytes ends inside the transport header"),
        );
    }
    if f.too_large {
        push(
            AnomalyEvent::FragmentTooLarge,
            format!(
                "fragments reach past {} bytes or number more than {}",
                crate::defrag::MAX_DATAGRAM,
                crate::defrag::MAX_PIECES
            ),
        );
    }
    if matches!(
        done.ending,
        Ending::TimedOut | Ending::Evicted | Ending::EndOfInput
    ) {
        push(AnomalyEvent::FragmentIncomplete, what.to_owned());
    }
}

/// A flow ends: what its analyzer still holds, with the flow as it was.
fn end_view<'a>(
    worker: u16,
    f: &'a mut Flow<WorkerFlow>,
    reason: EndReason,
    now: Timestamp,
    origin: Origin,
    analyzers: &mut analyze::Shared,
    events: &'a mut Vec<AppEvent>,
) -> EndView<'a> {
    // The last job of a print stream ends with its connection.
    f.ext.app.on_end(analyzers, events);
    EndView {
        flow: handle(worker, f.slot),
        conn: &f.conn,
        app_proto: f.ext.app_proto(&f.conn),
        reason,
        ts: now.max(f.conn.last_ts),
        origin,
        events,
    }
}
