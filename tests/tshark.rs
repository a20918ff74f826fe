//! Differential test against Wireshark's BJNP dissector (docs/PROTOCOLS.md §7): for every UDP
//! message tshark decodes as BJNP or MFNP, bjnp-watch reports the same id, type, code,
//! sequence number, session id and payload length; and every UDP message bjnp-watch reports
//! with those magics is one tshark shows.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::process::Command;

type Row = (String, u64, u64, u64, u64, u64);

/// frame number -> (id, type, code, seq_no, session_id, payload_len), for rows where tshark
/// decoded every header field. Reassembly is off so a fragmented datagram is dissected at its
/// first fragment, where bjnp-watch reports it.
fn tshark_rows(file: &str) -> BTreeMap<u64, Row> {
    let out = Command::new("tshark")
        .current_dir(root())
        .args([
            "-r",
            file,
            "-n",
            // Both put IP fragments together and report the message on its last fragment.
            "-o",
            "ip.defragment:TRUE",
            "-o",
            "ipv6.defragment:TRUE",
            "-d",
            "udp.port==8610,bjnp",
            "-Y",
            // A message quoted inside an ICMP error is the packet the error refuses, not one
            // more message (tshark decodes the quote; bjnp-watch pairs it with its flow).
            "bjnp and not icmp and not icmpv6",
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-e",
            "frame.number",
            "-e",
            "bjnp.id",
            "-e",
            "bjnp.type",
            "-e",
            "bjnp.code",
            "-e",
            "bjnp.seq_no",
            "-e",
            "bjnp.session_id",
            "-e",
            "bjnp.payload_len",
        ])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed on {file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rows = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 7 || !(f[1] == "BJNP" || f[1] == "MFNP") {
            continue;
        }
        let nums: Option<Vec<u64>> = f[2..7].iter().map(|v| v.parse().ok()).collect();
        let (Ok(frame), Some(n)) = (f[0].parse::<u64>(), nums) else {
            continue; // a header cut short: tshark leaves fields empty
        };
        rows.insert(frame, (f[1].to_owned(), n[0], n[1], n[2], n[3], n[4]));
    }
    rows
}

/// pcap_cnt -> the first UDP BJNP/MFNP message bjnp-watch reported for that frame, and how
/// many messages it counted into a campaign instead of writing.
fn our_rows(file: &str) -> (BTreeMap<u64, Row>, u64) {
    let r = run(&["-r", file]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut rows = BTreeMap::new();
    for rec in r.of_type("bjnp") {
        let b = &rec["bjnp"];
        let magic = b["magic"].as_str().unwrap().to_owned();
        if rec["proto"] != "UDP" || !(magic == "BJNP" || magic == "MFNP") {
            continue;
        }
        let n = |k: &str| b[k].as_u64().unwrap();
        let cnt = rec["pcap_cnt"].as_u64().unwrap();
        rows.entry(cnt).or_insert((
            magic,
            n("dev_type"),
            n("command"),
            n("seq"),
            n("session_id"),
            n("payload_len"),
        ));
    }
    let folded = r.of_type("stats").last().expect("a stats record")["stats"]["detect"]
        ["messages_folded"]
        .as_u64()
        .unwrap();
    (rows, folded)
}

#[test]
fn bjnp_fields_match_wireshark() {
    if !have("tshark") {
        return skip_or_fail("tshark is not installed (make test installs it)");
    }
    let mut compared = 0;
    for name in samples() {
        let file = sample(&name);
        let theirs = tshark_rows(&file);
        let (ours, folded) = our_rows(&file);
        // every message tshark sees is either reported with the same fields or counted into
        // a campaign (recon requests under a storm): none is lost
        let mut missing = 0;
        for (frame, t) in &theirs {
            match ours.get(frame) {
                Some(o) => {
                    assert_eq!(o, t, "{name} frame {frame}: tshark shows {t:?}");
                    compared += 1;
                }
                None => missing += 1,
            }
        }
        assert_eq!(
            missing, folded,
            "{name}: {missing} messages tshark shows are neither reported nor counted as folded"
        );
        for (frame, o) in &ours {
            assert!(
                theirs.contains_key(frame),
                "{name} frame {frame}: we report {o:?}, tshark nothing"
            );
        }
    }
    // the samples hold dozens of UDP BJNP messages; comparing none would prove nothing
    assert!(compared >= 40, "only {compared} messages compared");
}
