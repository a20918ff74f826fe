//! The one place where facts and decisions become records: every `Record` bjnp-watch writes is
//! built here, from a packet or a flow, an analyzer's event, an alert draft, a printer change,
//! the counters or a health warning.

use super::fact::PacketInfo;

use crate::detect::{AlertDraft, FlowMarks};
use crate::event::{
    Alert, AlertInfo, AppProto, Body, Campaign, CaptureStats, DecoderStats, Endpoints, FlowInfo,
    FlowRecord, FlowState, Origin, Printer, Record, Stats, Summary, Warning,
};
use crate::flow::Conn;
use crate::net::{Timestamp, L4};
use crate::proto::bjnp::Magic;

/// The endpoints of a record about one packet, in the packet's own direction.
pub fn packet_endpoints(p: &PacketInfo, app_proto: Option<AppProto>) -> Endpoints {
    Endpoints {
        src_ip: p.src,
        src_port: p.sport,
        dest_ip: p.dst,
        dest_port: p.dport,
        proto: p.l4,
        app_proto,
        vlan: p.vlan.as_slice().to_vec(),
    }
}

/// Client to server, as flow-level alerts and `flow` records report it.
pub fn flow_endpoints(conn: &Conn, app_proto: Option<AppProto>) -> Endpoints {
    Endpoints {
        src_ip: conn.client.0,
        src_port: conn.client.1,
        dest_ip: conn.server.0,
        dest_port: conn.server.1,
        proto: conn.l4,
        app_proto,
        vlan: conn.vlan.as_slice().to_vec(),
    }
}

/// What a record of an analyzer's body is about: its BJNP stack or its print language.
pub fn body_app_proto(body: &Body) -> Option<AppProto> {
    match body {
        Body::Print(p) => Some(AppProto::Print(p.language)),
        Body::Bjnp(b) if b.magic == Magic::MFNP => Some(AppProto::Mfnp),
        Body::Bjnp(_) => Some(AppProto::Bjnp),
        Body::Lpd(_) => Some(AppProto::Lpd),
        Body::Ipp(_) => Some(AppProto::Ipp),
        Body::Tls(_) => Some(AppProto::Tls),
        Body::CupsBrowsed(_) => Some(AppProto::CupsBrowsed),
        _ => None,
    }
}

/// A record of a flow's content (a message, an anomaly, a print job).
pub fn content(
    ts: Timestamp,
    flow_id: u64,
    origin: &Origin,
    endpoints: Endpoints,
    body: Body,
) -> Record {
    Record {
        timestamp: ts,
        flow_id: Some(flow_id),
        origin: origin.clone(),
        endpoints: Some(endpoints),
        body,
    }
}

/// An alert from detection's draft; `pcap_file` is the evidence capture that holds the flow's
/// packets, when there is one.
pub fn alert(
    d: AlertDraft,
    ts: Timestamp,
    flow_id: u64,
    origin: &Origin,
    endpoints: Endpoints,
    pcap_file: Option<String>,
) -> Record {
    let rule = d.rule.info();
    let mut evidence = d.evidence;
    evidence.pcap_file = pcap_file;
    Record {
        timestamp: ts,
        flow_id: Some(flow_id),
        origin: origin.clone(),
        endpoints: Some(endpoints),
        body: Body::Alert(Box::new(Alert {
            alert: AlertInfo {
                action: "allowed",
                gid: 1,
                signature_id: rule.sid,
                rev: 1,
                signature: rule.name,
                category: rule.category,
                severity: d.severity,
            },
            evidence,
        })),
    }
}

/// A policy reload took effect.
pub fn reload(
    policy: &crate::config::Policy,
    change: &crate::detect::PolicyChange,
    ports_applied: bool,
    ts: Timestamp,
    origin: &Origin,
) -> Record {
    use crate::event::{Change, Reload};
    Record {
        timestamp: ts,
        flow_id: None,
        origin: origin.clone(),
        endpoints: None,
        body: Body::Reload(Box::new(Reload {
            policy: policy.origin.clone(),
            digest: policy.digest.clone(),
            printers: Change::of(change.printers),
            clients: Change::of(change.clients),
            tcp_ports: Change::of(change.tcp_ports),
            udp_ports: Change::of(change.udp_ports),
            blocked_ports: Change::of(change.blocked_ports),
            ports_applied,
            needs_restart: change.needs_restart.clone(),
        })),
    }
}

/// A printer first seen or changed.
pub fn printer(p: Printer, ts: Timestamp) -> Record {
    Record {
        timestamp: ts,
        flow_id: None,
        origin: Origin::None,
        endpoints: None,
        body: Body::Printer(Box::new(p)),
    }
}

/// A flow ended.
pub fn flow_end(
    conn: &Conn,
    reason: crate::event::EndReason,
    marks: &FlowMarks,
    app_proto: Option<AppProto>,
    origin: &Origin,
) -> Record {
    let state = if !conn.answered() {
        FlowState::New
    } else if conn.l4 == L4::Tcp && conn.track.closed() {
        FlowState::Closed
    } else {
        FlowState::Established
    };
    Record {
        timestamp: conn.last_ts,
        flow_id: Some(conn.id()),
        origin: origin.clone(),
        endpoints: Some(flow_endpoints(conn, app_proto)),
        body: Body::Flow(Box::new(FlowRecord {
            flow: FlowInfo {
                pkts_toserver: conn.pkts[0],
                pkts_toclient: conn.pkts[1],
                bytes_toserver: conn.bytes[0],
                bytes_toclient: conn.bytes[1],
                start: conn.first_ts,
                end: conn.last_ts,
                age: conn.last_ts.since(conn.first_ts) / 1_000_000_000,
                state,
                reason,
                outcome: marks.outcome(),
                unreachable: conn.track.unreachable,
                alerted: marks.alerted(),
                explained_by: marks.explained_by(),
            },
            conn_state: conn.conn_state(),
            history: conn.track.history(),
        })),
    }
}

/// A campaign's update or end.
pub fn campaign(c: Campaign, ts: Timestamp, origin: &Origin) -> Record {
    Record {
        timestamp: ts,
        flow_id: None,
        origin: origin.clone(),
        endpoints: None,
        body: Body::Campaign(Box::new(c)),
    }
}

/// What alert budgets held back in a window.
pub fn summary(s: Summary, ts: Timestamp, origin: &Origin) -> Record {
    Record {
        timestamp: ts,
        flow_id: None,
        origin: origin.clone(),
        endpoints: None,
        body: Body::Summary(Box::new(s)),
    }
}

/// The counters at `now`.
pub fn stats(now: Timestamp, stats: Stats) -> Record {
    Record {
        timestamp: now,
        flow_id: None,
        origin: Origin::None,
        endpoints: None,
        body: Body::Stats(Box::new(stats)),
    }
}

/// The sensor's own health, about a capture source.
pub fn warning(w: Warning, now: Timestamp, origin: Origin) -> Record {
    Record {
        timestamp: now,
        flow_id: None,
        origin,
        endpoints: None,
        body: Body::Warning(Box::new(w)),
    }
}

/// libpcap's live counters into the capture counters.
pub fn with_live(
    mut capture: CaptureStats,
    live: Option<crate::capture::PcapCounters>,
) -> CaptureStats {
    if let Some(p) = live {
        capture.received = Some(p.received);
        capture.dropped = Some(p.dropped);
        capture.if_dropped = Some(p.if_dropped);
    }
    capture
}

/// The decoder's counters with the fragment table's.
pub fn decoder(d: DecoderStats, trains: u64, evicted: u64) -> DecoderStats {
    DecoderStats {
        fragment_trains: trains,
        fragment_trains_evicted: evicted,
        ..d
    }
}
