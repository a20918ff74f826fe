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

/// An alert's evidence, or how to write it: most alerts about to be decided are suppressed or
/// over budget, and words written for them (addresses, policy entries) were thrown away; a
/// printer-heavy replay spent a tenth of its time so.
pub(super) trait Words {
    fn words(self, d: &Detector) -> Evidence;
}

impl Words for Evidence {
    fn words(self, _: &Detector) -> Evidence {
        self
    }
}

/// Written only for an alert that is written.
impl<F: FnOnce(&Detector) -> Evidence> Words for F {
    fn words(self, d: &Detector) -> Evidence {
        self(d)
    }
}

/// One alert about to be decided: its rule, key and evidence.
pub(super) struct Fire<E: Words = Evidence> {
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
    pub(super) evidence: E,
}

impl Detector {
    /// An alert unless the same rule and key fired within the suppression window or the rule's
    /// budget for the window is spent; either way the flow learns what stands for it.
    pub(super) fn fire<E: Words>(
        &mut self,
        f: Fire<E>,
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
        let evidence = f.evidence.words(self);
        out.push(Decision::Alert(Box::new(AlertDraft {
            rule: f.rule,
            severity: f.rule.info().severity - u8::from(f.raised),
            about: f.about,
            evidence,
        })));
    }
}

pub(super) fn unspecified() -> IpAddr {
    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
}
