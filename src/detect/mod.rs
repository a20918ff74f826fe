//! Detection: judges typed facts (a flow's conn_state, a BJNP message, a print-stream finding)
//! under the site policy and returns decisions: alert drafts and printer records due. It does no
//! I/O and builds no records; the engine's record builder turns decisions into records.
//!
//! Inside: suppression windows (`suppress`), scan and flood aggregation (`scan`), per-connection
//! rates of print streams (`print_rates`), the printer inventory (`inventory`), the rule table
//! (`rules`) and the policy (`policy`).

pub mod inventory;
pub mod policy;
pub mod print_rates;
pub mod rules;
pub mod scan;
mod suppress;

use crate::analyze::Finding;
use crate::event::{
    AnomalyEvent, Bjnp, ConnState, DetectStats, Direction, Evidence, InventoryReport, Outcome,
    Printer,
};
use crate::flow::{Conn, Dir};
use crate::net::{Timestamp, L4};
use crate::proto::bjnp::CommandName;
use inventory::Inventory;
use policy::Policy;
use rules::Rule;
use scan::{ScanConfig, ScanTracker};
use std::net::{IpAddr, Ipv4Addr};
use suppress::Suppressor;

/// Distinct sources to one printer port within the scan window that make a flood.
pub const FLOOD_SOURCES: usize = 64;

/// Which endpoints an alert names: the flow's (client to server), or those of the record whose
/// content caused it (the packet's own direction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum About {
    Flow,
    Record,
}

/// A rule decided to fire: everything the record builder needs besides time and place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertDraft {
    pub rule: Rule,
    /// 1 = most severe ... 4.
    pub severity: u8,
    pub about: About,
    pub evidence: Evidence,
}

/// Where a message travelled: the packet's own direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
    pub l4: L4,
}

// Per-flow decisions, each made once per flow.
const MARK_CONTACT: u8 = 1;
const MARK_ANSWERED: u8 = 2;
const MARK_OUTCOME: u8 = 4;
/// Some alert named this flow (reported in its `flow` record).
const MARK_ALERTED: u8 = 8;

/// What detection keeps per flow.
#[derive(Default)]
pub struct FlowMarks {
    bits: u8,
    /// Print-stream rates, allocated on the flow's first finding.
    rates: Option<Box<print_rates::Rates>>,
}

impl FlowMarks {
    /// Whether an alert named this flow.
    pub fn alerted(&self) -> bool {
        self.bits & MARK_ALERTED != 0
    }
}

pub struct Detector {
    policy: Policy,
    suppress: Suppressor,
    scans: ScanTracker,
    inventory: Inventory,
    stats: DetectStats,
}

impl Detector {
    pub fn new(policy: Policy) -> Self {
        let window_ns = u64::try_from(policy.scan_window.as_nanos()).unwrap_or(u64::MAX);
        let suppress_ns = u64::try_from(policy.suppress_window.as_nanos()).unwrap_or(u64::MAX);
        Detector {
            scans: ScanTracker::new(ScanConfig {
                hosts: policy.scan_hosts,
                ports: policy.scan_ports,
                flood_sources: FLOOD_SOURCES,
                window_ns,
                fold_ns: suppress_ns,
            }),
            suppress: Suppressor::new(suppress_ns),
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
            suppressed: self.suppress.suppressed,
            suppress_evicted: self.suppress.evicted(),
            scan_sources: self.scans.sources(),
            scan_evicted: self.scans.evicted(),
            printers: self.inventory.len() as u64,
            printers_evicted: self.inventory.evicted(),
            ..self.stats
        }
    }

    /// The printers seen so far, with the policy's names (the `inventory` subcommand).
    pub fn inventory_report(&self) -> InventoryReport {
        self.inventory.report(&self.policy)
    }

    /// Flow-level facts after each packet of a monitored flow.
    pub fn on_packet(
        &mut self,
        conn: &Conn,
        marks: &mut FlowMarks,
        dir: Dir,
        now: Timestamp,
        out: &mut Vec<AlertDraft>,
    ) {
        if marks.bits & MARK_CONTACT == 0 && dir == Dir::ToServer {
            marks.bits |= MARK_CONTACT;
            self.contact(conn, marks, now, out);
        }
        if marks.bits & MARK_ANSWERED == 0 && service_answered(conn) {
            marks.bits |= MARK_ANSWERED;
            self.answered(conn, marks, now, out);
        }
        if marks.bits & MARK_OUTCOME == 0 {
            let outcome = if conn.track.established() || conn.track.established_one_sided() {
                Some(Outcome::Established)
            } else if conn.conn_state() == ConnState::Rej {
                Some(Outcome::Refused)
            } else {
                None
            };
            if let Some(o) = outcome {
                marks.bits |= MARK_OUTCOME;
                self.outcome(conn, marks, o, now, out);
            }
        }
    }

    /// A flow ended: an attempt nobody answered is decided now.
    pub fn on_flow_end(
        &mut self,
        conn: &Conn,
        marks: &mut FlowMarks,
        now: Timestamp,
        out: &mut Vec<AlertDraft>,
    ) {
        if service_answered(conn) {
            self.inventory
                .seen(conn.server.0, conn.client.0, conn.last_ts);
        }
        // Nobody answers from a broadcast or multicast address: the answers come from each
        // device's own address, in flows of their own.
        if marks.bits & MARK_OUTCOME == 0 && conn.track.orig.any && !is_group(conn.server.0) {
            marks.bits |= MARK_OUTCOME;
            let r = &conn.track.resp;
            let o = if r.rst {
                Outcome::Refused
            } else if r.any {
                // the responder spoke (no reset) without a captured handshake
                Outcome::Established
            } else {
                Outcome::Attempted
            };
            self.outcome(conn, marks, o, now, out);
        }
    }

    /// A BJNP message: recon, malformed messages, printer identity.
    pub fn on_message(
        &mut self,
        marks: &mut FlowMarks,
        route: Route,
        b: &Bjnp,
        now: Timestamp,
        out: &mut Vec<AlertDraft>,
    ) {
        let malformed = b.anomalies.malformed();
        // A flood or sweep alert already stands for probes from its sources.
        let explained = self.scans.explains(route.src, route.dst, route.dport, now);
        let key = (route.src, route.dst, route.dport);
        if !malformed.is_empty() && explained {
            self.stats.folded += 1;
        } else if !malformed.is_empty() {
            let ev = Evidence {
                bjnp_command: Some(b.command_name),
                anomalies: malformed,
                ..Evidence::default()
            };
            self.fire(Rule::BjnpMalformed, 3, About::Record, key, ev, now, out);
            marks.bits |= MARK_ALERTED;
        }
        let recon = b.direction == Direction::Request
            && matches!(
                b.command_name,
                CommandName::Discover | CommandName::GetIdentity
            );
        if recon && !self.policy.allows(route.src, route.dst) && explained {
            self.stats.folded += 1;
        } else if recon && !self.policy.allows(route.src, route.dst) {
            let ev = Evidence {
                bjnp_command: Some(b.command_name),
                policy: Some(self.policy.missed_allow(route.dst)),
                ..Evidence::default()
            };
            self.fire(Rule::BjnpRecon, 3, About::Record, key, ev, now, out);
            marks.bits |= MARK_ALERTED;
        }
        if b.direction == Direction::Response {
            // A BJNP answer makes its sender a printer now, so the identity it carries lands
            // on the record of its first appearance.
            self.inventory
                .service(route.src, route.l4, route.sport, now);
            if let Some(id) = &b.device_id {
                self.inventory.identity(
                    route.src,
                    id.mfg.as_deref(),
                    id.mdl.as_deref(),
                    id.ver.as_deref(),
                );
            }
            if let Some(mac) = &b.mac {
                self.inventory.mac(route.src, mac);
            }
        }
    }

    /// An anomaly on a monitored port: bytes on a BJNP port that are not BJNP are malformed
    /// BJNP (1102).
    pub fn on_anomaly(
        &mut self,
        marks: &mut FlowMarks,
        route: Route,
        event: AnomalyEvent,
        reason: Option<&str>,
        now: Timestamp,
        out: &mut Vec<AlertDraft>,
    ) {
        match event {
            AnomalyEvent::NotBjnp => {
                let ev = Evidence {
                    reason: reason.map(str::to_owned),
                    ..Evidence::default()
                };
                let key = (route.src, route.dst, route.dport);
                self.fire(Rule::BjnpMalformed, 3, About::Record, key, ev, now, out);
                marks.bits |= MARK_ALERTED;
            }
            AnomalyEvent::Ipv4Fragment
            | AnomalyEvent::Ipv6Fragment
            | AnomalyEvent::BjnpTcpGap
            | AnomalyEvent::BjnpTcpIncompleteMessage => {}
        }
    }

    /// A risky construct an analyzer found in a print stream.
    pub fn on_finding(
        &mut self,
        conn: &Conn,
        marks: &mut FlowMarks,
        f: &Finding,
        now: Timestamp,
        out: &mut Vec<AlertDraft>,
    ) {
        if let Some(f) = marks.rates.get_or_insert_with(Box::default).judge(f) {
            self.print_alert(conn, marks, &f, now, out);
        }
    }

    /// The printer's side of a print stream has sent `total` bytes.
    pub fn on_printer_data(
        &mut self,
        conn: &Conn,
        marks: &mut FlowMarks,
        total: u64,
        now: Timestamp,
        out: &mut Vec<AlertDraft>,
    ) {
        if let Some(f) = marks
            .rates
            .get_or_insert_with(Box::default)
            .printer_data(total)
        {
            self.print_alert(conn, marks, &f, now, out);
        }
    }

    fn print_alert(
        &mut self,
        conn: &Conn,
        marks: &mut FlowMarks,
        f: &Finding,
        now: Timestamp,
        out: &mut Vec<AlertDraft>,
    ) {
        let rule = Rule::Print(f.risk);
        let ev = Evidence {
            command: Some(f.line.clone()),
            reason: f.reason.clone(),
            printer: self.printer_name(conn.server.0),
            ..Evidence::default()
        };
        let key = (conn.client.0, conn.server.0, conn.server.1);
        self.fire(rule, rule.info().severity, About::Flow, key, ev, now, out);
        marks.bits |= MARK_ALERTED;
    }

    /// The `printer` records due after a packet: printers first seen or changed.
    pub fn printer_changes(&mut self) -> Vec<Printer> {
        self.inventory
            .take_dirty()
            .into_iter()
            .map(|(ip, p)| Printer {
                ip: Some(ip),
                name: self.printer_name(ip),
                services: p.service_labels(),
                mac: p.mac.clone(),
                mfg: p.mfg.clone(),
                model: p.model.clone(),
                firmware: p.firmware.clone(),
                first_seen: p.first_seen,
                change: p.dirty.unwrap_or(crate::event::PrinterChange::New),
            })
            .collect()
    }

    fn printer_name(&self, ip: IpAddr) -> Option<String> {
        self.policy.printer(ip).map(|p| p.name.clone())
    }

    fn contact(
        &mut self,
        conn: &Conn,
        marks: &mut FlowMarks,
        now: Timestamp,
        out: &mut Vec<AlertDraft>,
    ) {
        let (src, (dst, port)) = (conn.client.0, conn.server);
        // Print servers and admin hosts reach many printers on many ports by design; a
        // broadcast is one contact with the whole segment, not a sweep.
        if self.policy.trusted(src) || is_group(dst) {
            return;
        }
        let (scan, flood) = self.scans.contact(src, dst, port, now);
        if let Some(f) = scan {
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
            self.fire(
                Rule::PortScan,
                2,
                About::Flow,
                (src, unspecified(), 0),
                ev,
                now,
                out,
            );
            marks.bits |= MARK_ALERTED;
        }
        if let Some(scan::Finding { sources, total, .. }) = flood {
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
            self.fire(
                Rule::PortFlood,
                2,
                About::Flow,
                (unspecified(), dst, port),
                ev,
                now,
                out,
            );
            marks.bits |= MARK_ALERTED;
        }
    }

    fn answered(
        &mut self,
        conn: &Conn,
        marks: &mut FlowMarks,
        now: Timestamp,
        out: &mut Vec<AlertDraft>,
    ) {
        let (server, port) = conn.server;
        self.inventory.service(server, conn.l4, port, now);
        self.inventory.client(server, conn.client.0, now);
        if self.policy.printer(server).is_none() {
            let ev = Evidence {
                conn_state: Some(conn.conn_state()),
                history: Some(conn.track.history().to_owned()),
                policy: Some(format!(
                    "{server} is not in the printer inventory ({} [[printer]] entries, policy: {})",
                    self.policy.printers.len(),
                    self.policy.origin
                )),
                ..Evidence::default()
            };
            // One alert per unexpected service, whoever its clients: spoofed answers to many
            // clients must not become many alerts.
            let key = (unspecified(), server, port);
            self.fire(Rule::UnexpectedService, 2, About::Flow, key, ev, now, out);
            marks.bits |= MARK_ALERTED;
        }
    }

    fn outcome(
        &mut self,
        conn: &Conn,
        marks: &mut FlowMarks,
        outcome: Outcome,
        now: Timestamp,
        out: &mut Vec<AlertDraft>,
    ) {
        let (client, (server, port)) = (conn.client.0, conn.server);
        let base = Evidence {
            outcome: Some(outcome),
            conn_state: Some(conn.conn_state()),
            history: Some(conn.track.history().to_owned()),
            printer: self.printer_name(server),
            ..Evidence::default()
        };
        let evidence = |policy: String| Evidence {
            policy: Some(policy),
            ..base.clone()
        };
        let key = (client, server, port);
        if outcome == Outcome::Established && self.policy.is_blocked(port) {
            let ev = evidence(format!(
                "port {port} is in blocked_ports (policy: {})",
                self.policy.origin
            ));
            self.fire(Rule::OpenDespitePolicy, 1, About::Flow, key, ev, now, out);
            marks.bits |= MARK_ALERTED;
        }
        if self.policy.allows(client, server) {
            return;
        }
        // One scan or flood alert stands for all the attempts it explains.
        if outcome != Outcome::Established && self.scans.explains(client, server, port, now) {
            self.stats.folded += 1;
            return;
        }
        let severity = if outcome == Outcome::Established {
            2
        } else {
            3
        };
        let mut ev = evidence(self.policy.missed_allow(server));
        if conn.track.established_one_sided() {
            ev.reason = Some("the client acknowledged a SYN-ACK that is not in the capture".into());
        }
        // The outcome is part of the suppression key: an attempt and then an established
        // connection in one window is the fix failing, and must show.
        let variant = match outcome {
            Outcome::Attempted => 1,
            Outcome::Refused => 2,
            Outcome::Established => 3,
        };
        if self
            .suppress
            .admit(Rule::UnexpectedClient, variant, key, now)
        {
            self.draft(Rule::UnexpectedClient, severity, About::Flow, ev, out);
        }
        marks.bits |= MARK_ALERTED;
    }

    /// An alert unless the same rule and key fired within the suppression window.
    #[allow(clippy::too_many_arguments)]
    fn fire(
        &mut self,
        rule: Rule,
        severity: u8,
        about: About,
        key: (IpAddr, IpAddr, u16),
        evidence: Evidence,
        now: Timestamp,
        out: &mut Vec<AlertDraft>,
    ) {
        if self.suppress.admit(rule, 0, key, now) {
            self.draft(rule, severity, about, evidence, out);
        }
    }

    fn draft(
        &mut self,
        rule: Rule,
        severity: u8,
        about: About,
        evidence: Evidence,
        out: &mut Vec<AlertDraft>,
    ) {
        self.stats.alerts += 1;
        out.push(AlertDraft {
            rule,
            severity,
            about,
            evidence,
        });
    }
}

/// The server side offers the service: a SYN-ACK or data (a RST is a closed port, not a
/// printer), or any UDP answer.
fn service_answered(conn: &Conn) -> bool {
    let (o, r) = (&conn.track.orig, &conn.track.resp);
    match conn.l4 {
        // mid-stream (no SYN seen), anything but a reset from the responder counts
        L4::Tcp => r.synack || r.data || (!o.syn && r.any && !r.rst),
        L4::Udp => r.any,
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
