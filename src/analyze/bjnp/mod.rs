//! BJNP/MFNP analysis: turns the datagrams and TCP streams of a BJNP flow into `bjnp` records,
//! pairs responses with requests, reports bytes on a BJNP port that are not BJNP, and scans
//! BJNP print data for Canon BJL commands.

mod identity;
mod pairing;
mod record;
mod tcp;

pub use pairing::{PairKey, Pairing};

use super::{Analyzer, AppEvent, Finding, PacketCx, Shared};
use crate::decode::Packet;
use crate::event::{self, text, Anomaly, AnomalyEvent, AnomalyType, AppProto, BjnpStats};
use crate::proto::bjnp::{self, Anomalies, Command, Context, HeaderError, Message, Transport};
use crate::proto::pdl::Language;
use tcp::Stream;

/// Bulk TCP data messages (print data, scan data and their acks) logged per flow direction
/// before the rest are only counted.
const DATA_RECORDS_PER_DIR: u8 = 4;
/// A datagram holds at most this many back-to-back messages; the rest counts as trailing data.
const MAX_MESSAGES_PER_DATAGRAM: usize = 16;

/// `Some(true)` for a BJNP request, `Some(false)` for a response, `None` if not BJNP.
pub fn is_request(payload: &[u8]) -> Option<bool> {
    let h = bjnp::Header::parse(payload, bjnp::MAX_TCP_PAYLOAD).ok()?;
    Some(!h.dev_type().is_response())
}

/// The counters all BJNP flows of one worker share (pairing's are the judge's).
#[derive(Default)]
pub struct BjnpShared {
    stats: BjnpStats,
    identities: identity::IdentityMemo,
}

impl BjnpShared {
    pub fn stats(&self) -> BjnpStats {
        self.stats
    }

    /// An empty datagram (a port scanner's probe): a contact, not garbage.
    pub fn empty_datagram(&mut self) {
        self.stats.empty_datagrams += 1;
    }
}

/// One BJNP message for the judge: its record (none for bulk data past the first few, which
/// are only counted) and what pairing needs to know of it.
#[derive(Debug)]
pub struct BjnpMessage {
    /// Boxed once, here: the judge moves the box into the record it writes (and a message a
    /// campaign folds costs one allocation, not three).
    pub record: Option<Box<event::Bjnp>>,
    pub pair: PairKey,
}

/// Per-flow BJNP state. Small for UDP flows: the TCP stream state is allocated only when the
/// flow carries TCP payload.
#[derive(Default)]
pub struct BjnpFlow {
    streams: Option<Box<[Stream; 2]>>,
    not_bjnp_reported: bool,
    /// `REPORTED_*` bits: stream anomalies already written for this flow.
    reported: u8,
    data_logged: [u8; 2],
    /// BJL scanner of the print data the client sends (TCP only, allocated on first data).
    bjl: Option<Box<crate::proto::bjl::Scanner>>,
    print_bytes: u64,
    print_head: Vec<u8>,
    /// Findings of the current packet: reported after its messages.
    findings: Vec<Finding>,
}

const REPORTED_GAP: u8 = 1;
const REPORTED_INCOMPLETE: u8 = 2;
const REPORTED_OVERLAP: u8 = 4;

impl Analyzer for BjnpFlow {
    fn on_packet(&mut self, shared: &mut Shared, cx: &PacketCx<'_, '_>, out: &mut Vec<AppEvent>) {
        let sh = &mut shared.bjnp;
        match cx.p.l4 {
            crate::net::L4::Udp => self.on_udp(sh, cx, out),
            crate::net::L4::Tcp => self.on_tcp(sh, cx, out),
        }
        out.extend(self.findings.drain(..).map(AppEvent::Finding));
    }

    fn on_end(&mut self, shared: &mut Shared, out: &mut Vec<AppEvent>) {
        self.finish_streams(&mut shared.bjnp, out);
        if let Some(p) = self.print_record() {
            out.push(AppEvent::Print(Box::new(p)));
        }
    }
}

impl BjnpFlow {
    /// At the end of a flow that carried print data: its `print` record.
    fn print_record(&mut self) -> Option<event::Print> {
        if self.print_bytes == 0 {
            return None;
        }
        let bjl = self.bjl.take();
        let language = match &bjl {
            Some(b) if b.blocks > 0 => Language::CanonBjl,
            _ => crate::proto::pdl::classify(&self.print_head).unwrap_or(Language::Unknown),
        };
        Some(event::Print {
            language,
            languages: vec![language],
            bytes_toserver: self.print_bytes,
            commands: bjl.map(|b| b.commands).unwrap_or_default(),
            ..Default::default()
        })
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
            findings.push(Finding {
                risk,
                line: text::cap_str(&evidence, 256).to_owned(),
                reason: None,
            })
        });
    }

    fn on_udp(&mut self, sh: &mut BjnpShared, cx: &PacketCx<'_, '_>, out: &mut Vec<AppEvent>) {
        let p = cx.p;
        // Port scanners (nmap -sU) probe with empty datagrams: a contact, not garbage.
        if p.payload.is_empty() && p.wire_payload_len == 0 {
            sh.empty_datagram();
            return;
        }
        let (first, mut rest) = match bjnp::datagram(p.payload) {
            Ok(v) => v,
            Err(e) => return self.not_bjnp(sh, p, e, out),
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
                extra.set(if p.fragments_missing() {
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
            self.message(sh, cx, Transport::Udp, m, extra, out);
        }
    }

    /// One `anomaly` record per flow and kind, for what happened to a stream.
    fn stream_anomaly(
        &mut self,
        bit: u8,
        event: AnomalyEvent,
        reason: String,
        out: &mut Vec<AppEvent>,
    ) {
        if self.reported & bit != 0 {
            return;
        }
        self.reported |= bit;
        out.push(AppEvent::Anomaly(Anomaly {
            kind: AnomalyType::Stream,
            event,
            layer: Some(AppProto::Bjnp),
            reason: Some(reason),
            bytes: None,
            preview_hex: None,
        }));
    }

    fn not_bjnp(
        &mut self,
        sh: &mut BjnpShared,
        p: &Packet<'_>,
        e: HeaderError,
        out: &mut Vec<AppEvent>,
    ) {
        // A header cut by snaplen is the capture's fault, counted by the decoder.
        if matches!(e, HeaderError::TooShort(_)) && (p.capture_truncated() || p.fragments_missing())
        {
            return;
        }
        sh.stats.not_bjnp += 1;
        if std::mem::replace(&mut self.not_bjnp_reported, true) {
            return;
        }
        out.push(AppEvent::Anomaly(Anomaly {
            kind: AnomalyType::Applayer,
            event: AnomalyEvent::NotBjnp,
            layer: Some(AppProto::Bjnp),
            reason: Some(format!("{}: {e}", e.code())),
            bytes: Some(p.payload.len() as u64),
            preview_hex: Some(text::hex_preview(p.payload, 32)),
        }));
    }

    fn message(
        &mut self,
        sh: &mut BjnpShared,
        cx: &PacketCx<'_, '_>,
        transport: Transport,
        m: &Message<'_>,
        extra: Anomalies,
        out: &mut Vec<AppEvent>,
    ) {
        let p = cx.p;
        let h = &m.header;
        let mut anomalies = bjnp::check(
            m,
            Context {
                transport,
                to_service: crate::net::ports::is_bjnp_port(p.dst_port),
                from_service: crate::net::ports::is_bjnp_port(p.src_port),
            },
        );
        anomalies.0 |= extra.0;
        let pair = PairKey::of(cx.ts, cx.cnt, p, m, transport);
        sh.stats.messages += 1;
        if anomalies.is_malformed() {
            sh.stats.malformed += 1;
        }
        let bulk = transport == Transport::Tcp
            && matches!(h.command(), Command::PRINT_DATA | Command::GET_STATUS);
        // Informational anomalies (an answer whose request went unseen) do not force a record:
        // a capture that missed the request side would otherwise log every acknowledgement.
        if bulk && !anomalies.is_malformed() {
            let logged = &mut self.data_logged[cx.dir.index()];
            if *logged >= DATA_RECORDS_PER_DIR {
                sh.stats.data_messages_unlogged += 1;
                out.push(AppEvent::Bjnp(BjnpMessage { record: None, pair }));
                return;
            }
            *logged += 1;
        }
        let record = record::message(m, transport, anomalies, None, &mut sh.identities);
        out.push(AppEvent::Bjnp(BjnpMessage {
            record: Some(Box::new(record)),
            pair,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Tcp, Vlans};
    use crate::flow::Dir;
    use crate::net::{Timestamp, L4};

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
            reassembled: None,
            frame_cut: false,
            link_group: None,
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

    /// Runs packets through one flow's state; collects what it reports, paired as the judge
    /// pairs it.
    struct Harness {
        shared: Shared,
        pairing: Pairing,
        st: BjnpFlow,
        conn: crate::flow::Conn,
        out: Vec<AppEvent>,
        t: u64,
    }

    impl Harness {
        fn new() -> Self {
            let client = ("192.0.2.5".parse().unwrap(), 40000);
            let server = ("192.0.2.30".parse().unwrap(), 8611);
            Harness {
                shared: Shared::default(),
                pairing: Pairing::default(),
                st: BjnpFlow::default(),
                conn: crate::flow::Conn::new(
                    L4::Tcp,
                    client,
                    server,
                    Vlans::default(),
                    Timestamp(0),
                ),
                out: vec![],
                t: 0,
            }
        }
        fn run(&mut self, p: &Packet<'_>, toserver: bool) {
            self.t += 1;
            let dir = if toserver {
                Dir::ToServer
            } else {
                Dir::ToClient
            };
            if p.l4 == L4::Tcp && p.tcp.has(Tcp::SYN) {
                self.conn.isn[dir.index()].get_or_insert(p.tcp.seq);
            }
            let cx = PacketCx {
                ts: Timestamp(self.t * 1_000_000),
                cnt: Some(self.t),
                dir,
                conn: &self.conn,
                p,
            };
            let from = self.out.len();
            self.st.on_packet(&mut self.shared, &cx, &mut self.out);
            self.pair(from);
        }
        fn pair(&mut self, from: usize) {
            for ev in &mut self.out[from..] {
                if let AppEvent::Bjnp(m) = ev {
                    self.pairing.apply(&m.pair, m.record.as_deref_mut());
                }
            }
        }
        fn udp(&mut self, p: &Packet<'_>, toserver: bool) {
            self.run(p, toserver)
        }
        fn tcp(&mut self, p: &Packet<'_>, toserver: bool) {
            self.run(p, toserver)
        }
        fn end(&mut self) {
            let from = self.out.len();
            self.st.on_end(&mut self.shared, &mut self.out);
            self.pair(from);
        }
        fn stats(&self) -> BjnpStats {
            let (matched, unmatched) = self.pairing.counts();
            BjnpStats {
                responses_matched: matched,
                responses_unmatched: unmatched,
                ..self.shared.stats()
            }
        }
        fn bjnp(&self) -> Vec<&event::Bjnp> {
            self.out
                .iter()
                .filter_map(|b| {
                    if let AppEvent::Bjnp(x) = b {
                        x.record.as_deref()
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
                    if let AppEvent::Anomaly(a) = b {
                        Some(a.event.name())
                    } else {
                        None
                    }
                })
                .collect()
        }
        fn findings(&self) -> Vec<crate::proto::risk::Risk> {
            self.out
                .iter()
                .filter_map(|b| {
                    if let AppEvent::Finding(f) = b {
                        Some(f.risk)
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
        assert_eq!(h.stats().responses_matched, 2);
        // an answer to a request never seen: counted and flagged
        let other = msg(0x81, 0x30, 9, 0, &[0, 2]);
        h.udp(
            &pkt(L4::Udp, "192.0.2.30", 8611, "192.0.2.5", 50000, &other),
            false,
        );
        assert!(h.bjnp()[3]
            .anomalies
            .has(bjnp::Anomalies::UNSOLICITED_RESPONSE));
        assert_eq!(h.stats().responses_unmatched, 1);
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
        h.end();
        assert_eq!(h.anomalies(), ["bjnp.tcp_gap"]);
        assert_eq!(h.stats().tcp_gaps, 1);
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
        h.end();
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
        assert_eq!(h.stats().tcp_midstream, 1);
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
            h.stats().data_messages_unlogged,
            50 - u64::from(DATA_RECORDS_PER_DIR)
        );
        assert_eq!(h.stats().messages, 50);
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
        let risks = h.findings();
        assert_eq!(
            risks,
            [
                crate::proto::risk::Risk::BjlPowerOff,
                crate::proto::risk::Risk::BjlCounterReset
            ]
        );
        h.end();
        let Some(AppEvent::Print(p)) = h.out.last() else {
            panic!("no print record")
        };
        assert_eq!(p.language, Language::CanonBjl);
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
        assert_eq!(h.stats().empty_datagrams, 1);
        // a UDP length that claims more than the (uncut) frame holds is the sender's lie
        let m = msg(1, 0x10, 0, 0, &[0; 392]);
        let mut p = pkt(L4::Udp, "192.0.2.5", 50000, "192.0.2.30", 8611, &m[..100]);
        p.wire_payload_len = m.len();
        h.udp(&p, true);
        assert!(h.bjnp()[0]
            .anomalies
            .has(bjnp::Anomalies::PAYLOAD_TRUNCATED));
        // the same bytes cut by snaplen are the capture's doing
        p.frame_cut = true;
        h.udp(&p, true);
        assert_eq!(
            h.bjnp()[1].anomalies.names().collect::<Vec<_>>(),
            ["capture_truncated"]
        );
    }
}
