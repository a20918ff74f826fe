//! What detection keeps per flow: the transitions a packet brings (each reported once), the
//! outcome decided, whether an alert names the flow, and what explains it otherwise.

use super::print_rates;
use crate::event::{ConnState, ExplainedBy, Outcome};
use crate::flow::{Conn, Dir};
use crate::net::L4;

// Per-flow decisions, each made once per flow.
pub(super) const MARK_CONTACT: u8 = 1;
pub(super) const MARK_ANSWERED: u8 = 2;
pub(super) const MARK_OUTCOME: u8 = 4;
/// An alert record names this flow.
pub(super) const MARK_ALERTED: u8 = 8;

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

/// What detection keeps per flow: one for every slot of the flow tables, so it is kept small
/// (48 bytes; the `Option`s of the plain layout made it 72, 1.5 MiB at 65 536 flows). Absent
/// values are flag bits, not `Option`s.
#[derive(Default)]
pub struct FlowMarks {
    pub(super) bits: u8,
    /// Which of the values below are present (`HAS_*`), and the explanation's `over_budget`.
    has: u8,
    /// What became of the client's attempt, once decided.
    pub(super) outcome: Option<Outcome>,
    /// The explaining alert's rule, when `HAS_EXPLANATION`.
    explained_sid: u32,
    /// The explaining alert's flow, when `HAS_EXPLAINED_FLOW`.
    explained_flow: u64,
    /// The explaining campaign, when `HAS_EXPLAINED_CAMPAIGN`.
    explained_campaign: u64,
    /// The campaign that counted this flow's failed attempt, when `HAS_CAMPAIGN`: its `flow`
    /// record is counted there too.
    campaign: u64,
    /// Print-stream rates, allocated on the flow's first finding.
    pub(super) rates: Option<Box<print_rates::Rates>>,
}

const HAS_EXPLANATION: u8 = 1;
const HAS_EXPLAINED_FLOW: u8 = 2;
const HAS_EXPLAINED_CAMPAIGN: u8 = 4;
const EXPLAINED_OVER_BUDGET: u8 = 8;
const HAS_CAMPAIGN: u8 = 16;

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
        (self.has & HAS_EXPLANATION != 0 && !self.alerted()).then(|| ExplainedBy {
            signature_id: self.explained_sid,
            flow_id: (self.has & HAS_EXPLAINED_FLOW != 0).then_some(self.explained_flow),
            campaign_id: (self.has & HAS_EXPLAINED_CAMPAIGN != 0)
                .then_some(self.explained_campaign),
            over_budget: self.has & EXPLAINED_OVER_BUDGET != 0,
        })
    }

    /// The first explanation stays.
    pub(super) fn explain(&mut self, e: ExplainedBy) {
        if self.has & HAS_EXPLANATION != 0 {
            return;
        }
        self.has |= HAS_EXPLANATION;
        self.explained_sid = e.signature_id;
        if let Some(f) = e.flow_id {
            self.has |= HAS_EXPLAINED_FLOW;
            self.explained_flow = f;
        }
        if let Some(c) = e.campaign_id {
            self.has |= HAS_EXPLAINED_CAMPAIGN;
            self.explained_campaign = c;
        }
        if e.over_budget {
            self.has |= EXPLAINED_OVER_BUDGET;
        }
    }

    /// The campaign that counted this flow's failed attempt.
    pub(super) fn campaign(&self) -> Option<u64> {
        (self.has & HAS_CAMPAIGN != 0).then_some(self.campaign)
    }

    pub(super) fn set_campaign(&mut self, id: u64) {
        self.has |= HAS_CAMPAIGN;
        self.campaign = id;
    }
}

/// The server side offers the service: a SYN-ACK or data (a RST is a closed port, not a
/// printer), or any UDP answer.
pub(super) fn service_answered(conn: &Conn) -> bool {
    let (o, r) = (&conn.track.orig, &conn.track.resp);
    match conn.l4 {
        // mid-stream (no SYN seen), anything but a reset from the responder counts
        L4::Tcp => r.synack || r.data || (!o.syn && r.any && !r.rst),
        L4::Udp => r.any,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_stay_small_and_give_back_what_they_were_told() {
        // one for every slot of the flow tables: 72 bytes with plain Options
        assert!(std::mem::size_of::<FlowMarks>() <= 48);
        let mut m = FlowMarks::default();
        assert_eq!((m.explained_by(), m.campaign()), (None, None));
        let e = ExplainedBy {
            signature_id: 1006,
            flow_id: None,
            campaign_id: Some(0),
            over_budget: true,
        };
        m.explain(e);
        m.explain(ExplainedBy {
            signature_id: 1,
            flow_id: Some(7),
            campaign_id: None,
            over_budget: false,
        });
        assert_eq!(m.explained_by(), Some(e), "the first explanation stays");
        m.set_campaign(0);
        assert_eq!(m.campaign(), Some(0));
        m.bits |= MARK_ALERTED;
        assert_eq!(m.explained_by(), None, "an alert names it");
    }
}
