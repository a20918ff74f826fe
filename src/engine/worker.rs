//! The flow stage: frames in, facts out. A worker owns what belongs to single flows: the
//! prefilter and decoder, the flow table, IP fragment trains and each flow's analyzer. It judges
//! nothing; a packet reaches the judge only when it changed what detection watches or its
//! analyzer reported something, so most packets of a long print stream stay here.

use super::fact::{EndView, FactSink, PacketInfo, PacketView, Pos, WorkerStats};
use super::fragments::Fragments;
use super::records;
use crate::analyze::{self, Analyzer, AppEvent, AppState, PacketCx};
use crate::capture::{Frame, Source};
use crate::decode::{self, prefilter, Decoded, Packet, Unreachable, L4};
use crate::detect::{self, Seen};
use crate::event::{CaptureStats, DecoderStats, EndReason, Origin};
use crate::flow::{Conn, Dir, Flow, FlowConfig, FlowKey, FlowTable};
use crate::net::{PortSet, Timestamp};
use std::net::IpAddr;

/// What a worker keeps with each flow: its analyzer and the transitions already reported.
pub struct WorkerFlow {
    app: AppState,
    seen: Seen,
}

/// How the judge knows a flow: its worker and its place in that worker's table (a place is
/// reused only after the flow that held it ended, and the judge sees that end first).
pub fn handle(worker: u16, slot: u32) -> u64 {
    u64::from(worker) << 32 | u64::from(slot)
}

impl WorkerFlow {
    fn app_proto(&self, conn: &Conn) -> Option<crate::event::AppProto> {
        self.app.app_proto(conn.server.1)
    }
}

pub struct Worker {
    ports: PortSet,
    prefilter: bool,
    flows: FlowTable<WorkerFlow>,
    frags: Fragments,
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
        max_fragment_trains: usize,
    ) -> Self {
        Worker {
            ports,
            prefilter,
            flows: FlowTable::new(flow),
            frags: Fragments::new(max_fragment_trains),
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

    /// One frame that passed [`wanted`](Self::wanted) (and was counted): its facts, at `seq`.
    pub fn frame(&mut self, frame: &Frame<'_>, seq: u64, out: &mut dyn FactSink) {
        self.last_flow = None;
        match decode::decode(frame.linktype, frame.data) {
            Decoded::Packet(mut p) => {
                p.frame_cut = frame.data.len() < frame.orig_len as usize;
                self.packet(frame, &p, seq, out)
            }
            Decoded::Fragment(f, _) => {
                if self.frags.follows(&f) {
                    self.decoder.fragments += 1;
                } else {
                    self.decoder.ignored += 1;
                }
            }
            Decoded::Unreachable(u) => self.unreachable(frame, &u, seq, out),
            Decoded::OtherIp => self.decoder.ignored += 1,
            Decoded::NotIp => self.decoder.not_ip += 1,
            Decoded::Truncated => self.decoder.truncated += 1,
            Decoded::Invalid => self.decoder.invalid += 1,
            Decoded::UnsupportedLinktype => self.decoder.unsupported_linktype += 1,
        }
    }

    fn packet(&mut self, frame: &Frame<'_>, p: &Packet<'_>, seq: u64, out: &mut dyn FactSink) {
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
        let ts = frame.ts;
        let pos = Pos::at(seq);
        if let Some(f) = p.fragment {
            self.decoder.fragments += 1;
            if self.frags.open(&f, ts) {
                let r = records::fragment(p, &f, ts, &self.origin_at(frame.cnt));
                out.record(pos, r);
            }
        }
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
        let dir = flow.conn.update(p, frame.orig_len);
        self.last_flow = Some(flow.conn.id());
        let cx = PacketCx {
            ts,
            cnt: (frame.cnt > 0).then_some(frame.cnt),
            dir,
            conn: &flow.conn,
            p,
        };
        flow.ext.app.on_packet(analyzers, &cx, events);
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
            origin: origin_of(source, frame.cnt),
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
        self.frags.expire(now);
    }

    /// Every flow ends (end of input, stop signal), at `seq`.
    pub fn drain(&mut self, now: Timestamp, seq: u64, out: &mut dyn FactSink) {
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
            fragment_trains: self.frags.len() as u64,
            fragment_trains_evicted: self.frags.evicted(),
            flow: self.flows.stats(),
            bjnp: self.analyzers.stats(),
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
