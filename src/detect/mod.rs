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
//! Inside, one job a file: `marks` (what is kept per flow), `fire` (suppression and budgets
//! decide whether a draft is written), the rule families `flow_rules` (1001-1006),
//! `bjnp_rules` (1101, 1102, 1501, 1502), `print_rules` (12xx-14xx) and `doors` (16xx);
//! `suppress`, `budget`, `scan` (1004/1005), `campaign` (1006) and its `sketch`es,
//! `print_rates`, `inventory`, `rules` (every rule's id, name, category and severity),
//! `policy`.

mod bjnp_rules;
mod budget;
mod campaign;
mod doors;
mod fire;
mod flow_rules;
pub mod inventory;
mod marks;
pub mod print_rates;
mod print_rules;
pub mod rules;
pub mod scan;
mod sketch;
mod suppress;

use crate::config::Policy;
use crate::event::{Campaign, DetectStats, Evidence, InventoryReport, Printer, Summary};
use crate::net::{Timestamp, L4};
use budget::Budgets;
use campaign::{CampaignConfig, Campaigns};
use inventory::Inventory;
use rules::Rule;
use scan::{ScanConfig, ScanTracker};
use std::net::IpAddr;
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

use fire::{unspecified, Fire};
pub use marks::{transitions, FlowMarks, Seen, Transitions};

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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::Finding;
    use crate::event::{
        AnomalyEvent, Bjnp, CupsBrowsed, Direction, Ipp, IppHttp, Outcome, PpdInjection,
    };
    use crate::flow::Conn;
    use crate::proto::bjnp::CommandName;
    use crate::proto::ipp::Operation;
    use crate::proto::risk::Risk;

    const PRINTER: &str = "192.0.2.30";

    fn conn(l4: L4, client: &str, cport: u16, server: &str, port: u16) -> Conn {
        let ip = |s: &str| s.parse().unwrap();
        let ts = Timestamp::from_parts(1_780_000_000, 0);
        Conn::new(
            l4,
            (ip(client), cport),
            (ip(server), port),
            Default::default(),
            ts,
        )
    }

    fn route(c: &Conn) -> Route {
        Route {
            src: c.client.0,
            sport: c.client.1,
            dst: c.server.0,
            dport: c.server.1,
            l4: c.l4,
        }
    }

    /// The rules an alert decision names.
    fn fired(out: &[Decision]) -> Vec<Rule> {
        out.iter()
            .filter_map(|d| match d {
                Decision::Alert(a) => Some(a.rule),
                _ => None,
            })
            .collect()
    }

    /// One row per rule: the facts and policy that make it fire, the decisions that come out.
    /// The match is exhaustive, so a rule without a row does not compile.
    fn row(rule: Rule) -> Vec<Decision> {
        let now = Timestamp::from_parts(1_780_000_000, 0);
        let mut out = vec![];
        let mut m = FlowMarks::default();
        let policy = |text: &str| Policy::parse(text, "row.toml").unwrap();
        let c = conn(L4::Tcp, "198.51.100.7", 40000, PRINTER, 9100);
        match rule {
            Rule::UnexpectedClient => {
                let t = Transitions {
                    outcome: Some(Outcome::Attempted),
                    ..Transitions::default()
                };
                Detector::new(Policy::default()).on_packet(&c, &mut m, t, now, &mut out);
            }
            Rule::UnexpectedService => {
                let t = Transitions {
                    answered: true,
                    ..Transitions::default()
                };
                Detector::new(Policy::default()).on_packet(&c, &mut m, t, now, &mut out);
            }
            Rule::OpenDespitePolicy => {
                let t = Transitions {
                    outcome: Some(Outcome::Established),
                    ..Transitions::default()
                };
                let mut d = Detector::new(policy("blocked_ports = [9100]\n"));
                d.on_packet(&c, &mut m, t, now, &mut out);
            }
            Rule::PortScan | Rule::PortFlood | Rule::Campaign => {
                // one source sweeping hosts, many sources at one port, many at many hosts
                let mut d = Detector::new(Policy::default());
                for i in 0..2000u32 {
                    let (src, dst) = match rule {
                        Rule::PortScan => {
                            ("203.0.113.9".to_owned(), format!("192.0.2.{}", i % 200))
                        }
                        Rule::PortFlood => {
                            (format!("203.0.{}.{}", i / 250, i % 250), PRINTER.to_owned())
                        }
                        _ => (
                            format!("203.0.{}.{}", i / 250, i % 250),
                            format!("192.0.2.{}", i % 200),
                        ),
                    };
                    let c = conn(L4::Tcp, &src, 40000, &dst, 9100);
                    let t = Transitions {
                        contact: true,
                        ..Transitions::default()
                    };
                    d.on_packet(&c, &mut FlowMarks::default(), t, now, &mut out);
                    if fired(&out).contains(&rule) {
                        break;
                    }
                }
            }
            Rule::BjnpRecon => {
                let c = conn(L4::Udp, "198.51.100.7", 40000, PRINTER, 8611);
                let b = Bjnp {
                    command_name: CommandName::GetIdentity,
                    direction: Direction::Request,
                    ..Bjnp::default()
                };
                let mut d = Detector::new(Policy::default());
                d.on_message(&c, &mut m, route(&c), &b, now, &mut out);
            }
            Rule::BjnpMalformed | Rule::TcpOverlapEvasion | Rule::FragmentEvasion => {
                let event = match rule {
                    Rule::BjnpMalformed => AnomalyEvent::NotBjnp,
                    Rule::TcpOverlapEvasion => AnomalyEvent::TcpOverlapConflict,
                    _ => AnomalyEvent::FragmentOverlap,
                };
                let mut d = Detector::new(Policy::default());
                d.on_anomaly(&c, &mut m, route(&c), event, None, now, &mut out);
            }
            Rule::Print(risk) => {
                let mut d = Detector::new(Policy::default());
                if risk == Risk::Exfiltration {
                    d.on_printer_data(&c, &mut m, 1 << 30, now, &mut out);
                }
                // rate rules (PIN guesses, NVRAM writes) fire on repetition
                for _ in 0..10_000 {
                    let f = Finding {
                        risk,
                        line: "x".into(),
                        reason: None,
                    };
                    d.on_finding(&c, &mut m, &f, now, &mut out);
                    if fired(&out).contains(&rule) {
                        break;
                    }
                }
            }
            Rule::Lpd(risk) => {
                let c = conn(L4::Tcp, "198.51.100.7", 721, PRINTER, 515);
                let mut d = Detector::new(Policy::default());
                d.on_lpd(&c, &mut m, &[(risk, "x".into())], now, &mut out);
            }
            Rule::IppAdminOperation | Rule::IppPpdInjection => {
                let c = conn(L4::Tcp, "198.51.100.7", 40000, PRINTER, 631);
                let mut ipp = Ipp::new(IppHttp::default());
                if rule == Rule::IppAdminOperation {
                    ipp.operation = Operation::CupsAddModifyPrinter;
                    ipp.operation_id = 0x4003;
                } else {
                    ipp.ppd_injection = Some(PpdInjection {
                        attribute: "printer-info".into(),
                        value: "x\n*FoomaticRIPCommandLine: id".into(),
                    });
                }
                Detector::new(Policy::default()).on_ipp(&c, &mut m, &ipp, now, &mut out);
            }
            Rule::CupsBrowsedAnnouncement | Rule::CupsBrowsedRedirect => {
                let c = conn(L4::Udp, "198.51.100.7", 631, PRINTER, 631);
                let redirect = rule == Rule::CupsBrowsedRedirect;
                let b = CupsBrowsed {
                    printer_type: 0,
                    printer_state: 3,
                    uri: "ipp://198.51.100.99/printers/x".into(),
                    uri_host: "198.51.100.99".into(),
                    redirect: Some(redirect),
                    location: None,
                    info: None,
                    make_and_model: None,
                    options: None,
                };
                let mut d = Detector::new(Policy::default());
                d.on_cups_browsed(&c, &mut m, route(&c), &b, now, &mut out);
            }
        }
        out
    }

    #[test]
    fn every_rule_has_a_row_and_fires_on_it() {
        let mut missing = vec![];
        for rule in Rule::all() {
            let out = row(rule);
            let got = fired(&out);
            if !got.contains(&rule) {
                missing.push(format!("{} ({:?}): got {got:?}", rule.info().sid, rule));
            }
            // each alert's severity is the table's (1001 one step more when answered)
            for d in &out {
                if let Decision::Alert(a) = d {
                    let table = a.rule.info().severity;
                    assert!(a.severity == table || a.severity + 1 == table, "{a:?}");
                }
            }
        }
        assert!(
            missing.is_empty(),
            "rules that did not fire on their row:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn an_allowed_client_or_an_inventory_printer_raises_no_policy_rule() {
        let now = Timestamp::from_parts(1_780_000_000, 0);
        let p = Policy::parse(
            "[[printer]]\nname = \"p\"\naddress = \"192.0.2.30\"\n\n[clients]\nallow = [\"198.51.100.0/24\"]\n",
            "allowed.toml",
        )
        .unwrap();
        let mut d = Detector::new(p);
        let c = conn(L4::Tcp, "198.51.100.7", 40000, PRINTER, 9100);
        let mut out = vec![];
        let t = Transitions {
            contact: true,
            answered: true,
            outcome: Some(Outcome::Established),
        };
        d.on_packet(&c, &mut FlowMarks::default(), t, now, &mut out);
        let mut ipp = Ipp::new(IppHttp::default());
        ipp.operation = Operation::CupsAddModifyPrinter;
        d.on_ipp(&c, &mut FlowMarks::default(), &ipp, now, &mut out);
        assert!(fired(&out).is_empty(), "{out:?}");
    }

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
