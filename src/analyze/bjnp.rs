//! BJNP/MFNP analysis: turns the datagrams and TCP streams of a BJNP flow into `bjnp` records,
//! pairs responses with requests, and reports bytes on a BJNP port that are not BJNP.

use crate::bounded::BoundedMap;
use crate::decode::{Packet, Tcp};
use crate::event::{self, text, Anomaly, BjnpStats, Body, ResponseTo, Timestamp};
use crate::flow::Dir;
use crate::proto::bjnp::{
    self, Anomalies, Command, Context, DeviceId, Discover, Framed, Framer, HeaderError, JobDetails,
    Message, ScanPoll, Transport,
};
use std::net::IpAddr;

/// Requests wait this long for their answer (clients retry three times within a few seconds).
const PENDING_TTL_NS: u64 = 30 * 1_000_000_000;
const PENDING_CAP: usize = 65_536;
/// Bulk TCP data messages (print data, scan data and their acks) logged per flow direction
/// before the rest are only counted.
const DATA_RECORDS_PER_DIR: u8 = 4;
/// A datagram holds at most this many back-to-back messages; the rest counts as trailing data.
const MAX_MESSAGES_PER_DATAGRAM: usize = 16;

/// Per-flow BJNP state.
#[derive(Default)]
pub struct BjnpFlow {
    streams: [Stream; 2],
    not_bjnp_reported: bool,
    data_logged: [u8; 2],
}

#[derive(Default)]
struct Stream {
    next_seq: Option<u32>,
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
            st.streams[di] = Stream {
                next_seq: Some(p.tcp.seq.wrapping_add(1)),
                ..Stream::default()
            };
            return;
        }
        let stream = &mut st.streams[di];
        if p.payload.is_empty() || stream.stopped {
            return;
        }
        let data = match stream.next_seq {
            // Picked up mid-stream: start only where a header evidently starts.
            None => {
                if bjnp::Header::parse(p.payload, bjnp::MAX_TCP_PAYLOAD).is_err() {
                    stream.stopped = true;
                    return;
                }
                p.payload
            }
            Some(next) => {
                let off = p.tcp.seq.wrapping_sub(next) as i32;
                if off > 0 {
                    // A lost segment: the framing is gone until the end of the stream.
                    stream.stopped = true;
                    self.stats.tcp_gaps += 1;
                    return;
                }
                let skip = off.unsigned_abs() as usize;
                if skip >= p.payload.len() {
                    return; // retransmission
                }
                &p.payload[skip..]
            }
        };
        stream.next_seq = Some(
            p.tcp
                .seq
                .wrapping_add(u32::try_from(p.wire_payload_len).unwrap_or(u32::MAX)),
        );
        let lost_tail = p.capture_truncated() || p.fragment.is_some();
        let mut framer = std::mem::take(&mut stream.framer);
        let mut failed = None;
        framer.feed(data, &mut |ev| match ev {
            Framed::Message(m) => {
                self.message(st, ctx, p, Transport::Tcp, &m, Anomalies::default(), emit)
            }
            Framed::NotBjnp(e) => failed = Some(e),
        });
        let stream = &mut st.streams[di];
        stream.framer = framer;
        if lost_tail {
            stream.stopped = true;
            self.stats.tcp_gaps += 1;
        }
        if let Some(e) = failed {
            stream.stopped = true;
            self.not_bjnp(st, p, e, emit);
        }
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
        if bulk && anomalies.is_empty() {
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
        let (ts, req) = match t {
            // TCP answers are one to one; a UDP request (a broadcast) may have many answers.
            Transport::Tcp => self.pending.remove(&key)?,
            Transport::Udp => self.pending.get(&key).map(|(ts, r)| (ts, *r))?,
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
        command_name: h.command().name(transport),
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
