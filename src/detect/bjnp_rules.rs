//! The BJNP rules: recon from clients the policy does not allow (1101), malformed messages and
//! bytes that are not BJNP (1102), the printer identity BJNP answers carry, the evasion
//! anomalies (1501, 1502), and which recon messages a campaign counts.

use super::rules::Rule;
use super::{unspecified, About, Decision, Detector, Fire, FlowMarks, Route};
use crate::event::{AnomalyEvent, Bjnp, Direction, Evidence};
use crate::flow::Conn;
use crate::net::Timestamp;
use crate::proto::bjnp::CommandName;

impl Detector {
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
            let command = b.command_name;
            let ev = move |d: &Detector| Evidence {
                bjnp_command: Some(command),
                policy: Some(d.policy.missed_allow(route.dst)),
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
}
