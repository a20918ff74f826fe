//! The data model of every record bjnp-watch writes (design.md §3), independent of the output
//! format. Records own their data so they can cross a thread boundary to the output stage.

mod community_id;
pub mod text;
mod time;

pub use community_id::community_id_v1;
pub use time::Timestamp;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use std::net::IpAddr;
use std::sync::Arc;

/// Where a packet came from: a file (name and packet number, as Wireshark's frame number) or
/// a live interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    File {
        name: Arc<str>,
        cnt: u64,
    },
    Iface(Arc<str>),
    /// Records not tied to a packet (stats).
    None,
}

/// The five-tuple and flow identity fields common to every flow-related record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub dest_ip: IpAddr,
    pub dest_port: u16,
    pub proto: &'static str,
    pub app_proto: Option<&'static str>,
    pub vlan: Vec<u16>,
    pub community_id: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub timestamp: Timestamp,
    pub flow_id: Option<u64>,
    pub origin: Origin,
    pub endpoints: Option<Endpoints>,
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Bjnp(Box<Bjnp>),
    Anomaly(Anomaly),
    Alert(Box<Alert>),
    Flow(Box<FlowRecord>),
    Printer(Box<Printer>),
    Print(Box<Print>),
    Stats(Box<Stats>),
    Warning(Box<Warning>),
}

impl Body {
    pub fn event_type(&self) -> &'static str {
        match self {
            Body::Bjnp(_) => "bjnp",
            Body::Anomaly(_) => "anomaly",
            Body::Alert(_) => "alert",
            Body::Flow(_) => "flow",
            Body::Printer(_) => "printer",
            Body::Print(_) => "print",
            Body::Stats(_) => "stats",
            Body::Warning(_) => "warning",
        }
    }
}

impl Record {
    pub fn event_type(&self) -> &'static str {
        self.body.event_type()
    }
}

/// Suricata EVE field order: time, flow, source, event type, endpoints, then the body under
/// its event type's name.
impl Serialize for Record {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("timestamp", &self.timestamp)?;
        if let Some(id) = self.flow_id {
            m.serialize_entry("flow_id", &id)?;
        }
        match &self.origin {
            Origin::File { name, cnt } => {
                m.serialize_entry("pcap_filename", &**name)?;
                // 0: a record of the file but of no one packet (a flow ending on a timeout)
                if *cnt > 0 {
                    m.serialize_entry("pcap_cnt", cnt)?;
                }
            }
            Origin::Iface(i) => m.serialize_entry("in_iface", &**i)?,
            Origin::None => {}
        }
        m.serialize_entry("event_type", self.event_type())?;
        if let Some(e) = &self.endpoints {
            m.serialize_entry("src_ip", &e.src_ip)?;
            m.serialize_entry("src_port", &e.src_port)?;
            m.serialize_entry("dest_ip", &e.dest_ip)?;
            m.serialize_entry("dest_port", &e.dest_port)?;
            m.serialize_entry("proto", e.proto)?;
            if let Some(a) = e.app_proto {
                m.serialize_entry("app_proto", a)?;
            }
            if !e.vlan.is_empty() {
                m.serialize_entry("vlan", &e.vlan)?;
            }
            m.serialize_entry("community_id", &e.community_id)?;
        }
        match &self.body {
            Body::Bjnp(b) => m.serialize_entry("bjnp", b)?,
            Body::Anomaly(a) => m.serialize_entry("anomaly", a)?,
            Body::Alert(a) => {
                m.serialize_entry("alert", &a.alert)?;
                m.serialize_entry("evidence", &a.evidence)?;
            }
            Body::Flow(f) => {
                m.serialize_entry("flow", &f.flow)?;
                m.serialize_entry("conn_state", f.conn_state)?;
                m.serialize_entry("history", &f.history)?;
            }
            Body::Printer(p) => m.serialize_entry("printer", p)?,
            Body::Print(p) => m.serialize_entry("print", p)?,
            Body::Stats(st) => m.serialize_entry("stats", st)?,
            Body::Warning(w) => m.serialize_entry("warning", w)?,
        }
        m.end()
    }
}

/// One BJNP/MFNP message.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Bjnp {
    pub magic: String,
    /// `request` or `response` (bit 7 of dev_type).
    pub direction: &'static str,
    pub dev_type: u8,
    pub command: u8,
    pub command_name: &'static str,
    pub seq: u32,
    pub session_id: u16,
    pub payload_len: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_to: Option<ResponseTo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<DeviceId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// Every address of an IPv6 discover answer, when there is more than one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<Job>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll: Option<Poll>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// TCP data acknowledgement: bytes the device accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<&'static str>,
}

/// The request a response answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResponseTo {
    pub timestamp: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pcap_cnt: Option<u64>,
    /// Microseconds between the request and this response.
    pub rtt_usec: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeviceId {
    pub raw: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mdl: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub des: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ver: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cls: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Job {
    pub host: String,
    pub user: String,
    pub title: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Poll {
    #[serde(rename = "type")]
    pub kind: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_host: Option<String>,
}

/// Something on a monitored port that is not what the port promises (Suricata's `anomaly`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    /// `decode` (packet layer) or `applayer`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Payload bytes seen (for app-layer anomalies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// The first bytes in hex: safe in every output format, enough to recognise the content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_hex: Option<String>,
}

/// A rule fired (design.md §4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub alert: AlertInfo,
    pub evidence: Evidence,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlertInfo {
    /// Always `allowed`: bjnp-watch watches, it does not block.
    pub action: &'static str,
    pub gid: u32,
    pub signature_id: u32,
    pub rev: u32,
    pub signature: &'static str,
    pub category: &'static str,
    /// 1 = most severe ... 4.
    pub severity: u8,
}

/// Why the rule fired: what was seen and which policy entry it missed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// `attempted` (no answer), `refused` (RST) or `established`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn_state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<String>,
    /// The policy entry that was missed (or matched, for 1003).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub printer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bjnp_command: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The command line that fired the rule (capped, escaped by the output format).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Scans: the first targets (`ip:port`, capped) and how many there were.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets_total: Option<u64>,
    /// Floods: the first sources (capped) and how many there were.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources_total: Option<u64>,
}

/// A monitored flow that ended (Suricata's `flow`, Zeek's `conn`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    pub flow: FlowInfo,
    pub conn_state: &'static str,
    pub history: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlowInfo {
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    pub start: Timestamp,
    pub end: Timestamp,
    pub age: u64,
    /// `new` (no answer), `established` or `closed`.
    pub state: &'static str,
    /// `timeout`, `closed`, `shutdown` or `evicted`.
    pub reason: &'static str,
    pub alerted: bool,
}

/// One job on a raw-printing stream (written when it ends).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Print {
    /// The page-description language (`postscript`, `pcl`, `pdf`...), `pjl` for a
    /// command-only session.
    pub language: &'static str,
    /// Every language met, in order (`pjl`, then what ENTER LANGUAGE switched to).
    pub languages: Vec<&'static str>,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// PJL `SET USERNAME`, else PostScript `%%For`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creator: Option<String>,
    pub pjl_lines: u64,
    /// Distinct PJL commands (`SET RESOLUTION`, `FSUPLOAD`...), the first 32.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
}

/// A printer seen answering on a monitored port, first time or with a changed identity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Printer {
    pub ip: Option<IpAddr>,
    /// The inventory name, when the policy lists this address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `bjnp/udp/8611`, `raw/tcp/9100`, ...
    pub services: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    pub first_seen: Timestamp,
    /// What changed since the last `printer` record: `new`, `service`, `mac`, `identity`.
    pub change: &'static str,
}

/// Counters at a point in time (every interval live, and at exit).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    pub uptime_sec: u64,
    pub capture: CaptureStats,
    pub decoder: DecoderStats,
    pub flow: crate::flow::FlowTableStats,
    pub bjnp: BjnpStats,
    pub detect: DetectStats,
    pub output: OutputStats,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DetectStats {
    pub alerts: u64,
    /// Alerts not written because the same (rule, source, destination, port) fired within the
    /// suppression window.
    pub suppressed: u64,
    /// Per-target alerts folded into a scan or flood alert.
    pub folded: u64,
    pub suppress_evicted: u64,
    pub scan_sources: u64,
    pub scan_evicted: u64,
    pub printers: u64,
    /// Printers dropped from the inventory at its cap.
    pub printers_evicted: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CaptureStats {
    /// Packets read from files, or delivered by libpcap live.
    pub packets: u64,
    pub bytes: u64,
    /// libpcap live counters (`pcap_stats`): see the README for what each means.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub if_dropped: Option<u64>,
    /// Packets the `-f` filter rejected on replay.
    pub filtered: u64,
    pub files: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DecoderStats {
    /// TCP/UDP packets to or from a monitored port.
    pub monitored: u64,
    /// IP packets that touch no monitored port.
    pub ignored: u64,
    pub not_ip: u64,
    pub ipv4: u64,
    pub ipv6: u64,
    pub tcp: u64,
    pub udp: u64,
    pub vlan: u64,
    /// Frames cut (snaplen) before the ports, or monitored packets whose payload was cut.
    pub truncated: u64,
    /// Headers that do not parse.
    pub invalid: u64,
    /// IP fragments of datagrams to or from a monitored port.
    pub fragments: u64,
    /// Fragmented datagrams to or from a monitored port being followed, and those dropped at
    /// the cap before their last fragment came.
    pub fragment_trains: u64,
    pub fragment_trains_evicted: u64,
    pub unsupported_linktype: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BjnpStats {
    pub messages: u64,
    /// Messages with a consistency-check failure.
    pub malformed: u64,
    /// Payloads on a BJNP port that fail the hard checks.
    pub not_bjnp: u64,
    /// Empty UDP datagrams (port-scan probes).
    pub empty_datagrams: u64,
    pub responses_matched: u64,
    pub responses_unmatched: u64,
    /// TCP data messages counted but not logged one by one (see README).
    pub data_messages_unlogged: u64,
    pub tcp_gaps: u64,
    /// TCP streams picked up mid-way that did not start at a message boundary.
    pub tcp_midstream: u64,
    pub pending_evicted: u64,
}

/// Output counters. `records` is what the engine produced; the rest is filled in by the output
/// stage when it writes this very record, so they count exactly what went before it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OutputStats {
    pub records: u64,
    /// Records handed to the sink.
    pub written: u64,
    /// Dropped because the output queue was full (live capture only: a slow sink).
    pub dropped_queue_full: u64,
    /// Dropped because the sink was unavailable (syslog receiver down, reconnecting).
    pub dropped_sink_down: u64,
    /// Syslog connections re-established.
    pub reconnects: u64,
    /// Output file reopened (SIGHUP).
    pub reopens: u64,
}

/// The sensor's own health: conditions under which its silence would mislead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// `capture_silent`: no packet passed the capture for several stats intervals.
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silent_sec: Option<u64>,
    /// Packets the interface itself received meanwhile (Linux sysfs), when known: 0 means the
    /// link or SPAN feed is dead; more means the filter matched none of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iface_rx_packets: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eve_field_order_and_names() {
        let r = Record {
            timestamp: Timestamp::from_parts(1_768_471_200, 5_000),
            flow_id: Some(42),
            origin: Origin::File {
                name: "a.pcap".into(),
                cnt: 3,
            },
            endpoints: Some(Endpoints {
                src_ip: "2001:db8:0:0:0:0:0:5".parse().unwrap(),
                src_port: 8612,
                dest_ip: "ff02::1".parse().unwrap(),
                dest_port: 8612,
                proto: "UDP",
                app_proto: Some("bjnp"),
                vlan: vec![10],
                community_id: "1:x".into(),
            }),
            body: Body::Anomaly(Anomaly {
                kind: "applayer",
                event: "not_bjnp",
                layer: Some("bjnp"),
                reason: None,
                bytes: Some(3),
                preview_hex: Some("414243".into()),
            }),
        };
        let j = serde_json::to_string(&r).unwrap();
        assert_eq!(
            j,
            r#"{"timestamp":"2026-01-15T10:00:00.000005Z","flow_id":42,"pcap_filename":"a.pcap","pcap_cnt":3,"event_type":"anomaly","src_ip":"2001:db8::5","src_port":8612,"dest_ip":"ff02::1","dest_port":8612,"proto":"UDP","app_proto":"bjnp","vlan":[10],"community_id":"1:x","anomaly":{"type":"applayer","event":"not_bjnp","layer":"bjnp","bytes":3,"preview_hex":"414243"}}"#
        );
    }
}
