//! The engine: one frame in, zero or more records out. It owns the per-run state (flows,
//! analyzers, counters) and is driven the same way by live capture, replay, tests and benches.

use crate::analyze::bjnp::{BjnpAnalyzer, PacketCtx};
use crate::analyze::FlowApp;
use crate::bounded::BoundedMap;
use crate::decode::{self, ports::PortSet, prefilter, Decoded, Fragment, Packet, L4};
use crate::event::{
    Anomaly, Body, CaptureStats, DecoderStats, Endpoints, Origin, OutputStats, Record, Stats,
    Timestamp,
};
use crate::flow::{EndReason, Flow, FlowConfig, FlowTable};
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
    pub ports: PortSet,
    pub flow: FlowConfig,
    /// The fixed-offset pre-check; off only to prove it changes nothing.
    pub prefilter: bool,
    pub max_fragment_trains: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            ports: PortSet::default(),
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
    source: Option<Source>,
    flows: FlowTable,
    bjnp: BjnpAnalyzer,
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
            match prefilter::check(frame.linktype, frame.data, &self.cfg.ports) {
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

    fn packet(&mut self, frame: &Frame<'_>, p: &Packet<'_>, out: &mut dyn RecordSink) {
        let proto = p.l4.ip_number();
        let (msrc, mdst) = (
            self.cfg.ports.contains(proto, p.src_port),
            self.cfg.ports.contains(proto, p.dst_port),
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
        flow.tcp_flags[di] |= p.tcp.flags;

        let ctx = PacketCtx {
            ts: frame.ts,
            cnt: (frame.cnt > 0).then_some(frame.cnt),
            dir,
        };
        let (flow_id, community_id) = (flow.id, &flow.community_id);
        let mut records = 0;
        let bjnp = &mut self.bjnp;
        if let FlowApp::Bjnp(st) = &mut flow.app {
            let mut emit = |body: Body| {
                let app_proto = st_proto(&body);
                out.emit(Record {
                    timestamp: frame.ts,
                    flow_id: Some(flow_id),
                    origin: origin.clone(),
                    endpoints: Some(endpoints(p, app_proto, community_id.clone())),
                    body,
                });
                records += 1;
            };
            match p.l4 {
                L4::Udp => bjnp.on_udp(st, &ctx, p, &mut emit),
                L4::Tcp => bjnp.on_tcp(st, &ctx, p, &mut emit),
            }
        }
        self.records += records;
        self.end_flows(out);
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
        match &self.source {
            Some(Source::File(name)) => Origin::File {
                name: name.clone(),
                cnt: frame.cnt,
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
        self.end_flows(out);
    }

    /// Advances time without a packet (live capture on a quiet link).
    pub fn tick(&mut self, now: Timestamp, out: &mut dyn RecordSink) {
        if now >= self.next_sweep {
            self.sweep(now, out);
        }
    }

    /// Flows that ended: their state is dropped here; the `flow` record will be written here.
    fn end_flows(&mut self, _out: &mut dyn RecordSink) {
        self.ended.clear();
    }

    /// End of input: every flow ends.
    pub fn finish(&mut self, out: &mut dyn RecordSink) {
        let ended = &mut self.ended;
        self.flows.drain(&mut |f, r| ended.push((f, r)));
        self.end_flows(out);
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
                decoder: self.decoder,
                flow: self.flows.stats(),
                bjnp: self.bjnp.stats(),
                output: OutputStats {
                    records: self.records,
                },
            })),
        }
    }

    /// Frames seen so far (including those a `-f` filter rejected).
    pub fn packets(&self) -> u64 {
        self.capture.packets
    }

    pub fn ports(&self) -> &PortSet {
        &self.cfg.ports
    }

    /// The newest packet time seen (replay clock).
    pub fn last_ts(&self) -> Timestamp {
        self.last_ts
    }

    pub fn records_emitted(&self) -> u64 {
        self.records
    }
}

fn st_proto(body: &Body) -> Option<&'static str> {
    match body {
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
