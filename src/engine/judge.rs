//! The judge: facts in, records out. It owns what crosses flows (detection's scans, floods,
//! campaigns, suppression, budgets and inventory; BJNP request/response pairing) and what
//! detection keeps per flow, and it is the one place that turns facts and decisions into
//! records. It takes facts one at a time, in the order they happened.

use super::fact::{EndView, Fact, FactSink, PacketInfo, PacketView, Pos};
use super::records;
use crate::analyze::bjnp::{BjnpMessage, Pairing};
use crate::analyze::AppEvent;
use crate::config::Policy;
use crate::detect::{About, Decision, Detector, FlowMarks, PolicyChange, Route};
use crate::event::{BjnpStats, Body, Endpoints, InventoryReport, Origin, Record};
use crate::flow::Conn;
use crate::net::Timestamp;
use crate::output::RecordSink;
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

pub struct Judge {
    detect: Detector,
    pairing: Pairing,
    /// What detection keeps per live flow, by worker and place in its table.
    marks: Marks,
    /// Detection's decisions of the current step, reused.
    decisions: Vec<Decision>,
    /// Records made (`stats.output.records`).
    records: u64,
}

impl Judge {
    pub fn new(detect: Detector) -> Self {
        Judge {
            detect,
            pairing: Pairing::default(),
            marks: Marks::default(),
            decisions: Vec::new(),
            records: 0,
        }
    }

    pub fn detect(&self) -> &Detector {
        &self.detect
    }

    /// A printer of the policy or one that answered: known printers orient new flows.
    pub fn is_printer(&self, ip: IpAddr) -> bool {
        self.detect.is_printer(ip)
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    pub fn inventory(&self) -> InventoryReport {
        self.detect.inventory_report()
    }

    /// Pairing's share of the BJNP counters.
    pub fn bjnp_stats(&self) -> BjnpStats {
        let (matched, unmatched) = self.pairing.counts();
        BjnpStats {
            responses_matched: matched,
            responses_unmatched: unmatched,
            pending_evicted: self.pairing.evicted(),
            ..BjnpStats::default()
        }
    }

    /// An owned fact (from another thread).
    pub fn handle(&mut self, fact: Fact, out: &mut dyn RecordSink) {
        match fact {
            Fact::Packet(mut p) => self.packet(p.view(), out),
            Fact::End(mut e) => self.end(e.view(), out),
            Fact::Record(r) => self.record(*r, out),
            Fact::Tick(now, origin) => self.tick(now, &origin, out),
            Fact::Finish(now, origin) => self.finish(now, &origin, out),
            Fact::Reload(policy, now, origin) => {
                // the workers keep the ports they started with (a restart applies new ones)
                self.reload(*policy, false, now, &origin, out);
            }
        }
    }

    pub fn packet(&mut self, f: PacketView<'_>, out: &mut dyn RecordSink) {
        let mut out = Counted {
            inner: out,
            n: &mut self.records,
        };
        let marks = self.marks.get(f.flow);
        packet(
            &mut self.detect,
            &mut self.pairing,
            marks,
            &mut self.decisions,
            f,
            &mut out,
        );
    }

    pub fn end(&mut self, f: EndView<'_>, out: &mut dyn RecordSink) {
        let mut out = Counted {
            inner: out,
            n: &mut self.records,
        };
        let marks = std::mem::take(self.marks.get(f.flow));
        end(
            &mut self.detect,
            &mut self.pairing,
            marks,
            &mut self.decisions,
            f,
            &mut out,
        );
    }

    pub fn record(&mut self, r: Record, out: &mut dyn RecordSink) {
        self.records += 1;
        out.emit(r);
    }

    /// A reloaded policy takes over from here on (flows, campaigns, suppression and the
    /// inventory stay); its `reload` record says what changed. `ports_applied`: the flow stage
    /// follows a change of monitored ports.
    pub fn reload(
        &mut self,
        policy: Policy,
        ports_applied: bool,
        now: Timestamp,
        origin: &Origin,
        out: &mut dyn RecordSink,
    ) -> PolicyChange {
        let change = self.detect.set_policy(policy);
        let applied = ports_applied || !change.ports_changed;
        self.record(
            records::reload(self.detect.policy(), &change, applied, now, origin),
            out,
        );
        change
    }

    /// Time moved on: requests nobody answered expire, windows close.
    pub fn tick(&mut self, now: Timestamp, origin: &Origin, out: &mut dyn RecordSink) {
        let mut out = Counted {
            inner: out,
            n: &mut self.records,
        };
        self.pairing.expire(now);
        self.detect.tick(now, &mut self.decisions);
        reports(&mut self.decisions, now, origin, &mut out);
    }

    /// The end: what detection still holds is reported.
    pub fn finish(&mut self, now: Timestamp, origin: &Origin, out: &mut dyn RecordSink) {
        let mut out = Counted {
            inner: out,
            n: &mut self.records,
        };
        self.detect.finish(now, &mut self.decisions);
        reports(&mut self.decisions, now, origin, &mut out);
    }
}

/// The judge and where its records go, as the one worker's fact sink.
pub struct Inline<'a> {
    pub judge: &'a mut Judge,
    pub out: &'a mut dyn RecordSink,
}

impl FactSink for Inline<'_> {
    fn packet(&mut self, _pos: Pos, f: PacketView<'_>) {
        self.judge.packet(f, self.out);
    }
    fn end(&mut self, _pos: Pos, f: EndView<'_>) {
        self.judge.end(f, self.out);
    }
    fn record(&mut self, _pos: Pos, r: Record) {
        self.judge.record(r, self.out);
    }
    fn is_printer(&self, ip: IpAddr) -> bool {
        self.judge.is_printer(ip)
    }
}

/// Where an analyzer's events happened: at a packet (records in the packet's own direction,
/// at its time) or at the flow's end (client to server, at its last packet).
enum Place<'a> {
    Packet { p: &'a PacketInfo },
    End,
}

/// The state one judging step works on.
struct Step<'a, 'o> {
    detect: &'a mut Detector,
    pairing: &'a mut Pairing,
    marks: &'a mut FlowMarks,
    decisions: &'a mut Vec<Decision>,
    out: &'a mut Counted<'o>,
}

/// One packet of a flow: its analyzer's events become records and are judged, then the
/// flow's transitions, then the printer records that became due.
fn packet(
    detect: &mut Detector,
    pairing: &mut Pairing,
    marks: &mut FlowMarks,
    decisions: &mut Vec<Decision>,
    f: PacketView<'_>,
    out: &mut Counted<'_>,
) {
    let at = At {
        ts: f.ts,
        origin: &f.origin,
        conn: f.conn,
        app_proto: f.app_proto,
    };
    let mut step = Step {
        detect,
        pairing,
        marks,
        decisions,
        out,
    };
    if !f.events.is_empty() {
        let p = &f.packet;
        let place = Place::Packet { p };
        events(&mut step, f.events, &place, &at);
    }
    let Step {
        detect,
        decisions,
        out,
        marks,
        ..
    } = step;
    detect.on_packet(f.conn, marks, f.transitions, f.ts, decisions);
    emit(decisions, None, &at, out);
    for printer in detect.printer_changes() {
        out.emit(records::printer(printer, f.ts));
    }
}

/// A flow ends: what its analyzer still held, the last decisions (an unanswered attempt),
/// then its `flow` record unless a campaign counts it.
fn end(
    detect: &mut Detector,
    pairing: &mut Pairing,
    mut marks: FlowMarks,
    decisions: &mut Vec<Decision>,
    e: EndView<'_>,
    out: &mut Counted<'_>,
) {
    let conn = e.conn;
    let at = At {
        ts: e.ts,
        origin: &e.origin,
        conn,
        app_proto: e.app_proto,
    };
    let mut step = Step {
        detect,
        pairing,
        marks: &mut marks,
        decisions,
        out,
    };
    events(&mut step, e.events, &Place::End, &at);
    let Step {
        detect,
        decisions,
        out,
        marks,
        ..
    } = step;
    let folded = detect.on_flow_end(conn, marks, e.ts, decisions);
    emit(decisions, None, &at, out);
    if !folded {
        out.emit(records::flow_end(
            conn,
            e.reason,
            marks,
            e.app_proto,
            &e.origin,
        ));
    }
}

/// An analyzer's events, in order: each becomes its record (unless a campaign counts it),
/// judged first, written before the alerts it caused. At a flow's end, BJNP messages and
/// anomalies are written but not judged: what a connection's end flushes (a message cut short)
/// was never received whole by the printer.
fn events(step: &mut Step<'_, '_>, evs: &mut Vec<AppEvent>, place: &Place<'_>, at: &At<'_>) {
    let conn = at.conn;
    let (ts, route) = match place {
        Place::Packet { p, .. } => (
            at.ts,
            Route {
                src: p.src,
                sport: p.sport,
                dst: p.dst,
                dport: p.dport,
                l4: p.l4,
            },
        ),
        Place::End => (
            conn.last_ts,
            Route {
                src: conn.client.0,
                sport: conn.client.1,
                dst: conn.server.0,
                dport: conn.server.1,
                l4: conn.l4,
            },
        ),
    };
    let at_end = matches!(place, Place::End);
    // Transactions (an LPD job, an IPP operation, a TLS hello) read client to server, as
    // Suricata's application records do; a message or a job, in its packet's direction.
    let ends = |body: &Body| match (place, body) {
        (Place::Packet { .. }, Body::Lpd(_) | Body::Ipp(_) | Body::Tls(_)) => {
            records::flow_endpoints(conn, records::body_app_proto(body))
        }
        (Place::Packet { p }, _) => records::packet_endpoints(p, records::body_app_proto(body)),
        // a job an LPD or IPP connection's end flushed speaks its own language, as at a packet
        (Place::End, Body::Print(_))
            if matches!(
                at.app_proto,
                Some(crate::event::AppProto::Lpd | crate::event::AppProto::Ipp)
            ) =>
        {
            records::flow_endpoints(conn, records::body_app_proto(body))
        }
        (Place::End, _) => records::flow_endpoints(conn, at.app_proto),
    };
    let (detect, marks, decisions) = (&mut *step.detect, &mut *step.marks, &mut *step.decisions);
    for ev in evs.drain(..) {
        let body = match ev {
            AppEvent::Finding(finding) => {
                detect.on_finding(conn, marks, &finding, at.ts, decisions);
                emit(decisions, None, at, step.out);
                continue;
            }
            AppEvent::PrinterData { total } => {
                detect.on_printer_data(conn, marks, total, at.ts, decisions);
                emit(decisions, None, at, step.out);
                continue;
            }
            AppEvent::Bjnp(m) => {
                let BjnpMessage { mut record, pair } = m;
                step.pairing.apply(&pair, record.as_deref_mut());
                let Some(b) = record else {
                    continue;
                };
                if !at_end {
                    detect.on_message(conn, marks, route, &b, ts, decisions);
                    if detect.fold_message(conn, &b) {
                        // a campaign counts the message; what it caused is still written
                        let ends = ends(&Body::Bjnp(b));
                        emit(decisions, Some(ends), at, step.out);
                        continue;
                    }
                }
                Body::Bjnp(b)
            }
            AppEvent::Anomaly(a) => {
                if !at_end {
                    let reason = a.reason.as_deref();
                    detect.on_anomaly(conn, marks, route, a.event, reason, ts, decisions);
                }
                Body::Anomaly(a)
            }
            AppEvent::Print(pr) => Body::Print(pr),
            AppEvent::Lpd(l) => {
                let crate::analyze::lpd::LpdEvent { record, findings } = *l;
                detect.on_lpd(conn, marks, &findings, at.ts, decisions);
                let Some(record) = record else {
                    emit(decisions, None, at, step.out);
                    continue;
                };
                Body::Lpd(Box::new(record))
            }
            AppEvent::Ipp(i) => {
                detect.on_ipp(conn, marks, &i, at.ts, decisions);
                Body::Ipp(i)
            }
            AppEvent::Tls(t) => Body::Tls(t),
            AppEvent::CupsBrowsed(c) => {
                let crate::analyze::cups_browse::BrowseEvent { record, logged } = *c;
                detect.on_cups_browsed(conn, marks, route, &record, at.ts, decisions);
                // past a flow's first few, or counted into a campaign: judged, not written
                let body = Body::CupsBrowsed(Box::new(record));
                if !logged || detect.fold_announcement(conn, route) {
                    emit(decisions, Some(ends(&body)), at, step.out);
                    continue;
                }
                body
            }
        };
        let rec = records::content(ts, conn.id(), at.origin, ends(&body), body);
        // The record first, then the alerts it caused.
        let about = rec.endpoints.clone();
        step.out.emit(rec);
        emit(decisions, about, at, step.out);
    }
}

/// Campaign and summary records detection decided outside any flow.
fn reports(decisions: &mut Vec<Decision>, now: Timestamp, origin: &Origin, out: &mut Counted<'_>) {
    for d in decisions.drain(..) {
        match d {
            Decision::Campaign(c) => out.emit(records::campaign(*c, now, origin)),
            Decision::Summary(s) => out.emit(records::summary(*s, now, origin)),
            // alerts come from flows, and are written with them
            Decision::Alert(_) => {}
        }
    }
}

/// When, where and about which flow the decisions of a step happen.
struct At<'a> {
    ts: Timestamp,
    origin: &'a Origin,
    conn: &'a Conn,
    app_proto: Option<crate::event::AppProto>,
}

/// Writes detection's decisions: alerts about the flow (client to server), or with the
/// endpoints of the record that caused them; campaign and summary reports as they come.
fn emit(
    decisions: &mut Vec<Decision>,
    record: Option<Endpoints>,
    at: &At<'_>,
    out: &mut Counted<'_>,
) {
    for d in decisions.drain(..) {
        match d {
            Decision::Alert(d) => {
                let ends = match (d.about, &record) {
                    (About::Record, Some(e)) => e.clone(),
                    _ => records::flow_endpoints(at.conn, at.app_proto),
                };
                let flow_id = at.conn.id();
                let pcap_file = out.alerted(flow_id, at.ts);
                out.emit(records::alert(
                    *d, at.ts, flow_id, at.origin, ends, pcap_file,
                ));
            }
            Decision::Campaign(c) => out.emit(records::campaign(*c, at.ts, at.origin)),
            Decision::Summary(s) => out.emit(records::summary(*s, at.ts, at.origin)),
        }
    }
}

/// Detection's marks of every live flow, where the flow lies: by worker, then by its place in
/// the worker's table (no hashing, and a table's worth of memory at most).
#[derive(Default)]
struct Marks(Vec<Vec<FlowMarks>>);

impl Marks {
    fn get(&mut self, handle: u64) -> &mut FlowMarks {
        let (w, slot) = ((handle >> 32) as usize, (handle & 0xffff_ffff) as usize);
        if self.0.len() <= w {
            self.0.resize_with(w + 1, Vec::new);
        }
        let v = &mut self.0[w];
        if v.len() <= slot {
            v.resize_with(slot + 1, FlowMarks::default);
        }
        &mut v[slot]
    }
}

/// Counts what passes through, for `stats.output.records`.
struct Counted<'a> {
    inner: &'a mut dyn RecordSink,
    n: &'a mut u64,
}

impl RecordSink for Counted<'_> {
    fn emit(&mut self, r: Record) {
        *self.n += 1;
        self.inner.emit(r);
    }
    fn alerted(&mut self, flow_id: u64, ts: Timestamp) -> Option<String> {
        self.inner.alerted(flow_id, ts)
    }
}

/// The judge's known printers as worker threads read them (a worker orients a new flow whose
/// two ports are both monitored by them): republished only when the judge's set changed.
pub struct PublishedPrinters {
    set: Printers,
    generation: u64,
}

/// What a worker thread holds: the latest published set, swapped whole.
pub type Printers = Arc<RwLock<Arc<HashSet<IpAddr>>>>;

impl Default for PublishedPrinters {
    fn default() -> Self {
        PublishedPrinters {
            set: Printers::default(),
            generation: u64::MAX,
        }
    }
}

impl PublishedPrinters {
    /// A handle for a worker thread.
    pub fn reader(&self) -> Printers {
        Arc::clone(&self.set)
    }

    /// Publishes the judge's printers if they changed since the last time.
    pub fn publish(&mut self, judge: &Judge) {
        let g = judge.detect().printers_generation();
        if g == self.generation {
            return;
        }
        self.generation = g;
        let set = judge.detect().printer_addresses().into_iter().collect();
        if let Ok(mut p) = self.set.write() {
            *p = Arc::new(set);
        }
    }
}

/// The set a worker reads for one batch of work.
pub fn snapshot(p: &Printers) -> Arc<HashSet<IpAddr>> {
    p.read().map(|s| Arc::clone(&s)).unwrap_or_default()
}
