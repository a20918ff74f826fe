//! From observations to verdicts: per printer, port and protocol, whether clients the policy
//! does not allow got through (reachability) and whether the allowed ones still print
//! (service), on each side of the change when there is one.

use super::evidence::{Attempt, Collector, Folded, Job};
use crate::config::Policy;
use crate::event::Outcome;
use crate::net::{named_enum, Service as PortService, Timestamp, L4};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

named_enum! {
    /// Could clients the policy does not allow reach the port?
    pub enum Reachability {
        /// Every attempt failed (no answer, or refused).
        Blocked = "blocked",
        /// At least one attempt was answered: a handshake, a SYN-ACK, a datagram back.
        Open = "open",
        /// Nobody tried: a quiet port proves nothing.
        Untested = "untested",
    }
}

named_enum! {
    /// Do the allowed clients still print?
    pub enum ServiceVerdict {
        /// Their latest connection went through.
        Working = "working",
        /// Their latest connection was refused or unanswered: the change broke printing.
        Broken = "broken",
        /// They did not use the port.
        Unused = "unused",
    }
}

named_enum! {
    /// The verification as a whole.
    pub enum Overall {
        Pass = "pass",
        Fail = "fail",
        Inconclusive = "inconclusive",
    }
}

impl Overall {
    /// The exit status: 0 pass, 1 fail, 3 inconclusive.
    pub fn exit_code(self) -> u8 {
        match self {
            Overall::Pass => 0,
            Overall::Fail => 1,
            Overall::Inconclusive => 3,
        }
    }
}

/// How many attempts ended each way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Outcomes {
    pub attempted: u64,
    pub refused: u64,
    pub half_open: u64,
    pub established: u64,
}

impl Outcomes {
    fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Attempted => self.attempted += 1,
            Outcome::Refused => self.refused += 1,
            Outcome::HalfOpen => self.half_open += 1,
            Outcome::Established => self.established += 1,
        }
    }

    /// Answered by the port itself: a SYN-ACK is enough to prove it reachable.
    pub fn got_through(&self) -> u64 {
        self.half_open + self.established
    }

    pub fn failed(&self) -> u64 {
        self.attempted + self.refused
    }
}

/// At most this many client addresses are named per row and side.
pub const SAMPLE_CLIENTS: usize = 5;

/// Attempts from clients the policy does not allow (on a blocked port: from anyone).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReachEvidence {
    pub attempts: u64,
    pub clients: u64,
    pub sample_clients: Vec<IpAddr>,
    pub outcomes: Outcomes,
    /// Zeek's conn_state of the attempts, by name.
    pub conn_states: BTreeMap<&'static str, u64>,
    /// Attempts an ICMP destination unreachable refused (a REJECT without a reset).
    pub refused_by_icmp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
    /// For an untested port: how to test it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub how_to_test: Option<String>,
}

/// Connections and jobs of the allowed clients.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ServiceEvidence {
    pub connections: u64,
    pub clients: u64,
    pub sample_clients: Vec<IpAddr>,
    pub outcomes: Outcomes,
    /// Print jobs that went through: raw-printing jobs and BJNP print sessions.
    pub jobs: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<Timestamp>,
}

/// The verdicts of one side of the change (or of the whole input).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Side {
    pub reachability: Reachability,
    pub service: ServiceVerdict,
    pub reach: ReachEvidence,
    pub usage: ServiceEvidence,
}

/// One printer port.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    pub printer: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub printer_name: Option<String>,
    pub port: u16,
    pub proto: L4,
    /// What the port is for: bjnp, mfnp, raw (printing), other.
    pub port_service: &'static str,
    /// The policy lists the port in `blocked_ports`: nobody may reach it.
    pub blocked_port: bool,
    /// The verdicts that count (after the change, when there is one).
    pub reachability: Reachability,
    pub service: ServiceVerdict,
    /// 1 for a blocked port that anyone reached, 2 for other open or broken rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<u8>,
    pub reach: ReachEvidence,
    pub usage: ServiceEvidence,
    /// The same before the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Side>,
}

/// Attempts a campaign counted without flow records, per protocol and port.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FoldedAttempts {
    pub proto: Option<L4>,
    pub port: u16,
    pub attempts: u64,
}

/// The time an input covers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Window {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<Timestamp>,
    pub attempts: u64,
    pub jobs: u64,
}

/// What the policy said, as the report used it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PolicySummary {
    pub origin: String,
    pub printers: Vec<IpAddr>,
    pub blocked_ports: Vec<u16>,
    pub allowed_clients: Vec<String>,
}

/// A verification: the verdict, its reasons and the rows behind it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub overall: Overall,
    /// Why, one sentence each, most important first.
    pub reasons: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_at: Option<Timestamp>,
    /// The evidence before the change (when split) and after it (or all of it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Window>,
    pub after: Window,
    /// Packets the captures held (from the sensor's stats).
    pub packets: u64,
    pub policy: PolicySummary,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub folded_into_campaigns: Vec<FoldedAttempts>,
    /// Unanswered attempts to hosts outside the printer inventory (no row each).
    pub unanswered_outside_inventory: Elsewhere,
    pub rows: Vec<Row>,
    /// Every attempt and job, for the timeline (not in the JSON: the rows carry the counts).
    #[serde(skip)]
    pub timeline: Vec<Point>,
}

/// One dot of a printer's timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Point {
    pub ts: Timestamp,
    pub printer: IpAddr,
    pub kind: PointKind,
}

/// What a timeline dot shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PointKind {
    /// An attempt from a client the policy does not allow, by outcome.
    Unallowed(Outcome),
    /// A connection of an allowed client that went through, or failed.
    AllowedOk,
    AllowedFailed,
}

/// The evidence of one side, before the verdicts.
#[derive(Default)]
struct Tally {
    reach: ReachEvidence,
    reach_clients: BTreeSet<IpAddr>,
    usage: ServiceEvidence,
    usage_clients: BTreeSet<IpAddr>,
    /// Time and success of the allowed clients' latest connection or job.
    latest: Option<(Timestamp, bool)>,
}

type Key = (IpAddr, L4, u16);

impl Tally {
    fn attempt(&mut self, a: &Attempt, counts_as_reach: bool, counts_as_use: bool) {
        if counts_as_reach {
            let r = &mut self.reach;
            r.attempts += 1;
            r.outcomes.add(a.outcome);
            *r.conn_states.entry(a.conn_state.name()).or_default() += 1;
            if a.unreachable.is_some() && a.outcome == Outcome::Refused {
                r.refused_by_icmp += 1;
            }
            r.first_seen = Some(r.first_seen.map_or(a.start, |t| t.min(a.start)));
            r.last_seen = Some(r.last_seen.map_or(a.start, |t| t.max(a.start)));
            self.reach_clients.insert(a.client);
        }
        if counts_as_use {
            let u = &mut self.usage;
            u.connections += 1;
            u.outcomes.add(a.outcome);
            let ok = answered(a.outcome);
            let last = if ok {
                &mut u.last_success
            } else {
                &mut u.last_failure
            };
            *last = Some(last.map_or(a.start, |t| t.max(a.start)));
            self.usage_clients.insert(a.client);
            self.see(a.start, ok);
        }
    }

    fn job(&mut self, j: &Job) {
        self.usage.jobs += 1;
        self.usage.last_success = Some(self.usage.last_success.map_or(j.ts, |t| t.max(j.ts)));
        self.usage_clients.insert(j.client);
        self.see(j.ts, true);
    }

    fn see(&mut self, ts: Timestamp, ok: bool) {
        // The latest wins; at one instant a success wins (a job and its own connection).
        if self
            .latest
            .is_none_or(|(t, was_ok)| ts > t || (ts == t && ok && !was_ok))
        {
            self.latest = Some((ts, ok));
        }
    }

    fn side(mut self, key: Key, blocked_port: bool) -> Side {
        let sample = |set: &BTreeSet<IpAddr>| set.iter().take(SAMPLE_CLIENTS).copied().collect();
        self.reach.clients = self.reach_clients.len() as u64;
        self.reach.sample_clients = sample(&self.reach_clients);
        self.usage.clients = self.usage_clients.len() as u64;
        self.usage.sample_clients = sample(&self.usage_clients);
        let reachability = if self.reach.attempts == 0 {
            self.reach.how_to_test = Some(how_to_test(key, blocked_port));
            Reachability::Untested
        } else if self.reach.outcomes.got_through() > 0 {
            Reachability::Open
        } else {
            Reachability::Blocked
        };
        let service = match self.latest {
            None => ServiceVerdict::Unused,
            Some((_, true)) => ServiceVerdict::Working,
            Some((_, false)) => ServiceVerdict::Broken,
        };
        Side {
            reachability,
            service,
            reach: self.reach,
            usage: self.usage,
        }
    }
}

/// The port itself answered: a handshake, a SYN-ACK, a datagram back.
fn answered(o: Outcome) -> bool {
    matches!(o, Outcome::Established | Outcome::HalfOpen)
}

/// Attempts to hosts outside the inventory that never answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Elsewhere {
    pub attempts: u64,
    pub hosts: u64,
}

/// The command that tests a port from a client the policy does not allow.
pub fn how_to_test((printer, proto, port): Key, blocked_port: bool) -> String {
    let who = if blocked_port {
        "from any host"
    } else {
        "from a host the policy does not allow"
    };
    let probe = match (proto, PortService::of(proto, port)) {
        (L4::Udp, PortService::Bjnp | PortService::Mfnp) => {
            format!("nmap -sU -p {port} --script bjnp-discover {printer}")
        }
        (L4::Udp, _) => format!("nmap -sU -p {port} {printer}"),
        (L4::Tcp, _) => format!("nmap -Pn -sS -p {port} {printer}"),
    };
    format!("run `{probe}` {who} while the sensor watches")
}

/// The inputs to a verdict.
pub struct Inputs<'a> {
    pub policy: &'a Policy,
    /// Evidence before the change, when the change splits it.
    pub before: Option<&'a Collector>,
    pub after: &'a Collector,
    pub change_at: Option<Timestamp>,
}

/// Builds the report.
pub fn judge(inp: &Inputs<'_>) -> Report {
    let policy = inp.policy;
    let mut keys: BTreeSet<Key> = BTreeSet::new();
    let sides: Vec<&Collector> = inp.before.into_iter().chain([inp.after]).collect();
    // With an inventory, a host outside it is a row only if it answered (a printer nobody
    // listed); the unanswered rest (a sweep of the subnet) is counted in one line.
    let known = |ip: IpAddr| policy.printers.is_empty() || policy.printer(ip).is_some();
    let mut elsewhere = Elsewhere::default();
    let mut silent_hosts = BTreeSet::new();
    for c in &sides {
        keys.extend(c.jobs.iter().map(|j| (j.server, j.proto, j.port)));
        keys.extend(
            c.attempts
                .iter()
                .filter(|a| known(a.server) || answered(a.outcome))
                .map(|a| (a.server, a.proto, a.port)),
        );
    }
    for c in &sides {
        for a in &c.attempts {
            if !keys.contains(&(a.server, a.proto, a.port)) {
                elsewhere.attempts += 1;
                silent_hosts.insert(a.server);
            }
        }
    }
    elsewhere.hosts = silent_hosts.len() as u64;
    // A blocked port of every known printer is a row even when nobody tried it: that is
    // exactly what the report must say.
    for p in &policy.printers {
        for &port in &policy.blocked_ports {
            for l4 in [L4::Tcp, L4::Udp] {
                if policy.ports.contains(l4.ip_number(), port) {
                    keys.insert((p.address, l4, port));
                }
            }
        }
    }
    let tally = |c: &Collector| {
        let mut t: BTreeMap<Key, Tally> = keys.iter().map(|k| (*k, Tally::default())).collect();
        let mut points = Vec::new();
        for a in &c.attempts {
            let key = (a.server, a.proto, a.port);
            let allowed = policy.allows(a.client, a.server);
            let blocked = policy.is_blocked(a.port);
            if let Some(row) = t.get_mut(&key) {
                row.attempt(a, !allowed || blocked, allowed);
            }
            if !keys.contains(&key) {
                continue;
            }
            let ok = answered(a.outcome);
            points.push(Point {
                ts: a.start,
                printer: a.server,
                kind: match (allowed, ok) {
                    (false, _) => PointKind::Unallowed(a.outcome),
                    (true, true) => PointKind::AllowedOk,
                    (true, false) => PointKind::AllowedFailed,
                },
            });
        }
        for j in &c.jobs {
            if policy.allows(j.client, j.server) {
                if let Some(row) = t.get_mut(&(j.server, j.proto, j.port)) {
                    row.job(j);
                }
            }
        }
        (t, points)
    };
    let (after, mut timeline) = tally(inp.after);
    let mut before = inp.before.map(tally);
    if let Some((_, pts)) = &mut before {
        timeline.append(pts);
    }
    timeline.sort_by_key(|p| (p.ts, p.printer));
    let mut before = before.map(|(t, _)| t);
    let mut rows = Vec::new();
    for (key, t) in after {
        let blocked_port = policy.is_blocked(key.2);
        let side = t.side(key, blocked_port);
        let before = before
            .as_mut()
            .and_then(|b| b.remove(&key))
            .map(|t| t.side(key, blocked_port));
        let bad = side.reachability == Reachability::Open || side.service == ServiceVerdict::Broken;
        rows.push(Row {
            printer: key.0,
            printer_name: policy.printer(key.0).map(|p| p.name.clone()),
            port: key.2,
            proto: key.1,
            port_service: PortService::of(key.1, key.2).name(),
            blocked_port,
            reachability: side.reachability,
            service: side.service,
            severity: match (blocked_port, side.reachability, bad) {
                (true, Reachability::Open, _) => Some(1),
                (_, _, true) => Some(2),
                _ => None,
            },
            reach: side.reach,
            usage: side.usage,
            before,
        });
    }
    let (overall, reasons) = decide(&rows, inp);
    let window = |c: &Collector| Window {
        first: c.first,
        last: c.last,
        attempts: c.attempts.len() as u64,
        jobs: c.jobs.len() as u64,
    };
    let folded = sides
        .iter()
        .flat_map(|c| c.folded.iter())
        .filter(|f| f.attempts > 0)
        .map(
            |&Folded {
                 proto,
                 port,
                 attempts,
             }| FoldedAttempts {
                proto,
                port,
                attempts,
            },
        )
        .collect();
    Report {
        overall,
        reasons,
        change_at: inp.change_at,
        before: inp.before.map(window),
        after: window(inp.after),
        packets: sides.iter().map(|c| c.packets).sum(),
        policy: PolicySummary {
            origin: policy.origin.clone(),
            printers: policy.printers.iter().map(|p| p.address).collect(),
            blocked_ports: policy.blocked_ports.clone(),
            allowed_clients: policy.clients_allow.iter().map(|n| n.to_string()).collect(),
        },
        folded_into_campaigns: folded,
        unanswered_outside_inventory: elsewhere,
        rows,
        timeline,
    }
}

fn row_name(r: &Row) -> String {
    let who = match &r.printer_name {
        Some(n) => format!("{n} ({})", r.printer),
        None => r.printer.to_string(),
    };
    format!("{who} {}/{}", r.proto.name().to_ascii_lowercase(), r.port)
}

fn decide(rows: &[Row], inp: &Inputs<'_>) -> (Overall, Vec<String>) {
    let mut fail = Vec::new();
    let mut unsure = Vec::new();
    for r in rows {
        let name = row_name(r);
        match (r.reachability, r.blocked_port) {
            (Reachability::Open, true) => fail.insert(
                0,
                format!(
                    "{name} is a blocked port and {} of {} attempts got through",
                    r.reach.outcomes.got_through(),
                    r.reach.attempts
                ),
            ),
            (Reachability::Open, false) => fail.push(format!(
                "{name} is reachable from clients the policy does not allow ({} of {} attempts got through)",
                r.reach.outcomes.got_through(),
                r.reach.attempts
            )),
            (Reachability::Untested, true) => unsure.push(format!(
                "{name} is a blocked port nobody tried: {}",
                r.reach.how_to_test.as_deref().unwrap_or("test it")
            )),
            _ => {}
        }
        if r.service == ServiceVerdict::Broken {
            fail.push(format!(
                "{name}: allowed clients fail to connect ({} failed, latest at {}): the change broke printing",
                r.usage.outcomes.failed(),
                r.usage.last_failure.map(|t| t.rfc3339().to_string()).unwrap_or_default()
            ));
        }
        if let Some(b) = &r.before {
            if b.service == ServiceVerdict::Working && r.service == ServiceVerdict::Unused {
                unsure.push(format!(
                    "{name} printed before the change and was not used after it: print a test page"
                ));
            }
            if b.reachability == Reachability::Open && r.reachability == Reachability::Untested {
                unsure.push(format!(
                    "{name} was reachable before the change and nobody tried it after: {}",
                    r.reach.how_to_test.as_deref().unwrap_or("test it")
                ));
            }
        }
    }
    if inp.after.attempts.is_empty() && inp.after.jobs.is_empty() {
        let what = if inp.change_at.is_some() || inp.before.is_some() {
            "no printer traffic after the change"
        } else {
            "no printer traffic at all"
        };
        unsure.push(format!("{what}: nothing was verified"));
    }
    if !fail.is_empty() {
        fail.extend(unsure);
        return (Overall::Fail, fail);
    }
    if !unsure.is_empty() {
        return (Overall::Inconclusive, unsure);
    }
    let mut ok = Vec::new();
    let blocked = rows
        .iter()
        .filter(|r| r.reachability == Reachability::Blocked)
        .count();
    let working = rows
        .iter()
        .filter(|r| r.service == ServiceVerdict::Working)
        .count();
    ok.push(format!(
        "every attempt from clients the policy does not allow failed ({blocked} port(s) blocked)"
    ));
    ok.push(format!("allowed clients print ({working} port(s) working)"));
    (Overall::Pass, ok)
}

/// Splits one input's observations at the change: before it, and from it on.
pub fn split(all: Collector, at: Timestamp) -> (Collector, Collector) {
    let mut before = Collector::default();
    let mut after = Collector::default();
    for a in all.attempts {
        if a.start < at {
            &mut before
        } else {
            &mut after
        }
        .attempts
        .push(a);
    }
    for j in all.jobs {
        if j.ts < at { &mut before } else { &mut after }
            .jobs
            .push(j);
    }
    before.first = all.first.filter(|&f| f < at);
    before.last = all
        .last
        .map(|l| l.min(at))
        .filter(|_| before.first.is_some());
    after.first = all
        .first
        .map(|f| f.max(at))
        .filter(|_| all.last.is_some_and(|l| l >= at));
    after.last = all.last.filter(|&l| l >= at);
    after.folded = all.folded;
    after.packets = all.packets;
    (before, after)
}

#[cfg(test)]
mod tests;
