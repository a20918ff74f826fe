//! Firing: an alert unless suppression or the rule's budget holds it back; either way the flow
//! learns what stands for it. The suppression key names the rule, a variant, the protocol, two
//! addresses and a port.

use super::marks::MARK_ALERTED;
use super::rules::Rule;
use super::suppress::Key;
use super::{About, AlertDraft, Decision, Detector, FlowMarks};
use crate::event::{Evidence, ExplainedBy};
use crate::flow::Conn;
use crate::net::{Timestamp, L4};
use std::net::{IpAddr, Ipv4Addr};

/// One alert about to be decided: its rule, key and evidence.
pub(super) struct Fire {
    pub(super) rule: Rule,
    /// One step more severe than the rule's own severity (rules.rs): 1001 when the attempt
    /// reached the service.
    pub(super) raised: bool,
    pub(super) about: About,
    pub(super) key: (Option<L4>, IpAddr, IpAddr, u16),
    pub(super) variant: u32,
    /// Who caused it, for the budget's summary; `None`: never budgeted.
    pub(super) budget_source: Option<IpAddr>,
    /// Scans, floods and campaigns are episodes: a suppressed repeat extends the window.
    pub(super) sliding: bool,
    pub(super) evidence: Evidence,
}

impl Detector {
    /// An alert unless the same rule and key fired within the suppression window or the rule's
    /// budget for the window is spent; either way the flow learns what stands for it.
    pub(super) fn fire(
        &mut self,
        f: Fire,
        conn: &Conn,
        marks: &mut FlowMarks,
        now: Timestamp,
        out: &mut Vec<Decision>,
    ) {
        let sid = f.rule.info().sid;
        let (l4, src, dst, port) = f.key;
        let key = Key {
            rule: f.rule,
            variant: f.variant,
            l4,
            src,
            dst,
            port,
        };
        if let Err(by) = self.suppress.admit(key, now, conn.id(), f.sliding) {
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

pub(super) fn unspecified() -> IpAddr {
    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
}
