//! Output formats: every sample through `--format ecs` and `--format cef` obeys the format's
//! rules (ECS field names, allowed categorisation values and types; CEF header and extension
//! grammar), the three formats carry the same records, and hostile strings come out capped,
//! escaped and on one line in each.

#[path = "../common/mod.rs"]
mod common;
use bjnp_watch::event::{
    Alert, AlertInfo, AppProto, Body, DeviceId, Endpoints, Evidence, Origin, Print, Printer,
    Record, Timestamp,
};
use bjnp_watch::output::format::{Format, Formatter, Observer, MAX_LINE};
use bjnp_watch::proto::pdl::Language;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The ECS 8.11.0 field reference, as Elastic publishes it (`generated/csv/fields.csv` of
/// elastic/ecs at tag v8.11.0, Apache-2.0: tests/data/ecs/), cut to the field sets a record can
/// touch: field name → ECS data type. Anything else must live under `bjnp_watch.`.
fn ecs_fields() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root().join("tests/data/ecs/fields-8.11.0.csv")).unwrap();
    let mut m = BTreeMap::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        m.insert(cols[0].to_owned(), cols[1].to_owned());
    }
    assert!(m.len() > 200, "the vendored ECS field list is there");
    m
}

const ECS_KINDS: &[&str] = &[
    "alert",
    "asset",
    "enrichment",
    "event",
    "metric",
    "state",
    "pipeline_error",
    "signal",
];

/// ECS categorisation: the event.type values each event.category allows.
fn allowed_types(category: &str) -> &'static [&'static str] {
    match category {
        "network" => &[
            "access",
            "allowed",
            "connection",
            "denied",
            "end",
            "info",
            "protocol",
            "start",
        ],
        "intrusion_detection" => &["allowed", "denied", "info"],
        "host" => &["access", "change", "end", "info", "start"],
        other => panic!("category {other} is not one bjnp-watch should use"),
    }
}

fn leaves(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&p, x, out);
            }
        }
        other => out.push((prefix.to_owned(), other.clone())),
    }
}

fn check_type(path: &str, ty: &str, v: &Value) {
    let scalars: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        x => vec![x],
    };
    for s in scalars {
        match ty {
            "ip" => {
                let t = s
                    .as_str()
                    .unwrap_or_else(|| panic!("{path}: not a string: {s}"));
                t.parse::<std::net::IpAddr>()
                    .unwrap_or_else(|_| panic!("{path}: not an IP: {t}"));
            }
            "long" => assert!(s.is_u64() || s.is_i64(), "{path}: not an integer: {s}"),
            "keyword" | "match_only_text" | "text" | "wildcard" | "constant_keyword" => {
                assert!(s.is_string(), "{path}: {ty} must be a string: {s}")
            }
            "date" => {
                let t = s.as_str().unwrap();
                assert!(
                    t.len() == 27 && t.ends_with('Z') && &t[10..11] == "T",
                    "{path}: not RFC 3339: {t}"
                );
            }
            other => panic!("{path}: ECS type {other} is not checked here"),
        }
    }
}

fn ecs_docs(sample_name: &str) -> Vec<Value> {
    let r = run(&["-r", &sample(sample_name), "--format", "ecs", "-q"]);
    assert_eq!(r.code, 0, "{sample_name}: {}", r.stderr);
    r.records()
}

#[test]
fn ecs_documents_follow_the_schema() {
    let known = ecs_fields();
    let mut kinds_seen = BTreeSet::new();
    for name in samples() {
        for doc in ecs_docs(&name) {
            let mut fields = vec![];
            leaves("", &doc, &mut fields);
            for (path, v) in &fields {
                if let Some(rest) = path.strip_prefix("bjnp_watch.") {
                    // custom fields still follow ECS naming: lower case, digits, underscores
                    for seg in rest.split('.') {
                        assert!(
                            !seg.is_empty()
                                && seg.chars().all(|c| c.is_ascii_lowercase()
                                    || c.is_ascii_digit()
                                    || c == '_'),
                            "{name}: custom field {path} breaks ECS naming"
                        );
                    }
                    continue;
                }
                let ty = known
                    .get(path.as_str())
                    .unwrap_or_else(|| panic!("{name}: {path} is neither ECS nor bjnp_watch.*"));
                check_type(path, ty, v);
                // device.* is the device the event was collected on (the sensor), never a printer
                assert!(!path.starts_with("device."), "{name}: {path}");
            }
            let kind = doc["event"]["kind"].as_str().unwrap();
            assert!(ECS_KINDS.contains(&kind), "{kind}");
            kinds_seen.insert(kind.to_owned());
            let cats = doc["event"]["category"].as_array().unwrap();
            let types = doc["event"]["type"].as_array().unwrap();
            assert!(!cats.is_empty() && !types.is_empty());
            for c in cats {
                for t in types {
                    assert!(
                        allowed_types(c.as_str().unwrap()).contains(&t.as_str().unwrap()),
                        "{name}: event.type {t} not allowed with category {c}"
                    );
                }
            }
            assert_eq!(doc["ecs"]["version"], "8.11.0");
            assert_eq!(doc["observer"]["product"], "bjnp-watch");
            let et = doc["bjnp_watch"]["event_type"].as_str().unwrap();
            assert_eq!(doc["event"]["dataset"], format!("bjnp_watch.{et}"));
            if et == "alert" {
                assert_eq!(doc["event"]["kind"], "alert");
                assert!(doc["rule"]["id"].as_str().unwrap().parse::<u32>().is_ok());
                assert!(doc["rule"]["name"].is_string());
                let sev = doc["event"]["severity"].as_u64().unwrap();
                assert!((1..=4).contains(&sev));
            }
            if et == "printer" {
                // the printer is the host the record is about, and an IP pivot finds it
                let ip = &doc["bjnp_watch"]["printer"]["ip"];
                assert_eq!(doc["host"]["ip"][0], *ip, "{name}: {doc}");
                assert!(doc["related"]["ip"].as_array().unwrap().contains(ip));
            }
            assert_ne!(
                doc["network"]["protocol"], "unknown",
                "{name}: say nothing instead"
            );
            if doc.get("source").is_some() {
                let t = doc["network"]["transport"].as_str().unwrap();
                assert!(t == "tcp" || t == "udp", "{t}");
                let v6 = doc["source"]["ip"].as_str().unwrap().contains(':');
                assert_eq!(doc["network"]["type"], if v6 { "ipv6" } else { "ipv4" });
                assert!(doc["network"]["community_id"]
                    .as_str()
                    .unwrap()
                    .starts_with("1:"));
            }
        }
    }
    for k in ["alert", "event", "metric"] {
        assert!(kinds_seen.contains(k), "no {k} among {kinds_seen:?}");
    }
}

/// A strict CEF parser: 7 header fields split on unescaped `|`, then `key=value` pairs whose
/// values may contain spaces and escaped `=`; only the standard escapes are accepted.
fn parse_cef(line: &str) -> (Vec<String>, BTreeMap<String, String>) {
    assert!(line.starts_with("CEF:0|"), "{line}");
    assert!(!line.contains('\n') && !line.contains('\r'));
    let mut header = vec![];
    let mut cur = String::new();
    let mut chars = line.chars();
    while header.len() < 7 {
        let c = chars
            .next()
            .unwrap_or_else(|| panic!("short header: {line}"));
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | '|')) => cur.push(e),
                other => panic!("bad header escape \\{other:?} in {line}"),
            },
            '|' => header.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    let ext: String = chars.collect();
    // Split at unescaped '=': the key is the last space-separated word before it.
    let b: Vec<char> = ext.chars().collect();
    let mut eqs = vec![];
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            '\\' => i += 2,
            '=' => {
                eqs.push(i);
                i += 1
            }
            _ => i += 1,
        }
    }
    let mut pairs = BTreeMap::new();
    let mut key_starts = vec![];
    for &e in &eqs {
        let mut s = e;
        while s > 0 && b[s - 1] != ' ' {
            s -= 1;
        }
        key_starts.push(s);
    }
    for (n, &e) in eqs.iter().enumerate() {
        let key: String = b[key_starts[n]..e].iter().collect();
        assert!(
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric()),
            "bad key {key:?} in {line}"
        );
        let end = if n + 1 < eqs.len() {
            key_starts[n + 1] - 1
        } else {
            b.len()
        };
        let raw: String = b[e + 1..end].iter().collect();
        let mut val = String::new();
        let mut it = raw.chars();
        while let Some(c) = it.next() {
            if c == '\\' {
                match it.next() {
                    Some('\\') => val.push('\\'),
                    Some('=') => val.push('='),
                    Some('n') => val.push('\n'),
                    Some('r') => val.push('\r'),
                    other => panic!("bad extension escape \\{other:?} in {line}"),
                }
            } else {
                val.push(c);
            }
        }
        assert!(
            pairs.insert(key.clone(), val).is_none(),
            "{key} twice in {line}"
        );
    }
    (header, pairs)
}

const CEF_KEYS: &[&str] = &[
    "rt",
    "dvchost",
    "src",
    "dst",
    "spt",
    "dpt",
    "proto",
    "app",
    "cs1",
    "cs1Label",
    "cs2",
    "cs2Label",
    "cs3",
    "cs3Label",
    "cs4",
    "cs4Label",
    "cs5",
    "cs5Label",
    "cn1",
    "cn1Label",
    "c6a2",
    "c6a2Label",
    "c6a3",
    "c6a3Label",
    "externalId",
    "deviceInboundInterface",
    "suser",
    "shost",
    "dhost",
    "request",
    "requestMethod",
    "requestClientApplication",
    "act",
    "cat",
    "outcome",
    "msg",
    "in",
    "out",
];

#[test]
fn cef_lines_follow_the_grammar_and_match_eve() {
    for name in samples() {
        let cef = run(&["-r", &sample(&name), "--format", "cef", "-q"]);
        let eve = run(&["-r", &sample(&name), "-q"]);
        assert_eq!(cef.code, 0, "{name}: {}", cef.stderr);
        let eve = eve.records();
        let lines: Vec<&str> = cef.stdout.lines().collect();
        assert_eq!(lines.len(), eve.len(), "{name}: one CEF line per record");
        for (line, rec) in lines.iter().zip(&eve) {
            assert!(line.len() <= MAX_LINE);
            let (h, ext) = parse_cef(line);
            assert_eq!(h[1], "bjnp-watch");
            let sev: u8 = h[6].parse().unwrap();
            assert!(sev <= 10);
            for k in ext.keys() {
                assert!(
                    CEF_KEYS.contains(&k.as_str()),
                    "{name}: unexpected CEF key {k}"
                );
            }
            let et = rec["event_type"].as_str().unwrap();
            if et == "alert" {
                assert_eq!(h[4], rec["alert"]["signature_id"].to_string());
                assert_eq!(h[5], rec["alert"]["signature"].as_str().unwrap());
                assert!(sev >= 3);
            } else {
                assert_eq!(h[4], et);
            }
            // rt is the record time in milliseconds
            let rt: u64 = ext["rt"].parse().unwrap();
            assert!(rec["timestamp"]
                .as_str()
                .unwrap()
                .starts_with(&bjnp_watch::event::Timestamp(rt * 1_000_000).to_string()[..23]));
            if let Some(src) = rec["src_ip"].as_str() {
                let key = if src.contains(':') { "c6a2" } else { "src" };
                assert_eq!(ext[key], src);
                assert_eq!(ext["spt"], rec["src_port"].to_string());
                assert_eq!(ext["cs1"], rec["community_id"].as_str().unwrap());
            }
            // CEF's outcome is success/failure; the attempt's verdict has its own labelled field
            if let Some(o) = rec["evidence"]["outcome"].as_str() {
                let reached = o == "established" || o == "half_open";
                assert_eq!(ext["outcome"], if reached { "success" } else { "failure" });
                assert_eq!(
                    (ext["cs4"].as_str(), ext["cs4Label"].as_str()),
                    (o, "attemptOutcome")
                );
            } else {
                assert!(!ext.contains_key("outcome"), "{name}: {line}");
            }
            // IPv6 endpoints in the name are bracketed before their ports
            if et != "alert" && rec["src_ip"].as_str().is_some_and(|a| a.contains(':')) {
                let src = rec["src_ip"].as_str().unwrap();
                assert!(h[5].contains(&format!("[{src}]:")), "{name}: {}", h[5]);
            }
            // everything without a CEF key travels intact in cs3
            let details: Value = serde_json::from_str(&ext["cs3"]).unwrap();
            assert_eq!(details[et], rec[et], "{name}: {line}");
        }
    }
}

#[test]
fn the_three_formats_carry_the_same_records() {
    for name in [
        "cups-bjnp-print.pcap",
        "gen-policy.pcap",
        "gen-ipv6.pcap",
        "gen-qinq.pcap",
    ] {
        let eve = run(&["-r", &sample(name), "-q"]).records();
        let ecs = ecs_docs(name);
        assert_eq!(eve.len(), ecs.len());
        for (e, d) in eve.iter().zip(&ecs) {
            let et = e["event_type"].as_str().unwrap();
            assert_eq!(d["@timestamp"], e["timestamp"]);
            assert_eq!(d["bjnp_watch"]["event_type"], et);
            assert_eq!(d["bjnp_watch"][et], e[et]);
            assert_eq!(d["bjnp_watch"]["flow_id"], e["flow_id"]);
            if e.get("src_ip").is_some() {
                assert_eq!(d["source"]["ip"], e["src_ip"]);
                assert_eq!(d["destination"]["port"], e["dest_port"]);
                assert_eq!(d["network"]["community_id"], e["community_id"]);
            }
            if let Some(v) = e["vlan"].as_array() {
                assert_eq!(d["network"]["vlan"]["id"], v[0].to_string());
                if v.len() > 1 {
                    assert_eq!(d["network"]["inner"]["vlan"]["id"], v[1].to_string());
                }
            }
            if et == "flow" {
                assert_eq!(d["source"]["bytes"], e["flow"]["bytes_toserver"]);
                assert_eq!(d["destination"]["packets"], e["flow"]["pkts_toclient"]);
            }
        }
    }
}

/// EVE's envelope: what ECS and CEF name with fields of their own.
const ENVELOPE: [&str; 14] = [
    "timestamp",
    "host",
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

/// ECS and CEF read the typed record, EVE serialises it: whatever EVE carries outside its
/// envelope reaches ECS's `bjnp_watch.*` and CEF's `cs3` whole, on every sample.
#[test]
fn ecs_and_cef_carry_every_field_eve_has_no_place_for() {
    for name in samples() {
        let eve = run(&["-r", &sample(&name), "-q"]).records();
        let ecs = ecs_docs(&name);
        let cef = run(&["-r", &sample(&name), "--format", "cef", "-q"]);
        let cef: Vec<&str> = cef.stdout.lines().collect();
        assert_eq!(
            (eve.len(), ecs.len(), cef.len()),
            (eve.len(), eve.len(), eve.len())
        );
        for ((e, d), line) in eve.iter().zip(&ecs).zip(&cef) {
            let mut rest = e.as_object().unwrap().clone();
            rest.retain(|k, _| !ENVELOPE.contains(&k.as_str()));
            let mut custom = d["bjnp_watch"].as_object().unwrap().clone();
            assert_eq!(custom.remove("event_type").unwrap(), e["event_type"]);
            if let Some(p) = custom.remove("pcap") {
                assert_eq!(p["filename"], e["pcap_filename"], "{name}");
            }
            assert_eq!(custom, rest, "{name}: ECS {d}");
            rest.remove("flow_id");
            let (_, ext) = parse_cef(line);
            let cs3: Value = serde_json::from_str(&ext["cs3"]).unwrap();
            assert_eq!(cs3.as_object().unwrap(), &rest, "{name}: CEF {line}");
            assert_eq!(ext["cs3Label"], e["event_type"].as_str().unwrap());
        }
    }
}

/// Every byte an output format has to worry about, and then some.
const HOSTILE: &[u8] =
    b"q\"uote \\back|pipe=eq\nline\rcr\tTAB\x1b[31mRED\x1b[0m\x00nul\xff\xfe\x7f\xc2\x9b[2J";

fn hostile_records() -> Vec<Record> {
    let s = String::from_utf8_lossy(HOSTILE).into_owned();
    let huge = "\u{1b}|=\\\"\n".repeat(65_536 / 6);
    let ends = Endpoints {
        src_ip: "2001:db8::5".parse().unwrap(),
        src_port: 41000,
        dest_ip: "2001:db8::31".parse().unwrap(),
        dest_port: 9100,
        proto: bjnp_watch::net::L4::Tcp,
        app_proto: Some(AppProto::Print(Language::PostScript)),
        vlan: vec![10, 20],
    };
    let base = |body| Record {
        timestamp: Timestamp::from_parts(1_768_471_200, 1_000),
        flow_id: Some(7),
        origin: Origin::File {
            name: s.as_str().into(),
            cnt: 3,
        },
        endpoints: Some(ends.clone()),
        body,
    };
    vec![
        base(Body::Print(Box::new(Print {
            language: Language::PostScript,
            languages: vec![Language::Pjl, Language::PostScript],
            job_name: Some(s.clone()),
            user: Some(huge.clone()),
            title: Some(s.clone()),
            creator: Some(huge.clone()),
            commands: vec![huge.clone(); 40],
            ..Print::default()
        }))),
        base(Body::Alert(Box::new(Alert {
            alert: AlertInfo {
                action: "allowed",
                gid: 1,
                signature_id: 1222,
                rev: 1,
                signature: "pjl-oversized-argument",
                category: "Attempted Denial of Service",
                severity: 2,
            },
            evidence: Evidence {
                command: Some(s.clone()),
                reason: Some(huge.clone()),
                ..Evidence::default()
            },
        }))),
        Record {
            endpoints: None,
            flow_id: None,
            ..base(Body::Printer(Box::new(Printer {
                ip: Some("192.0.2.30".parse().unwrap()),
                mfg: Some(s.clone()),
                model: Some(huge.clone()),
                change: bjnp_watch::event::PrinterChange::New,
                ..Printer::default()
            })))
        },
        base(Body::Bjnp(Box::new(bjnp_watch::event::Bjnp {
            magic: bjnp_watch::proto::bjnp::Magic::BJNP,
            direction: bjnp_watch::event::Direction::Response,
            command_name: bjnp_watch::proto::bjnp::CommandName::GetIdentity,
            device_id: Some(std::sync::Arc::new(DeviceId {
                raw: s.clone(),
                mfg: Some(huge.clone()),
                ..DeviceId::default()
            })),
            ..Default::default()
        }))),
    ]
}

fn formatter(f: Format) -> Formatter {
    Formatter::new(
        f,
        Observer {
            hostname: "sensor-1".into(),
            version: "0.0.0",
        },
    )
}

#[test]
fn hostile_strings_are_escaped_capped_and_on_one_line_in_every_format() {
    for fmt in [Format::Eve, Format::Ecs, Format::Cef] {
        let f = formatter(fmt);
        for r in hostile_records() {
            let mut out = vec![];
            f.render(&r, &mut out);
            assert!(
                out.len() <= MAX_LINE,
                "{fmt:?} {}: {} bytes",
                r.event_type(),
                out.len()
            );
            let line = std::str::from_utf8(&out).expect("valid UTF-8");
            for bad in ['\n', '\r', '\u{1b}', '\0', '\u{7f}', '\u{9b}'] {
                assert!(!line.contains(bad), "{fmt:?}: raw {bad:?} in {line}");
            }
            match fmt {
                Format::Eve | Format::Ecs => {
                    let v: Value = serde_json::from_str(line).expect("valid JSON");
                    // records cut to fit say so
                    let truncated = if fmt == Format::Eve {
                        &v["truncated"]
                    } else {
                        &v["bjnp_watch"]["truncated"]
                    };
                    assert_eq!(truncated, true, "{fmt:?} {}", r.event_type());
                    // the short hostile string survives exactly (escaped, not altered)
                    if let Body::Print(_) = r.body {
                        let p = if fmt == Format::Eve {
                            &v["print"]
                        } else {
                            &v["bjnp_watch"]["print"]
                        };
                        let title = p["title"].as_str().unwrap();
                        assert!(String::from_utf8_lossy(HOSTILE).starts_with(title));
                        assert!(title.starts_with("q\"uote \\back|pipe=eq\nline"));
                    }
                }
                Format::Cef => {
                    let (h, ext) = parse_cef(line);
                    assert_eq!(h.len(), 7);
                    let details: Value = serde_json::from_str(&ext["cs3"]).expect("cs3 is JSON");
                    assert!(details.is_object());
                    if let Body::Alert(_) = r.body {
                        assert_eq!(h[4], "1222");
                        // CEF has no escape for ESC or NUL: replaced, never raw
                        assert!(ext["msg"].contains('\u{fffd}'));
                    }
                }
            }
        }
    }
}

#[test]
fn hostile_sample_through_the_binary_in_every_format() {
    for fmt in ["eve", "ecs", "cef"] {
        let r = run(&[
            "-r",
            &sample("gen-hostile-strings.pcap"),
            "--format",
            fmt,
            "-q",
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            !r.stdout.contains('\u{1b}') && !r.stdout.contains('\r') && !r.stdout.contains('\0')
        );
        let lines: Vec<&str> = r.stdout.lines().collect();
        assert!(lines.len() >= 10);
        for l in &lines {
            assert!(l.len() <= MAX_LINE, "{fmt}: {} bytes", l.len());
            if fmt == "cef" {
                parse_cef(l);
            } else {
                serde_json::from_str::<Value>(l).expect("JSON");
            }
        }
        // the device ID and PJL names made it through, escaped ('=' is CEF's separator)
        let needle = if fmt == "cef" { "pipe\\=eq" } else { "pipe=eq" };
        assert!(r.stdout.contains(needle), "{fmt}");
    }
}

/// A named sensor's EVE records carry `host` at the top level, also when a record had to be cut
/// to fit (that path renders a sorted tree, whose first key is not the timestamp).
#[test]
fn eve_host_is_a_top_level_field_also_in_cut_records() {
    let f = formatter(Format::Eve).with_eve_host();
    for r in hostile_records() {
        let mut out = vec![];
        f.render(&r, &mut out);
        let v: Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(v["truncated"], true, "{}", r.event_type());
        assert_eq!(v["host"], "sensor-1", "{}", r.event_type());
        assert_eq!(
            String::from_utf8_lossy(&out)
                .matches("\"host\":\"sensor-1\"")
                .count(),
            1,
            "once, at the top"
        );
    }
}
