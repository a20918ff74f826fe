//! A one-line human summary of a record (ECS `message`, CEF `Name` for records that are not
//! alerts), read from the typed record.

use super::Fit;
use crate::event::{Body, Record};
use std::fmt::Write;

/// `TCP 192.0.2.10:43001 -> [2001:db8::5]:8611`: an IPv6 address takes brackets before its
/// port, as in a URL.
fn ends(r: &Record) -> String {
    let Some(e) = &r.endpoints else {
        // a record with no endpoints names none
        return " :null -> :null".into();
    };
    let host = |ip: std::net::IpAddr| match ip {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    format!(
        "{} {}:{} -> {}:{}",
        e.proto.name(),
        host(e.src_ip),
        e.src_port,
        host(e.dest_ip),
        e.dest_port
    )
}

pub(super) fn summary(r: &Record, fit: Fit) -> String {
    let opt = |s: &Option<String>| fit.s(s.as_deref().unwrap_or("")).to_owned();
    let mut out = String::new();
    let _ = match &r.body {
        Body::Alert(a) => write!(out, "{}", fit.s(a.alert.signature)),
        Body::Flow(f) => write!(
            out,
            "flow {} {} ({})",
            ends(r),
            f.conn_state.name(),
            f.flow.reason.name()
        ),
        Body::Bjnp(b) => write!(
            out,
            "{} {} {} {}",
            b.magic.as_str(),
            b.command_name.name(),
            b.direction.name(),
            ends(r)
        ),
        Body::Print(p) => write!(out, "print job ({}) {}", p.language.name(), ends(r)),
        Body::Printer(p) => write!(
            out,
            "printer {} ({})",
            p.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            p.change.name()
        ),
        Body::Anomaly(a) => write!(out, "anomaly {} {}", a.event.name(), ends(r)),
        Body::Lpd(l) => write!(
            out,
            "lpd {} queue {} {}",
            l.command.name(),
            fit.s(&l.queue),
            ends(r)
        ),
        Body::Ipp(i) => write!(
            out,
            "ipp {} {} {}",
            i.operation.name(),
            opt(&i.status),
            ends(r)
        ),
        Body::Tls(t) => write!(out, "tls {} {}", opt(&t.sni), ends(r)),
        Body::CupsBrowsed(c) => write!(
            out,
            "cups browse announcement {} {}",
            fit.s(&c.uri),
            ends(r)
        ),
        Body::Warning(w) => write!(out, "{}", fit.s(&w.message)),
        Body::Stats(_) => write!(out, "stats"),
        Body::Campaign(c) => write!(
            out,
            "campaign {} on {}/{}: {} failed attempts from ~{} sources",
            c.phase.name(),
            c.proto.name().to_ascii_lowercase(),
            c.port,
            c.attempts,
            c.sources.estimate
        ),
        Body::Summary(_) => write!(out, "alerts held back by their budget"),
        Body::Reload(_) => write!(out, "{}", r.event_type().name()),
    };
    out
}
