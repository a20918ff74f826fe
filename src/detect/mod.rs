//! Detection: turns flow facts and protocol records into alerts (design.md §4) under the site
//! policy, with suppression windows, scan/flood aggregation and the printer inventory. No I/O:
//! alerts go to the engine's sink like every other record.

pub mod inventory;
pub mod policy;
pub mod scan;

use crate::bounded::BoundedMap;
use crate::event::{
    Alert, AlertInfo, Body, DetectStats, Endpoints, Evidence, Origin, Printer, Record, Timestamp,
};
use crate::flow::{Dir, EndReason, Flow};
use crate::output::RecordSink;
use inventory::Inventory;
use policy::Policy;
use scan::{Finding, ScanConfig, ScanTracker};
use std::net::{IpAddr, Ipv4Addr};

/// The rules (design.md §4). 1005 extends the table: many sources to one printer port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub sid: u32,
    pub name: &'static str,
    pub category: &'static str,
}

pub const UNEXPECTED_CLIENT: Rule = Rule {
    sid: 1001,
    name: "printer-port-unexpected-client",
    category: "Policy Violation",
};
pub const UNEXPECTED_SERVICE: Rule = Rule {
    sid: 1002,
    name: "printer-service-unexpected",
    category: "Policy Violation",
};
pub const OPEN_DESPITE_POLICY: Rule = Rule {
    sid: 1003,
    name: "printer-port-open-despite-policy",
    category: "Policy Violation",
};
pub const PORT_SCAN: Rule = Rule {
    sid: 1004,
    name: "printer-port-scan",
    category: "Detection of a Network Scan",
};
pub const PORT_FLOOD: Rule = Rule {
    sid: 1005,
    name: "printer-port-flood",
    category: "Detection of a Network Scan",
};
pub const BJNP_RECON: Rule = Rule {
    sid: 1101,
    name: "bjnp-recon",
    category: "Attempted Information Leak",
};
pub const BJNP_MALFORMED: Rule = Rule {
    sid: 1102,
    name: "bjnp-malformed",
    category: "Potentially Bad Traffic",
};

/// The rule and severity of each print-stream risk (protocols.md §6.3-6.4: critical 1,
/// high 2, medium 3, low or informational 4).
pub fn print_rule(risk: crate::proto::risk::Risk) -> (Rule, u8) {
    use crate::proto::risk::Risk::*;
    const LEAK: &str = "Attempted Information Leak";
    const ADMIN: &str = "Attempted Administrator Privilege Gain";
    const DOS: &str = "Attempted Denial of Service";
    const MISC: &str = "Misc Activity";
    let (sid, name, category, severity) = match risk {
        FsRead => (1201, "pjl-fs-read", LEAK, 2),
        FsWrite => (1202, "pjl-fs-write", ADMIN, 2),
        FsDelete => (1203, "pjl-fs-delete", ADMIN, 2),
        FsFormat => (1204, "pjl-fs-format", ADMIN, 1),
        FsEnum => (1205, "pjl-fs-enumeration", LEAK, 3),
        PathTraversal => (1206, "pjl-path-traversal", ADMIN, 2),
        LockChange => (1207, "pjl-lock-change", ADMIN, 2),
        PinGuess => (1208, "pjl-pin-bruteforce", ADMIN, 2),
        LockProbe => (1209, "pjl-lock-probe", LEAK, 3),
        ServiceMode => (1210, "pjl-service-mode", ADMIN, 2),
        NvramWrite => (1211, "pjl-nvram-wear", DOS, 2),
        Counter => (1212, "pjl-counter-manipulation", ADMIN, 3),
        PrintingDisabled => (1213, "pjl-printing-disabled", DOS, 2),
        JobRetention => (1214, "pjl-job-retention", LEAK, 3),
        DisplayMessage => (1215, "pjl-display-message", MISC, 4),
        OfflineDos => (1216, "pjl-offline-dos", DOS, 2),
        DeviceManagement => (1217, "pjl-device-management", ADMIN, 2),
        DeviceInfo => (1218, "pjl-device-info", LEAK, 3),
        FactoryReset => (1219, "pjl-factory-reset", DOS, 1),
        RawNvram => (1220, "pjl-raw-nvram", ADMIN, 1),
        TestPage => (1221, "pjl-test-page", MISC, 4),
        Oversized => (1222, "pjl-oversized-argument", DOS, 2),
        Recon => (1223, "pjl-recon", LEAK, 4),
        ToolFingerprint => (1224, "pjl-tool-fingerprint", MISC, 4),
        Exfiltration => (1225, "pjl-exfiltration-volume", LEAK, 2),
        PsExitServer => (1301, "postscript-exitserver", ADMIN, 2),
        PsSuperexec => (1302, "postscript-superexec", ADMIN, 2),
        PsPasswordParams => (1303, "postscript-password-params", ADMIN, 2),
        PsFactoryDefaults => (1304, "postscript-factory-defaults", DOS, 2),
        PsPasswordCheck => (1305, "postscript-password-check", ADMIN, 2),
        PsFileWrite => (1306, "postscript-file-write", ADMIN, 2),
        PsFsEnum => (1307, "postscript-fs-enumeration", LEAK, 3),
        PsJobCapture => (1308, "postscript-job-capture", LEAK, 2),
        PsShowpageRedef => (1309, "postscript-showpage-redefinition", ADMIN, 2),
        PsInfiniteLoop => (1310, "postscript-infinite-loop", DOS, 2),
        PsInterpreter => (1311, "postscript-interpreter-control", ADMIN, 3),
        PsFingerprint => (1312, "postscript-tool-fingerprint", MISC, 4),
        PsRecon => (1313, "postscript-recon", LEAK, 4),
        PclPermanentMacro => (1401, "pcl-permanent-macro", ADMIN, 3),
        PclEcho => (1402, "pcl-echo-exfiltration", LEAK, 3),
        PclRecon => (1403, "pcl-recon", LEAK, 4),
        BjlPowerOff => (1411, "bjl-power-off", DOS, 3),
        BjlCounterReset => (1412, "bjl-ink-counter-reset", ADMIN, 3),
        BjlInkDetection => (1413, "bjl-ink-detection-change", ADMIN, 3),
        BjlCleaning => (1414, "bjl-repeated-cleaning", DOS, 3),
    };
    (
        Rule {
            sid,
            name,
            category,
        },
        severity,
    )
}

/// Distinct sources to one printer port within the scan window that make a flood.
pub const FLOOD_SOURCES: usize = 64;
const SUPPRESS_CAP: usize = 65_536;

// Per-flow marks (`Flow::alert_marks`): each decision is made once per flow.
const MARK_CONTACT: u8 = 1;
const MARK_ANSWERED: u8 = 2;
const MARK_OUTCOME: u8 = 4;
/// Some alert named this flow (reported in its `flow` record).
pub const MARK_ALERTED: u8 = 8;

type SuppressKey = (u32, IpAddr, IpAddr, u16);

pub struct Detector {
    policy: Policy,
    suppress: BoundedMap<SuppressKey, ()>,
    scans: ScanTracker,
    pub inventory: Inventory,
    stats: DetectStats,
    suppress_ns: u64,
}

/// Where and when an alert happens.
pub struct At<'a> {
    pub ts: Timestamp,
    pub origin: &'a Origin,
}

impl Detector {
    pub fn new(policy: Policy) -> Self {
        let window_ns = u64::try_from(policy.scan_window.as_nanos()).unwrap_or(u64::MAX);
        Detector {
            scans: ScanTracker::new(ScanConfig {
                hosts: policy.scan_hosts,
                ports: policy.scan_ports,
                flood_sources: FLOOD_SOURCES,
                window_ns,
                fold_ns: u64::try_from(policy.suppress_window.as_nanos()).unwrap_or(u64::MAX),
            }),
            suppress_ns: u64::try_from(policy.suppress_window.as_nanos()).unwrap_or(u64::MAX),
            suppress: BoundedMap::new(SUPPRESS_CAP),
            inventory: Inventory::default(),
            stats: DetectStats::default(),
            policy,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn stats(&self) -> DetectStats {
        DetectStats {
            suppress_evicted: self.suppress.evicted(),
            scan_sources: self.scans.sources(),
            scan_evicted: self.scans.evicted(),
            printers: self.inventory.len() as u64,
            printers_evicted: self.inventory.evicted(),
            ..self.stats
        }
    }

    /// Flow-level facts after each packet of a monitored flow.
    pub fn on_packet(&mut self, flow: &mut Flow, dir: Dir, at: &At<'_>, out: &mut dyn RecordSink) {
        if flow.alert_marks & MARK_CONTACT == 0 && dir == Dir::ToServer {
            flow.alert_marks |= MARK_CONTACT;
            self.contact(flow, at, out);
        }
        if flow.alert_marks & MARK_ANSWERED == 0 && service_answered(flow) {
            flow.alert_marks |= MARK_ANSWERED;
            self.answered(flow, at, out);
        }
        if flow.alert_marks & MARK_OUTCOME == 0 {
            let outcome = if flow.track.established() || flow.track.established_one_sided() {
                Some("established")
            } else if flow.conn_state() == "REJ" {
                Some("refused")
            } else {
                None
            };
            if let Some(o) = outcome {
                flow.alert_marks |= MARK_OUTCOME;
                self.outcome(flow, o, at, out);
            }
        }
    }

    /// A flow ended: an attempt nobody answered is decided now.
    pub fn on_flow_end(
        &mut self,
        flow: &mut Flow,
        _reason: EndReason,
        at: &At<'_>,
        out: &mut dyn RecordSink,
    ) {
        if service_answered(flow) {
            self.inventory
                .seen(flow.server.0, flow.client.0, flow.last_ts);
        }
        // Nobody answers from a broadcast or multicast address: the answers come from each
        // device's own address, in flows of their own.
        if flow.alert_marks & MARK_OUTCOME == 0 && flow.track.orig.any && !is_group(flow.server.0) {
            flow.alert_marks |= MARK_OUTCOME;
            let r = &flow.track.resp;
            let o = if r.rst {
                "refused"
            } else if r.any {
                // the responder spoke (no reset) without a captured handshake
                "established"
            } else {
                "attempted"
            };
            self.outcome(flow, o, at, out);
        }
    }

    /// Protocol facts: BJNP recon, malformed BJNP, printer identity.
    pub fn on_record(&mut self, flow: &mut Flow, rec: &Record, out: &mut dyn RecordSink) {
        let Some(ep) = &rec.endpoints else { return };
        let at = At {
            ts: rec.timestamp,
            origin: &rec.origin,
        };
        match &rec.body {
            crate::event::Body::Bjnp(b) => {
                let malformed: Vec<&'static str> = b
                    .anomalies
                    .iter()
                    .copied()
                    .filter(|a| !INFORMATIONAL.contains(a))
                    .collect();
                // A flood or sweep alert already stands for probes from its sources.
                let explained = self
                    .scans
                    .explains(ep.src_ip, ep.dest_ip, ep.dest_port, at.ts);
                if !malformed.is_empty() && explained {
                    self.stats.folded += 1;
                } else if !malformed.is_empty() {
                    let ev = Evidence {
                        bjnp_command: Some(b.command_name),
                        anomalies: malformed,
                        ..Evidence::default()
                    };
                    self.fire(BJNP_MALFORMED, 3, ep, rec.flow_id, ev, &at, out);
                    flow.alert_marks |= MARK_ALERTED;
                }
                let recon = b.direction == "request"
                    && matches!(b.command_name, "discover" | "get_identity");
                if recon && !self.policy.allows(ep.src_ip, ep.dest_ip) && explained {
                    self.stats.folded += 1;
                } else if recon && !self.policy.allows(ep.src_ip, ep.dest_ip) {
                    let ev = Evidence {
                        bjnp_command: Some(b.command_name),
                        policy: Some(self.policy.missed_allow(ep.dest_ip)),
                        ..Evidence::default()
                    };
                    self.fire(BJNP_RECON, 3, ep, rec.flow_id, ev, &at, out);
                    flow.alert_marks |= MARK_ALERTED;
                }
                if b.direction == "response" {
                    // A BJNP answer makes its sender a printer now, so the identity it carries
                    // lands on the record of its first appearance.
                    let l4 = if ep.proto == "TCP" {
                        crate::decode::L4::Tcp
                    } else {
                        crate::decode::L4::Udp
                    };
                    self.inventory
                        .service(ep.src_ip, l4, ep.src_port, rec.timestamp);
                    // A BJNP answer makes its sender a printer now, so the identity it carries
                    // lands on the record of its first appearance.
                    let l4 = if ep.proto == "TCP" {
                        crate::decode::L4::Tcp
                    } else {
                        crate::decode::L4::Udp
                    };
                    self.inventory
                        .service(ep.src_ip, l4, ep.src_port, rec.timestamp);
                    if let Some(id) = &b.device_id {
                        self.inventory.identity(
                            ep.src_ip,
                            id.mfg.as_deref(),
                            id.mdl.as_deref(),
                            id.ver.as_deref(),
                        );
                    }
                    if let Some(mac) = &b.mac {
                        self.inventory.mac(ep.src_ip, mac);
                    }
                }
            }
            crate::event::Body::Anomaly(a) if a.event == "not_bjnp" => {
                let ev = Evidence {
                    reason: a.reason.clone(),
                    ..Evidence::default()
                };
                self.fire(BJNP_MALFORMED, 3, ep, rec.flow_id, ev, &at, out);
                flow.alert_marks |= MARK_ALERTED;
            }
            _ => {}
        }
    }

    /// A risky command (or volume) an analyzer found in a print stream.
    pub fn on_finding(
        &mut self,
        flow: &mut Flow,
        f: &crate::analyze::raw::Finding,
        at: &At<'_>,
        out: &mut dyn RecordSink,
    ) {
        let (rule, severity) = print_rule(f.risk);
        let ev = Evidence {
            command: Some(f.line.clone()),
            reason: f.reason.clone(),
            printer: self.policy.printer(flow.server.0).map(|p| p.name.clone()),
            ..Evidence::default()
        };
        let ep = flow_endpoints(flow);
        self.fire(rule, severity, &ep, Some(flow.id), ev, at, out);
        flow.alert_marks |= MARK_ALERTED;
    }

    /// Writes the `printer` records due after a packet.
    pub fn flush_printers(&mut self, ts: Timestamp, out: &mut dyn RecordSink) {
        for (ip, p) in self.inventory.take_dirty() {
            out.emit(Record {
                timestamp: ts,
                flow_id: None,
                origin: Origin::None,
                endpoints: None,
                body: Body::Printer(Box::new(Printer {
                    ip: Some(ip),
                    name: self.policy.printer(ip).map(|x| x.name.clone()),
                    services: p.service_labels(),
                    mac: p.mac.clone(),
                    mfg: p.mfg.clone(),
                    model: p.model.clone(),
                    firmware: p.firmware.clone(),
                    first_seen: p.first_seen,
                    change: p.dirty.unwrap_or("new"),
                })),
            });
        }
    }

    fn contact(&mut self, flow: &mut Flow, at: &At<'_>, out: &mut dyn RecordSink) {
        let (src, (dst, port)) = (flow.client.0, flow.server);
        // Print servers and admin hosts reach many printers on many ports by design; a
        // broadcast is one contact with the whole segment, not a sweep.
        if self.policy.trusted(src) || is_group(dst) {
            return;
        }
        let (scan, flood) = self.scans.contact(src, dst, port, at.ts);
        if let Some(f) = scan {
            let ep = flow_endpoints(flow);
            let ev = Evidence {
                targets: f.listed.iter().map(|(ip, p)| target(*ip, *p)).collect(),
                targets_total: Some(f.total),
                reason: Some(format!(
                    "{src} contacted {} printer targets within {} (threshold: {} hosts or {} ports)",
                    f.total,
                    humantime::format_duration(self.policy.scan_window),
                    self.policy.scan_hosts,
                    self.policy.scan_ports
                )),
                ..Evidence::default()
            };
            self.fire_keyed(
                PORT_SCAN,
                2,
                0,
                (src, unspecified(), 0),
                &ep,
                Some(flow.id),
                ev,
                at,
                out,
            );
            flow.alert_marks |= MARK_ALERTED;
        }
        if let Some(Finding { sources, total, .. }) = flood {
            let ep = flow_endpoints(flow);
            let ev = Evidence {
                sources,
                sources_total: Some(total),
                reason: Some(format!(
                    "{total} distinct sources contacted {} within {}",
                    target(dst, port),
                    humantime::format_duration(self.policy.scan_window)
                )),
                ..Evidence::default()
            };
            self.fire_keyed(
                PORT_FLOOD,
                2,
                0,
                (unspecified(), dst, port),
                &ep,
                Some(flow.id),
                ev,
                at,
                out,
            );
            flow.alert_marks |= MARK_ALERTED;
        }
    }

    fn answered(&mut self, flow: &mut Flow, at: &At<'_>, out: &mut dyn RecordSink) {
        let (server, port) = flow.server;
        self.inventory.service(server, flow.l4, port, at.ts);
        self.inventory.client(server, flow.client.0, at.ts);
        if self.policy.printer(server).is_none() {
            let ev = Evidence {
                conn_state: Some(flow.conn_state()),
                history: Some(flow.track.history().to_owned()),
                policy: Some(format!(
                    "{server} is not in the printer inventory ({} [[printer]] entries, policy: {})",
                    self.policy.printers.len(),
                    self.policy.origin
                )),
                ..Evidence::default()
            };
            let ep = flow_endpoints(flow);
            // One alert per unexpected service, whoever its clients: spoofed answers to many
            // clients must not become many alerts.
            let key = (unspecified(), server, port);
            self.fire_keyed(
                UNEXPECTED_SERVICE,
                2,
                0,
                key,
                &ep,
                Some(flow.id),
                ev,
                at,
                out,
            );
            flow.alert_marks |= MARK_ALERTED;
        }
    }

    fn outcome(
        &mut self,
        flow: &mut Flow,
        outcome: &'static str,
        at: &At<'_>,
        out: &mut dyn RecordSink,
    ) {
        let (client, (server, port)) = (flow.client.0, flow.server);
        let ep = flow_endpoints(flow);
        let base = Evidence {
            outcome: Some(outcome),
            conn_state: Some(flow.conn_state()),
            history: Some(flow.track.history().to_owned()),
            printer: self.policy.printer(server).map(|p| p.name.clone()),
            ..Evidence::default()
        };
        let evidence = |policy: String| Evidence {
            policy: Some(policy),
            ..base.clone()
        };
        if outcome == "established" && self.policy.is_blocked(port) {
            let ev = evidence(format!(
                "port {port} is in blocked_ports (policy: {})",
                self.policy.origin
            ));
            self.fire(OPEN_DESPITE_POLICY, 1, &ep, Some(flow.id), ev, at, out);
            flow.alert_marks |= MARK_ALERTED;
        }
        if self.policy.allows(client, server) {
            return;
        }
        // One scan or flood alert stands for all the attempts it explains.
        if outcome != "established" && self.scans.explains(client, server, port, at.ts) {
            self.stats.folded += 1;
            return;
        }
        let severity = if outcome == "established" { 2 } else { 3 };
        let mut ev = evidence(self.policy.missed_allow(server));
        if flow.track.established_one_sided() {
            ev.reason = Some("the client acknowledged a SYN-ACK that is not in the capture".into());
        }
        // The outcome is part of the suppression key: an attempt and then an established
        // connection in one window is the fix failing, and must show.
        let variant = match outcome {
            "attempted" => 1,
            "refused" => 2,
            _ => 3,
        };
        let key = (ep.src_ip, ep.dest_ip, ep.dest_port);
        self.fire_keyed(
            UNEXPECTED_CLIENT,
            severity,
            variant,
            key,
            &ep,
            Some(flow.id),
            ev,
            at,
            out,
        );
        flow.alert_marks |= MARK_ALERTED;
    }

    #[allow(clippy::too_many_arguments)]
    fn fire(
        &mut self,
        rule: Rule,
        severity: u8,
        ep: &Endpoints,
        flow_id: Option<u64>,
        ev: Evidence,
        at: &At<'_>,
        out: &mut dyn RecordSink,
    ) {
        let key = (ep.src_ip, ep.dest_ip, ep.dest_port);
        self.fire_keyed(rule, severity, 0, key, ep, flow_id, ev, at, out);
    }

    /// Writes the alert unless the same key fired within the suppression window. `variant`
    /// separates alerts of one rule that must not suppress each other (1001's outcomes).
    #[allow(clippy::too_many_arguments)]
    fn fire_keyed(
        &mut self,
        rule: Rule,
        severity: u8,
        variant: u32,
        key: (IpAddr, IpAddr, u16),
        ep: &Endpoints,
        flow_id: Option<u64>,
        evidence: Evidence,
        at: &At<'_>,
        out: &mut dyn RecordSink,
    ) {
        let key = (rule.sid * 16 + variant, key.0, key.1, key.2);
        if let Some((first, _)) = self.suppress.get(&key) {
            if at.ts.since(first) < self.suppress_ns {
                self.stats.suppressed += 1;
                return;
            }
        }
        self.suppress.insert(key, (), at.ts);
        self.stats.alerts += 1;
        out.emit(Record {
            timestamp: at.ts,
            flow_id,
            origin: at.origin.clone(),
            endpoints: Some(ep.clone()),
            body: Body::Alert(Box::new(Alert {
                alert: AlertInfo {
                    action: "allowed",
                    gid: 1,
                    signature_id: rule.sid,
                    rev: 1,
                    signature: rule.name,
                    category: rule.category,
                    severity,
                },
                evidence,
            })),
        });
    }
}

/// Anomalies that are facts about the capture or conversation, not malformed BJNP.
const INFORMATIONAL: [&str; 4] = [
    "capture_truncated",
    "ip_fragment",
    "unsolicited_response",
    "multiple_messages",
];

/// The server side offers the service: a SYN-ACK or data (a RST is a closed port, not a
/// printer), or any UDP answer.
fn service_answered(flow: &Flow) -> bool {
    let (o, r) = (&flow.track.orig, &flow.track.resp);
    match flow.l4 {
        // mid-stream (no SYN seen), anything but a reset from the responder counts
        crate::decode::L4::Tcp => r.synack || r.data || (!o.syn && r.any && !r.rst),
        crate::decode::L4::Udp => r.any,
    }
}

/// Broadcast and multicast destinations. An IPv4 address ending in .255 is taken for a
/// subnet-directed broadcast (the mask is not on the wire; cups sends exactly these).
fn is_group(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_broadcast() || a.is_multicast() || a.octets()[3] == 255,
        IpAddr::V6(a) => a.is_multicast(),
    }
}

fn unspecified() -> IpAddr {
    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
}

fn target(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// Client to server, as flow-level alerts and `flow` records report it.
pub fn flow_endpoints(flow: &Flow) -> Endpoints {
    Endpoints {
        src_ip: flow.client.0,
        src_port: flow.client.1,
        dest_ip: flow.server.0,
        dest_port: flow.server.1,
        proto: flow.l4.name(),
        app_proto: flow.app_proto(),
        vlan: flow.vlan.as_slice().to_vec(),
        community_id: flow.community_id(),
    }
}
