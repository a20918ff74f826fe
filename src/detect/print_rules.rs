//! The print-stream rules (12xx-14xx): a risky construct an analyzer found, judged with the
//! connection's rates (PIN guesses, NVRAM writes, exfiltration volume).

use super::rules::Rule;
use super::{About, Decision, Detector, Fire, FlowMarks};
use crate::analyze::Finding;
use crate::event::Evidence;
use crate::flow::Conn;
use crate::net::Timestamp;

impl Detector {
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
}
