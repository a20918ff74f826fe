//! Storms become campaigns: each shape of tools/gen_storms.py (vertical, horizontal and slow
//! scans, a distributed scan of a /16 and spoofed floods against a dead and a live port, a
//! million SYNs each for the last three; a recon flood),
//! with and without a policy. Each must stay at ten alert lines or fewer besides its needles,
//! alert every needle on a line of its own, stay under 100 MiB, and conserve its counts: every
//! flow is a `flow` line or counted in a campaign, and every alert the engine considered is
//! written, suppressed, folded or counted over budget.

#[path = "../common/mod.rs"]
mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

const NEEDLES: [&str; 3] = ["198.51.100.200", "198.51.100.201", "198.51.100.202"];
const POLICY: &str = "tests/policy/storms.toml";

fn storm_dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap())
}

/// The storm's capture, generated once per test process.
fn storm(shape: &str) -> PathBuf {
    let path = storm_dir().path().join(format!("{shape}.pcap"));
    if !path.exists() {
        let tmp = path.with_extension("tmp");
        // the recon flood: 70 000 get-identity requests in a minute
        let count = if shape == "recon" { "70000" } else { "1000000" };
        let st = Command::new("python3")
            .arg(root().join("tools/gen_storms.py"))
            .args([shape, "--count", count, "--out"])
            .arg(&tmp)
            .status()
            .expect("python3 runs the generator");
        assert!(st.success(), "gen_storms.py {shape}");
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

struct Outcome {
    records: Vec<Value>,
    peak_kib: u64,
}

/// bjnp-watch over a storm, under GNU time for its peak RSS.
fn watch(shape: &str, policy: bool) -> Outcome {
    let pcap = storm(shape);
    let mut cmd = Command::new("/usr/bin/time");
    cmd.args(["-f", "peak %M"])
        .arg(bin())
        .arg("-q")
        .arg("-r")
        .arg(&pcap);
    if policy {
        cmd.args(["--policy", POLICY]);
    }
    let out = cmd
        .current_dir(root())
        .output()
        .expect("/usr/bin/time runs");
    assert!(
        out.status.success(),
        "{shape}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let peak_kib = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak "))
        .and_then(|v| v.trim().parse().ok())
        .expect("GNU time's peak");
    let records = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    Outcome { records, peak_kib }
}

fn of_type<'a>(r: &'a [Value], t: &str) -> Vec<&'a Value> {
    r.iter().filter(|x| x["event_type"] == t).collect()
}

fn is_needle(a: &Value) -> bool {
    NEEDLES
        .iter()
        .any(|n| a["src_ip"] == *n || a["dest_ip"] == *n)
}

fn check(shape: &str, policy: bool) {
    let o = watch(shape, policy);
    let r = &o.records;
    let what = format!("{shape}{}", if policy { " with a policy" } else { "" });
    let alerts = of_type(r, "alert");
    let storm: Vec<String> = alerts
        .iter()
        .filter(|a| !is_needle(a))
        .map(|a| {
            format!(
                "{} {} {}:{} {}",
                a["alert"]["signature_id"],
                a["src_ip"],
                a["dest_ip"],
                a["dest_port"],
                a["evidence"]["outcome"]
            )
        })
        .collect();
    assert!(
        storm.len() <= 10,
        "{what}: {} storm alert lines: {storm:#?}",
        storm.len()
    );

    // every needle has an alert line naming its flow
    let named = |src: &str, pred: &dyn Fn(&Value) -> bool| {
        alerts
            .iter()
            .any(|a| a["src_ip"] == src && a["flow_id"].is_u64() && pred(a))
    };
    assert!(
        named(NEEDLES[0], &|a| a["alert"]["signature_id"] == 1201),
        "{what}: the FSUPLOAD session's 1201"
    );
    assert!(
        named(NEEDLES[0], &|a| a["alert"]["signature_id"] == 1001
            && a["evidence"]["outcome"] == "established"),
        "{what}: the FSUPLOAD session's 1001 established"
    );
    assert!(
        named(NEEDLES[1], &|a| a["alert"]["signature_id"] == 1001
            && a["proto"] == "TCP"
            && a["dest_port"] == 8611
            && a["evidence"]["outcome"] == "established"),
        "{what}: direct BJNP printing over TCP 8611 after a UDP 8611 probe"
    );
    assert!(
        named(NEEDLES[2], &|a| a["alert"]["signature_id"] == 1101),
        "{what}: the new client's get-identity"
    );

    assert!(
        o.peak_kib <= 100 * 1024,
        "{what}: peak RSS {} KiB",
        o.peak_kib
    );

    // counts conserved: flows, and the alerted flag
    let stats = &of_type(r, "stats")[0]["stats"];
    let flows = of_type(r, "flow");
    let folded = stats["detect"]["flows_folded"].as_u64().unwrap();
    assert_eq!(
        flows.len() as u64 + folded,
        stats["flow"]["created"].as_u64().unwrap(),
        "{what}: flow lines + flows counted in campaigns = flows seen"
    );
    let campaigns_folded: u64 = of_type(r, "campaign")
        .iter()
        .filter(|c| c["campaign"]["phase"] == "end")
        .map(|c| c["campaign"]["flows_folded"].as_u64().unwrap())
        .sum();
    assert_eq!(
        campaigns_folded, folded,
        "{what}: the campaigns' end records say so too"
    );
    let named_flows: BTreeSet<u64> = alerts
        .iter()
        .filter_map(|a| a["flow_id"].as_u64())
        .collect();
    for f in &flows {
        let id = f["flow_id"].as_u64().unwrap();
        assert_eq!(
            f["flow"]["alerted"].as_bool().unwrap(),
            named_flows.contains(&id),
            "{what}: {f}"
        );
    }
    let over: u64 = of_type(r, "summary")
        .iter()
        .flat_map(|s| s["summary"]["over_budget"].as_array().unwrap().iter())
        .map(|o| o["alerts"].as_u64().unwrap())
        .sum();
    assert_eq!(
        over,
        stats["detect"]["over_budget"].as_u64().unwrap(),
        "{what}"
    );
    assert_eq!(
        alerts.len() as u64,
        stats["detect"]["alerts"].as_u64().unwrap(),
        "{what}"
    );
}

#[test]
fn vertical_scan() {
    check("vertical", false);
    check("vertical", true);
}

#[test]
fn horizontal_scan() {
    check("horizontal", false);
    check("horizontal", true);
}

#[test]
fn slow_scan_over_a_day() {
    check("slow", false);
    check("slow", true);
}

#[test]
fn distributed_scan_of_a_network() {
    check("distributed", false);
    check("distributed", true);
    // it is one campaign, whose totals say what happened
    let o = watch("distributed", false);
    // the scanners' source ports run through 1024-61023, the BJNP ports included: a reset from
    // a host's 9100 back to such a port is an answer, never a new client toward that port
    let backwards = o
        .records
        .iter()
        .filter(|r| r["src_port"] == 9100 && r["dest_port"].as_u64().is_some_and(|p| p != 9100))
        .count();
    assert_eq!(
        backwards, 0,
        "records oriented from 9100 toward a client port"
    );
    let ends: Vec<&Value> = of_type(&o.records, "campaign")
        .into_iter()
        .filter(|c| c["campaign"]["phase"] == "end")
        .collect();
    assert_eq!(ends.len(), 1);
    let c = &ends[0]["campaign"];
    assert_eq!(
        (c["proto"].as_str(), c["port"].as_u64()),
        (Some("TCP"), Some(9100))
    );
    let sources = c["sources"]["estimate"].as_f64().unwrap();
    assert!((sources - 50_000.0).abs() < 50_000.0 * 0.05, "{c}");
    let targets = c["targets"]["estimate"].as_f64().unwrap();
    assert!((targets - 65_534.0).abs() < 65_534.0 * 0.05, "{c}");
    assert_eq!(c["top_targets"]["ipv4_16"][0]["network"], "10.20.0.0/16");
    let refused = c["outcomes"]["refused"].as_f64().unwrap();
    let attempts = c["attempts"].as_f64().unwrap();
    assert!(
        (refused / attempts - 0.05).abs() < 0.01,
        "about 5 % refused: {c}"
    );
}

#[test]
fn spoofed_flood_then_a_new_client() {
    check("spoofed", false);
    check("spoofed", true);
}

#[test]
fn spoofed_flood_against_a_live_port() {
    // the printer answers every spoofed SYN; no handshake completes, so each is a failed
    // attempt (half_open) the campaign counts, not a connection
    check("spoofed-live", false);
    let o = watch("spoofed-live", true);
    let ends: Vec<&Value> = of_type(&o.records, "campaign")
        .into_iter()
        .filter(|c| c["campaign"]["phase"] == "end")
        .collect();
    assert_eq!(ends.len(), 1);
    let c = &ends[0]["campaign"];
    let half_open = c["outcomes"]["half_open"].as_u64().unwrap();
    assert!(half_open >= 999_000, "{c}");
    assert_eq!(c["attempts"].as_u64().unwrap(), half_open, "{c}");
}

#[test]
fn recon_flood_is_budgeted_and_counted() {
    // 70 000 get-identity requests from distinct sources in a minute: recon (1101) is never
    // folded, so its budget writes ten and the window's summary counts the rest; the requests'
    // own records and flows are the campaign's
    let o = watch("recon", false);
    let r = &o.records;
    let recon_lines = of_type(r, "alert")
        .iter()
        .filter(|a| a["alert"]["signature_id"] == 1101)
        .count() as u64;
    assert!(recon_lines <= 10, "{recon_lines}");
    let over: u64 = of_type(r, "summary")
        .iter()
        .flat_map(|s| s["summary"]["over_budget"].as_array().unwrap().iter())
        .filter(|o| o["signature_id"] == 1101)
        .map(|o| {
            // every source asks once: no heavy hitter to name, and none is guessed
            assert_eq!(o["top_sources"].as_array().unwrap().len(), 0);
            o["alerts"].as_u64().unwrap()
        })
        .sum();
    // the flood's requests and the needles' two probes
    assert_eq!(recon_lines + over, 70_002);
    let stats = &of_type(r, "stats")[0]["stats"];
    let bjnp_lines = of_type(r, "bjnp").len() as u64;
    assert!(bjnp_lines < 1_000, "{bjnp_lines} bjnp lines");
    assert_eq!(
        bjnp_lines
            + stats["detect"]["messages_folded"].as_u64().unwrap()
            + stats["bjnp"]["data_messages_unlogged"].as_u64().unwrap(),
        stats["bjnp"]["messages"].as_u64().unwrap(),
        "every message is a line or counted"
    );
    assert!(of_type(r, "flow").len() < 1_000);
    assert!(o.peak_kib <= 100 * 1024);
}
