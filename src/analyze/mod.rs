//! Application-layer analysis per flow: which analyzer a flow gets, which side of a new flow is
//! the client, and the one interface every analyzer offers. Analyzers turn a flow's packets into
//! typed events (messages, anomalies, print jobs, findings); they judge nothing: detection does.

pub mod bjnp;
pub mod cups_browse;
pub mod ipp;
pub mod lpd;
pub mod print_stream;
pub mod raw;
mod streams;

use crate::decode::{Packet, Tcp};
use crate::event::{self, AppProto, BjnpStats, DoorStats};
use crate::flow::{Conn, Dir};
use crate::net::{ports, Timestamp, L4};
use crate::proto::risk::Risk;

/// A risky construct (or volume) an analyzer found in a print stream, for detection to judge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub risk: Risk,
    /// The command line or construct, capped and made valid UTF-8 (escaped by the output
    /// format).
    pub line: String,
    pub reason: Option<String>,
}

/// What an analyzer reports, in stream order.
#[derive(Debug)]
pub enum AppEvent {
    /// One BJNP/MFNP message (a `bjnp` record, unless it is bulk data only counted), to be
    /// paired with its request by the judge.
    Bjnp(bjnp::BjnpMessage),
    /// Something on the port that is not what the port promises (an `anomaly` record).
    Anomaly(event::Anomaly),
    /// A print job ended (a `print` record).
    Print(Box<event::Print>),
    /// A risky construct in a print stream.
    Finding(Finding),
    /// The printer's side of a raw-printing connection has now sent `total` bytes of stream
    /// data (gaps not counted): volume rules watch it.
    PrinterData { total: u64 },
    /// An LPD command or job (an `lpd` record, unless past the per-connection cap) and the
    /// risky usage in it.
    Lpd(Box<lpd::LpdEvent>),
    /// An IPP operation (an `ipp` record).
    Ipp(Box<event::Ipp>),
    /// A TLS session's ClientHello on a printer port (a `tls` record).
    Tls(Box<event::Tls>),
    /// A CUPS browse announcement (a `cups_browsed` record, the first few of a flow).
    CupsBrowsed(Box<cups_browse::BrowseEvent>),
}

/// A packet as an analyzer sees it: its bytes, its direction, and the flow's facts.
pub struct PacketCx<'a, 'p> {
    pub ts: Timestamp,
    /// Packet number within its file (Wireshark's frame number); `None` live.
    pub cnt: Option<u64>,
    pub dir: Dir,
    pub conn: &'a Conn,
    pub p: &'a Packet<'p>,
}

/// What the analyzers of one worker's flows share: counters. (What crosses flows for good,
/// pairing a BJNP answer with its request, is the judge's: answers to a broadcast come from each
/// device's own address, in flows of their own.)
#[derive(Default)]
pub struct Shared {
    pub bjnp: bjnp::BjnpShared,
    pub doors: DoorStats,
}

impl Shared {
    pub fn stats(&self) -> BjnpStats {
        self.bjnp.stats()
    }
}

/// The one interface of every analyzer.
pub trait Analyzer {
    /// One packet of the flow, in capture order.
    fn on_packet(&mut self, shared: &mut Shared, cx: &PacketCx<'_, '_>, out: &mut Vec<AppEvent>);
    /// The flow ended: what waits behind holes, the last job.
    fn on_end(&mut self, shared: &mut Shared, out: &mut Vec<AppEvent>);
}

/// The analyzer a flow carries, chosen once from its server port.
pub enum AppState {
    /// A monitored port with no decoder of its own.
    None,
    /// BJNP/MFNP; allocated once the flow carries a datagram or a segment with data, so a
    /// flood of empty probes or bare SYNs allocates nothing per flow.
    Bjnp(Option<Box<bjnp::BjnpFlow>>),
    /// Raw printing (AppSocket/JetDirect, TCP 9100-9102); allocated on the first payload, so a
    /// SYN flood allocates nothing per flow.
    Raw(Option<Box<raw::RawFlow>>),
    /// LPD (TCP 515); allocated on the first payload.
    Lpd(Option<Box<lpd::LpdFlow>>),
    /// IPP over HTTP, or IPPS (TCP 631); allocated on the first payload.
    Ipp(Option<Box<ipp::IppFlow>>),
    /// CUPS browse announcements (UDP 631).
    CupsBrowsed(Option<Box<cups_browse::BrowseFlow>>),
}

impl AppState {
    pub fn for_port(l4: L4, server_port: u16) -> Self {
        match ports::Service::of(l4, server_port) {
            ports::Service::Bjnp | ports::Service::Mfnp => AppState::Bjnp(None),
            ports::Service::Raw => AppState::Raw(None),
            ports::Service::Lpd => AppState::Lpd(None),
            ports::Service::Ipp => AppState::Ipp(None),
            ports::Service::CupsBrowsed => AppState::CupsBrowsed(None),
            ports::Service::Other => AppState::None,
        }
    }

    /// What the flow carries: a print stream's language once known, TLS on the IPP port, else
    /// what its server port stands for.
    pub fn app_proto(&self, l4: L4, server_port: u16) -> Option<AppProto> {
        match (self, ports::Service::of(l4, server_port)) {
            (AppState::Raw(Some(r)), _) => r.language().map(AppProto::Print),
            (AppState::Ipp(Some(i)), _) if i.is_tls() => Some(AppProto::Tls),
            (_, ports::Service::Mfnp) => Some(AppProto::Mfnp),
            (_, ports::Service::Bjnp) => Some(AppProto::Bjnp),
            (_, ports::Service::Lpd) => Some(AppProto::Lpd),
            (_, ports::Service::Ipp) => Some(AppProto::Ipp),
            (_, ports::Service::CupsBrowsed) => Some(AppProto::CupsBrowsed),
            _ => None,
        }
    }
}

impl Analyzer for AppState {
    fn on_packet(&mut self, shared: &mut Shared, cx: &PacketCx<'_, '_>, out: &mut Vec<AppEvent>) {
        match self {
            AppState::None => {}
            AppState::Bjnp(Some(st)) => st.on_packet(shared, cx, out),
            AppState::Bjnp(slot @ None) => {
                let p = cx.p;
                if p.l4 == L4::Udp && p.payload.is_empty() && p.wire_payload_len == 0 {
                    // a port scanner's empty probe: counted, nothing to keep
                    shared.bjnp.empty_datagram();
                } else if !p.payload.is_empty() || p.l4 == L4::Udp {
                    slot.insert(Box::default()).on_packet(shared, cx, out);
                }
            }
            AppState::Raw(Some(st)) => st.on_packet(shared, cx, out),
            AppState::Raw(slot @ None) => {
                if !cx.p.payload.is_empty() {
                    slot.insert(Box::new(raw::RawFlow::with_isns(cx.conn.isn)))
                        .on_packet(shared, cx, out);
                }
            }
            AppState::Lpd(Some(st)) => st.on_packet(shared, cx, out),
            AppState::Lpd(slot @ None) => {
                if !cx.p.payload.is_empty() {
                    slot.insert(Box::new(lpd::LpdFlow::with_isns(cx.conn.isn)))
                        .on_packet(shared, cx, out);
                }
            }
            AppState::Ipp(Some(st)) => st.on_packet(shared, cx, out),
            AppState::Ipp(slot @ None) => {
                if !cx.p.payload.is_empty() {
                    slot.insert(Box::new(ipp::IppFlow::with_isns(cx.conn.isn)))
                        .on_packet(shared, cx, out);
                }
            }
            AppState::CupsBrowsed(Some(st)) => st.on_packet(shared, cx, out),
            AppState::CupsBrowsed(slot @ None) => {
                if !cx.p.payload.is_empty() {
                    slot.insert(Box::default()).on_packet(shared, cx, out);
                }
            }
        }
    }

    fn on_end(&mut self, shared: &mut Shared, out: &mut Vec<AppEvent>) {
        match self {
            AppState::None
            | AppState::Raw(None)
            | AppState::Bjnp(None)
            | AppState::Lpd(None)
            | AppState::Ipp(None)
            | AppState::CupsBrowsed(None) => {}
            AppState::Bjnp(Some(st)) => st.on_end(shared, out),
            AppState::Raw(Some(st)) => st.on_end(shared, out),
            AppState::Lpd(Some(st)) => st.on_end(shared, out),
            AppState::Ipp(Some(st)) => st.on_end(shared, out),
            AppState::CupsBrowsed(Some(st)) => st.on_end(shared, out),
        }
    }
}

/// Which side of a new flow is the client: the SYN's sender (a SYN-ACK's receiver); else the
/// side talking *to* the monitored port. When both ports are monitored (BJNP discovery runs 8611
/// to 8611; a scanner's source port may happen to be 8611), the side that is a known printer
/// (`is_printer`) is the server; a lone reset comes from the server it was sent to; a BJNP
/// message says which way it goes in bit 7 of its dev_type.
pub fn src_is_client(
    p: &Packet<'_>,
    monitored_src: bool,
    monitored_dst: bool,
    is_printer: impl Fn(std::net::IpAddr) -> bool,
) -> bool {
    if p.l4 == L4::Tcp && p.tcp.has(Tcp::SYN) {
        !p.tcp.has(Tcp::ACK)
    } else if monitored_src && monitored_dst {
        if is_printer(p.dst) != is_printer(p.src) {
            is_printer(p.dst)
        } else if p.l4 == L4::Tcp && p.tcp.has(Tcp::RST) {
            false
        } else {
            bjnp::is_request(p.payload).unwrap_or(true)
        }
    } else {
        monitored_dst || !monitored_src
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Vlans;

    fn tcp(src: &str, sport: u16, dst: &str, dport: u16, flags: u8) -> Packet<'static> {
        Packet {
            vlan: Vlans::default(),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            l4: L4::Tcp,
            src_port: sport,
            dst_port: dport,
            tcp: Tcp {
                seq: 1,
                ack: 0,
                flags,
            },
            payload: &[],
            wire_payload_len: 0,
            reassembled: None,
            frame_cut: false,
            link_group: None,
        }
    }

    #[test]
    fn a_lone_answer_is_never_a_new_client() {
        let none = |_| false;
        // a printer's reset from 9100 to a scanner whose source port happens to be 8611
        let rst = tcp("192.0.2.30", 9100, "203.0.113.9", 8611, Tcp::RST | Tcp::ACK);
        assert!(!src_is_client(&rst, true, true, none));
        // a SYN-ACK is the server's, whatever the ports
        let synack = tcp("192.0.2.30", 9100, "203.0.113.9", 8611, Tcp::SYN | Tcp::ACK);
        assert!(!src_is_client(&synack, true, true, none));
        // a known printer is the server, even for a bare ACK
        let ack = tcp("203.0.113.9", 8611, "192.0.2.30", 9100, Tcp::ACK);
        let printer = |ip: std::net::IpAddr| ip.to_string() == "192.0.2.30";
        assert!(src_is_client(&ack, true, true, printer));
        let back = tcp("192.0.2.30", 9100, "203.0.113.9", 8611, Tcp::ACK);
        assert!(!src_is_client(&back, true, true, printer));
        // one monitored port: the other side is the client
        let r = tcp("192.0.2.30", 9100, "203.0.113.9", 40000, Tcp::RST);
        assert!(!src_is_client(&r, true, false, none));
        let s = tcp("203.0.113.9", 40000, "192.0.2.30", 9100, Tcp::ACK);
        assert!(src_is_client(&s, false, true, none));
    }
}
