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
mod summary;

use crate::event::text::cap_str;
use crate::event::{BodyFields, Record};
use serde_json::{Map, Value};

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
    /// EVE names the sensor (`host`, Suricata's sensor-name).
    eve_host: bool,
}

/// Successively tighter caps for records that do not fit: (string bytes, list items).
const SHRINK_STEPS: [(usize, usize); 3] = [(128, 8), (32, 2), (8, 1)];

/// How much of a record a line has room for: every record is first written whole; one that
/// does not fit is written again with its strings and lists capped (and says so), and at last
/// with only its scalar fields.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fit {
    max_str: usize,
    max_items: usize,
    /// Fields of the body that are objects or lists left out.
    bare: bool,
}

impl Fit {
    const WHOLE: Fit = Fit {
        max_str: usize::MAX,
        max_items: usize::MAX,
        bare: false,
    };

    fn truncated(self) -> bool {
        self.max_str != usize::MAX
    }

    /// A string of the record, capped.
    fn s(self, s: &str) -> &str {
        cap_str(s, self.max_str)
    }

    /// The record's fields that a format has no name for, capped: the body's fields, the
    /// flow id, and `truncated` when the record was cut.
    fn rest(self, r: &Record) -> Map<String, Value> {
        let Ok(Value::Object(mut m)) = serde_json::to_value(BodyFields(&r.body)) else {
            unreachable!("a body is a map of fields")
        };
        if let Some(id) = r.flow_id {
            m.insert("flow_id".into(), id.into());
        }
        if self.truncated() {
            for v in m.values_mut() {
                shrink(v, self.max_str, self.max_items);
            }
            if self.bare {
                m.retain(|_, v| !v.is_object() && !v.is_array());
            }
            m.insert("truncated".into(), Value::Bool(true));
        }
        m
    }
}

impl Formatter {
    pub fn new(format: Format, observer: Observer) -> Self {
        Formatter {
            format,
            observer,
            max_line: MAX_LINE,
            eve_host: false,
        }
    }

    /// EVE records carry the observer's name as `host` (as Suricata's do when a sensor name is
    /// configured), so the records of a fleet can be told apart; ECS and CEF always carry it.
    pub fn with_eve_host(mut self) -> Self {
        self.eve_host = true;
        self
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
        match self.format {
            Format::Eve => self.render_eve(r, out),
            Format::Ecs | Format::Cef => {
                self.render_fit(r, Fit::WHOLE, out);
                for (max_str, max_items) in SHRINK_STEPS {
                    if out.len() <= self.max_line {
                        return;
                    }
                    let fit = Fit {
                        max_str,
                        max_items,
                        bare: false,
                    };
                    self.render_fit(r, fit, out);
                }
                if out.len() > self.max_line {
                    // Nothing left to cut but the body itself: keep what identifies the record.
                    let (max_str, max_items) = SHRINK_STEPS[SHRINK_STEPS.len() - 1];
                    let fit = Fit {
                        max_str,
                        max_items,
                        bare: true,
                    };
                    self.render_fit(r, fit, out);
                }
            }
        }
    }

    fn render_fit(&self, r: &Record, fit: Fit, out: &mut Vec<u8>) {
        out.clear();
        match self.format {
            Format::Ecs => json::write(out, &ecs::document(r, &self.observer, fit)),
            Format::Cef => cef::line(r, &self.observer, fit, out),
            Format::Eve => unreachable!("EVE is the record itself"),
        }
    }

    /// The sensor's name, when EVE records carry it.
    fn host(&self) -> Option<&str> {
        self.eve_host.then_some(self.observer.hostname.as_str())
    }

    /// The record as EVE, whole, appended to `out`.
    fn write_eve(&self, r: &Record, out: &mut Vec<u8>) {
        match self.host() {
            Some(h) => json::write(out, &r.with_host(h)),
            None => json::write(out, r),
        }
    }

    /// EVE is the record as it is; one that does not fit is cut as a tree of values (whose
    /// keys then come sorted).
    fn render_eve(&self, r: &Record, out: &mut Vec<u8>) {
        let host = self.host();
        self.write_eve(r, out);
        if out.len() <= self.max_line {
            return;
        }
        let mut v = serde_json::to_value(r).expect("records always serialise");
        if let Some(h) = host {
            v["host"] = Value::String(h.to_owned());
        }
        for (max_str, max_items) in SHRINK_STEPS {
            shrink(&mut v, max_str, max_items);
            v["truncated"] = Value::Bool(true);
            if let Some(h) = host {
                v["host"] = Value::String(h.to_owned());
            }
            out.clear();
            json::write(out, &v);
            if out.len() <= self.max_line {
                return;
            }
        }
        // Nothing left to cut but the body itself: keep what identifies the record.
        if let Value::Object(m) = &mut v {
            m.retain(|_, val| !val.is_object() && !val.is_array());
        }
        out.clear();
        json::write(out, &v);
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
