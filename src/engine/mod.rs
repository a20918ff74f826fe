//! The engine: one frame in, zero or more records out. It owns the per-run state (flows,
//! analyzers, detection, counters), runs the stages in order for each frame, and hands what
//! they produce to the record builder (`records`). Live capture, replay, tests and benches
//! drive it the same way.

mod fragments;
pub mod records;

use crate::analyze::{self, Analyzer, AppEvent, AppState, PacketCx};
use crate::capture::{Frame, Source};
use crate::decode::{self, prefilter, Decoded, Packet, L4};
use crate::detect::{policy::Policy, About, Decision, Detector, FlowMarks, Route};
use crate::event::{
    AppProto, Body, CaptureStats, DecoderStats, EndReason, InventoryReport, Origin, OutputStats,
    Record, Stats,
};
use crate::flow::{Conn, Flow, FlowConfig, FlowTable};
use crate::net::{PortSet, Timestamp};
use crate::output::RecordSink;
use fragments::Fragments;
use std::net::IpAddr;

#[derive(Clone)]
pub struct EngineConfig {
    /// Monitored ports, inventory, allow lists, thresholds.
    pub policy: Policy,
    pub flow: FlowConfig,
    /// The fixed-offset pre-check; off only to prove it changes nothing.
    pub prefilter: bool,
    pub max_fragment_trains: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            policy: Policy::default(),
            flow: FlowConfig::default(),
            prefilter: true,
            max_fragment_trains: 4096,
        }
    }
}

/// Flows and pending state are swept once per this much packet time.
const SWEEP_INTERVAL_NS: u64 = 1_000_000_000;

/// What the engine keeps with each flow: its analyzer and what detection decided about it.
pub struct PerFlow {
    app: AppState,
    marks: FlowMarks,
}

impl PerFlow {
    fn app_proto(&self, conn: &Conn) -> Option<AppProto> {
        self.app.app_proto(conn.server.1)
    }
}

pub struct Engine {
    cfg: EngineConfig,
    /// Copied out of the policy: the hot path reads it on every frame.
    ports: PortSet,
    flows: FlowTable<PerFlow>,
    /// Everything a flow's packets and its end go through after the flow table; apart from
    /// the table so that a flow can be ended where it lies while the table is borrowed.
    st: Stages,
    frags: Fragments,
    capture: CaptureStats,
    decoder: DecoderStats,
    first_ts: Option<Timestamp>,
    last_ts: Timestamp,
    next_sweep: Timestamp,
}

/// The stages after the flow table, and what they reuse between packets.
struct Stages {
    source: Option<Source>,
    analyzers: analyze::Shared,
    detect: Detector,
    /// Analyzer events of the current packet, reused so no packet allocates a list.
    events: Vec<AppEvent>,
    /// Detection's decisions of the current step, reused likewise.
    decisions: Vec<Decision>,
    records: u64,
}

impl Engine {
    pub fn new(cfg: EngineConfig) -> Self {
        Engine {
            flows: FlowTable::new(cfg.flow.clone()),
            frags: Fragments::new(cfg.max_fragment_trains),
            ports: cfg.policy.ports.clone(),
            st: Stages {
                source: None,
                analyzers: analyze::Shared::default(),
                detect: Detector::new(cfg.policy.clone()),
                events: Vec::new(),
                decisions: Vec::new(),
                records: 0,
            },
            cfg,
            capture: CaptureStats::default(),
            decoder: DecoderStats::default(),
            first_ts: None,
            last_ts: Timestamp::default(),
            next_sweep: Timestamp::default(),
        }
    }

    /// Called when a new file or interface starts; flow state carries across files.
    pub fn set_source(&mut self, src: Source) {
        if matches!(src, Source::File(_)) {
            self.capture.files += 1;
        }
        self.st.source = Some(src);
    }

    /// Counts a frame that a `-f` filter rejected before it reached the engine.
    pub fn count_filtered(&mut self, frame: &Frame<'_>) {
        self.count_frame(frame);
        self.capture.filtered += 1;
    }

    fn count_frame(&mut self, frame: &Frame<'_>) {
        self.capture.packets += 1;
        self.capture.bytes += u64::from(frame.orig_len);
        if self.first_ts.is_none() {
            self.first_ts = Some(frame.ts);
        }
        if frame.ts > self.last_ts {
            self.last_ts = frame.ts;
        }
    }

    pub fn process(&mut self, frame: &Frame<'_>, out: &mut dyn RecordSink) {
        self.count_frame(frame);
        if frame.ts >= self.next_sweep {
            self.sweep(frame.ts, out);
        }
        if self.cfg.prefilter {
            match prefilter::check(frame.linktype, frame.data, &self.ports) {
                prefilter::Verdict::IgnoreIp => {
                    self.decoder.ignored += 1;
                    return;
                }
                prefilter::Verdict::IgnoreNotIp => {
                    self.decoder.not_ip += 1;
                    return;
                }
                prefilter::Verdict::Decode => {}
            }
        }
        match decode::decode(frame.linktype, frame.data) {
            Decoded::Packet(mut p) => {
                p.frame_cut = frame.data.len() < frame.orig_len as usize;
                self.packet(frame, &p, out)
            }
            Decoded::Fragment(f, _) => {
                if self.frags.follows(&f) {
                    self.decoder.fragments += 1;
                } else {
                    self.decoder.ignored += 1;
                }
            }
            Decoded::OtherIp => self.decoder.ignored += 1,
            Decoded::NotIp => self.decoder.not_ip += 1,
            Decoded::Truncated => self.decoder.truncated += 1,
            Decoded::Invalid => self.decoder.invalid += 1,
            Decoded::UnsupportedLinktype => self.decoder.unsupported_linktype += 1,
        }
    }

    fn packet(&mut self, frame: &Frame<'_>, p: &Packet<'_>, out: &mut dyn RecordSink) {
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
        let origin = self.st.origin_at(frame.cnt);
        if let Some(f) = p.fragment {
            self.decoder.fragments += 1;
            if self.frags.open(&f, ts) {
                out.emit(records::fragment(p, &f, ts, &origin));
                self.st.records += 1;
            }
        }
        let st = &mut self.st;
        // Known printers orient a new flow whose two ports are both monitored.
        let printers = if msrc && mdst {
            (st.detect.is_printer(p.src), st.detect.is_printer(p.dst))
        } else {
            (false, false)
        };
        let flow = self.flows.upsert(
            p,
            ts,
            || {
                let printer = |ip| if ip == p.src { printers.0 } else { printers.1 };
                let client = analyze::src_is_client(p, msrc, mdst, printer);
                let server_port = if client { p.dst_port } else { p.src_port };
                let ext = PerFlow {
                    app: AppState::for_port(p.l4, server_port),
                    marks: FlowMarks::default(),
                };
                (client, ext)
            },
            // At the cap, the longest idle make room, ended before this packet goes on.
            &mut |f, reason| st.end_flow(f, reason, ts, out),
        );
        st.packet(flow, frame, p, &origin, out);
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

    fn sweep(&mut self, now: Timestamp, out: &mut dyn RecordSink) {
        self.next_sweep = Timestamp(now.0.saturating_add(SWEEP_INTERVAL_NS));
        let st = &mut self.st;
        self.flows
            .expire(now, &mut |f, reason| st.end_flow(f, reason, now, out));
        st.analyzers.expire(now);
        self.frags.expire(now);
        st.detect.tick(now, &mut st.decisions);
        st.reports(now, out);
    }

    /// Advances time without a packet (live capture on a quiet link).
    pub fn tick(&mut self, now: Timestamp, out: &mut dyn RecordSink) {
        if now >= self.next_sweep {
            self.sweep(now, out);
        }
    }

    /// End of input: every flow ends, then what detection still holds (campaigns' totals,
    /// the last window's summary).
    pub fn finish(&mut self, out: &mut dyn RecordSink) {
        let now = self.last_ts;
        let st = &mut self.st;
        self.flows
            .drain(&mut |f, reason| st.end_flow(f, reason, now, out));
        st.detect.finish(now, &mut st.decisions);
        st.reports(now, out);
    }

    /// Counters as a `stats` record. `live` carries libpcap's counters; `now` is the packet
    /// clock on replay (so replays are reproducible) and the wall clock live.
    pub fn stats_record(&self, now: Timestamp, live: Option<(u64, u64, u64)>) -> Record {
        records::stats(
            now,
            Stats {
                uptime_sec: self.first_ts.map_or(0, |t| now.since(t) / 1_000_000_000),
                capture: records::with_live(self.capture, live),
                decoder: records::decoder(
                    self.decoder,
                    self.frags.len() as u64,
                    self.frags.evicted(),
                ),
                flow: self.flows.stats(),
                bjnp: self.st.analyzers.stats(),
                detect: self.st.detect.stats(),
                output: OutputStats {
                    records: self.st.records,
                    ..OutputStats::default()
                },
            },
        )
    }

    /// Frames seen so far (including those a `-f` filter rejected).
    pub fn packets(&self) -> u64 {
        self.capture.packets
    }

    pub fn ports(&self) -> &PortSet {
        &self.ports
    }

    /// The printers seen so far (the `inventory` subcommand reads it at the end).
    pub fn inventory(&self) -> InventoryReport {
        self.st.detect.inventory_report()
    }

    pub fn policy(&self) -> &Policy {
        self.st.detect.policy()
    }

    /// The newest packet time seen (replay clock).
    pub fn last_ts(&self) -> Timestamp {
        self.last_ts
    }
}

impl Stages {
    /// The record origin for packet `cnt` of the current source (0: no one packet).
    fn origin_at(&self, cnt: u64) -> Origin {
        match &self.source {
            Some(Source::File(name)) => Origin::File {
                name: name.clone(),
                cnt,
            },
            Some(Source::Iface(i)) => Origin::Iface(i.clone()),
            None => Origin::None,
        }
    }

    /// One packet of a flow: its analyzer's events become records and are judged, then the
    /// flow itself is judged, then the printer records that became due.
    fn packet(
        &mut self,
        flow: &mut Flow<PerFlow>,
        frame: &Frame<'_>,
        p: &Packet<'_>,
        origin: &Origin,
        out: &mut dyn RecordSink,
    ) {
        let dir = flow.conn.update(p, frame.orig_len);
        let ts = frame.ts;
        let cx = PacketCx {
            ts,
            cnt: (frame.cnt > 0).then_some(frame.cnt),
            dir,
            conn: &flow.conn,
            p,
        };
        flow.ext
            .app
            .on_packet(&mut self.analyzers, &cx, &mut self.events);

        let mut counted = Counted::new(out, &mut self.records);
        let out = &mut counted;
        let (conn, ext) = (&flow.conn, &mut flow.ext);
        let decisions = &mut self.decisions;
        let detect = &mut self.detect;
        let at = At { ts, origin };
        if !self.events.is_empty() {
            let community_id = records::packet_community_id(p, p.l4.ip_number());
            let route = Route {
                src: p.src,
                sport: p.src_port,
                dst: p.dst,
                dport: p.dst_port,
                l4: p.l4,
            };
            for ev in self.events.drain(..) {
                let body = match ev {
                    AppEvent::Finding(f) => {
                        detect.on_finding(conn, &mut ext.marks, &f, ts, decisions);
                        emit(decisions, conn, ext, None, &at, out);
                        continue;
                    }
                    AppEvent::PrinterData { total } => {
                        detect.on_printer_data(conn, &mut ext.marks, total, ts, decisions);
                        emit(decisions, conn, ext, None, &at, out);
                        continue;
                    }
                    AppEvent::Bjnp(b) => {
                        detect.on_message(conn, &mut ext.marks, route, &b, ts, decisions);
                        if detect.fold_message(conn, &b) {
                            // a campaign counts the message; what it caused is still written
                            let proto = records::body_app_proto(&Body::Bjnp(b));
                            let ends = records::packet_endpoints(p, proto, community_id.clone());
                            emit(decisions, conn, ext, Some(ends), &at, out);
                            continue;
                        }
                        Body::Bjnp(b)
                    }
                    AppEvent::Anomaly(a) => {
                        let reason = a.reason.as_deref();
                        let marks = &mut ext.marks;
                        detect.on_anomaly(conn, marks, route, a.event, reason, ts, decisions);
                        Body::Anomaly(a)
                    }
                    AppEvent::Print(pr) => Body::Print(pr),
                };
                let app_proto = records::body_app_proto(&body);
                let ends = records::packet_endpoints(p, app_proto, community_id.clone());
                let rec = records::content(ts, conn.id(), origin, ends, body);
                // The record first, then the alerts it caused.
                let about = rec.endpoints.clone();
                out.emit(rec);
                emit(decisions, conn, ext, about, &at, out);
            }
        }
        detect.on_packet(conn, &mut ext.marks, dir, ts, decisions);
        emit(decisions, conn, ext, None, &at, out);
        for printer in detect.printer_changes() {
            out.emit(records::printer(printer, ts));
        }
    }

    /// A flow ends: what its analyzer still holds, the last decisions (an unanswered
    /// attempt), then its `flow` record unless a campaign counts it.
    fn end_flow(
        &mut self,
        flow: &mut Flow<PerFlow>,
        reason: EndReason,
        now: Timestamp,
        out: &mut dyn RecordSink,
    ) {
        let origin = self.origin_at(0);
        let ts = now.max(flow.conn.last_ts);
        let at = At {
            ts,
            origin: &origin,
        };
        // The last job of a print stream ends with its connection.
        flow.ext.app.on_end(&mut self.analyzers, &mut self.events);
        let mut counted = Counted::new(out, &mut self.records);
        let out = &mut counted;
        let (conn, ext) = (&flow.conn, &mut flow.ext);
        let decisions = &mut self.decisions;
        for ev in self.events.drain(..) {
            let body = match ev {
                AppEvent::Finding(f) => {
                    self.detect
                        .on_finding(conn, &mut ext.marks, &f, ts, decisions);
                    emit(decisions, conn, ext, None, &at, out);
                    continue;
                }
                AppEvent::PrinterData { total } => {
                    self.detect
                        .on_printer_data(conn, &mut ext.marks, total, ts, decisions);
                    emit(decisions, conn, ext, None, &at, out);
                    continue;
                }
                AppEvent::Bjnp(b) => Body::Bjnp(b),
                AppEvent::Anomaly(a) => Body::Anomaly(a),
                AppEvent::Print(pr) => Body::Print(pr),
            };
            let ends = records::flow_endpoints(conn, ext.app_proto(conn));
            out.emit(records::content(
                conn.last_ts,
                conn.id(),
                &origin,
                ends,
                body,
            ));
        }
        let folded = self.detect.on_flow_end(conn, &mut ext.marks, ts, decisions);
        emit(decisions, conn, ext, None, &at, out);
        if !folded {
            out.emit(records::flow_end(
                conn,
                reason,
                &ext.marks,
                ext.app_proto(conn),
                &origin,
            ));
        }
    }

    /// Campaign and summary records detection decided outside any flow.
    fn reports(&mut self, now: Timestamp, out: &mut dyn RecordSink) {
        let origin = self.origin_at(0);
        let mut out = Counted::new(out, &mut self.records);
        for d in self.decisions.drain(..) {
            match d {
                Decision::Campaign(c) => out.emit(records::campaign(*c, now, &origin)),
                Decision::Summary(s) => out.emit(records::summary(*s, now, &origin)),
                // alerts come from flows, and are written with them
                Decision::Alert(_) => {}
            }
        }
    }
}

/// When and where the decisions of a step happen.
struct At<'a> {
    ts: Timestamp,
    origin: &'a Origin,
}

/// Writes detection's decisions: alerts about the flow (client to server), or with the
/// endpoints of the record that caused them; campaign and summary reports as they come.
fn emit(
    decisions: &mut Vec<Decision>,
    conn: &Conn,
    ext: &PerFlow,
    record: Option<crate::event::Endpoints>,
    at: &At<'_>,
    out: &mut Counted<'_>,
) {
    for d in decisions.drain(..) {
        match d {
            Decision::Alert(d) => {
                let ends = match (d.about, &record) {
                    (About::Record, Some(e)) => e.clone(),
                    _ => records::flow_endpoints(conn, ext.app_proto(conn)),
                };
                out.emit(records::alert(*d, at.ts, conn.id(), at.origin, ends));
            }
            Decision::Campaign(c) => out.emit(records::campaign(*c, at.ts, at.origin)),
            Decision::Summary(s) => out.emit(records::summary(*s, at.ts, at.origin)),
        }
    }
}

/// Counts what passes through, for `stats.output.records`.
struct Counted<'a> {
    inner: &'a mut dyn RecordSink,
    n: &'a mut u64,
}

impl<'a> Counted<'a> {
    fn new(inner: &'a mut dyn RecordSink, n: &'a mut u64) -> Self {
        Counted { inner, n }
    }
}

impl RecordSink for Counted<'_> {
    fn emit(&mut self, r: Record) {
        *self.n += 1;
        self.inner.emit(r);
    }
}
