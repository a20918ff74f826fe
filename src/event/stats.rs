//! Counters, as every stage keeps them and the `stats` record reports them.

use super::EventType;
use serde::Serialize;

/// A struct of `u64` counters declared once: its fields, and the merge of two workers' counts,
/// so a counter added here can never be left out of the sum under `--workers`.
macro_rules! counters {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: u64 ),*
        }

        impl $name {
            /// Adds another worker's counts.
            pub fn add(&mut self, o: &Self) {
                $( self.$field += o.$field; )*
            }
        }
    };
}

/// Counters at a point in time (every interval live, and at exit).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    pub uptime_sec: u64,
    pub capture: CaptureStats,
    pub decoder: DecoderStats,
    pub flow: FlowTableStats,
    pub bjnp: BjnpStats,
    /// LPD, IPP, TLS on printer ports, CUPS browsing.
    pub doors: DoorStats,
    pub detect: DetectStats,
    /// `-w`: the evidence capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<EvidenceStats>,
    pub output: OutputStats,
    /// Live with `--workers N` (N > 1): each worker's share (the totals are above).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub workers: Vec<WorkerLoad>,
}

/// One capture worker's packets and its socket's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WorkerLoad {
    pub worker: u16,
    pub packets: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
    pub flows_active: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DetectStats {
    pub alerts: u64,
    /// Alerts written, by rule id.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub alerts_by_rule: std::collections::BTreeMap<u32, u64>,
    /// Alerts not written because the same (rule, source, destination, port) fired within the
    /// suppression window.
    pub suppressed: u64,
    /// Per-target alerts folded into a scan, flood or campaign alert.
    pub folded: u64,
    /// Alerts not written because their rule's budget for the window was spent (each window's
    /// `summary` record says which and whose).
    pub over_budget: u64,
    /// Campaigns started (alert 1006).
    pub campaigns: u64,
    /// `flow` records counted into campaigns instead of written.
    pub flows_folded: u64,
    /// `bjnp` records of recon requests counted into campaigns instead of written.
    pub messages_folded: u64,
    /// Ports dropped from the table of ports watched for a campaign at its cap, and campaigns
    /// that could not start because 64 were running.
    pub campaigns_evicted: u64,
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

counters! {
    pub struct DecoderStats {
        /// TCP/UDP packets to or from a monitored port.
        pub monitored,
        /// IP packets that touch no monitored port.
        pub ignored,
        pub not_ip,
        pub ipv4,
        pub ipv6,
        pub tcp,
        pub udp,
        pub vlan,
        /// Frames cut (snaplen) before the ports, or monitored packets whose payload was cut.
        pub truncated,
        /// Headers that do not parse.
        pub invalid,
        /// IP fragments of TCP and UDP datagrams.
        pub fragments,
        /// Fragmented datagrams being put together now, and those dropped at a cap (datagrams or
        /// bytes) before their last fragment came.
        pub fragment_trains,
        pub fragment_trains_evicted,
        /// Datagrams put together whole; handed on incomplete (timed out, evicted, cut by the end
        /// of the capture); thrown away by the overlap policy; and incomplete ones whose head never
        /// came (no ports, so nothing tells whether they were monitored).
        pub fragments_reassembled,
        pub fragment_trains_incomplete,
        pub fragment_trains_discarded,
        pub fragment_trains_headless,
        pub unsupported_linktype,
        /// ICMP/ICMPv6 destination unreachables that refused a tracked attempt on a monitored
        /// port, and those quoting a monitored port whose flow was not (or no longer) tracked.
        pub unreachables,
        pub unreachables_unmatched,
    }
}

counters! {
    pub struct BjnpStats {
        pub messages,
        /// Messages with a consistency-check failure.
        pub malformed,
        /// Payloads on a BJNP port that fail the hard checks.
        pub not_bjnp,
        /// Empty UDP datagrams (port-scan probes).
        pub empty_datagrams,
        pub responses_matched,
        pub responses_unmatched,
        /// TCP data messages counted but not logged one by one (see README).
        pub data_messages_unlogged,
        pub tcp_gaps,
        /// TCP streams picked up mid-way that did not start at a message boundary.
        pub tcp_midstream,
        pub pending_evicted,
    }
}

counters! {
    /// The other doors of a printer: LPD (515), IPP (631), TLS on a printer port, CUPS browsing
    /// (UDP 631).
    pub struct DoorStats {
        /// LPD daemon commands (one per connection).
        pub lpd_commands,
        /// `lpd` records of received jobs.
        pub lpd_jobs,
        /// Jobs past the per-connection cap: counted, not recorded one by one.
        pub lpd_jobs_unlogged,
        pub lpd_malformed,
        pub ipp_requests,
        pub ipp_responses,
        /// Requests the connection ended without answering.
        pub ipp_unanswered,
        /// Requests past the per-connection cap of operations waiting for an answer.
        pub ipp_pending_evicted,
        pub ipp_malformed,
        pub tls_sessions,
        pub cups_browsed,
        /// Announcements past the first few of a flow: counted, not recorded.
        pub cups_browsed_unlogged,
        pub cups_browsed_malformed,
    }
}

/// Output counters, all about the records that came before this one in the stream: `records`
/// of them were made (and `warnings` by the output stage itself); each was `written`, dropped
/// because the queue was full (counted when this record was made), or dropped because the
/// sink could not take it (counted when it is written):
/// `records + warnings = written + dropped_queue_full + dropped_sink_down`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OutputStats {
    pub records: u64,
    /// Records handed to the sink.
    pub written: u64,
    /// Dropped because the output queue was full (live capture only: a slow sink).
    pub dropped_queue_full: u64,
    /// The same by event type: under pressure flow, bjnp, print and anomaly records go first;
    /// alert, campaign, summary, printer, warning and stats records have a reserve.
    #[serde(skip_serializing_if = "DroppedByType::is_empty")]
    pub dropped_by_type: DroppedByType,
    /// Dropped because the sink was unavailable (syslog receiver down, reconnecting).
    pub dropped_sink_down: u64,
    /// Syslog connections re-established.
    pub reconnects: u64,
    /// Output file reopened (SIGHUP).
    pub reopens: u64,
    /// Warnings the output stage wrote about itself (not in `records`).
    pub warnings: u64,
    /// Taken by the sink, fate not known yet (Kafka: awaiting the cluster's acknowledgement);
    /// written only when not zero.
    #[serde(skip_serializing_if = "is_zero")]
    pub in_flight: u64,
}

/// What `-w` wrote (the `evidence` part of a `stats` record).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EvidenceStats {
    /// Files started (rotation and SIGHUP included).
    pub files: u64,
    pub packets: u64,
    pub bytes: u64,
    /// Packets lost to a write error.
    pub write_errors: u64,
    /// `--write-alerted`: packets of a flow not (yet) alerted that did not fit its buffer, and
    /// flows whose buffer was dropped at the cap before an alert came.
    pub packets_not_buffered: u64,
    pub buffers_evicted: u64,
}

/// Records dropped for a full queue, by event type (absent types: none dropped).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DroppedByType {
    #[serde(skip_serializing_if = "is_zero")]
    pub alert: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub anomaly: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub bjnp: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub campaign: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub cups_browsed: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub flow: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub ipp: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub lpd: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub print: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub printer: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub stats: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub reload: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub summary: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub tls: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub warning: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl DroppedByType {
    pub fn is_empty(&self) -> bool {
        *self == DroppedByType::default()
    }

    /// The counter of an event type.
    pub fn of(&mut self, event_type: EventType) -> &mut u64 {
        match event_type {
            EventType::Alert => &mut self.alert,
            EventType::Anomaly => &mut self.anomaly,
            EventType::Bjnp => &mut self.bjnp,
            EventType::Campaign => &mut self.campaign,
            EventType::CupsBrowsed => &mut self.cups_browsed,
            EventType::Flow => &mut self.flow,
            EventType::Ipp => &mut self.ipp,
            EventType::Lpd => &mut self.lpd,
            EventType::Print => &mut self.print,
            EventType::Printer => &mut self.printer,
            EventType::Stats => &mut self.stats,
            EventType::Reload => &mut self.reload,
            EventType::Summary => &mut self.summary,
            EventType::Tls => &mut self.tls,
            EventType::Warning => &mut self.warning,
        }
    }
}

counters! {
    /// The flow table's counters.
    pub struct FlowTableStats {
        pub active,
        pub created,
        pub timed_out,
        pub evicted,
    }
}
