//! BJNP/MFNP analysis: turns the datagrams and TCP streams of a BJNP flow into `bjnp` records,
//! pairs responses with requests, and reports bytes on a BJNP port that are not BJNP.

use crate::bounded::BoundedMap;
use crate::decode::{Packet, Tcp};
use crate::event::{self, text, Anomaly, BjnpStats, Body, ResponseTo, Timestamp};
use crate::flow::stream::{Delivery, Reassembler};
use crate::flow::Dir;
use crate::proto::bjnp::{
    self, Anomalies, Command, Context, DeviceId, Discover, Framed, Framer, HeaderError, JobDetails,
    Message, ScanPoll, Transport,
};
use std::net::IpAddr;

/// Requests wait this long for their answer. Clients give up within a few seconds (three tries),
/// but a slow printer's TCP acknowledgement can take longer while it is busy; 30 s keeps those
/// paired, and the cap bounds the table whatever the rate.
const PENDING_TTL_NS: u64 = 30 * 1_000_000_000;
const PENDING_CAP: usize = 65_536;
/// Bulk TCP data messages (print data, scan data and their acks) logged per flow direction
/// before the rest are only counted.
const DATA_RECORDS_PER_DIR: u8 = 4;
/// A datagram holds at most this many back-to-back messages; the rest counts as trailing data.
const MAX_MESSAGES_PER_DATAGRAM: usize = 16;

/// Per-flow BJNP state. Small for UDP flows: the TCP stream state is allocated only when the
/// flow carries TCP.
#[derive(Default)]
pub struct BjnpFlow {
    streams: Option<Box<[Stream; 2]>>,
    /// ISNs seen before the streams exist (a SYN alone allocates nothing).
    isns: [Option<u32>; 2],
    not_bjnp_reported: bool,
    /// `REPORTED_*` bits: stream anomalies already written for this flow.
    reported: u8,
    data_logged: [u8; 2],
    /// BJL scanner of the print data the client sends (TCP only, allocated on first data).
    bjl: Option<Box<crate::proto::bjl::Scanner>>,
    print_bytes: u64,
    print_head: Vec<u8>,
    /// Findings for the detector, drained by the engine after each packet.
    pub findings: Vec<super::raw::Finding>,
}

impl BjnpFlow {
    /// At the end of a flow that carried print data: its `print` record.
    pub fn finish(&mut self) -> Option<Body> {
        if self.print_bytes == 0 {
            return None;
        }
        let bjl = self.bjl.take();
        let language = match &bjl {
            Some(b) if b.blocks > 0 => "bjl",
            _ => crate::proto::pdl::classify(&self.print_head)
                .unwrap_or(crate::proto::pdl::Language::Unknown)
                .name(),
        };
        Some(Body::Print(Box::new(event::Print {
            language,
            languages: vec![language],
            bytes_toserver: self.print_bytes,
            commands: bjl.map(|b| b.commands).unwrap_or_default(),
            ..Default::default()
        })))
    }

    fn print_data(&mut self, bytes: &[u8]) {
        self.print_bytes += bytes.len() as u64;
        if self.print_head.len() < 16 {
            let n = (16 - self.print_head.len()).min(bytes.len());
            self.print_head.extend_from_slice(&bytes[..n]);
        }
        let scanner = self.bjl.get_or_insert_with(Box::default);
        let findings = &mut self.findings;
        scanner.feed(bytes, &mut |risk, evidence| {
            findings.push(super::raw::Finding {
                risk,
                line: text::cap_str(&evidence, 256).to_owned(),
                reason: None,
            })
        });
    }
}

const REPORTED_GAP: u8 = 1;
const REPORTED_INCOMPLETE: u8 = 2;

#[derive(Default)]
struct Stream {
    /// In-order delivery: retransmissions trimmed, early segments held (capped).
    reasm: Reassembler,
    saw_syn: bool,
    /// The first delivered byte was checked to start a message (mid-stream pickup).
    started: bool,
    framer: Framer,
    /// A gap, a cut capture or garbage: this direction is no longer parsed.
    stopped: bool,
}

/// (client address, client port, service port, stack, command, seq): a response is matched on
/// what it echoes, not on its flow, because answers to a broadcast come from each device's own
/// address.
type PendingKey = (IpAddr, u16, u16, u8, u8, u32);

#[derive(Clone, Copy)]
struct Pending {
    cnt: Option<u64>,
}

pub struct BjnpAnalyzer {
    pending: BoundedMap<PendingKey, Pending>,
    pub stats: BjnpStats,
}

impl Default for BjnpAnalyzer {
    fn default() -> Self {
        BjnpAnalyzer {
            pending: BoundedMap::new(PENDING_CAP),
            stats: BjnpStats::default(),
        }
    }
}

/// What the analyzer needs to know about the packet beyond its bytes.
pub struct PacketCtx {
    pub ts: Timestamp,
    pub cnt: Option<u64>,
    pub dir: Dir,
}

impl BjnpAnalyzer {
    pub fn stats(&self) -> BjnpStats {
        BjnpStats {
            pending_evicted: self.pending.evicted(),
            ..self.stats
        }
    }

    /// Drops requests nobody answered in time.
    pub fn expire(&mut self, now: Timestamp) {
        self.pending.expire(now, PENDING_TTL_NS);
    }

    pub fn on_udp(
        &mut self,
        st: &mut BjnpFlow,
        ctx: &PacketCtx,
        p: &Packet<'_>,
        emit: &mut dyn FnMut(Body),
    ) {
        // Port scanners (nmap -sU) probe with empty datagrams: a contact, not garbage.
        if p.payload.is_empty() && p.wire_payload_len == 0 {
            self.stats.empty_datagrams += 1;
            return;
        }
        let (first, mut rest) = match bjnp::datagram(p.payload) {
            Ok(v) => v,
            Err(e) => return self.not_bjnp(st, p, e, emit),
        };
        // Collect first: whether the last message is cut or followed by junk is only known at
        // the end, and those anomalies belong on the message itself.
        let mut msgs: [Option<Message<'_>>; MAX_MESSAGES_PER_DATAGRAM] =
            [None; MAX_MESSAGES_PER_DATAGRAM];
        msgs[0] = Some(first);
        let mut n = 1;
        while n < MAX_MESSAGES_PER_DATAGRAM {
            match rest.next() {
                Some(m) => {
                    msgs[n] = Some(m);
                    n += 1;
                }
                None => break,
            }
        }
        let trailing = !rest.trailing().is_empty() || rest.next().is_some();
        for (i, m) in msgs[..n].iter().flatten().enumerate() {
            let mut extra = Anomalies::default();
            if i > 0 {
                extra.set(Anomalies::MULTIPLE_MESSAGES);
            }
            if !m.is_complete() {
                extra.set(if p.fragment.is_some() {
                    Anomalies::IP_FRAGMENT
                } else if p.capture_truncated() {
                    Anomalies::CAPTURE_TRUNCATED
                } else {
                    Anomalies::PAYLOAD_TRUNCATED
                });
            }
            if i == n - 1 && trailing {
                extra.set(Anomalies::TRAILING_DATA);
            }
            self.message(st, ctx, p, Transport::Udp, m, extra, emit);
        }
    }

    pub fn on_tcp(
        &mut self,
        st: &mut BjnpFlow,
        ctx: &PacketCtx,
        p: &Packet<'_>,
        emit: &mut dyn FnMut(Body),
    ) {
        let di = ctx.dir.index();
        if p.tcp.has(Tcp::SYN) {
            st.isns[di].get_or_insert(p.tcp.seq);
        }
        let closing = p.tcp.has(Tcp::FIN) || p.tcp.has(Tcp::RST);
        if st.streams.is_none() && p.payload.is_empty() {
            return; // handshake and bare ACKs: nothing to frame yet
        }
        let isns = st.isns;
        let streams = st.streams.get_or_insert_with(|| {
            let mut s: Box<[Stream; 2]> = Box::default();
            for (d, isn) in s.iter_mut().zip(isns) {
                if let Some(isn) = isn {
                    // A retransmitted SYN changes nothing: the reassembler keeps its first ISN.
                    d.reasm.syn(isn);
                    d.saw_syn = true;
                }
            }
            s
        });
        let mut stream = std::mem::take(&mut streams[di]);
        let seq = p.tcp.seq.wrapping_add(u32::from(p.tcp.has(Tcp::SYN)));
        if !p.payload.is_empty() && !stream.stopped {
            let Stream {
                reasm,
                saw_syn,
                started,
                framer,
                stopped,
            } = &mut stream;
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
                        self.stats.tcp_midstream += 1;
                        return;
                    }
                }
                framer.feed(data, &mut |ev| match ev {
                    Framed::Message(m) => {
                        self.message(st, ctx, p, Transport::Tcp, &m, Anomalies::default(), emit)
                    }
                    Framed::NotBjnp(e) => not_bjnp = Some(e),
                    // print data from the client (printer stack): scanned for BJL commands
                    Framed::Payload(h, bytes)
                        if ctx.dir == Dir::ToServer
                            && h.command() == Command::PRINT_DATA
                            && h.dev_type() == bjnp::DevType::PRINTER_CMD =>
                    {
                        st.print_data(bytes)
                    }
                    Framed::Payload(..) => {}
                });
                if not_bjnp.is_some() {
                    *stopped = true;
                }
            });
            if p.capture_truncated() || p.fragment.is_some() {
                // snaplen cut the segment: the rest of the stream cannot be framed.
                stream.stopped = true;
                self.stats.tcp_gaps += 1;
            }
            if let Some(n) = gap {
                self.stats.tcp_gaps += 1;
                self.stream_anomaly(
                    st,
                    REPORTED_GAP,
                    "bjnp.tcp_gap",
                    format!("{n} bytes missing; this direction is no longer parsed"),
                    emit,
                );
            }
            if let Some(e) = not_bjnp {
                self.not_bjnp(st, p, e, emit);
            }
        }
        if closing && !stream.stopped && !stream.framer.failed() && !stream.framer.at_boundary() {
            // The connection ended inside a message: say so rather than let it vanish.
            stream.stopped = true;
            self.stream_anomaly(
                st,
                REPORTED_INCOMPLETE,
                "bjnp.tcp_incomplete_message",
                "the connection closed in the middle of a BJNP message".into(),
                emit,
            );
        }
        st.streams.get_or_insert_with(Box::default)[di] = stream;
    }

    /// The flow ended: data still waiting behind a hole was never parsed — a gap.
    pub fn finish(&mut self, st: &mut BjnpFlow, emit: &mut dyn FnMut(Body)) {
        let waiting: usize = st.streams.as_ref().map_or(0, |s| {
            s.iter()
                .filter(|d| !d.stopped)
                .map(|d| d.reasm.buffered())
                .sum()
        });
        if waiting > 0 {
            self.stats.tcp_gaps += 1;
            self.stream_anomaly(
                st,
                REPORTED_GAP,
                "bjnp.tcp_gap",
                format!(
                    "{waiting} bytes waited behind a missing segment until the connection ended"
                ),
                emit,
            );
        }
    }

    /// One `anomaly` record per flow and kind, for what happened to a stream.
    fn stream_anomaly(
        &mut self,
        st: &mut BjnpFlow,
        bit: u8,
        event: &'static str,
        reason: String,
        emit: &mut dyn FnMut(Body),
    ) {
        if st.reported & bit != 0 {
            return;
        }
        st.reported |= bit;
        emit(Body::Anomaly(Anomaly {
            kind: "stream",
            event,
            layer: Some("bjnp"),
            reason: Some(reason),
            bytes: None,
            preview_hex: None,
        }));
    }

    fn not_bjnp(
        &mut self,
        st: &mut BjnpFlow,
        p: &Packet<'_>,
        e: HeaderError,
        emit: &mut dyn FnMut(Body),
    ) {
        // A header cut by snaplen is the capture's fault, counted by the decoder.
        if matches!(e, HeaderError::TooShort(_)) && (p.capture_truncated() || p.fragment.is_some())
        {
            return;
        }
        self.stats.not_bjnp += 1;
        if std::mem::replace(&mut st.not_bjnp_reported, true) {
            return;
        }
        emit(Body::Anomaly(Anomaly {
            kind: "applayer",
            event: "not_bjnp",
            layer: Some("bjnp"),
            reason: Some(format!("{}: {e}", e.code())),
            bytes: Some(p.payload.len() as u64),
            preview_hex: Some(text::hex_preview(p.payload, 32)),
        }));
    }

    #[allow(clippy::too_many_arguments)]
    fn message(
        &mut self,
        st: &mut BjnpFlow,
        ctx: &PacketCtx,
        p: &Packet<'_>,
        transport: Transport,
        m: &Message<'_>,
        extra: Anomalies,
        emit: &mut dyn FnMut(Body),
    ) {
        let h = &m.header;
        let mut anomalies = bjnp::check(
            m,
            Context {
                transport,
                to_service: crate::decode::ports::is_bjnp_port(p.dst_port),
                from_service: crate::decode::ports::is_bjnp_port(p.src_port),
            },
        );
        anomalies.0 |= extra.0;
        let response = h.dev_type().is_response();
        let response_to = self.pair(ctx, p, m, transport);
        if response && response_to.is_none() {
            anomalies.set(Anomalies::UNSOLICITED_RESPONSE);
        }
        self.stats.messages += 1;
        if anomalies.is_malformed() {
            self.stats.malformed += 1;
        }
        let bulk = transport == Transport::Tcp
            && matches!(h.command(), Command::PRINT_DATA | Command::GET_STATUS);
        // Informational anomalies (an answer whose request went unseen) do not force a record:
        // a capture that missed the request side would otherwise log every acknowledgement.
        if bulk && !anomalies.is_malformed() {
            let logged = &mut st.data_logged[ctx.dir.index()];
            if *logged >= DATA_RECORDS_PER_DIR {
                self.stats.data_messages_unlogged += 1;
                return;
            }
            *logged += 1;
        }
        emit(Body::Bjnp(Box::new(record(
            m,
            transport,
            anomalies,
            response_to,
        ))));
    }

    /// Remembers a request, or finds the request a response answers.
    fn pair(
        &mut self,
        ctx: &PacketCtx,
        p: &Packet<'_>,
        m: &Message<'_>,
        t: Transport,
    ) -> Option<ResponseTo> {
        let h = &m.header;
        let stack = h.dev_type().stack();
        if !h.dev_type().is_response() {
            let key = (p.src, p.src_port, p.dst_port, stack, h.command().0, h.seq());
            self.pending.insert(key, Pending { cnt: ctx.cnt }, ctx.ts);
            return None;
        }
        let key = (p.dst, p.dst_port, p.src_port, stack, h.command().0, h.seq());
        let found = match t {
            // TCP answers are one to one; a UDP request (a broadcast) may have many answers.
            Transport::Tcp => self.pending.remove(&key),
            Transport::Udp => self.pending.get(&key).map(|(ts, r)| (ts, *r)),
        };
        let Some((ts, req)) = found else {
            self.stats.responses_unmatched += 1;
            return None;
        };
        if ctx.ts.since(ts) > PENDING_TTL_NS {
            self.stats.responses_unmatched += 1;
            return None;
        }
        self.stats.responses_matched += 1;
        Some(ResponseTo {
            timestamp: ts,
            pcap_cnt: req.cnt,
            rtt_usec: ctx.ts.since(ts) / 1000,
        })
    }
}

fn record(
    m: &Message<'_>,
    transport: Transport,
    anomalies: Anomalies,
    response_to: Option<ResponseTo>,
) -> event::Bjnp {
    let h = &m.header;
    let response = h.dev_type().is_response();
    let mut r = event::Bjnp {
        magic: h.magic().as_str().to_owned(),
        direction: if response { "response" } else { "request" },
        dev_type: h.dev_type().0,
        command: h.command().0,
        command_name: h.command().name(transport, h.dev_type().stack()),
        seq: h.seq(),
        session_id: h.session_id(),
        payload_len: h.payload_len(),
        response_to,
        anomalies: anomalies.names().collect(),
        ..Default::default()
    };
    let p = m.payload;
    match (h.command(), response, transport) {
        (Command::GET_ID, true, _) => {
            if let Ok(id) = DeviceId::parse(h.magic(), p) {
                let f = |v: Option<&[u8]>| v.map(|v| text::capped(v, text::MAX_FIELD));
                r.device_id = Some(event::DeviceId {
                    raw: text::capped(id.raw, text::MAX_RAW),
                    mfg: f(id.manufacturer()),
                    mdl: f(id.model()),
                    des: f(id.description()),
                    ver: f(id.version()),
                    cmd: f(id.command_set()),
                    cls: f(id.class()),
                });
            }
        }
        (Command::DISCOVER, true, _) => {
            if let Ok(d) = Discover::parse(p) {
                r.mac = Some(text::mac(&d.mac));
                let mut addrs = d.addresses();
                r.ip = addrs.next();
                let more: Vec<IpAddr> = addrs.take(8).collect();
                if !more.is_empty() {
                    r.ips = std::iter::once(r.ip).flatten().chain(more).collect();
                }
            }
        }
        (Command::JOB_DETAILS, false, _) => {
            if let Ok(j) = JobDetails::parse(p) {
                let s =
                    |b: &[u8]| text::cap_str(&bjnp::utf16be_string(b), text::MAX_FIELD).to_owned();
                r.job = Some(event::Job {
                    host: s(j.host),
                    user: s(j.user),
                    title: s(j.title),
                });
            }
        }
        (Command::SCAN_POLL, false, _) => {
            if let Ok(poll) = ScanPoll::parse(p) {
                r.poll = Some(event::Poll {
                    kind: poll.kind,
                    user_host: poll.user_host.map(|b| {
                        text::cap_str(&bjnp::utf16be_string(b), text::MAX_FIELD).to_owned()
                    }),
                });
            }
        }
        (Command::GET_STATUS, true, Transport::Udp) => {
            r.status = bjnp::status_text(p).map(|s| text::capped(s, text::MAX_FIELD));
        }
        (Command::PRINT_DATA, true, Transport::Tcp) => r.accepted = bjnp::accepted_bytes(p),
        _ => {}
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Vlans, L4};

    fn msg(dev: u8, code: u8, seq: u32, session: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = b"BJNP".to_vec();
        v.extend([dev, code]);
        v.extend(seq.to_be_bytes());
        v.extend(session.to_be_bytes());
        v.extend((payload.len() as u32).to_be_bytes());
        v.extend(payload);
        v
    }

    fn pkt<'a>(
        l4: L4,
        src: &str,
        sport: u16,
        dst: &str,
        dport: u16,
        payload: &'a [u8],
    ) -> Packet<'a> {
        Packet {
            vlan: Vlans::default(),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            l4,
            src_port: sport,
            dst_port: dport,
            tcp: Tcp::default(),
            payload,
            wire_payload_len: payload.len(),
            fragment: None,
            frame_cut: false,
        }
    }

    fn seg<'a>(seq: u32, flags: u8, payload: &'a [u8], toserver: bool) -> Packet<'a> {
        let mut p = if toserver {
            pkt(L4::Tcp, "192.0.2.5", 40000, "192.0.2.30", 8611, payload)
        } else {
            pkt(L4::Tcp, "192.0.2.30", 8611, "192.0.2.5", 40000, payload)
        };
        p.tcp = Tcp { seq, ack: 0, flags };
        p
    }

    fn ctx(t: u64, toserver: bool) -> PacketCtx {
        PacketCtx {
            ts: Timestamp(t * 1_000_000),
            cnt: Some(t),
            dir: if toserver {
                Dir::ToServer
            } else {
                Dir::ToClient
            },
        }
    }

    /// Runs packets through one flow's state; returns the bodies.
    struct Harness {
        a: BjnpAnalyzer,
        st: BjnpFlow,
        out: Vec<Body>,
        t: u64,
    }

    impl Harness {
        fn new() -> Self {
            Harness {
                a: BjnpAnalyzer::default(),
                st: BjnpFlow::default(),
                out: vec![],
                t: 0,
            }
        }
        fn udp(&mut self, p: &Packet<'_>, toserver: bool) {
            self.t += 1;
            let c = ctx(self.t, toserver);
            self.a
                .on_udp(&mut self.st, &c, p, &mut |b| self.out.push(b));
        }
        fn tcp(&mut self, p: &Packet<'_>, toserver: bool) {
            self.t += 1;
            let c = ctx(self.t, toserver);
            self.a
                .on_tcp(&mut self.st, &c, p, &mut |b| self.out.push(b));
        }
        fn bjnp(&self) -> Vec<&event::Bjnp> {
            self.out
                .iter()
                .filter_map(|b| {
                    if let Body::Bjnp(x) = b {
                        Some(&**x)
                    } else {
                        None
                    }
                })
                .collect()
        }
        fn anomalies(&self) -> Vec<&'static str> {
            self.out
                .iter()
                .filter_map(|b| {
                    if let Body::Anomaly(a) = b {
                        Some(a.event)
                    } else {
                        None
                    }
                })
                .collect()
        }
    }

    #[test]
    fn broadcast_request_pairs_with_every_answer() {
        let mut h = Harness::new();
        let req = msg(1, 0x01, 0, 0, &[]);
        h.udp(
            &pkt(L4::Udp, "192.0.2.5", 8611, "192.0.2.255", 8611, &req),
            true,
        );
        let ans = msg(
            0x81,
            0x01,
            0,
            0,
            &[0, 1, 8, 0, 6, 4, 1, 2, 3, 4, 5, 6, 192, 0, 2, 30],
        );
        h.udp(
            &pkt(L4::Udp, "192.0.2.30", 8611, "192.0.2.5", 8611, &ans),
            false,
        );
        h.udp(
            &pkt(L4::Udp, "192.0.2.31", 8611, "192.0.2.5", 8611, &ans),
            false,
        );
        let b = h.bjnp();
        assert_eq!(b.len(), 3);
        assert!(b[1].response_to.is_some() && b[2].response_to.is_some());
        assert_eq!(b[2].response_to.as_ref().unwrap().pcap_cnt, Some(1));
        assert_eq!(h.a.stats().responses_matched, 2);
        // an answer to a request never seen: counted and flagged
        let other = msg(0x81, 0x30, 9, 0, &[0, 2]);
        h.udp(
            &pkt(L4::Udp, "192.0.2.30", 8611, "192.0.2.5", 50000, &other),
            false,
        );
        assert!(h.bjnp()[3].anomalies.contains(&"unsolicited_response"));
        assert_eq!(h.a.stats().responses_unmatched, 1);
        // a different sequence number does not pair
        let late = msg(
            0x81,
            0x01,
            1,
            0,
            &[0, 1, 8, 0, 6, 4, 1, 2, 3, 4, 5, 6, 192, 0, 2, 30],
        );
        h.udp(
            &pkt(L4::Udp, "192.0.2.30", 8611, "192.0.2.5", 8611, &late),
            false,
        );
        assert!(h.bjnp()[4].response_to.is_none());
    }

    #[test]
    fn answers_expire() {
        let mut h = Harness::new();
        let req = msg(1, 0x30, 1, 0, &[]);
        h.udp(
            &pkt(L4::Udp, "192.0.2.5", 50000, "192.0.2.30", 8611, &req),
            true,
        );
        h.t += 31_000; // 31 s later
        let ans = msg(0x81, 0x30, 1, 0, &[0, 2]);
        h.udp(
            &pkt(L4::Udp, "192.0.2.30", 8611, "192.0.2.5", 50000, &ans),
            false,
        );
        assert!(h.bjnp()[1].response_to.is_none());
    }

    fn print_session(h: &mut Harness, isn: u32) {
        h.tcp(&seg(isn, Tcp::SYN, &[], true), true);
        h.tcp(&seg(7000, Tcp::SYN | Tcp::ACK, &[], false), false);
    }

    #[test]
    fn tcp_sequence_wraps_and_retransmissions_are_skipped() {
        let mut h = Harness::new();
        let isn = u32::MAX - 20; // the stream crosses 2^32
        print_session(&mut h, isn);
        let m1 = msg(1, 0x21, 1, 7, &[0xaa; 30]);
        let m2 = msg(1, 0x21, 2, 7, &[0xbb; 10]);
        let mut both = m1.clone();
        both.extend(&m2);
        let s0 = isn.wrapping_add(1);
        h.tcp(&seg(s0, Tcp::ACK, &both[..20], true), true);
        // retransmission of what was seen, then an overlapping segment carrying new bytes too
        h.tcp(&seg(s0, Tcp::ACK, &both[..20], true), true);
        h.tcp(
            &seg(s0.wrapping_add(10), Tcp::ACK, &both[10..40], true),
            true,
        );
        h.tcp(&seg(s0.wrapping_add(40), Tcp::ACK, &both[40..], true), true);
        // a retransmitted SYN must not reset the stream
        h.tcp(&seg(isn, Tcp::SYN, &[], true), true);
        let m3 = msg(1, 0x21, 3, 7, &[]);
        h.tcp(
            &seg(s0.wrapping_add(both.len() as u32), Tcp::ACK, &m3, true),
            true,
        );
        let seqs: Vec<u32> = h.bjnp().iter().map(|b| b.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert!(h.anomalies().is_empty(), "{:?}", h.anomalies());
    }

    #[test]
    fn a_gap_stops_the_direction_and_is_reported_once() {
        let mut h = Harness::new();
        print_session(&mut h, 100);
        let m = msg(1, 0x21, 1, 7, &[1; 8]);
        h.tcp(&seg(101 + 5, Tcp::ACK, &m, true), true);
        h.tcp(&seg(101 + 500, Tcp::ACK, &m, true), true);
        assert!(h.bjnp().is_empty());
        assert!(
            h.anomalies().is_empty(),
            "the hole may still fill: a retransmission is awaited"
        );
        h.a.finish(&mut h.st, &mut |b| h.out.push(b));
        assert_eq!(h.anomalies(), ["bjnp.tcp_gap"]);
        assert_eq!(h.a.stats().tcp_gaps, 1);
        // the other direction is unaffected
        let ack = msg(0x81, 0x21, 1, 7, &[0, 0, 0, 8]);
        h.tcp(&seg(7001, Tcp::ACK, &ack, false), false);
        assert_eq!(h.bjnp().len(), 1);
    }

    #[test]
    fn reordered_segments_are_reassembled() {
        let mut h = Harness::new();
        print_session(&mut h, 100);
        let mut both = msg(1, 0x21, 1, 7, &[0xaa; 40]);
        both.extend(msg(1, 0x21, 2, 7, &[0xbb; 4]));
        // the second half arrives first
        h.tcp(&seg(101 + 30, Tcp::ACK, &both[30..], true), true);
        assert!(h.bjnp().is_empty());
        h.tcp(&seg(101, Tcp::ACK, &both[..30], true), true);
        let seqs: Vec<u32> = h.bjnp().iter().map(|b| b.seq).collect();
        assert_eq!(seqs, [1, 2]);
        h.a.finish(&mut h.st, &mut |b| h.out.push(b));
        assert!(h.anomalies().is_empty());
    }

    #[test]
    fn close_in_the_middle_of_a_message_is_reported() {
        let mut h = Harness::new();
        print_session(&mut h, 100);
        let m = msg(1, 0x21, 1, 7, &[1; 100]);
        h.tcp(&seg(101, Tcp::ACK | Tcp::FIN, &m[..50], true), true);
        assert_eq!(h.anomalies(), ["bjnp.tcp_incomplete_message"]);
        // a clean close at a boundary says nothing
        let mut h = Harness::new();
        print_session(&mut h, 100);
        h.tcp(&seg(101, Tcp::ACK | Tcp::FIN, &m, true), true);
        assert!(h.anomalies().is_empty());
        assert_eq!(h.bjnp().len(), 1);
    }

    #[test]
    fn garbage_after_the_handshake_and_mid_stream_pickup() {
        let mut h = Harness::new();
        print_session(&mut h, 100);
        h.tcp(&seg(101, Tcp::ACK, b"GET / HTTP/1.0\r\n\r\n", true), true);
        assert_eq!(h.anomalies(), ["not_bjnp"]);
        // no SYN seen and the segment is not at a header: quietly counted
        let mut h = Harness::new();
        h.tcp(&seg(5000, Tcp::ACK, &[0x42; 40], true), true);
        assert!(h.out.is_empty());
        assert_eq!(h.a.stats().tcp_midstream, 1);
        // no SYN seen but a header starts the segment: parsed
        let mut h = Harness::new();
        h.tcp(&seg(5000, Tcp::ACK, &msg(1, 0x21, 4, 7, &[]), true), true);
        assert_eq!(h.bjnp().len(), 1);
    }

    #[test]
    fn bulk_data_is_summarised_even_without_the_request_side() {
        let mut h = Harness::new();
        print_session(&mut h, 100);
        let mut seq = 7001u32;
        for i in 0..50u32 {
            let ack = msg(0x81, 0x21, i, 7, &4096u32.to_be_bytes());
            h.tcp(&seg(seq, Tcp::ACK, &ack, false), false);
            seq += ack.len() as u32;
        }
        // unanswered requests make every ack "unsolicited", which must not defeat the limit
        assert_eq!(h.bjnp().len(), usize::from(DATA_RECORDS_PER_DIR));
        assert_eq!(
            h.a.stats().data_messages_unlogged,
            50 - u64::from(DATA_RECORDS_PER_DIR)
        );
        assert_eq!(h.a.stats().messages, 50);
    }

    #[test]
    fn bjl_maintenance_commands_inside_print_data() {
        let mut h = Harness::new();
        print_session(&mut h, 100);
        let mut ij = b"\x1b[K\x02\x00\x00\x1fBJLSTART\nControlMode=Common\n@PowerOff\n".to_vec();
        ij.extend(b"@DotCountClear=ColorK\nBJLEND\n");
        // two print-data messages, the block cut between them, and segments cut again
        let mut stream = msg(1, 0x21, 1, 7, &ij[..20]);
        stream.extend(msg(1, 0x21, 2, 7, &ij[20..]));
        let mut seq = 101u32;
        for chunk in stream.chunks(9) {
            h.tcp(&seg(seq, Tcp::ACK, chunk, true), true);
            seq += chunk.len() as u32;
        }
        let risks: Vec<_> = h.st.findings.iter().map(|f| f.risk).collect();
        assert_eq!(
            risks,
            [
                crate::proto::risk::Risk::BjlPowerOff,
                crate::proto::risk::Risk::BjlCounterReset
            ]
        );
        let Some(Body::Print(p)) = h.st.finish() else {
            panic!("no print record")
        };
        assert_eq!(p.language, "bjl");
        assert_eq!(p.bytes_toserver, ij.len() as u64);
        assert_eq!(p.commands, ["ControlMode", "@PowerOff", "@DotCountClear"]);
    }

    #[test]
    fn empty_probes_and_lying_lengths() {
        let mut h = Harness::new();
        h.udp(
            &pkt(L4::Udp, "192.0.2.5", 50000, "192.0.2.30", 8611, &[]),
            true,
        );
        assert!(h.out.is_empty());
        assert_eq!(h.a.stats().empty_datagrams, 1);
        // a UDP length that claims more than the (uncut) frame holds is the sender's lie
        let m = msg(1, 0x10, 0, 0, &[0; 392]);
        let mut p = pkt(L4::Udp, "192.0.2.5", 50000, "192.0.2.30", 8611, &m[..100]);
        p.wire_payload_len = m.len();
        h.udp(&p, true);
        assert!(h.bjnp()[0].anomalies.contains(&"payload_truncated"));
        // the same bytes cut by snaplen are the capture's doing
        p.frame_cut = true;
        h.udp(&p, true);
        assert_eq!(h.bjnp()[1].anomalies, ["capture_truncated"]);
    }
}
