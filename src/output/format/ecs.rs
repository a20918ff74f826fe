//! Elastic Common Schema (ECS 8.x). ECS fields where ECS has them; everything else, the EVE
//! body unchanged, under the custom `bjnp_watch.*` namespace (ECS reserves no field there).

use super::{summary, Observer, ENVELOPE};
use serde_json::{json, Map, Value};

pub const ECS_VERSION: &str = "8.11.0";

/// event.kind, event.category, event.type: only values ECS allows, in the combinations its
/// categorisation table allows (checked by the tests).
fn categorisation(
    eve: &Value,
) -> (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
) {
    match eve["event_type"].as_str().unwrap_or("") {
        "alert" => ("alert", &["network", "intrusion_detection"], &["allowed"]),
        "flow" => ("event", &["network"], &["connection", "end"]),
        "bjnp" | "print" | "anomaly" | "lpd" | "ipp" | "tls" | "cups_browsed" => {
            ("event", &["network"], &["protocol"])
        }
        "printer" => match eve["printer"]["change"].as_str() {
            Some("new") => ("event", &["host"], &["info"]),
            _ => ("event", &["host"], &["change"]),
        },
        "stats" => ("metric", &["host"], &["info"]),
        "campaign" | "summary" => ("event", &["intrusion_detection"], &["info"]),
        _ => ("event", &["host"], &["info"]),
    }
}

fn action(eve: &Value) -> String {
    let s = |v: &Value| v.as_str().map(str::to_owned);
    match eve["event_type"].as_str().unwrap_or("") {
        "alert" => s(&eve["evidence"]["outcome"]).unwrap_or_else(|| "alert".into()),
        "flow" => format!("flow-{}", eve["flow"]["reason"].as_str().unwrap_or("end")),
        "bjnp" => s(&eve["bjnp"]["command_name"]).unwrap_or_else(|| "bjnp".into()),
        "print" => "print-job".into(),
        "lpd" => format!(
            "lpd-{}",
            eve["lpd"]["command"].as_str().unwrap_or("command")
        ),
        "ipp" => s(&eve["ipp"]["operation"]).unwrap_or_else(|| "ipp".into()),
        "tls" => "tls-client-hello".into(),
        "cups_browsed" => "cups-browse-announcement".into(),
        "printer" => format!(
            "printer-{}",
            eve["printer"]["change"].as_str().unwrap_or("seen")
        ),
        "anomaly" => s(&eve["anomaly"]["event"]).unwrap_or_else(|| "anomaly".into()),
        "warning" => s(&eve["warning"]["code"]).unwrap_or_else(|| "warning".into()),
        "campaign" => format!(
            "campaign-{}",
            eve["campaign"]["phase"].as_str().unwrap_or("update")
        ),
        "summary" => "alerts-over-budget".into(),
        other => other.to_owned(),
    }
}

/// The other doors' fields ECS has a place for: who printed (the LPD control file's user and
/// host, IPP's requesting-user-name) and the server name a TLS client asked for. Everything
/// else stays under `bjnp_watch.*`.
fn doors(eve: &Value, doc: &mut Value) {
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let (user, client_host, server_name) = match eve["event_type"].as_str().unwrap_or("") {
        "lpd" => (
            text(&eve["lpd"]["control"]["user"]),
            text(&eve["lpd"]["control"]["host"]),
            None,
        ),
        "ipp" => (text(&eve["ipp"]["requesting_user_name"]), None, None),
        "tls" => (None, None, text(&eve["tls"]["sni"])),
        _ => return,
    };
    if let Some(u) = user {
        if doc.get("source").is_some() {
            doc["source"]["user"] = json!({"name": u});
        }
        doc["related"]["user"] = json!([u]);
    }
    let mut hosts = vec![];
    if let Some(h) = client_host {
        if doc.get("source").is_some() {
            doc["source"]["domain"] = json!(h);
        }
        hosts.push(h);
    }
    if let Some(h) = server_name {
        if doc.get("destination").is_some() {
            doc["destination"]["domain"] = json!(h);
        }
        hosts.push(h);
    }
    if !hosts.is_empty() {
        doc["related"]["hosts"] = json!(hosts);
    }
}

pub fn from_eve(eve: &Value, obs: &Observer) -> Value {
    let et = eve["event_type"].as_str().unwrap_or("");
    let (kind, category, types) = categorisation(eve);
    let mut event = json!({
        "kind": kind,
        "category": category,
        "type": types,
        "action": action(eve),
        "module": "bjnp_watch",
        "dataset": format!("bjnp_watch.{et}"),
    });
    let mut doc = json!({
        "@timestamp": eve["timestamp"],
        "ecs": {"version": ECS_VERSION},
        "message": summary(eve),
    });
    let mut observer = json!({
        "hostname": obs.hostname,
        "type": "ids",
        "vendor": "bjnp-watch",
        "product": "bjnp-watch",
        "version": obs.version,
    });
    if let Some(i) = eve.get("in_iface") {
        observer["ingress"] = json!({"interface": {"name": i}});
    }
    doc["observer"] = observer;

    if let (Some(src), Some(dst)) = (eve.get("src_ip"), eve.get("dest_ip")) {
        let mut source = json!({"ip": src, "port": eve["src_port"]});
        let mut destination = json!({"ip": dst, "port": eve["dest_port"]});
        let v6 = src.as_str().is_some_and(|s| s.contains(':'));
        let mut network = json!({
            "transport": eve["proto"].as_str().unwrap_or("").to_ascii_lowercase(),
            "type": if v6 { "ipv6" } else { "ipv4" },
            "community_id": eve["community_id"],
        });
        // "unknown" (a print stream whose language nobody could tell) says nothing: omitted
        if let Some(p) = eve
            .get("app_proto")
            .filter(|p| p.as_str() != Some("unknown"))
        {
            network["protocol"] = p.clone();
        }
        if let Some(Value::Array(tags)) = eve.get("vlan") {
            if let Some(outer) = tags.first() {
                network["vlan"] = json!({"id": outer.to_string()});
            }
            if let Some(inner) = tags.get(1) {
                network["inner"] = json!({"vlan": {"id": inner.to_string()}});
            }
        }
        if let Some(f) = eve.get("flow") {
            let n = |k: &str| f[k].as_u64().unwrap_or(0);
            source["packets"] = n("pkts_toserver").into();
            source["bytes"] = n("bytes_toserver").into();
            destination["packets"] = n("pkts_toclient").into();
            destination["bytes"] = n("bytes_toclient").into();
            network["packets"] = (n("pkts_toserver") + n("pkts_toclient")).into();
            network["bytes"] = (n("bytes_toserver") + n("bytes_toclient")).into();
            event["start"] = f["start"].clone();
            event["end"] = f["end"].clone();
        }
        doc["related"] = json!({"ip": if src == dst { vec![src.clone()] } else { vec![src.clone(), dst.clone()] }});
        doc["source"] = source;
        doc["destination"] = destination;
        doc["network"] = network;
    }
    if let Some(a) = eve.get("alert") {
        event["severity"] = a["severity"].clone();
        doc["rule"] = json!({
            "id": a["signature_id"].to_string(),
            "name": a["signature"],
            "category": a["category"],
            "ruleset": "bjnp-watch",
            "version": a["rev"].to_string(),
        });
        match eve["evidence"]["outcome"].as_str() {
            Some("established") => event["outcome"] = "success".into(),
            Some(_) => event["outcome"] = "failure".into(),
            None => {}
        }
    }
    // A printer record is about the printer: ECS's `host` is the host an event is about, and
    // `related.ip` is where an IP pivot looks. (`device.*` would be the device the event was
    // collected on: the sensor.) Its identity stays in `bjnp_watch.printer`.
    if let Some(ip) = eve.get("printer").and_then(|p| p.get("ip")) {
        doc["host"] = json!({"ip": [ip]});
        doc["related"] = json!({"ip": [ip]});
    }
    if et == "warning" {
        doc["log"] = json!({"level": "warning"});
    }
    doors(eve, &mut doc);
    doc["event"] = event;

    let mut custom = Map::new();
    custom.insert("event_type".into(), et.into());
    if let Some(f) = eve.get("pcap_filename") {
        let mut pcap = json!({"filename": f});
        if let Some(c) = eve.get("pcap_cnt") {
            pcap["cnt"] = c.clone();
        }
        custom.insert("pcap".into(), pcap);
    }
    if let Value::Object(m) = eve {
        for (k, v) in m {
            if !ENVELOPE.contains(&k.as_str()) {
                custom.insert(k.clone(), v.clone());
            }
        }
    }
    doc["bjnp_watch"] = Value::Object(custom);
    doc
}
