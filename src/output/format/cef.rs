//! ArcSight Common Event Format (CEF 0):
//! `CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|key=value key=value ...`
//!
//! Escaping (CEF implementation standard): in the header `\` and `|` are escaped; in extension
//! values `\` and `=` are escaped and CR/LF become `\r`/`\n`. Other control characters (an ANSI
//! escape from a device ID, say) have no CEF escape and are replaced with U+FFFD so nothing
//! reaches a terminal or a parser raw. Fields with no CEF key travel as one JSON object in `cs3`.

use super::{summary, Observer, ENVELOPE};
use crate::event::Timestamp;
use serde_json::{Map, Value};
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
fn severity(eve: &Value) -> u8 {
    match eve["event_type"].as_str() {
        Some("alert") => match eve["alert"]["severity"].as_u64() {
            Some(1) => 10,
            Some(2) => 8,
            Some(3) => 5,
            _ => 3,
        },
        Some("warning") => 5,
        Some("anomaly") => 3,
        _ => 1,
    }
}

struct Ext<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
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
    fn put_json(&mut self, key: &str, v: &Value) {
        match v {
            Value::Null => {}
            Value::String(s) => self.put(key, s),
            other => self.put(key, &other.to_string()),
        }
    }
}

pub fn from_eve(ts: Timestamp, eve: &Value, obs: &Observer, out: &mut Vec<u8>) {
    let et = eve["event_type"].as_str().unwrap_or("");
    out.extend_from_slice(b"CEF:0|bjnp-watch|bjnp-watch|");
    escape_header(obs.version, out);
    out.push(b'|');
    let (class, name) = match eve.get("alert") {
        Some(a) => (
            a["signature_id"].to_string(),
            a["signature"].as_str().unwrap_or("").to_owned(),
        ),
        None => (et.to_owned(), summary(eve)),
    };
    escape_header(&class, out);
    out.push(b'|');
    escape_header(&name, out);
    let _ = write!(out, "|{}|", severity(eve));

    let mut x = Ext { out, first: true };
    x.put("rt", &(ts.0 / 1_000_000).to_string());
    x.put("dvchost", &obs.hostname);
    if let (Some(src), Some(dst)) = (eve["src_ip"].as_str(), eve["dest_ip"].as_str()) {
        // `src`/`dst` are IPv4 fields; IPv6 addresses go in the labelled IPv6 custom fields.
        if src.contains(':') {
            x.put("c6a2", src);
            x.put("c6a2Label", "Source IPv6 Address");
            x.put("c6a3", dst);
            x.put("c6a3Label", "Destination IPv6 Address");
        } else {
            x.put("src", src);
            x.put("dst", dst);
        }
        x.put_json("spt", &eve["src_port"]);
        x.put_json("dpt", &eve["dest_port"]);
        x.put_json("proto", &eve["proto"]);
        x.put_json("app", &eve["app_proto"]);
        x.put_json("cs1", &eve["community_id"]);
        x.put("cs1Label", "communityId");
    }
    if let Some(Value::Array(tags)) = eve.get("vlan") {
        let list: Vec<String> = tags.iter().map(Value::to_string).collect();
        x.put("cs2", &list.join(","));
        x.put("cs2Label", "vlan");
    }
    x.put_json("externalId", &eve["flow_id"]);
    x.put_json("deviceInboundInterface", &eve["in_iface"]);
    if let Some(f) = eve.get("pcap_filename") {
        x.put_json("cs5", f);
        x.put("cs5Label", "pcapFile");
        if let Some(c) = eve.get("pcap_cnt") {
            x.put_json("cn1", c);
            x.put("cn1Label", "pcapCnt");
        }
    }
    if let Some(a) = eve.get("alert") {
        x.put_json("act", &a["action"]);
        x.put_json("cat", &a["category"]);
        // CEF's `outcome` is success or failure; the attempt's own verdict has a named field
        if let Some(o) = eve["evidence"]["outcome"].as_str() {
            let reached = matches!(o, "established" | "half_open");
            x.put("outcome", if reached { "success" } else { "failure" });
            x.put("cs4", o);
            x.put("cs4Label", "attemptOutcome");
        }
        let msg = summary_of_evidence(eve);
        if !msg.is_empty() {
            x.put("msg", &msg);
        }
    } else {
        x.put("cat", et);
    }
    // the other doors: who printed, what was asked for, which server name
    match et {
        "lpd" => {
            x.put_json("suser", &eve["lpd"]["control"]["user"]);
            x.put_json("shost", &eve["lpd"]["control"]["host"]);
        }
        "ipp" => {
            x.put_json("suser", &eve["ipp"]["requesting_user_name"]);
            x.put_json("request", &eve["ipp"]["printer_uri"]);
            x.put_json("requestMethod", &eve["ipp"]["http"]["method"]);
            x.put_json(
                "requestClientApplication",
                &eve["ipp"]["http"]["user_agent"],
            );
        }
        "tls" => x.put_json("dhost", &eve["tls"]["sni"]),
        "cups_browsed" => x.put_json("request", &eve["cups_browsed"]["uri"]),
        _ => {}
    }
    if let Some(f) = eve.get("flow") {
        // bytesIn/bytesOut are relative to the source: in = what the client sent.
        x.put_json("in", &f["bytes_toserver"]);
        x.put_json("out", &f["bytes_toclient"]);
    }
    let mut rest = Map::new();
    if let Value::Object(m) = eve {
        for (k, v) in m {
            // flow_id has a CEF key too (externalId)
            if !ENVELOPE.contains(&k.as_str()) && k != "flow_id" {
                rest.insert(k.clone(), v.clone());
            }
        }
    }
    if !rest.is_empty() {
        let mut json = Vec::new();
        super::json::write(&mut json, &Value::Object(rest));
        x.put("cs3", &String::from_utf8_lossy(&json));
        x.put("cs3Label", et);
    }
}

/// `msg` of an alert: the reason, else the command, else the outcome.
fn summary_of_evidence(eve: &Value) -> String {
    let ev = &eve["evidence"];
    ["reason", "command", "policy", "outcome", "conn_state"]
        .iter()
        .find_map(|k| ev[*k].as_str())
        .unwrap_or("")
        .to_owned()
}
