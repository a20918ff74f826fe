//! Record formats: EVE JSON (the data model as is), ECS JSON and ArcSight CEF. Each renders one
//! record into one line of bytes without the newline; the sink adds framing.
//!
//! Every line stays under [`MAX_LINE`]: syslog receivers cut or drop longer messages (rsyslog's
//! default limit is 8 KiB). Wire strings are already capped when they enter a record; the few
//! records that can still grow past the limit (a print job's command list, a scan's targets)
//! are re-rendered with tighter caps and marked `"truncated": true`.

mod cef;
mod ecs;
pub mod json;

use crate::event::{Record, Timestamp};
use serde_json::Value;

/// EVE's envelope keys (time, type, endpoints, origin): ECS and CEF map each to fields of
/// their own; the other keys of a record travel unchanged in the format's custom container.
pub(crate) const ENVELOPE: [&str; 13] = [
    "timestamp",
    "event_type",
    "src_ip",
    "src_port",
    "dest_ip",
    "dest_port",
    "proto",
    "app_proto",
    "vlan",
    "community_id",
    "in_iface",
    "pcap_filename",
    "pcap_cnt",
];

/// The largest line any format writes: rsyslog's default message size (8096) less room for
/// the RFC 5424 header and framing.
pub const MAX_LINE: usize = 7680;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Suricata EVE-style JSON (the records as the README describes them).
    Eve,
    /// Elastic Common Schema JSON.
    Ecs,
    /// ArcSight Common Event Format.
    Cef,
}

/// Who is writing: ECS `observer.*`, CEF's device fields.
#[derive(Clone, Debug)]
pub struct Observer {
    pub hostname: String,
    pub version: &'static str,
}

impl Observer {
    pub fn local() -> Self {
        let hostname = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default();
        Observer {
            hostname: printable_ascii(&hostname, 255),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// Printable ASCII only, at most `max` bytes: the syslog header fields (RFC 5424 PRINTUSASCII),
/// CEF device fields. Empty becomes `-` (RFC 5424's NILVALUE).
pub fn printable_ascii(s: &str, max: usize) -> String {
    let out: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if out.is_empty() {
        "-".into()
    } else {
        out
    }
}

#[derive(Clone)]
pub struct Formatter {
    format: Format,
    observer: Observer,
    max_line: usize,
    /// EVE's `host` (Suricata's sensor-name): `"host":"NAME",`, ready to insert.
    eve_host: Option<Vec<u8>>,
}

/// Successively tighter caps for records that do not fit: (string bytes, list items).
const SHRINK_STEPS: [(usize, usize); 3] = [(128, 8), (32, 2), (8, 1)];

impl Formatter {
    pub fn new(format: Format, observer: Observer) -> Self {
        Formatter {
            format,
            observer,
            max_line: MAX_LINE,
            eve_host: None,
        }
    }

    /// EVE records carry the observer's name as `host` (as Suricata's do when a sensor name is
    /// configured), so the records of a fleet can be told apart; ECS and CEF always carry it.
    pub fn with_eve_host(mut self) -> Self {
        let mut field = b"\"host\":".to_vec();
        json::write(&mut field, &self.observer.hostname);
        field.push(b',');
        self.eve_host = Some(field);
        self
    }

    /// Puts `host` after the timestamp, the first field of every record.
    fn add_host(&self, out: &mut Vec<u8>) {
        if let Some(h) = &self.eve_host {
            if let Some(comma) = out.iter().position(|&b| b == b',') {
                out.splice(comma + 1..comma + 1, h.iter().copied());
            }
        }
    }

    /// A smaller limit (tests of the shrinking path).
    pub fn with_max_line(mut self, max: usize) -> Self {
        self.max_line = max.max(256);
        self
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Renders `r` into `out` (cleared first). Always succeeds and always fits the limit.
    pub fn render(&self, r: &Record, out: &mut Vec<u8>) {
        out.clear();
        if self.format == Format::Eve {
            // The common case writes straight from the record, no intermediate tree.
            json::write(out, r);
            self.add_host(out);
            if out.len() <= self.max_line {
                return;
            }
        }
        let mut v = serde_json::to_value(r).expect("records always serialise");
        let ts = r.timestamp;
        self.render_value(ts, &v, out);
        for (max_str, max_items) in SHRINK_STEPS {
            if out.len() <= self.max_line {
                return;
            }
            shrink(&mut v, max_str, max_items);
            v["truncated"] = Value::Bool(true);
            self.render_value(ts, &v, out);
        }
        if out.len() > self.max_line {
            // Nothing left to cut but the body itself: keep what identifies the record.
            let mut keep = serde_json::Map::new();
            if let Value::Object(m) = &v {
                for (k, val) in m {
                    if !val.is_object() && !val.is_array() {
                        keep.insert(k.clone(), val.clone());
                    }
                }
            }
            keep.insert("truncated".into(), Value::Bool(true));
            self.render_value(ts, &Value::Object(keep), out);
        }
    }

    fn render_value(&self, ts: Timestamp, eve: &Value, out: &mut Vec<u8>) {
        out.clear();
        match self.format {
            Format::Eve if self.eve_host.is_some() => {
                // a tree's keys are sorted: `host` goes in as a key, not after the first comma
                let mut v = eve.clone();
                v["host"] = Value::String(self.observer.hostname.clone());
                json::write(out, &v);
            }
            Format::Eve => json::write(out, eve),
            Format::Ecs => json::write(out, &ecs::from_eve(eve, &self.observer)),
            Format::Cef => cef::from_eve(ts, eve, &self.observer, out),
        }
    }
}

/// Caps every string at `max_str` bytes and every list at `max_items`, recursively.
fn shrink(v: &mut Value, max_str: usize, max_items: usize) {
    match v {
        Value::String(s) => {
            let cut = crate::event::text::cap_str(s, max_str).len();
            s.truncate(cut);
        }
        Value::Array(a) => {
            a.truncate(max_items);
            a.iter_mut().for_each(|x| shrink(x, max_str, max_items));
        }
        Value::Object(m) => m.values_mut().for_each(|x| shrink(x, max_str, max_items)),
        _ => {}
    }
}

/// Syslog severity (RFC 5424 §6.2.1) of a record: alerts by rule severity, everything else
/// informational, the sensor's own warnings as warnings.
pub fn syslog_severity(r: &Record) -> u8 {
    use crate::event::Body;
    match &r.body {
        Body::Alert(a) => match a.alert.severity {
            1 => 2, // critical
            2 => 3, // error
            3 => 4, // warning
            _ => 5, // notice
        },
        Body::Warning(_) => 4,
        _ => 6,
    }
}

/// A one-line human summary (ECS `message`, CEF `Name` for non-alerts).
fn summary(eve: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
    let et = eve["event_type"].as_str().unwrap_or("");
    // An IPv6 address takes brackets before its port, as in a URL.
    let host = |v: &Value| {
        let a = s(v);
        if a.contains(':') {
            format!("[{a}]")
        } else {
            a
        }
    };
    let ends = || {
        format!(
            "{} {}:{} -> {}:{}",
            s(&eve["proto"]),
            host(&eve["src_ip"]),
            eve["src_port"],
            host(&eve["dest_ip"]),
            eve["dest_port"]
        )
    };
    match et {
        "alert" => s(&eve["alert"]["signature"]),
        "flow" => format!(
            "flow {} {} ({})",
            ends(),
            s(&eve["conn_state"]),
            s(&eve["flow"]["reason"])
        ),
        "bjnp" => format!(
            "{} {} {} {}",
            s(&eve["bjnp"]["magic"]),
            s(&eve["bjnp"]["command_name"]),
            s(&eve["bjnp"]["direction"]),
            ends()
        ),
        "print" => format!("print job ({}) {}", s(&eve["print"]["language"]), ends()),
        "printer" => format!(
            "printer {} ({})",
            s(&eve["printer"]["ip"]),
            s(&eve["printer"]["change"])
        ),
        "anomaly" => format!("anomaly {} {}", s(&eve["anomaly"]["event"]), ends()),
        "lpd" => format!(
            "lpd {} queue {} {}",
            s(&eve["lpd"]["command"]),
            s(&eve["lpd"]["queue"]),
            ends()
        ),
        "ipp" => format!(
            "ipp {} {} {}",
            s(&eve["ipp"]["operation"]),
            s(&eve["ipp"]["status"]),
            ends()
        ),
        "tls" => format!("tls {} {}", s(&eve["tls"]["sni"]), ends()),
        "cups_browsed" => format!(
            "cups browse announcement {} {}",
            s(&eve["cups_browsed"]["uri"]),
            ends()
        ),
        "warning" => s(&eve["warning"]["message"]),
        "stats" => "stats".into(),
        "campaign" => format!(
            "campaign {} on {}/{}: {} failed attempts from ~{} sources",
            s(&eve["campaign"]["phase"]),
            s(&eve["campaign"]["proto"]).to_ascii_lowercase(),
            eve["campaign"]["port"],
            eve["campaign"]["attempts"],
            eve["campaign"]["sources"]["estimate"]
        ),
        "summary" => "alerts held back by their budget".into(),
        other => other.to_owned(),
    }
}
