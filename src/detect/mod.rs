//! Detection: judges typed facts (a flow's conn_state, a BJNP message, a print-stream finding)
//! under the site policy and returns decisions: alert drafts, campaign and summary reports. It
//! does no I/O and builds no records; the engine's record builder turns decisions into records.
//!
//! What keeps output bounded under storms, and what may be folded into what:
//! * a failed attempt (1001 attempted/refused) is folded into the campaign on its port, or into
//!   the scan of its source or the flood of its printer port (same protocol) that is going on;
//! * nothing else is ever folded: recon (1101), malformed BJNP (1102), an established
//!   connection, an unexpected service (1002), a blocked port reached (1003) and whatever a print
//!   stream carries (12xx-14xx) always alert;
//! * suppression windows hold back repeats of one rule and key (the protocol is part of every
//!   key); alerts that spoofed packets can cause at will have a budget per window, and what a
//!   spent budget holds back is counted and summarised.
//!
//! Inside: `suppress`, `budget`, `scan` (1004/1005), `campaign` (1006) and its `sketch`es,
//! `print_rates`, `inventory`, `rules`, `policy`.

mod budget;
mod campaign;
mod doors;
pub mod inventory;
pub mod policy;
pub mod print_rates;
pub mod rules;
pub mod scan;
mod sketch;
mod suppress;

use crate::analyze::Finding;
use crate::event::{
    AnomalyEvent, Bjnp, Campaign, ConnState, DetectStats, Direction, Evidence, ExplainedBy,
    InventoryReport, Outcome, Printer, Summary,
};
use crate::flow::{Conn, Dir};
use crate::net::{Timestamp, L4};
use crate::proto::bjnp::CommandName;
use budget::Budgets;
use campaign::{CampaignConfig, Campaigns};
use inventory::Inventory;
use policy::Policy;
use rules::Rule;
use scan::{Explained, ScanConfig, ScanTracker};
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

/// What detection decided.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Alert(Box<AlertDraft>),
    /// A campaign's update or end (its start is a 1006 alert).
    Campaign(Box<Campaign>),
    /// What alert budgets held back in a window that closed.
    Summary(Box<Summary>),
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
/// An alert record names this flow.
const MARK_ALERTED: u8 = 8;

/// Flow-level facts that became true with one packet: the client's first packet, the
/// service's first answer, the connection's outcome. Worked out by the flow stage, which keeps
/// [`Seen`] with the flow, so that only packets that change something reach the judge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Transitions {
    pub contact: bool,
    pub answered: bool,
    pub outcome: Option<Outcome>,
}

impl Transitions {
    pub fn any(&self) -> bool {
        self.contact || self.answered || self.outcome.is_some()
    }
}

/// Which of a flow's transitions have been reported.
#[derive(Clone, Copy, Debug, Default)]
pub struct Seen(u8);

/// The transitions a packet of `conn` in direction `dir` brings, each reported once.
pub fn transitions(conn: &Conn, seen: &mut Seen, dir: Dir) -> Transitions {
    let mut t = Transitions::default();
    if seen.0 & MARK_CONTACT == 0 && dir == Dir::ToServer {
        seen.0 |= MARK_CONTACT;
        t.contact = true;
    }
    if seen.0 & MARK_ANSWERED == 0 && service_answered(conn) {
        seen.0 |= MARK_ANSWERED;
        t.answered = true;
    }
    if seen.0 & MARK_OUTCOME == 0 {
        let tr = &conn.track;
        // Mid-stream TCP (no SYN seen) and UDP: both sides talking.
        t.outcome = if tr.handshake_completed()
            || tr.established_one_sided()
            || (!tr.orig.syn && tr.established())
        {
            Some(Outcome::Established)
        } else if conn.conn_state() == ConnState::Rej || tr.refused_by_icmp() {
            Some(Outcome::Refused)
        } else if tr.resp.synack && tr.orig.rst {
            // a SYN scan resets the answered SYN instead of completing it
            Some(Outcome::HalfOpen)
        } else {
            None
        };
        if t.outcome.is_some() {
            seen.0 |= MARK_OUTCOME;
        }
    }
    t
}

/// What detection keeps per flow.
#[derive(Default)]
pub struct FlowMarks {
    bits: u8,
    /// The alert that stands for this flow when none names it.
    explained_by: Option<ExplainedBy>,
    /// The campaign that counted this flow's failed attempt: its `flow` record is counted
    /// there too.
    campaign: Option<u64>,
    /// Print-stream rates, allocated on the flow's first finding.
    rates: Option<Box<print_rates::Rates>>,
    /// What became of the client's attempt, once decided.
    outcome: Option<Outcome>,
}

impl FlowMarks {
    /// Whether an alert record names this flow.
    pub fn alerted(&self) -> bool {
        self.bits & MARK_ALERTED != 0
    }

    /// What became of the client's attempt, once decided.
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome
    }

    /// The alert that stands for this flow, when none names it.
    pub fn explained_by(&self) -> Option<ExplainedBy> {
        self.explained_by.filter(|_| !self.alerted())
    }

    fn explain(&mut self, e: ExplainedBy) {
        self.explained_by.get_or_insert(e);
    }
}

/// One alert about to be decided: its rule, key and evidence.
struct Fire {
    rule: Rule,
    /// One step more severe than the rule's own severity (rules.rs): 1001 when the attempt
    /// reached the service.
    raised: bool,
    about: About,
    key: (Option<L4>, IpAddr, IpAddr, u16),
    variant: u32,
    /// Who caused it, for the budget's summary; `None`: never budgeted.
    budget_source: Option<IpAddr>,
    /// Scans, floods and campaigns are episodes: a suppressed repeat extends the window.
    sliding: bool,
    evidence: Evidence,
}

pub struct Detector {
    policy: Policy,
    suppress: Suppressor,
    budgets: Budgets,
    scans: ScanTracker,
    campaigns: Campaigns,
    inventory: Inventory,
    stats: DetectStats,
    /// Alerts written, by rule id (`stats.detect.alerts_by_rule`).
    alerts_by_rule: std::collections::BTreeMap<u32, u64>,
    /// Policies taken over by reload.
    reloads: u64,
}

/// The settings of each stateful part of detection, from a policy.
fn configs(policy: &Policy) -> (ScanConfig, CampaignConfig, u64, (u32, u64)) {
    let ns = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let window_ns = ns(policy.scan_window);
    let suppress_ns = ns(policy.suppress_window);
    (
        ScanConfig {
            hosts: policy.scan_hosts,
            ports: policy.scan_ports,
            flood_sources: FLOOD_SOURCES,
            window_ns,
            slow_window_ns: ns(policy.scan_slow_window),
            fold_ns: suppress_ns,
        },
        CampaignConfig {
            sources: policy.campaign_sources,
            contacts: policy.campaign_attempts,
            window_ns,
        },
        suppress_ns,
        (policy.alert_budget, window_ns),
    )
}

/// What a policy reload changed, in counts (the `reload` record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyChange {
    pub printers: (usize, usize),
    pub clients: (usize, usize),
    pub tcp_ports: (usize, usize),
    pub udp_ports: (usize, usize),
    pub blocked_ports: (usize, usize),
    /// The monitored ports differ: the capture filter and the flow stage must follow.
    pub ports_changed: bool,
    /// Settings that changed but take effect only at a restart (the overlap policy of the
    /// defragmenters, the sensor's name, the Kafka output).
    pub needs_restart: Vec<&'static str>,
}

impl PolicyChange {
    pub fn between(old: &Policy, new: &Policy) -> Self {
        let (ot, nt) = (old.ports.tcp_ports(), new.ports.tcp_ports());
        let (ou, nu) = (old.ports.udp_ports(), new.ports.udp_ports());
        PolicyChange {
            printers: (old.printers.len(), new.printers.len()),
            clients: (old.clients_allow.len(), new.clients_allow.len()),
            tcp_ports: (ot.len(), nt.len()),
            udp_ports: (ou.len(), nu.len()),
            blocked_ports: (old.blocked_ports.len(), new.blocked_ports.len()),
            ports_changed: ot != nt || ou != nu,
            needs_restart: [
                (old.defrag_policy != new.defrag_policy, "defrag_policy"),
                (old.sensor_name != new.sensor_name, "sensor"),
                (old.kafka != new.kafka, "kafka"),
            ]
            .into_iter()
            .filter_map(|(changed, name)| changed.then_some(name))
            .collect(),
        }
    }
}

impl Detector {
    pub fn new(policy: Policy) -> Self {
        let (scan, campaign, suppress_ns, (budget, window_ns)) = configs(&policy);
        Detector {
            scans: ScanTracker::new(scan),
            campaigns: Campaigns::new(campaign),
            suppress: Suppressor::new(suppress_ns),
            budgets: Budgets::new(budget, window_ns),
            inventory: Inventory::default(),
            stats: DetectStats::default(),
            alerts_by_rule: std::collections::BTreeMap::new(),
            reloads: 0,
            policy,
        }
    }

    /// A reloaded policy takes over: new allow lists, inventory entries, blocked ports,
    /// thresholds and windows; every flow's marks, scan, flood and campaign, suppression key,
    /// budget window and the printers learned stay. Returns what changed.
    pub fn set_policy(&mut self, policy: Policy) -> PolicyChange {
        let (scan, campaign, suppress_ns, (budget, window_ns)) = configs(&policy);
        self.scans.set_config(scan);
        self.campaigns.set_config(campaign);
        self.suppress.set_window(suppress_ns);
        self.budgets.set(budget, window_ns);
        self.reloads += 1;
        let old = std::mem::replace(&mut self.policy, policy);
        PolicyChange::between(&old, &self.policy)
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn stats(&self) -> DetectStats {
        DetectStats {
            suppressed: self.suppress.suppressed,
            over_budget: self.budgets.over_budget,
            campaigns_evicted: self.campaigns.evicted(),
            suppress_evicted: self.suppress.evicted(),
            scan_sources: self.scans.sources(),
            scan_evicted: self.scans.evicted(),
            printers: self.inventory.len() as u64,
            printers_evicted: self.inventory.evicted(),
            alerts_by_rule: self.alerts_by_rule.clone(),
            ..self.stats.clone()
        }
    }

    /// The printers seen so far, with the policy's names (the `inventory` subcommand).
    pub fn inventory_report(&self) -> InventoryReport {
        self.inventory.report(&self.policy)
    }

    /// Changes whenever [`is_printer`](Self::is_printer) may answer differently.
    pub fn printers_generation(&self) -> u64 {
        // a reload can change the policy's printers: the workers must hear of it too
        self.inventory.generation() + self.reloads
    }

    /// Every address [`is_printer`](Self::is_printer) says yes to now.
    pub fn printer_addresses(&self) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = self.policy.printers.iter().map(|p| p.address).collect();
        v.extend(self.inventory.addresses());
        v
    }

    /// A printer of the policy, or a host that answered on a monitored port.
    pub fn is_printer(&self, ip: IpAddr) -> bool {
        self.policy.printer(ip).is_some() || self.inventory.knows(ip)
    }

    /// Flow-level facts that became true with a packet of a monitored flow.
    pub fn on_packet(
        &mut self,
        conn: &Conn,
        marks: &mut FlowMarks,
        t: Transitions,
        now: Timestamp,
        out: &mut Vec<Decision>,
    ) {
        if t.contact {
            self.contact(conn, marks, now, out);
        }
        if t.answered {
            self.answered(conn, marks, now, out);
        }
        if let Some(o) = t.outcome {
            marks.bits |= MARK_OUTCOME;
            self.outcome(conn, marks, o, now, out);
        }
    }

    /// A flow ended: an attempt nobody answered is decided now. Returns whether its `flow`
    /// record is counted into a campaign instead of written.
    pub fn on_flow_end(
        &mut self,
        conn: &Conn,
        marks: &mut FlowMarks,
        now: Timestamp,
        out: &mut Vec<Decision>,
    ) -> bool {
        if service_answered(conn) {
            self.inventory
                .seen(conn.server.0, conn.client.0, conn.last_ts);
        }
        // Nobody answers from a broadcast or multicast address: the answers come from each
        // device's own address, in flows of their own.
        if marks.bits & MARK_OUTCOME == 0 && conn.track.orig.any && !conn.to_group() {
            marks.bits |= MARK_OUTCOME;
            let r = &conn.track.resp;
            let o = if r.rst || conn.track.refused_by_icmp() {
                Outcome::Refused
            } else if r.synack {
                Outcome::HalfOpen
            } else if r.any {
                // the responder spoke (no reset) without a captured handshake
                Outcome::Established
            } else {
                Outcome::Attempted
            };
            self.outcome(conn, marks, o, now, out);
        }
        // A flow an alert names keeps its line, so the alert's flow_id leads somewhere.
        let folded = match marks.campaign {
            Some(id) if !self.policy.log_folded_flows && !marks.alerted() => {
                self.campaigns.fold_flow(conn.l4, conn.server.1, id)
            }
            _ => false,
        };
        if folded {
            self.stats.flows_folded += 1;
        }
        folded
    }

    /// A BJNP message: recon, malformed messages, printer identity.
    pub fn on_message(
        &mut self,
        conn: &Conn,
        marks: &mut FlowMarks,
        route: Route,
        b: &Bjnp,
        now: Timestamp,
        out: &mut Vec<Decision>,
    ) {
        let malformed = b.anomalies.malformed();
        if !malformed.is_empty() {
            let ev = Evidence {
                bjnp_command: Some(b.command_name),
                anomalies: malformed,
                ..Evidence::default()
            };
            self.malformed(conn, marks, route, malformed.0, ev, now, out);
        }
        let recon = b.direction == Direction::Request
            && matches!(
                b.command_name,
                CommandName::Discover | CommandName::GetIdentity
            );
        if recon && !self.policy.allows(route.src, route.dst) {
            let ev = Evidence {
                bjnp_command: Some(b.command_name),
                policy: Some(self.policy.missed_allow(route.dst)),
                ..Evidence::default()
            };
            let fire = Fire {
                rule: Rule::BjnpRecon,
                raised: false,
                about: About::Record,
                key: (Some(route.l4), route.src, route.dst, route.dport),
                variant: 0,
                budget_source: Some(route.src),
                sliding: false,
                evidence: ev,
            };
            self.fire(fire, conn, marks, now, out);
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

    /// Whether a BJNP message's record is counted into the campaign on its port instead of
    /// written: a well-formed recon request or its answer (a recon flood's get-identity,
    /// discover) while the campaign runs. Malformed messages and everything in a printing or
    /// scanning session are always written.
    pub fn fold_message(&mut self, conn: &Conn, b: &Bjnp) -> bool {
        if self.policy.log_folded_flows
            || !b.anomalies.malformed().is_empty()
            || !matches!(
                b.command_name,
                CommandName::Discover | CommandName::GetIdentity
            )
        {
            return false;
        }
        let folded = self.campaigns.fold_message(conn.l4, conn.server.1);
        self.stats.messages_folded += u64::from(folded);
        folded
    }

    /// An anomaly on a monitored port: bytes on a BJNP port that are not BJNP are malformed
    /// BJNP (1102).
    #[allow(clippy::too_many_arguments)]
    pub fn on_anomaly(
        &mut self,
        conn: &Conn,
        marks: &mut FlowMarks,
        route: Route,
        event: AnomalyEvent,
        reason: Option<&str>,
        now: Timestamp,
        out: &mut Vec<Decision>,
    ) {
        match event {
            AnomalyEvent::NotBjnp => {
                let ev = Evidence {
                    reason: reason.map(str::to_owned),
                    ..Evidence::default()
                };
                // not BJNP at all: a variant of its own beside every anomaly set
                self.malformed(conn, marks, route, 1 << 31, ev, now, out);
            }
            AnomalyEvent::Ipv4Fragment
            | AnomalyEvent::Ipv6Fragment
            | AnomalyEvent::BjnpTcpGap
            | AnomalyEvent::BjnpTcpIncompleteMessage
            | AnomalyEvent::PjlInPrintData
            | AnomalyEvent::LpdMalformed
            | AnomalyEvent::LpdTooManyJobs
            | AnomalyEvent::IppMalformed
            | AnomalyEvent::CupsBrowsedMalformed => {}
            // Named on the sender of the segments or fragments, whichever side it is.
            e @ (AnomalyEvent::TcpOverlapConflict
            | AnomalyEvent::FragmentOverlap
            | AnomalyEvent::FragmentTiny
            | AnomalyEvent::FragmentTooLarge
            | AnomalyEvent::FragmentIncomplete) => {
                let rule = if e == AnomalyEvent::TcpOverlapConflict {
                    Rule::TcpOverlapEvasion
                } else {
                    Rule::FragmentEvasion
                };
                let fire = Fire {
                    rule,
                    raised: false,
                    about: About::Record,
                    key: (Some(route.l4), route.src, conn.server.0, conn.server.1),
                    variant: 0,
                    budget_source: Some(route.src),
                    sliding: false,
                    evidence: Evidence {
                        reason: reason.map(str::to_owned),
                        ..Evidence::default()
                    },
                };
                self.fire(fire, conn, marks, now, out);
            }
        }
    }

    /// 1102, keyed on the service and what is wrong: a request's on its client too, a
    /// response's on the printer alone (answers to many clients' ephemeral ports are one
    /// problem of one printer).
    #[allow(clippy::too_many_arguments)]
    fn malformed(
        &mut self,
        conn: &Conn,
        marks: &mut FlowMarks,
        route: Route,
        variant: u32,
        evidence: Evidence,
        now: Timestamp,
        out: &mut Vec<Decision>,
    ) {
        let (server, port) = conn.server;
        let to_server = (route.src, route.sport) == conn.client;
        let client = if to_server {
            conn.client.0
        } else {
            unspecified()
        };
        let fire = Fire {
            rule: Rule::BjnpMalformed,
            raised: false,
            about: About::Record,
            key: (Some(route.l4), client, server, port),
            variant,
            budget_source: Some(route.src),
            sliding: false,
            evidence,
        };
        self.fire(fire, conn, marks, now, out);
    }

    /// A risky construct an analyzer found in a print stream.
    pub fn on_finding(
        &mut self,
        conn: &Conn,
        marks: &mut FlowMarks,
        f: &Finding,
        now: Timestamp,
        out: &mut Vec<Decision>,
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
        out: &mut Vec<Decision>,
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
        out: &mut Vec<Decision>,
    ) {
        let rule = Rule::Print(f.risk);
        let fire = Fire {
            rule,
            raised: false,
            about: About::Flow,
            key: (Some(conn.l4), conn.client.0, conn.server.0, conn.server.1),
            variant: 0,
            budget_source: None,
            sliding: false,
            evidence: Evidence {
                command: Some(f.line.clone()),
                reason: f.reason.clone(),
                printer: self.printer_name(conn.server.0),
                ..Evidence::default()
            },
        };
        self.fire(fire, conn, marks, now, out);
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

    /// Time passes (packet time on replay): windows that closed report.
    pub fn tick(&mut self, now: Timestamp, out: &mut Vec<Decision>) {
        if let Some(s) = self.budgets.roll(now) {
            out.push(Decision::Summary(Box::new(s)));
        }
        let mut reports = Vec::new();
        self.campaigns.tick(now, &mut reports);
        out.extend(reports.into_iter().map(|c| Decision::Campaign(Box::new(c))));
    }

    /// The input ended (every flow already has): the last reports.
    pub fn finish(&mut self, now: Timestamp, out: &mut Vec<Decision>) {
        let mut reports = Vec::new();
        self.campaigns.finish(&mut reports);
        out.extend(reports.into_iter().map(|c| Decision::Campaign(Box::new(c))));
        if let Some(s) = self.budgets.finish(now) {
            out.push(Decision::Summary(Box::new(s)));
        }
    }

    fn printer_name(&self, ip: IpAddr) -> Option<String> {
        self.policy.printer(ip).map(|p| p.name.clone())
    }

    fn contact(
        &mut self,
        conn: &Conn,
        marks: &mut FlowMarks,
        now: Timestamp,
        out: &mut Vec<Decision>,
    ) {
        let (src, (dst, port)) = (conn.client.0, conn.server);
        // Print servers and admin hosts reach many printers on many ports by design; a
        // broadcast is one contact with the whole segment, not a sweep.
        if self.policy.trusted(src) || conn.to_group() {
            return;
        }
        if !self.policy.allows(src, dst) {
            let pair = (src, dst);
            if let Some(started) = self
                .campaigns
                .contact(conn.l4, port, pair, now, &|| conn.id())
            {
                self.stats.campaigns += 1;
                let ev = Evidence {
                    campaign_id: Some(started.id),
                    sources_total: Some(started.sources.len() as u64),
                    sources: started.sources.into_iter().take(scan::LISTED).collect(),
                    targets_total: Some(started.targets.len() as u64),
                    targets: started
                        .targets
                        .iter()
                        .take(scan::LISTED)
                        .map(|ip| target(*ip, port))
                        .collect(),
                    reason: Some(format!(
                        "{} contacts to {}/{port} within {}, from {} or more distinct sources or to as many targets: a campaign; its `campaign` records count what follows",
                        started.contacts,
                        conn.l4.name().to_ascii_lowercase(),
                        humantime::format_duration(self.policy.scan_window),
                        self.policy.campaign_sources,
                    )),
                    ..Evidence::default()
                };
                let fire = Fire {
                    rule: Rule::Campaign,
                    raised: false,
                    about: About::Flow,
                    key: (Some(conn.l4), unspecified(), unspecified(), port),
                    variant: 0,
                    budget_source: Some(src),
                    sliding: true,
                    evidence: ev,
                };
                self.fire(fire, conn, marks, now, out);
            }
        }
        // While a campaign stands for a port's sources, they are not tracked one by one.
        let track = self.campaigns.active(conn.l4, port).is_none();
        let (scan, flood) =
            self.scans
                .contact(conn.l4, src, (dst, port), now, &|| conn.id(), track);
        if let Some(f) = scan {
            let window = if f.slow {
                self.policy.scan_slow_window
            } else {
                self.policy.scan_window
            };
            let ev = Evidence {
                targets: f.listed.iter().map(|(ip, p)| target(*ip, *p)).collect(),
                targets_total: Some(f.total),
                reason: Some(format!(
                    "{src} contacted {} printer targets within {} (threshold: {} hosts or {} ports)",
                    f.total,
                    humantime::format_duration(window),
                    self.policy.scan_hosts,
                    self.policy.scan_ports
                )),
                ..Evidence::default()
            };
            let fire = Fire {
                rule: Rule::PortScan,
                raised: false,
                about: About::Flow,
                key: (None, src, unspecified(), 0),
                variant: 0,
                budget_source: Some(src),
                sliding: true,
                evidence: ev,
            };
            self.fire(fire, conn, marks, now, out);
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
            let fire = Fire {
                rule: Rule::PortFlood,
                raised: false,
                about: About::Flow,
                key: (Some(conn.l4), unspecified(), dst, port),
                variant: 0,
                budget_source: Some(src),
                sliding: true,
                evidence: ev,
            };
            self.fire(fire, conn, marks, now, out);
        }
    }

    fn answered(
        &mut self,
        conn: &Conn,
        marks: &mut FlowMarks,
        now: Timestamp,
        out: &mut Vec<Decision>,
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
            let fire = Fire {
                rule: Rule::UnexpectedService,
                raised: false,
                about: About::Flow,
                key: (Some(conn.l4), unspecified(), server, port),
                variant: 0,
                budget_source: Some(server),
                sliding: false,
                evidence: ev,
            };
            self.fire(fire, conn, marks, now, out);
        }
    }

    fn outcome(
        &mut self,
        conn: &Conn,
        marks: &mut FlowMarks,
        outcome: Outcome,
        now: Timestamp,
        out: &mut Vec<Decision>,
    ) {
        marks.outcome = Some(outcome);
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
        let key = (Some(conn.l4), client, server, port);
        let established = outcome == Outcome::Established;
        let answered = matches!(outcome, Outcome::Established | Outcome::HalfOpen);
        if answered && self.policy.is_blocked(port) {
            let ev = evidence(format!(
                "port {port} is in blocked_ports (policy: {})",
                self.policy.origin
            ));
            // One alert per blocked service, whoever reached it: a spoofed flood against the
            // open port is one finding, not one per source.
            let fire = Fire {
                rule: Rule::OpenDespitePolicy,
                raised: false,
                about: About::Flow,
                key: (Some(conn.l4), unspecified(), server, port),
                variant: 0,
                budget_source: None,
                sliding: false,
                evidence: ev,
            };
            self.fire(fire, conn, marks, now, out);
        }
        if self.policy.allows(client, server) {
            return;
        }
        // Campaigns count what their port sees; a failed attempt is one of theirs.
        let campaign = if conn.to_group() {
            None
        } else {
            self.campaigns
                .outcome(conn.l4, port, (client, server), outcome)
        };
        if let Some((id, _)) = campaign {
            marks.campaign = Some(id);
        }
        // One campaign, scan or flood alert stands for all the failed attempts it explains: no
        // answer, a reset, or a SYN-ACK whose handshake was never completed.
        if outcome != Outcome::Established {
            let explained = match campaign {
                Some((id, flow)) => Some(ExplainedBy {
                    signature_id: Rule::Campaign.info().sid,
                    flow_id: Some(flow),
                    campaign_id: Some(id),
                    over_budget: false,
                }),
                None => self
                    .scans
                    .explains(conn.l4, client, (server, port), now)
                    .map(|e| {
                        let (rule, flow) = match e {
                            Explained::Scan(f) => (Rule::PortScan, f),
                            Explained::Flood(f) => (Rule::PortFlood, f),
                        };
                        ExplainedBy {
                            signature_id: rule.info().sid,
                            flow_id: Some(flow),
                            campaign_id: None,
                            over_budget: false,
                        }
                    }),
            };
            if let Some(e) = explained {
                self.stats.folded += 1;
                marks.explain(e);
                return;
            }
        }
        // an attempt that reached the service is one step more severe than one that did not
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
            Outcome::HalfOpen => 4,
        };
        let fire = Fire {
            rule: Rule::UnexpectedClient,
            raised: answered,
            about: About::Flow,
            key,
            variant,
            // A completed TCP handshake takes a real client: never budgeted. Everything short
            // of it, a UDP answer included (a spoofed request gets one), can come from spoofed
            // sources.
            budget_source: (!(established && conn.l4 == L4::Tcp)).then_some(client),
            sliding: false,
            evidence: ev,
        };
        self.fire(fire, conn, marks, now, out);
    }

    /// An alert unless the same rule and key fired within the suppression window or the rule's
    /// budget for the window is spent; either way the flow learns what stands for it.
    fn fire(
        &mut self,
        f: Fire,
        conn: &Conn,
        marks: &mut FlowMarks,
        now: Timestamp,
        out: &mut Vec<Decision>,
    ) {
        let sid = f.rule.info().sid;
        let (l4, a, b, port) = f.key;
        if let Err(by) = self.suppress.admit(
            (f.rule, f.variant, l4, a, b, port),
            now,
            conn.id(),
            f.sliding,
        ) {
            marks.explain(ExplainedBy {
                signature_id: sid,
                flow_id: Some(by),
                campaign_id: None,
                over_budget: false,
            });
            return;
        }
        if let Some(source) = f.budget_source {
            if let Some(s) = self.budgets.roll(now) {
                out.push(Decision::Summary(Box::new(s)));
            }
            if !self.budgets.admit(f.rule, source, now) {
                marks.explain(ExplainedBy {
                    signature_id: sid,
                    flow_id: None,
                    campaign_id: None,
                    over_budget: true,
                });
                return;
            }
        }
        self.stats.alerts += 1;
        *self.alerts_by_rule.entry(sid).or_default() += 1;
        marks.bits |= MARK_ALERTED;
        out.push(Decision::Alert(Box::new(AlertDraft {
            rule: f.rule,
            severity: f.rule.info().severity - u8::from(f.raised),
            about: f.about,
            evidence: f.evidence,
        })));
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

fn unspecified() -> IpAddr {
    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
}

fn target(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reload_changes_the_policy_and_tells_the_workers() {
        let mut d = Detector::new(Policy::default());
        let before = d.printers_generation();
        let new = Policy::parse(
            "[[printer]]\nname = \"p\"\naddress = \"192.0.2.30\"\n\n[defrag]\npolicy = \"bsd\"\n",
            "new.toml",
        )
        .unwrap();
        let change = d.set_policy(new);
        assert_eq!(change.printers, (0, 1));
        assert_eq!(change.needs_restart, ["defrag_policy"]);
        assert!(!change.ports_changed);
        assert!(d.is_printer("192.0.2.30".parse().unwrap()));
        // workers republish the judge's printers when this moves
        assert_ne!(d.printers_generation(), before);
    }
}
