//! The data model of every record bjnp-watch writes (docs/OUTPUT.md), independent of the
//! output format. Records own their data so they can cross a thread boundary to the output
//! stage. Closed sets are typed (`vocab`); only serialisation turns them into names.

mod campaign;
mod community_id;
mod doors;
mod history;
mod inventory;
mod stats;
pub mod text;
mod vocab;

pub use crate::net::Timestamp;
pub use campaign::*;
pub use community_id::CommunityId;
pub use doors::*;
pub use history::History;
pub use inventory::*;
pub use stats::*;
pub use vocab::*;

use crate::net::L4;
use crate::proto::bjnp::{Anomalies, CommandName, Magic};
use crate::proto::pdl::Language;
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
    pub proto: L4,
    pub app_proto: Option<AppProto>,
    pub vlan: Vec<u16>,
}

impl Endpoints {
    /// The flow's Community ID, worked out when a record is written.
    pub fn community_id(&self) -> CommunityId {
        CommunityId::v1(
            0,
            self.src_ip,
            self.dest_ip,
            self.src_port,
            self.dest_port,
            self.proto.ip_number(),
        )
    }
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
    Campaign(Box<Campaign>),
    Summary(Box<Summary>),
    Lpd(Box<Lpd>),
    Ipp(Box<Ipp>),
    Tls(Box<Tls>),
    CupsBrowsed(Box<CupsBrowsed>),
    Reload(Box<Reload>),
}

impl Body {
    pub fn event_type(&self) -> EventType {
        match self {
            Body::Bjnp(_) => EventType::Bjnp,
            Body::Anomaly(_) => EventType::Anomaly,
            Body::Alert(_) => EventType::Alert,
            Body::Flow(_) => EventType::Flow,
            Body::Printer(_) => EventType::Printer,
            Body::Print(_) => EventType::Print,
            Body::Stats(_) => EventType::Stats,
            Body::Warning(_) => EventType::Warning,
            Body::Campaign(_) => EventType::Campaign,
            Body::Summary(_) => EventType::Summary,
            Body::Lpd(_) => EventType::Lpd,
            Body::Ipp(_) => EventType::Ipp,
            Body::Tls(_) => EventType::Tls,
            Body::CupsBrowsed(_) => EventType::CupsBrowsed,
            Body::Reload(_) => EventType::Reload,
        }
    }

    /// The body's top-level fields of a record (`alert` and `evidence`, `flow`, `conn_state`
    /// and `history`, or one object under the event type's name), in EVE order.
    fn entries<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        match self {
            Body::Bjnp(b) => m.serialize_entry("bjnp", b),
            Body::Anomaly(a) => m.serialize_entry("anomaly", a),
            Body::Alert(a) => {
                m.serialize_entry("alert", &a.alert)?;
                m.serialize_entry("evidence", &a.evidence)
            }
            Body::Flow(f) => {
                m.serialize_entry("flow", &f.flow)?;
                m.serialize_entry("conn_state", &f.conn_state)?;
                m.serialize_entry("history", &f.history)
            }
            Body::Printer(p) => m.serialize_entry("printer", p),
            Body::Print(p) => m.serialize_entry("print", p),
            Body::Stats(st) => m.serialize_entry("stats", st),
            Body::Warning(w) => m.serialize_entry("warning", w),
            Body::Campaign(c) => m.serialize_entry("campaign", c),
            Body::Summary(x) => m.serialize_entry("summary", x),
            Body::Lpd(x) => m.serialize_entry("lpd", x),
            Body::Ipp(x) => m.serialize_entry("ipp", x),
            Body::Tls(x) => m.serialize_entry("tls", x),
            Body::CupsBrowsed(x) => m.serialize_entry("cups_browsed", x),
            Body::Reload(x) => m.serialize_entry("reload", x),
        }
    }
}

/// The body of a record alone, as a map of its top-level fields: what ECS and CEF carry
/// unchanged in their container for fields they have no name for.
pub struct BodyFields<'a>(pub &'a Body);

impl Serialize for BodyFields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        self.0.entries(&mut m)?;
        m.end()
    }
}

impl Record {
    pub fn event_type(&self) -> EventType {
        self.body.event_type()
    }

    /// The record as EVE writes it, with the sensor's name as `host` (Suricata's
    /// `sensor-name`) right after the timestamp.
    pub fn with_host<'a>(&'a self, host: &'a str) -> Eve<'a> {
        Eve {
            record: self,
            host: Some(host),
        }
    }

    fn serialize_eve<S: Serializer>(&self, host: Option<&str>, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("timestamp", &self.timestamp)?;
        if let Some(h) = host {
            m.serialize_entry("host", h)?;
        }
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
        m.serialize_entry("event_type", &self.event_type())?;
        if let Some(e) = &self.endpoints {
            m.serialize_entry("src_ip", &e.src_ip)?;
            m.serialize_entry("src_port", &e.src_port)?;
            m.serialize_entry("dest_ip", &e.dest_ip)?;
            m.serialize_entry("dest_port", &e.dest_port)?;
            m.serialize_entry("proto", &e.proto)?;
            if let Some(a) = &e.app_proto {
                m.serialize_entry("app_proto", a)?;
            }
            if !e.vlan.is_empty() {
                m.serialize_entry("vlan", &e.vlan)?;
            }
            m.serialize_entry("community_id", &e.community_id())?;
        }
        self.body.entries(&mut m)?;
        m.end()
    }
}

/// A record with the sensor's name: see [`Record::with_host`].
pub struct Eve<'a> {
    record: &'a Record,
    host: Option<&'a str>,
}

impl Serialize for Eve<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.record.serialize_eve(self.host, s)
    }
}

/// Suricata EVE field order: time, flow, source, event type, endpoints, then the body under
/// its event type's name.
impl Serialize for Record {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.serialize_eve(None, s)
    }
}

/// One BJNP/MFNP message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bjnp {
    pub magic: Magic,
    /// Bit 7 of dev_type.
    pub direction: Direction,
    pub dev_type: u8,
    pub command: u8,
    pub command_name: CommandName,
    pub seq: u32,
    pub session_id: u16,
    pub payload_len: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_to: Option<ResponseTo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Shared: a printer repeats its identity answer, whose fields are made once.
    pub device_id: Option<std::sync::Arc<DeviceId>>,
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
    #[serde(skip_serializing_if = "Anomalies::is_empty")]
    pub anomalies: Anomalies,
}

impl Default for Bjnp {
    fn default() -> Self {
        Bjnp {
            magic: Magic::BJNP,
            direction: Direction::Request,
            dev_type: 0,
            command: 0,
            command_name: CommandName::Unknown,
            seq: 0,
            session_id: 0,
            payload_len: 0,
            response_to: None,
            device_id: None,
            mac: None,
            ip: None,
            ips: Vec::new(),
            job: None,
            poll: None,
            status: None,
            accepted: None,
            anomalies: Anomalies::default(),
        }
    }
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
    #[serde(rename = "type")]
    pub kind: AnomalyType,
    pub event: AnomalyEvent,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<AppProto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Payload bytes seen (for app-layer anomalies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// The first bytes in hex: safe in every output format, enough to recognise the content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_hex: Option<String>,
}

/// A rule fired (the README's alert tables).
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn_state: Option<ConnState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<History>,
    /// The policy entry that was missed (or matched, for 1003).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub printer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bjnp_command: Option<CommandName>,
    #[serde(skip_serializing_if = "Anomalies::is_empty")]
    pub anomalies: Anomalies,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The command line that fired the rule (capped, escaped by the output format).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The URI an IPP operation or a browse announcement names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Scans: the first targets (`ip:port`, capped) and how many there were.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets_total: Option<u64>,
    /// Campaigns: the id its `campaign` records carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<u64>,
    /// Floods and campaigns: the first sources (capped) and how many there were.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources_total: Option<u64>,
    /// `-w`: the capture file that holds this alert's packets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pcap_file: Option<String>,
}

/// A monitored flow that ended (Suricata's `flow`, Zeek's `conn`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    pub flow: FlowInfo,
    pub conn_state: ConnState,
    pub history: History,
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
    pub state: FlowState,
    pub reason: EndReason,
    /// What became of the client's attempt: no answer, refused (a reset, or an ICMP
    /// unreachable), half open (a SYN-ACK never completed), established. Absent for a flow to a
    /// broadcast or multicast address, whose answers come in flows of their own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// The refusal an ICMP destination unreachable brought back for this flow's attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<crate::net::Unreach>,
    /// An alert record names this flow.
    pub alerted: bool,
    /// When no alert names it although a rule looked at it: the alert that stands for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explained_by: Option<ExplainedBy>,
}

/// The alert that stands for a flow no alert names: a scan, flood or campaign it was folded
/// into, the alert that suppressed it, or the rule's spent budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ExplainedBy {
    pub signature_id: u32,
    /// The flow the explaining alert names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<u64>,
    /// The campaign the attempt was counted into.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<u64>,
    /// The rule's alert budget for the window was spent: the window's `summary` record counts it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub over_budget: bool,
}

/// One job on a raw-printing stream (written when it ends).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Print {
    /// The page-description language (`postscript`, `pcl`, `pdf`...), `pjl` for a
    /// command-only session.
    pub language: Language,
    /// Every language met, in order (`pjl`, then what ENTER LANGUAGE switched to).
    pub languages: Vec<Language>,
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

impl Default for Print {
    fn default() -> Self {
        Print {
            language: Language::Unknown,
            languages: Vec::new(),
            bytes_toserver: 0,
            bytes_toclient: 0,
            job_name: None,
            user: None,
            title: None,
            creator: None,
            pjl_lines: 0,
            commands: Vec::new(),
        }
    }
}

/// A printer seen answering on a monitored port, first time or with a changed identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
    /// What changed since the last `printer` record.
    pub change: PrinterChange,
}

impl Default for Printer {
    fn default() -> Self {
        Printer {
            ip: None,
            name: None,
            services: Vec::new(),
            mac: None,
            mfg: None,
            model: None,
            firmware: None,
            first_seen: Timestamp::default(),
            change: PrinterChange::New,
        }
    }
}

/// The sensor's own health: conditions under which its silence would mislead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub code: WarningCode,
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
                proto: L4::Udp,
                app_proto: Some(AppProto::Bjnp),
                vlan: vec![10],
            }),
            body: Body::Anomaly(Anomaly {
                kind: AnomalyType::Applayer,
                event: AnomalyEvent::NotBjnp,
                layer: Some(AppProto::Bjnp),
                reason: None,
                bytes: Some(3),
                preview_hex: Some("414243".into()),
            }),
        };
        let j = serde_json::to_string(&r).unwrap();
        assert_eq!(
            j,
            r#"{"timestamp":"2026-01-15T10:00:00.000005Z","flow_id":42,"pcap_filename":"a.pcap","pcap_cnt":3,"event_type":"anomaly","src_ip":"2001:db8::5","src_port":8612,"dest_ip":"ff02::1","dest_port":8612,"proto":"UDP","app_proto":"bjnp","vlan":[10],"community_id":"1:e/tWEibXK4zylf9OxkSJ1eYKYFw=","anomaly":{"type":"applayer","event":"not_bjnp","layer":"bjnp","bytes":3,"preview_hex":"414243"}}"#
        );
    }
}
