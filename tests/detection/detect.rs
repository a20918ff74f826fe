//! Flows, policy and alerts end to end: each rule on a capture that must fire it and on traffic
//! that must not, Zeek conn_states on crafted connections, the policy's errors, suppression,
//! and the inventory subcommand.

#[path = "../common/mod.rs"]
mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;

const SITE: &str = "tests/policy/site.toml";

/// (sid, src, dst, dport, outcome) of every alert.
fn alerts(r: &Run) -> BTreeSet<(u64, String, String, u64, String)> {
    r.of_type("alert")
        .iter()
        .map(|a| {
            (
                a["alert"]["signature_id"].as_u64().unwrap(),
                a["src_ip"].as_str().unwrap().to_owned(),
                a["dest_ip"].as_str().unwrap().to_owned(),
                a["dest_port"].as_u64().unwrap(),
                a["evidence"]["outcome"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn alert(
    sid: u64,
    src: &str,
    dst: &str,
    port: u64,
    outcome: &str,
) -> (u64, String, String, u64, String) {
    (sid, src.into(), dst.into(), port, outcome.into())
}

#[test]
fn every_zeek_conn_state_on_crafted_connections() {
    let r = run(&["-r", "samples/gen-conn-states.pcap"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got: BTreeSet<(u64, String, String)> = r
        .of_type("flow")
        .iter()
        .map(|f| {
            (
                f["src_port"].as_u64().unwrap(),
                f["conn_state"].as_str().unwrap().to_owned(),
                f["proto"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: BTreeSet<(u64, String, String)> = [
        (41001, "S0"),
        (41002, "S1"),
        (41003, "SF"),
        (41004, "REJ"),
        (41005, "S2"),
        (41006, "S3"),
        (41007, "RSTO"),
        (41008, "RSTR"),
        (41009, "RSTOS0"),
        (41010, "RSTRH"),
        (41011, "SH"),
        (41012, "SHR"),
        (41013, "OTH"),
    ]
    .iter()
    .map(|&(p, s)| (p, s.to_owned(), "TCP".to_owned()))
    .chain(
        [(42001, "S0"), (42002, "SF")]
            .iter()
            .map(|&(p, s)| (p, s.to_owned(), "UDP".to_owned())),
    )
    .collect();
    assert_eq!(got, want);
    // the SF connection, field by field
    let sf = r
        .of_type("flow")
        .into_iter()
        .find(|f| f["src_port"] == 41003)
        .unwrap();
    assert_eq!(sf["history"], "ShADdFf");
    assert_eq!(sf["flow"]["pkts_toserver"], 5);
    assert_eq!(sf["flow"]["pkts_toclient"], 3);
    assert_eq!(sf["flow"]["state"], "closed");
    assert_eq!(sf["flow"]["reason"], "closed");
    assert_eq!(sf["src_ip"], "192.0.2.5");
    assert_eq!(sf["dest_port"], 9100);
    // the unanswered SYN was decided by the 5 s attempt timeout, the open one at the end
    let s0 = r
        .of_type("flow")
        .into_iter()
        .find(|f| f["src_port"] == 41001)
        .unwrap();
    assert_eq!(
        (s0["flow"]["reason"].as_str(), s0["flow"]["state"].as_str()),
        (Some("timeout"), Some("new"))
    );
    let s1 = r
        .of_type("flow")
        .into_iter()
        .find(|f| f["src_port"] == 41002)
        .unwrap();
    assert_eq!(s1["flow"]["reason"], "shutdown");
}

#[test]
fn site_policy_alerts_exactly_what_it_should() {
    let r = run(&["-r", "samples/gen-policy.pcap", "--policy", SITE]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let want: BTreeSet<_> = [
        // c: unknown client, SYN never answered: the firewall (or the host) dropped it
        alert(1001, "198.51.100.7", "192.0.2.31", 9101, "attempted"),
        // d: refused with RST
        alert(1001, "198.51.100.8", "192.0.2.30", 9101, "refused"),
        // e: established: exposure
        alert(1001, "198.51.100.9", "192.0.2.30", 8611, "established"),
        // f: an allowed client on a port that should be closed: the fix failed
        alert(1003, "192.0.2.10", "192.0.2.31", 9100, "established"),
        // g: a host that is not in the inventory answers on a printer port
        alert(1002, "192.0.2.10", "192.0.2.99", 9102, ""),
        // h: one sweep alert for 12 hosts and 6 ports, not 18 per-target alerts
        alert(1004, "203.0.113.50", "192.0.2.107", 9100, ""),
        // i: recon, answered
        alert(1101, "198.51.100.20", "192.0.2.30", 8611, ""),
        alert(1001, "198.51.100.20", "192.0.2.30", 8611, "established"),
        // j: garbage on the BJNP port, from a client nobody allowed
        alert(1102, "198.51.100.21", "192.0.2.30", 8611, ""),
        alert(1001, "198.51.100.21", "192.0.2.30", 8611, "attempted"),
    ]
    .into_iter()
    .collect();
    assert_eq!(alerts(&r), want);
    // what must stay silent: a (allowed print server), b (printer-specific allow), k (port 80),
    // l (allowed, port not blocked), and the scanner's individual attempts
    for a in r.of_type("alert") {
        let src = a["src_ip"].as_str().unwrap();
        assert_ne!(src, "192.0.2.20", "{a}");
        assert!(a["dest_port"] != 80, "{a}");
        if src == "192.0.2.10" {
            assert!(
                a["dest_port"] == 9100 || a["dest_ip"] == "192.0.2.99",
                "{a}"
            );
        }
    }
    let st = &r.of_type("stats")[0]["stats"]["detect"];
    assert_eq!(
        st["folded"], 18,
        "the 18 scanner attempts are folded into the scan alert"
    );
    // evidence carries what the SOC needs
    let scan = r
        .of_type("alert")
        .into_iter()
        .find(|a| a["alert"]["signature_id"] == 1004)
        .unwrap();
    assert_eq!(scan["evidence"]["targets"].as_array().unwrap().len(), 8);
    assert_eq!(scan["alert"]["signature"], "printer-port-scan");
    let est = r
        .of_type("alert")
        .into_iter()
        .find(|a| {
            a["alert"]["signature_id"] == 1001
                && a["evidence"]["outcome"] == "established"
                && a["proto"] == "TCP"
        })
        .unwrap();
    assert_eq!(est["alert"]["severity"], 2);
    assert_eq!(est["evidence"]["conn_state"], "S1");
    assert_eq!(est["evidence"]["printer"], "floor2-canon");
    assert!(est["evidence"]["policy"]
        .as_str()
        .unwrap()
        .contains("192.0.2.8/29"));
    let att = r
        .of_type("alert")
        .into_iter()
        .find(|a| a["evidence"]["outcome"] == "attempted" && a["proto"] == "TCP")
        .unwrap();
    assert_eq!(
        (
            att["alert"]["severity"].as_u64(),
            att["evidence"]["conn_state"].as_str()
        ),
        (Some(3), Some("S0"))
    );
    let blocked = r
        .of_type("alert")
        .into_iter()
        .find(|a| a["alert"]["signature_id"] == 1003)
        .unwrap();
    assert_eq!(blocked["alert"]["severity"], 1);
    // every flow named by an alert says so in its flow record
    let alerted: BTreeSet<u64> = r
        .of_type("alert")
        .iter()
        .filter_map(|a| a["flow_id"].as_u64())
        .collect();
    for f in r.of_type("flow") {
        let id = f["flow_id"].as_u64().unwrap();
        assert_eq!(
            f["flow"]["alerted"].as_bool().unwrap(),
            alerted.contains(&id),
            "{f}"
        );
    }
}

#[test]
fn shorthands_work_without_a_file() {
    let r = run(&[
        "-r",
        "samples/gen-policy.pcap",
        "--allow",
        "192.0.2.8/29",
        "--printer",
        "192.0.2.30",
        "--printer",
        "192.0.2.31",
        "--blocked-port",
        "9100",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = alerts(&r);
    // no per-printer allow on the command line: scenario b's client is now unexpected
    assert!(got.contains(&alert(
        1001,
        "192.0.2.20",
        "192.0.2.30",
        8611,
        "established"
    )));
    assert!(got.contains(&alert(
        1003,
        "192.0.2.10",
        "192.0.2.31",
        9100,
        "established"
    )));
    assert!(!got.iter().any(|a| a.1 == "192.0.2.10" && a.0 == 1001));
}

#[test]
fn without_a_policy_every_contact_is_reported() {
    let r = run(&["-r", "samples/gen-policy.pcap"]);
    assert_eq!(r.code, 0);
    let got = alerts(&r);
    for client in ["192.0.2.10", "192.0.2.20", "198.51.100.9"] {
        assert!(
            got.iter().any(|a| a.0 == 1001 && a.1 == client),
            "{client}: {got:?}"
        );
    }
    // and every answering host is outside the (empty) inventory
    let services: BTreeSet<&str> = got
        .iter()
        .filter(|a| a.0 == 1002)
        .map(|a| a.2.as_str())
        .collect();
    assert_eq!(
        services,
        ["192.0.2.30", "192.0.2.31", "192.0.2.99"]
            .into_iter()
            .collect()
    );
    // nothing about port 80
    assert!(!got.iter().any(|a| a.3 == 80));
}

#[test]
fn suppression_window_and_counters() {
    // 14 TCP connections from one client to one printer port: one alert per outcome per window
    // (an attempt and then an established connection is the fix failing: both must show)
    let r = run(&["-r", "samples/gen-conn-states.pcap"]);
    let to_9100: Vec<Value> = r
        .of_type("alert")
        .into_iter()
        .filter(|a| a["alert"]["signature_id"] == 1001 && a["dest_port"] == 9100)
        .collect();
    let outcomes: Vec<&str> = to_9100
        .iter()
        .map(|a| a["evidence"]["outcome"].as_str().unwrap())
        .collect();
    let distinct: BTreeSet<&str> = outcomes.iter().copied().collect();
    assert_eq!(
        outcomes.len(),
        distinct.len(),
        "one per outcome: {outcomes:?}"
    );
    assert_eq!(
        distinct,
        ["attempted", "established", "refused"]
            .into_iter()
            .collect()
    );
    let st = &r.of_type("stats")[0]["stats"]["detect"];
    assert!(st["suppressed"].as_u64().unwrap() >= 10, "{st}");
    // a window shorter than the 1 s spacing lets every decision through
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("short.toml");
    std::fs::write(&p, "[suppress]\nwindow = \"100ms\"\n").unwrap();
    let r = run(&[
        "-r",
        "samples/gen-conn-states.pcap",
        "--policy",
        p.to_str().unwrap(),
    ]);
    let n = r
        .of_type("alert")
        .iter()
        .filter(|a| a["alert"]["signature_id"] == 1001 && a["dest_port"] == 9100)
        .count();
    // (decisions made at the same instant, end of capture, still share a window)
    assert!(n >= 8, "{n}");
}

#[test]
fn broadcast_discovery_makes_printers_not_clients() {
    // CUPS and SANE broadcast discover (8611 -> 8611, 8612 -> 8612/8610); the printer answers
    // from its own address. Both ports are monitored, so roles come from BJNP's direction bit.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("lab.toml");
    std::fs::write(&p, "[[printer]]\nname = \"lab\"\naddress = \"192.0.2.2\"\n").unwrap();
    let r = run(&[
        "-r",
        "samples/bjnp-broadcast-discovery.pcap",
        "--policy",
        p.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for a in r.of_type("alert") {
        assert_ne!(a["src_ip"], "192.0.2.2", "the printer is no client: {a}");
        assert_ne!(
            a["alert"]["signature_id"], 1002,
            "it is in the inventory: {a}"
        );
        // nobody answers from a broadcast address: no attempt verdict for one
        if a["alert"]["signature_id"] == 1001 {
            assert_eq!(a["dest_ip"], "192.0.2.2", "{a}");
        }
    }
    // discovery from an unlisted client is recon
    assert!(r
        .of_type("alert")
        .iter()
        .any(|a| a["alert"]["signature_id"] == 1101 && a["dest_ip"] == "192.0.2.255"));
    // the printer's first record already carries the MAC its discover answer gave
    let printers = r.of_type("printer");
    assert_eq!(printers[0]["printer"]["ip"], "192.0.2.2");
    assert_eq!(printers[0]["printer"]["mac"], "00:1e:8f:12:34:56");
    assert_eq!(printers[0]["printer"]["name"], "lab");
    let last = printers.last().unwrap();
    assert_eq!(last["printer"]["model"], "MG5500 series");
    assert_eq!(
        last["printer"]["services"],
        serde_json::json!(["bjnp/udp/8611", "bjnp/udp/8612", "mfnp/udp/8610"])
    );
}

#[test]
fn bad_policies_stop_start_up_before_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[clients]\nallow = [\"10.0.0.0/40\"]\n", "line 2"),
        ("[clients]\nallowed = []\n", "unknown field `allowed`"),
        ("[scan]\nwindow = \"a while\"\n", "bad duration"),
        ("blocked_ports = [80]\n", "not a monitored port"),
        ("[[printer]]\nname = \"x\"\naddress = \"10.0.0.1\"\n[[printer]]\nname = \"y\"\naddress = \"10.0.0.1\"\n", "same address"),
        ("scan = 3\n", "line 1"),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let p = dir.path().join(format!("p{i}.toml"));
        std::fs::write(&p, text).unwrap();
        let r = run(&[
            "-r",
            "samples/gen-vlan.pcap",
            "--policy",
            p.to_str().unwrap(),
        ]);
        r.assert_clean_error(2, needle);
        assert!(
            r.stderr.contains(&format!("p{i}.toml")),
            "names the file: {}",
            r.stderr
        );
        assert!(
            r.stdout.is_empty(),
            "nothing captured before the policy is good"
        );
    }
    run(&[
        "-r",
        "samples/gen-vlan.pcap",
        "--policy",
        "/nonexistent.toml",
    ])
    .assert_clean_error(2, "cannot read policy");
    let r = run(&["-r", "samples/gen-vlan.pcap", "--allow", "10.0.0.0/99"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("'10.0.0.0/99' is neither a CIDR"),
        "{}",
        r.stderr
    );
    run(&["-r", "samples/gen-vlan.pcap", "--blocked-port", "80"])
        .assert_clean_error(2, "not a monitored port");
}

#[test]
fn a_real_client_against_a_policy_gives_exactly_these_alert_lines() {
    // nmap's bjnp-discover against the lab printer on loopback, with a policy that lists the
    // printer but allows only 10.0.0.0/8: recon from 127.0.0.1 on both ports.
    let r = run(&[
        "-r",
        "samples/nmap-bjnp-discover.pcap",
        "--policy",
        "tests/policy/loopback.toml",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got: Vec<String> = r
        .stdout
        .lines()
        .filter(|l| l.contains("\"event_type\":\"alert\""))
        .map(String::from)
        .collect();
    let path = root().join("tests/expected-alerts/nmap-bjnp-discover.jsonl");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, got.join("\n") + "\n").unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap();
    assert_eq!(got.join("\n") + "\n", want);
    let sids: Vec<u64> = r
        .of_type("alert")
        .iter()
        .map(|a| a["alert"]["signature_id"].as_u64().unwrap())
        .collect();
    assert!(sids.contains(&1101) && sids.contains(&1001), "{sids:?}");
    assert!(!sids.contains(&1002), "the printer is in the inventory");
}

#[test]
fn inventory_subcommand() {
    let r = run(&[
        "inventory",
        "-r",
        "samples/gen-policy.pcap",
        "--policy",
        SITE,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("ADDRESS"));
    let canon = lines
        .iter()
        .find(|l| l.starts_with("192.0.2.30 "))
        .expect(&r.stdout);
    assert!(
        canon.contains("floor2-canon")
            && canon.contains("MG5500 series")
            && canon.contains("1.050")
    );
    assert!(canon.contains("bjnp/tcp/8611") && canon.contains("bjnp/udp/8611"));
    assert!(
        canon.contains("192.0.2.10") && canon.contains("192.0.2.20"),
        "clients: {canon}"
    );
    assert!(lines
        .iter()
        .any(|l| l.starts_with("192.0.2.99 ") && l.contains("(not in inventory)")));
    // a host that only refused (RST) is not a printer
    assert!(!r.stdout.contains("192.0.2.100"));
    let r = run(&[
        "inventory",
        "--json",
        "-r",
        "samples/gen-policy.pcap",
        "--policy",
        SITE,
    ]);
    let j: Value = serde_json::from_str(&r.stdout).unwrap();
    let arr = j.as_array().unwrap();
    assert_eq!(arr.len(), 3);
    assert_eq!(arr[0]["ip"], "192.0.2.30");
    assert_eq!(arr[0]["in_inventory"], true);
    assert_eq!(arr[2]["in_inventory"], false);
    // bad input gets the same treatment as the main command
    run(&["inventory", "-r", "samples/nope.pcap"]).assert_clean_error(2, "No such file");
    let r = run(&["inventory"]);
    assert_eq!(r.code, 2);
}
