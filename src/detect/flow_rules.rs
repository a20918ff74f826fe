//! The flow rules: the client's first contact (scans 1004, floods 1005, campaigns 1006), the
//! service's first answer (inventory, 1002), the connection's outcome (1001, 1003), and a
//! flow's end (an attempt nobody answered; whether a campaign counts its `flow` record).

use super::fire::unspecified;
use super::marks::{service_answered, MARK_OUTCOME};
use super::rules::Rule;
use super::scan::{self, Explained};
use super::{About, Decision, Detector, Fire, FlowMarks, Transitions};
use crate::event::{Evidence, ExplainedBy, Outcome};
use crate::flow::Conn;
use crate::net::{Timestamp, L4};
use std::net::IpAddr;

impl Detector {
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
        let folded = match marks.campaign() {
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
            let ev = |d: &Detector| Evidence {
                conn_state: Some(conn.conn_state()),
                history: Some(conn.track.history()),
                policy: Some(format!(
                    "{server} is not in the printer inventory ({} [[printer]] entries, policy: {})",
                    d.policy.printers.len(),
                    d.policy.origin
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
        let evidence = |d: &Detector, policy: String| Evidence {
            outcome: Some(outcome),
            conn_state: Some(conn.conn_state()),
            history: Some(conn.track.history()),
            printer: d.printer_name(server),
            policy: Some(policy),
            ..Evidence::default()
        };
        let key = (Some(conn.l4), client, server, port);
        let established = outcome == Outcome::Established;
        let answered = matches!(outcome, Outcome::Established | Outcome::HalfOpen);
        if answered && self.policy.is_blocked(port) {
            let ev = |d: &Detector| {
                let policy = format!(
                    "port {port} is in blocked_ports (policy: {})",
                    d.policy.origin
                );
                evidence(d, policy)
            };
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
            marks.set_campaign(id);
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
        let ev = |d: &Detector| {
            let mut ev = evidence(d, d.policy.missed_allow(server));
            if conn.track.established_one_sided() {
                ev.reason =
                    Some("the client acknowledged a SYN-ACK that is not in the capture".into());
            }
            ev
        };
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
}

fn target(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}
