//! The engine: one frame in, zero or more records out. It owns the per-run state (flows,
//! analyzers, counters) and is driven the same way by live capture, replay, tests and benches.

use crate::analyze::bjnp::{BjnpAnalyzer, PacketCtx};
use crate::analyze::{AppOut, FlowApp};
use crate::bounded::BoundedMap;
use crate::decode::{self, ports::PortSet, prefilter, Decoded, Fragment, Packet, L4};
use crate::detect::{self, policy::Policy, At, Detector};
use crate::event::{
    Anomaly, Body, CaptureStats, DecoderStats, Endpoints, FlowInfo, FlowRecord, Origin,
    OutputStats, Record, Stats, Timestamp,
};
use crate::flow::{Dir, EndReason, Flow, FlowConfig, FlowTable};
use crate::output::RecordSink;
use std::net::IpAddr;
use std::sync::Arc;

/// One captured frame, as every capture source yields it.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub ts: Timestamp,
    pub linktype: u32,
    pub data: &'a [u8],
    /// Length on the wire (larger than `data` when snaplen cut it).
    pub orig_len: u32,
    /// Packet number within its file, from 1 (Wireshark's frame number); 0 live.
    pub cnt: u64,
}

/// Where the frames currently come from.
#[derive(Clone, Debug)]
pub enum Source {
    File(Arc<str>),
    Iface(Arc<str>),
}

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
const FRAGMENT_TTL_NS: u64 = 60 * 1_000_000_000;

type FragKey = (IpAddr, IpAddr, u32, u8);

pub struct Engine {
    cfg: EngineConfig,
    /// Copied out of the policy: the hot path reads it on every frame.
    ports: PortSet,
    source: Option<Source>,
    flows: FlowTable,
    bjnp: BjnpAnalyzer,
    detect: Detector,
    /// Analyzer output of the current packet, reused so no packet allocates a list.
    bodies: Vec<AppOut>,
    /// Alerts raised by a record, held until the record itself is written.
    alert_buf: Vec<Record>,
    frags: BoundedMap<FragKey, ()>,
    capture: CaptureStats,
    decoder: DecoderStats,
    records: u64,
    first_ts: Option<Timestamp>,
    last_ts: Timestamp,
    next_sweep: Timestamp,
    /// Reused between packets so ending flows does not allocate in the steady state.
    ended: Vec<(Flow, EndReason)>,
}

impl Engine {
    pub fn new(cfg: EngineConfig) -> Self {
        Engine {
            flows: FlowTable::new(cfg.flow.clone()),
            frags: BoundedMap::new(cfg.max_fragment_trains),
            ports: cfg.policy.ports.clone(),
            detect: Detector::new(cfg.policy.clone()),
            bodies: Vec::new(),
            alert_buf: Vec::new(),
            cfg,
            source: None,
            bjnp: BjnpAnalyzer::default(),
            capture: CaptureStats::default(),
            decoder: DecoderStats::default(),
            records: 0,
            first_ts: None,
            last_ts: Timestamp::default(),
            next_sweep: Timestamp::default(),
            ended: Vec::new(),
        }
    }

    /// Called when a new file or interface starts; flow state carries across files.
    pub fn set_source(&mut self, src: Source) {
        if matches!(src, Source::File(_)) {
            self.capture.files += 1;
        }
        self.source = Some(src);
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
                let key = (f.src, f.dst, f.id, f.proto);
                if self.frags.get(&key).is_some() {
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

    fn packet(&mut self, frame: &Frame<'_>, p: &Packet<'_>, out_outer: &mut dyn RecordSink) {
        let out: &mut dyn RecordSink = out_outer;
        let proto = p.l4.ip_number();
        let (msrc, mdst) = (
            self.ports.contains(proto, p.src_port),
            self.ports.contains(proto, p.dst_port),
        );
        if !msrc && !mdst {
            self.decoder.ignored += 1;
            return;
        }
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
        let origin = self.origin(frame);
        if let Some(f) = p.fragment {
            self.first_fragment(frame, p, f, &origin, out);
        }

        let ended = &mut self.ended;
        let flow = self
            .flows
            .upsert(p, frame.ts, msrc, mdst, &mut |f, r| ended.push((f, r)));
        let dir = flow.dir_of(p);
        let di = dir.index();
        flow.pkts[di] += 1;
        flow.bytes[di] += u64::from(frame.orig_len);
        flow.track
            .update(p.l4, p.tcp, !p.payload.is_empty(), dir == Dir::ToServer);

        let ctx = PacketCtx {
            ts: frame.ts,
            cnt: (frame.cnt > 0).then_some(frame.cnt),
            dir,
        };
        let bodies = &mut self.bodies;
        match &mut flow.app {
            FlowApp::Bjnp(st) => {
                let mut emit = |body: Body| bodies.push(AppOut::Record(body));
                match p.l4 {
                    L4::Udp => self.bjnp.on_udp(st, &ctx, p, &mut emit),
                    L4::Tcp => self.bjnp.on_tcp(st, &ctx, p, &mut emit),
                }
                bodies.extend(st.findings.drain(..).map(AppOut::Finding));
            }
            FlowApp::RawIdle(isns) => {
                if p.tcp.has(crate::decode::Tcp::SYN) {
                    isns[dir.index()].get_or_insert(p.tcp.seq);
                }
                if !p.payload.is_empty() {
                    let mut st = Box::new(crate::analyze::raw::RawFlow::with_isns(*isns));
                    st.on_segment(dir, p.tcp, p.payload, &mut |o| bodies.push(o));
                    flow.app = FlowApp::Raw(st);
                }
            }
            FlowApp::Raw(st) => st.on_segment(dir, p.tcp, p.payload, &mut |o| bodies.push(o)),
            FlowApp::None => {}
        }
        let mut out = Counted::new(out, &mut self.records);
        let at = At {
            ts: frame.ts,
            origin: &origin,
        };
        if !self.bodies.is_empty() {
            let community_id = crate::event::community_id_v1(
                0,
                p.src,
                p.dst,
                p.src_port,
                p.dst_port,
                p.l4.ip_number(),
            );
            for o in self.bodies.drain(..) {
                let body = match o {
                    AppOut::Record(body) => body,
                    AppOut::Finding(f) => {
                        self.detect.on_finding(flow, &f, &at, &mut out);
                        continue;
                    }
                };
                let rec = Record {
                    timestamp: frame.ts,
                    flow_id: Some(flow.id),
                    origin: origin.clone(),
                    endpoints: Some(endpoints(p, body_proto(&body), community_id.clone())),
                    body,
                };
                // The record first, then the alerts it caused.
                self.detect.on_record(flow, &rec, &mut self.alert_buf);
                out.emit(rec);
                for a in self.alert_buf.drain(..) {
                    out.emit(a);
                }
            }
        }
        self.detect.on_packet(flow, dir, &at, &mut out);
        self.detect.flush_printers(frame.ts, &mut out);
        self.end_flows(frame.ts, out_outer);
    }

    /// A first fragment of a datagram to or from a monitored port: counted, reported once per
    /// datagram, and remembered so its later fragments are counted too. Not reassembled.
    fn first_fragment(
        &mut self,
        frame: &Frame<'_>,
        p: &Packet<'_>,
        f: Fragment,
        origin: &Origin,
        out: &mut dyn RecordSink,
    ) {
        self.decoder.fragments += 1;
        let key = (f.src, f.dst, f.id, f.proto);
        if self.frags.get(&key).is_some() {
            return;
        }
        self.frags.insert(key, (), frame.ts);
        let cid = crate::event::community_id_v1(0, p.src, p.dst, p.src_port, p.dst_port, f.proto);
        out.emit(Record {
            timestamp: frame.ts,
            flow_id: None,
            origin: origin.clone(),
            endpoints: Some(endpoints(p, None, cid)),
            body: Body::Anomaly(Anomaly {
                kind: "decode",
                event: if p.src.is_ipv4() {
                    "ipv4.fragment"
                } else {
                    "ipv6.fragment"
                },
                layer: None,
                reason: Some(format!(
                    "fragmented datagram to a monitored port (id {}, {} bytes announced); not reassembled",
                    f.id, p.wire_payload_len
                )),
                bytes: None,
                preview_hex: None,
            }),
        });
        self.records += 1;
    }

    fn origin(&self, frame: &Frame<'_>) -> Origin {
        self.origin_at(frame.cnt)
    }

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

    fn sweep(&mut self, now: Timestamp, out: &mut dyn RecordSink) {
        self.next_sweep = Timestamp(now.0.saturating_add(SWEEP_INTERVAL_NS));
        let ended = &mut self.ended;
        self.flows.expire(now, &mut |f, r| ended.push((f, r)));
        self.bjnp.expire(now);
        self.frags.expire(now, FRAGMENT_TTL_NS);
        self.end_flows(now, out);
    }

    /// Advances time without a packet (live capture on a quiet link).
    pub fn tick(&mut self, now: Timestamp, out: &mut dyn RecordSink) {
        if now >= self.next_sweep {
            self.sweep(now, out);
        }
    }

    /// Flows that ended: last decisions (an unanswered attempt), then the `flow` record.
    fn end_flows(&mut self, now: Timestamp, out: &mut dyn RecordSink) {
        if self.ended.is_empty() {
            return;
        }
        let origin = self.origin_at(0);
        let mut out = Counted::new(out, &mut self.records);
        for (mut flow, reason) in self.ended.drain(..) {
            let at = At {
                ts: now.max(flow.last_ts),
                origin: &origin,
            };
            // The last job of a print stream ends with its connection.
            let mut outs = Vec::new();
            match &mut flow.app {
                FlowApp::Raw(st) => st.finish(&mut |o| outs.push(o)),
                FlowApp::Bjnp(st) => {
                    self.bjnp.finish(st, &mut |b| outs.push(AppOut::Record(b)));
                    outs.extend(st.finish().map(AppOut::Record));
                }
                FlowApp::None | FlowApp::RawIdle(_) => {}
            }
            {
                for o in outs {
                    match o {
                        AppOut::Finding(f) => self.detect.on_finding(&mut flow, &f, &at, &mut out),
                        AppOut::Record(body) => out.emit(Record {
                            timestamp: flow.last_ts,
                            flow_id: Some(flow.id),
                            origin: origin.clone(),
                            endpoints: Some(detect::flow_endpoints(&flow)),
                            body,
                        }),
                    }
                }
            }
            self.detect.on_flow_end(&mut flow, reason, &at, &mut out);
            out.emit(flow_record(&flow, reason, &origin));
        }
    }

    /// End of input: every flow ends.
    pub fn finish(&mut self, out: &mut dyn RecordSink) {
        let ended = &mut self.ended;
        self.flows.drain(&mut |f, r| ended.push((f, r)));
        let now = self.last_ts;
        self.end_flows(now, out);
    }

    /// Counters as a `stats` record. `live` carries libpcap's counters; `now` is the packet
    /// clock on replay (so replays are reproducible) and the wall clock live.
    pub fn stats_record(&self, now: Timestamp, live: Option<(u64, u64, u64)>) -> Record {
        let mut capture = self.capture;
        if let Some((received, dropped, if_dropped)) = live {
            capture.received = Some(received);
            capture.dropped = Some(dropped);
            capture.if_dropped = Some(if_dropped);
        }
        Record {
            timestamp: now,
            flow_id: None,
            origin: Origin::None,
            endpoints: None,
            body: Body::Stats(Box::new(Stats {
                uptime_sec: self.first_ts.map_or(0, |t| now.since(t) / 1_000_000_000),
                capture,
                decoder: DecoderStats {
                    fragment_trains: self.frags.len() as u64,
                    fragment_trains_evicted: self.frags.evicted(),
                    ..self.decoder
                },
                flow: self.flows.stats(),
                bjnp: self.bjnp.stats(),
                detect: self.detect.stats(),
                output: OutputStats {
                    records: self.records,
                    ..OutputStats::default()
                },
            })),
        }
    }

    /// Frames seen so far (including those a `-f` filter rejected).
    pub fn packets(&self) -> u64 {
        self.capture.packets
    }

    pub fn ports(&self) -> &PortSet {
        &self.ports
    }

    /// The printers seen so far (the `inventory` subcommand reads it at the end).
    pub fn inventory(&self) -> &crate::detect::inventory::Inventory {
        &self.detect.inventory
    }

    pub fn policy(&self) -> &Policy {
        self.detect.policy()
    }

    /// The newest packet time seen (replay clock).
    pub fn last_ts(&self) -> Timestamp {
        self.last_ts
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

fn flow_record(flow: &Flow, reason: EndReason, origin: &Origin) -> Record {
    let state = if !flow.answered() {
        "new"
    } else if flow.l4 == L4::Tcp && flow.track.closed() {
        "closed"
    } else {
        "established"
    };
    Record {
        timestamp: flow.last_ts,
        flow_id: Some(flow.id),
        origin: origin.clone(),
        endpoints: Some(detect::flow_endpoints(flow)),
        body: Body::Flow(Box::new(FlowRecord {
            flow: FlowInfo {
                pkts_toserver: flow.pkts[0],
                pkts_toclient: flow.pkts[1],
                bytes_toserver: flow.bytes[0],
                bytes_toclient: flow.bytes[1],
                start: flow.first_ts,
                end: flow.last_ts,
                age: flow.last_ts.since(flow.first_ts) / 1_000_000_000,
                state,
                reason: reason.as_str(),
                alerted: flow.alert_marks & detect::MARK_ALERTED != 0,
            },
            conn_state: flow.conn_state(),
            history: flow.track.history().to_owned(),
        })),
    }
}

fn body_proto(body: &Body) -> Option<&'static str> {
    match body {
        Body::Print(p) => Some(p.language),
        Body::Bjnp(b) if b.magic == "MFNP" => Some("mfnp"),
        Body::Bjnp(_) => Some("bjnp"),
        _ => None,
    }
}

fn endpoints(p: &Packet<'_>, app_proto: Option<&'static str>, community_id: String) -> Endpoints {
    Endpoints {
        src_ip: p.src,
        src_port: p.src_port,
        dest_ip: p.dst,
        dest_port: p.dst_port,
        proto: p.l4.name(),
        app_proto,
        vlan: p.vlan.as_slice().to_vec(),
        community_id,
    }
}
