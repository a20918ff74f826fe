//! Elastic Common Schema (ECS 8.x). ECS fields where ECS has them, read from the typed record;
//! everything else, the EVE body unchanged, under the custom `bjnp_watch.*` namespace (ECS
//! reserves no field there).

use super::summary::summary;
use super::{Fit, Observer};
use crate::event::{Body, Origin, Outcome, PrinterChange, Record};
use serde_json::{json, Map, Value};

pub const ECS_VERSION: &str = "8.11.0";

type Categories = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

/// event.kind, event.category, event.type: only values ECS allows, in the combinations its
/// categorisation table allows (checked by the tests).
fn categorisation(r: &Record) -> Categories {
    match &r.body {
        Body::Alert(_) => ("alert", &["network", "intrusion_detection"], &["allowed"]),
        Body::Flow(_) => ("event", &["network"], &["connection", "end"]),
        Body::Bjnp(_)
        | Body::Print(_)
        | Body::Anomaly(_)
        | Body::Lpd(_)
        | Body::Ipp(_)
        | Body::Tls(_)
        | Body::CupsBrowsed(_) => ("event", &["network"], &["protocol"]),
        Body::Printer(p) if p.change == PrinterChange::New => ("event", &["host"], &["info"]),
        Body::Printer(_) => ("event", &["host"], &["change"]),
        Body::Stats(_) => ("metric", &["host"], &["info"]),
        Body::Campaign(_) | Body::Summary(_) => ("event", &["intrusion_detection"], &["info"]),
        Body::Warning(_) | Body::Reload(_) => ("event", &["host"], &["info"]),
    }
}

fn action(r: &Record) -> String {
    match &r.body {
        Body::Alert(a) => a.evidence.outcome.map_or("alert", Outcome::name).to_owned(),
        Body::Flow(f) => format!("flow-{}", f.flow.reason.name()),
        Body::Bjnp(b) => b.command_name.name().to_owned(),
        Body::Print(_) => "print-job".into(),
        Body::Lpd(l) => format!("lpd-{}", l.command.name()),
        Body::Ipp(i) => i.operation.name().to_owned(),
        Body::Tls(_) => "tls-client-hello".into(),
        Body::CupsBrowsed(_) => "cups-browse-announcement".into(),
        Body::Printer(p) => format!("printer-{}", p.change.name()),
        Body::Anomaly(a) => a.event.name().to_owned(),
        Body::Warning(w) => w.code.name().to_owned(),
        Body::Campaign(c) => format!("campaign-{}", c.phase.name()),
        Body::Summary(_) => "alerts-over-budget".into(),
        Body::Stats(_) | Body::Reload(_) => r.event_type().name().to_owned(),
    }
}

/// The other doors' fields ECS has a place for: who printed (the LPD control file's user and
/// host, IPP's requesting-user-name) and the server name a TLS client asked for. Everything
/// else stays under `bjnp_watch.*`.
fn doors(r: &Record, fit: Fit, doc: &mut Value) {
    let text = |v: &Option<String>| {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| fit.s(s).to_owned())
    };
    let (user, client_host, server_name) = match &r.body {
        Body::Lpd(l) => match &l.control {
            Some(c) => (text(&c.user), text(&c.host), None),
            None => (None, None, None),
        },
        Body::Ipp(i) => (text(&i.requesting_user_name), None, None),
        Body::Tls(t) => (None, None, text(&t.sni)),
        _ => return,
    };
    let endpoints = r.endpoints.is_some();
    if let Some(u) = user {
        if endpoints {
            doc["source"]["user"] = json!({"name": u});
        }
        doc["related"]["user"] = json!([u]);
    }
    let mut hosts = vec![];
    if let Some(h) = client_host {
        if endpoints {
            doc["source"]["domain"] = json!(h);
        }
        hosts.push(h);
    }
    if let Some(h) = server_name {
        if endpoints {
            doc["destination"]["domain"] = json!(h);
        }
        hosts.push(h);
    }
    if !hosts.is_empty() {
        doc["related"]["hosts"] = json!(hosts);
    }
}

/// The ECS document of a record (its keys come sorted, as a JSON object's do here).
pub(super) fn document(r: &Record, obs: &Observer, fit: Fit) -> Value {
    let et = r.event_type();
    let (kind, category, types) = categorisation(r);
    let mut event = json!({
        "kind": kind,
        "category": category,
        "type": types,
        "action": action(r),
        "module": "bjnp_watch",
        "dataset": format!("bjnp_watch.{et}"),
    });
    let mut doc = json!({
        "@timestamp": r.timestamp,
        "ecs": {"version": ECS_VERSION},
        "message": summary(r, fit),
    });
    let mut observer = json!({
        "hostname": obs.hostname,
        "type": "ids",
        "vendor": "bjnp-watch",
        "product": "bjnp-watch",
        "version": obs.version,
    });
    if let Origin::Iface(i) = &r.origin {
        observer["ingress"] = json!({"interface": {"name": fit.s(i)}});
    }
    doc["observer"] = observer;

    if let Some(e) = &r.endpoints {
        let mut source = json!({"ip": e.src_ip, "port": e.src_port});
        let mut destination = json!({"ip": e.dest_ip, "port": e.dest_port});
        let mut network = json!({
            "transport": e.proto.name().to_ascii_lowercase(),
            "type": if e.src_ip.is_ipv6() { "ipv6" } else { "ipv4" },
            "community_id": fit.s(e.community_id().as_str()),
        });
        // "unknown" (a print stream whose language nobody could tell) says nothing: omitted
        if let Some(p) = e.app_proto.filter(|p| !p.is_unknown()) {
            network["protocol"] = p.name().into();
        }
        if let Some(outer) = e.vlan.first() {
            network["vlan"] = json!({"id": outer.to_string()});
        }
        if let Some(inner) = e.vlan.get(1) {
            network["inner"] = json!({"vlan": {"id": inner.to_string()}});
        }
        if let (Body::Flow(f), false) = (&r.body, fit.bare) {
            let f = &f.flow;
            source["packets"] = f.pkts_toserver.into();
            source["bytes"] = f.bytes_toserver.into();
            destination["packets"] = f.pkts_toclient.into();
            destination["bytes"] = f.bytes_toclient.into();
            network["packets"] = (f.pkts_toserver + f.pkts_toclient).into();
            network["bytes"] = (f.bytes_toserver + f.bytes_toclient).into();
            event["start"] = json!(f.start);
            event["end"] = json!(f.end);
        }
        let related = if e.src_ip == e.dest_ip {
            vec![e.src_ip]
        } else {
            vec![e.src_ip, e.dest_ip]
        };
        doc["related"] = json!({ "ip": related });
        doc["source"] = source;
        doc["destination"] = destination;
        doc["network"] = network;
    }
    match &r.body {
        Body::Alert(a) if !fit.bare => {
            let a_ = &a.alert;
            event["severity"] = a_.severity.into();
            doc["rule"] = json!({
                "id": a_.signature_id.to_string(),
                "name": fit.s(a_.signature),
                "category": fit.s(a_.category),
                "ruleset": "bjnp-watch",
                "version": a_.rev.to_string(),
            });
            match a.evidence.outcome {
                Some(Outcome::Established) => event["outcome"] = "success".into(),
                Some(_) => event["outcome"] = "failure".into(),
                None => {}
            }
        }
        // A printer record is about the printer: ECS's `host` is the host an event is about,
        // and `related.ip` is where an IP pivot looks. (`device.*` would be the device the
        // event was collected on: the sensor.) Its identity stays in `bjnp_watch.printer`.
        Body::Printer(p) if !fit.bare => {
            doc["host"] = json!({"ip": [p.ip]});
            doc["related"] = json!({"ip": [p.ip]});
        }
        Body::Warning(_) => doc["log"] = json!({"level": "warning"}),
        _ => {}
    }
    if !fit.bare {
        doors(r, fit, &mut doc);
    }
    doc["event"] = event;

    let mut custom: Map<String, Value> = fit.rest(r);
    custom.insert("event_type".into(), et.name().into());
    if let Origin::File { name, cnt } = &r.origin {
        let mut pcap = json!({"filename": fit.s(name)});
        if *cnt > 0 {
            pcap["cnt"] = (*cnt).into();
        }
        custom.insert("pcap".into(), pcap);
    }
    doc["bjnp_watch"] = Value::Object(custom);
    doc
}
