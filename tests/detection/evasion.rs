//! The evasion corpus (samples/evasion-*.pcap, made by nmap and scapy against Linux's own
//! stacks by tools/record_evasion.sh): the same attack sent whole and evasively gives the same
//! content alerts, plus the evasion alert for the evasive one; the overlap policy decides which
//! bytes are analysed; benign real traffic raises no evasion alert.

#[path = "../common/mod.rs"]
mod common;

use common::{run, sample, samples};
use std::collections::BTreeMap;

const TCP_OVERLAP: u64 = 1501;
const FRAGMENTATION: u64 = 1502;

/// Alert counts by signature id, and anomaly counts by event.
fn report(args: &[&str]) -> (BTreeMap<u64, usize>, BTreeMap<String, usize>) {
    let r = run(args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut alerts = BTreeMap::new();
    for a in r.of_type("alert") {
        *alerts
            .entry(a["alert"]["signature_id"].as_u64().unwrap())
            .or_default() += 1;
    }
    let mut anomalies = BTreeMap::new();
    for a in r.of_type("anomaly") {
        *anomalies
            .entry(a["anomaly"]["event"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    (alerts, anomalies)
}

fn without(mut m: BTreeMap<u64, usize>, sid: u64) -> BTreeMap<u64, usize> {
    m.remove(&sid);
    m
}

#[test]
fn evasive_copies_give_the_same_content_alerts_plus_the_evasion_alert() {
    let cases = [
        ("nmap-whole", "nmap-frag", FRAGMENTATION, "ip.fragment_tiny"),
        (
            "nmap-whole",
            "nmap-mtu16",
            FRAGMENTATION,
            "ip.fragment_tiny",
        ),
        (
            "bjnp-whole",
            "bjnp-overlap",
            FRAGMENTATION,
            "ip.fragment_overlap",
        ),
        ("pjl-whole", "pjl-ipfrag", FRAGMENTATION, "ip.fragment_tiny"),
        (
            "pjl-whole",
            "pjl-overlap",
            TCP_OVERLAP,
            "tcp.overlap_conflict",
        ),
    ];
    for (whole, evasive, sid, anomaly) in cases {
        let (w, _) = report(&["-r", &sample(&format!("evasion-{whole}.pcap"))]);
        let (e, an) = report(&["-r", &sample(&format!("evasion-{evasive}.pcap"))]);
        assert!(
            !w.contains_key(&TCP_OVERLAP) && !w.contains_key(&FRAGMENTATION),
            "{whole}: {w:?}"
        );
        assert!(w.len() >= 2, "{whole}: too few alerts to compare: {w:?}");
        assert_eq!(without(e.clone(), sid), w, "{evasive} against {whole}");
        // one evasion alert per probe or datagram (nmap probes three ports)
        let probes = if whole.starts_with("nmap") { 3 } else { 1 };
        assert_eq!(e.get(&sid), Some(&probes), "{evasive}: {e:?}");
        assert_eq!(an.get(anomaly), Some(&probes), "{evasive}: {an:?}");
    }
    // the content alerts are the attack's: recon for BJNP, a file deletion for PJL
    for f in ["evasion-bjnp-overlap.pcap", "evasion-bjnp6-overlap.pcap"] {
        let (b, _) = report(&["-r", &sample(f)]);
        assert!(b.contains_key(&1101), "{f}: {b:?}");
    }
    let (p, _) = report(&["-r", &sample("evasion-pjl-overlap.pcap")]);
    assert!(p.contains_key(&1203), "{p:?}");
}

#[test]
fn a_datagram_that_never_completes_is_reported() {
    let (a, an) = report(&["-r", &sample("evasion-bjnp-incomplete.pcap")]);
    assert_eq!(a.get(&FRAGMENTATION), Some(&1), "{a:?}");
    assert_eq!(an.get("ip.fragment_incomplete"), Some(&1), "{an:?}");
}

#[test]
fn the_overlap_policy_decides_which_bytes_are_analysed() {
    let file = sample("evasion-bjnp-overlap.pcap");
    let command = |policy: &str| -> Vec<String> {
        let r = run(&["-r", &file, "--defrag-policy", policy]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.of_type("bjnp")
            .iter()
            .filter(|b| b["bjnp"]["direction"] == "request")
            .map(|b| b["bjnp"]["command_name"].as_str().unwrap().to_owned())
            .collect()
    };
    // Linux (the printer here) kept the bytes it held: get-identity, which it answered
    assert_eq!(command("linux"), ["get_identity"]);
    assert_eq!(command("first"), ["get_identity"]);
    // a stack that takes the last copy would have read the decoy
    assert_eq!(command("last"), ["discover"]);
    // whatever the policy, the evasion is reported
    for policy in ["linux", "first", "last", "bsd"] {
        let (a, _) = report(&["-r", &file, "--defrag-policy", policy]);
        assert_eq!(a.get(&FRAGMENTATION), Some(&1), "{policy}: {a:?}");
    }
    let bad = run(&["-r", &file, "--defrag-policy", "windows"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("one of: linux, first, last, bsd"),
        "{}",
        bad.stderr
    );
}

/// Every sample made by real clients (CUPS, SANE, nmap's default scans and scripts, the verify
/// site), and the generated edge cases, raise no evasion alert: fragmentation that is only
/// fragmentation is not evasion.
#[test]
fn benign_traffic_raises_no_evasion_alert() {
    let mut checked = 0;
    for name in samples() {
        if name.starts_with("evasion-") && !name.ends_with("-whole.pcap") {
            continue;
        }
        let (a, _) = report(&["-r", &sample(&name)]);
        assert!(
            !a.contains_key(&TCP_OVERLAP) && !a.contains_key(&FRAGMENTATION),
            "{name}: {a:?}"
        );
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} samples checked");
}
