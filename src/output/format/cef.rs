//! ArcSight Common Event Format (CEF 0):
//! `CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|key=value key=value ...`
//!
//! Escaping (CEF implementation standard): in the header `\` and `|` are escaped; in extension
//! values `\` and `=` are escaped and CR/LF become `\r`/`\n`. Other control characters (an ANSI
//! escape from a device ID, say) have no CEF escape and are replaced with U+FFFD so nothing
//! reaches a terminal or a parser raw. Fields with no CEF key travel as one JSON object in `cs3`.

use super::summary::summary;
use super::{Fit, Observer};
use crate::event::{Body, Origin, Record};
use serde_json::Value;
use std::io::Write;

/// Header field: `\` → `\\`, `|` → `\|`; line breaks and other controls are not allowed at all.
pub fn escape_header(s: &str, out: &mut Vec<u8>) {
    for c in s.chars() {
        match c {
            '\\' => out.extend_from_slice(b"\\\\"),
            '|' => out.extend_from_slice(b"\\|"),
            '\r' | '\n' | '\t' => out.push(b' '),
            c if c.is_control() => push_char(out, '\u{fffd}'),
            c => push_char(out, c),
        }
    }
}

/// Extension value: `\` → `\\`, `=` → `\=`, CR → `\r`, LF → `\n`.
pub fn escape_value(s: &str, out: &mut Vec<u8>) {
    for c in s.chars() {
        match c {
            '\\' => out.extend_from_slice(b"\\\\"),
            '=' => out.extend_from_slice(b"\\="),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.push(b' '),
            c if c.is_control() => push_char(out, '\u{fffd}'),
            c => push_char(out, c),
        }
    }
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut b = [0; 4];
    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
}

/// CEF severity 0-10 (10 worst) from the alert severity 1-4 (1 worst).
fn severity(r: &Record) -> u8 {
    match &r.body {
        Body::Alert(a) => match a.alert.severity {
            1 => 10,
            2 => 8,
            3 => 5,
            _ => 3,
        },
        Body::Warning(_) => 5,
        Body::Anomaly(_) => 3,
        _ => 1,
    }
}

struct Ext<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    fit: Fit,
}

impl Ext<'_> {
    fn put(&mut self, key: &str, value: &str) {
        if !self.first {
            self.out.push(b' ');
        }
        self.first = false;
        self.out.extend_from_slice(key.as_bytes());
        self.out.push(b'=');
        escape_value(value, self.out);
    }

    /// A string of the record (capped when the record is cut to fit).
    fn text(&mut self, key: &str, value: &str) {
        let v = self.fit.s(value);
        self.put(key, v);
    }

    fn opt(&mut self, key: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.text(key, v);
        }
    }

    fn num(&mut self, key: &str, n: impl std::fmt::Display) {
        self.put(key, &n.to_string());
    }
}

/// The CEF line of a record.
pub(super) fn line(r: &Record, obs: &Observer, fit: Fit, out: &mut Vec<u8>) {
    let et = r.event_type();
    out.extend_from_slice(b"CEF:0|bjnp-watch|bjnp-watch|");
    escape_header(obs.version, out);
    out.push(b'|');
    match &r.body {
        Body::Alert(a) => {
            escape_header(&a.alert.signature_id.to_string(), out);
            out.push(b'|');
            escape_header(fit.s(a.alert.signature), out);
        }
        _ => {
            escape_header(et.name(), out);
            out.push(b'|');
            escape_header(&summary(r, fit), out);
        }
    }
    let _ = write!(out, "|{}|", severity(r));

    let mut x = Ext {
        out,
        first: true,
        fit,
    };
    x.num("rt", r.timestamp.0 / 1_000_000);
    x.put("dvchost", &obs.hostname);
    if let Some(e) = &r.endpoints {
        // `src`/`dst` are IPv4 fields; IPv6 addresses go in the labelled IPv6 custom fields.
        if e.src_ip.is_ipv6() {
            x.num("c6a2", e.src_ip);
            x.put("c6a2Label", "Source IPv6 Address");
            x.num("c6a3", e.dest_ip);
            x.put("c6a3Label", "Destination IPv6 Address");
        } else {
            x.num("src", e.src_ip);
            x.num("dst", e.dest_ip);
        }
        x.num("spt", e.src_port);
        x.num("dpt", e.dest_port);
        x.put("proto", e.proto.name());
        if let Some(a) = e.app_proto {
            x.put("app", a.name());
        }
        x.text("cs1", e.community_id().as_str());
        x.put("cs1Label", "communityId");
        if !e.vlan.is_empty() {
            let list: Vec<String> = e.vlan.iter().map(u16::to_string).collect();
            x.put("cs2", &list.join(","));
            x.put("cs2Label", "vlan");
        }
    }
    if let Some(id) = r.flow_id {
        x.num("externalId", id);
    }
    match &r.origin {
        Origin::Iface(i) => x.text("deviceInboundInterface", i),
        Origin::File { name, cnt } => {
            x.text("cs5", name);
            x.put("cs5Label", "pcapFile");
            if *cnt > 0 {
                x.num("cn1", cnt);
                x.put("cn1Label", "pcapCnt");
            }
        }
        Origin::None => {}
    }
    match &r.body {
        Body::Alert(a) => {
            x.text("act", a.alert.action);
            x.text("cat", a.alert.category);
            // CEF's `outcome` is success or failure; the attempt's own verdict has a named field
            if let Some(o) = a.evidence.outcome {
                x.put("outcome", if o.reached() { "success" } else { "failure" });
                x.put("cs4", o.name());
                x.put("cs4Label", "attemptOutcome");
            }
            // `msg`: the reason, else the command, else the policy, the outcome, the state
            let ev = &a.evidence;
            let msg = ev
                .reason
                .as_deref()
                .or(ev.command.as_deref())
                .or(ev.policy.as_deref())
                .or(ev.outcome.map(|o| o.name()))
                .or(ev.conn_state.map(|c| c.name()))
                .unwrap_or("");
            if !msg.is_empty() {
                x.text("msg", msg);
            }
        }
        _ => x.put("cat", et.name()),
    }
    // the other doors: who printed, what was asked for, which server name
    match &r.body {
        Body::Lpd(l) => {
            if let Some(c) = &l.control {
                x.opt("suser", &c.user);
                x.opt("shost", &c.host);
            }
        }
        Body::Ipp(i) => {
            x.opt("suser", &i.requesting_user_name);
            x.opt("request", &i.printer_uri);
            x.text("requestMethod", &i.http.method);
            x.opt("requestClientApplication", &i.http.user_agent);
        }
        Body::Tls(t) => x.opt("dhost", &t.sni),
        Body::CupsBrowsed(c) => x.text("request", &c.uri),
        // bytesIn/bytesOut are relative to the source: in = what the client sent.
        Body::Flow(f) if !fit.bare => {
            x.num("in", f.flow.bytes_toserver);
            x.num("out", f.flow.bytes_toclient);
        }
        _ => {}
    }
    // flow_id has a CEF key of its own (externalId)
    let mut rest = fit.rest(r);
    rest.remove("flow_id");
    if !rest.is_empty() {
        let mut json = Vec::new();
        super::json::write(&mut json, &Value::Object(rest));
        x.put("cs3", &String::from_utf8_lossy(&json));
        x.put("cs3Label", et.name());
    }
}
