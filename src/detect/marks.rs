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

/// What detection keeps per flow.
#[derive(Default)]
pub struct FlowMarks {
    pub(super) bits: u8,
    /// The alert that stands for this flow when none names it.
    pub(super) explained_by: Option<ExplainedBy>,
    /// The campaign that counted this flow's failed attempt: its `flow` record is counted
    /// there too.
    pub(super) campaign: Option<u64>,
    /// Print-stream rates, allocated on the flow's first finding.
    pub(super) rates: Option<Box<print_rates::Rates>>,
    /// What became of the client's attempt, once decided.
    pub(super) outcome: Option<Outcome>,
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

    pub(super) fn explain(&mut self, e: ExplainedBy) {
        self.explained_by.get_or_insert(e);
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
