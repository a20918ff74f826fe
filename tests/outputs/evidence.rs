//! `-w FILE`: the evidence capture, read back with tshark: every packet of the monitored flows
//! (or with `--write-alerted` exactly the alerted flows, from their first packet), rotation as
//! tcpdump's -C, SIGHUP reopening the file, and alert records naming the file.

#[path = "../common/mod.rs"]
mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// (src, sport, dst, dport) of every packet, as tshark reads the file, with its TCP flags.
fn tshark_packets(file: &Path) -> Vec<(String, String, String, String, String)> {
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args([
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-e",
            "ip.src",
            "-e",
            "ipv6.src",
        ])
        .args([
            "-e",
            "tcp.srcport",
            "-e",
            "udp.srcport",
            "-e",
            "ip.dst",
            "-e",
            "ipv6.dst",
        ])
        .args([
            "-e",
            "tcp.dstport",
            "-e",
            "udp.dstport",
            "-e",
            "tcp.flags.syn",
        ])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark cannot read {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let pick = |a: &str, b: &str| {
                if a.is_empty() {
                    b.to_owned()
                } else {
                    a.to_owned()
                }
            };
            (
                pick(f[0], f[1]),
                pick(f[2], f[3]),
                pick(f[4], f[5]),
                pick(f[6], f[7]),
                f[8].to_owned(),
            )
        })
        .collect()
}

fn flow_key(a: &str, ap: &str, b: &str, bp: &str) -> (String, String) {
    let x = format!("{a}|{ap}");
    let y = format!("{b}|{bp}");
    if x <= y {
        (x, y)
    } else {
        (y, x)
    }
}

#[test]
fn every_monitored_packet_and_alerts_name_the_file() {
    if !have("tshark") {
        return skip_or_fail("tshark is not installed (make test installs it)");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ev.pcap");
    let r = run(&[
        "-r",
        "samples/gen-policy.pcap",
        "-q",
        "-w",
        file.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let st = &r.of_type("stats")[0]["stats"];
    let pkts = tshark_packets(&file);
    assert_eq!(
        pkts.len() as u64,
        st["decoder"]["monitored"].as_u64().unwrap()
    );
    assert_eq!(st["evidence"]["packets"], pkts.len() as u64);
    for a in r.of_type("alert") {
        if a["flow_id"].is_u64() {
            assert_eq!(a["evidence"]["pcap_file"], file.to_str().unwrap(), "{a}");
        }
    }
}

#[test]
fn write_alerted_keeps_exactly_the_alerted_flows_from_their_first_packet() {
    if !have("tshark") {
        return skip_or_fail("tshark is not installed (make test installs it)");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerted.pcap");
    let r = run(&[
        "-r",
        "samples/gen-policy.pcap",
        "-q",
        "--policy",
        "tests/policy/site.toml",
        "-w",
        file.to_str().unwrap(),
        "--write-alerted",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let alerted: BTreeSet<(String, String)> = r
        .of_type("alert")
        .iter()
        .filter(|a| a["flow_id"].is_u64())
        .map(|a| {
            let s = |k: &str| {
                a[k].as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| a[k].to_string())
            };
            flow_key(&s("src_ip"), &s("src_port"), &s("dest_ip"), &s("dest_port"))
        })
        .collect();
    assert!(!alerted.is_empty());
    let pkts = tshark_packets(&file);
    let in_file: BTreeSet<(String, String)> = pkts
        .iter()
        .map(|p| flow_key(&p.0, &p.1, &p.2, &p.3))
        .collect();
    assert_eq!(in_file, alerted, "the file holds exactly the alerted flows");
    // every monitored packet of those flows is there, first one included
    let all = dir.path().join("all.pcap");
    run(&[
        "-r",
        "samples/gen-policy.pcap",
        "-q",
        "-w",
        all.to_str().unwrap(),
    ]);
    let expected: Vec<_> = tshark_packets(&all)
        .into_iter()
        .filter(|p| alerted.contains(&flow_key(&p.0, &p.1, &p.2, &p.3)))
        .collect();
    // a flow's packets in their order; flows whose alert came late (an attempt nobody
    // answered is decided when it times out) are written when the alert comes
    for flow in &alerted {
        let of = |v: &[(String, String, String, String, String)]| -> Vec<_> {
            v.iter()
                .filter(|p| flow_key(&p.0, &p.1, &p.2, &p.3) == *flow)
                .cloned()
                .collect()
        };
        assert_eq!(
            of(&pkts),
            of(&expected),
            "{flow:?}: same packets, same order"
        );
    }
    assert_eq!(pkts.len(), expected.len());
    let st = &r.of_type("stats")[0]["stats"]["evidence"];
    assert_eq!(st["packets"], pkts.len() as u64);
    assert_eq!(st["packets_not_buffered"], 0);
}

#[test]
fn size_rotation_as_tcpdump_and_every_file_readable() {
    if !have("tshark") {
        return skip_or_fail("tshark is not installed (make test installs it)");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rot.pcap");
    let r = run(&[
        "-r",
        "samples/gen-policy.pcap",
        "-q",
        "-w",
        file.to_str().unwrap(),
        "-C",
        "1k",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let st = &r.of_type("stats")[0]["stats"];
    let files = st["evidence"]["files"].as_u64().unwrap();
    assert!(files >= 3, "{st}");
    let mut total = 0;
    for i in 0..files {
        let name = if i == 0 {
            "rot.pcap".to_owned()
        } else {
            format!("rot.pcap{i}")
        };
        let p = dir.path().join(&name);
        assert!(
            std::fs::metadata(&p).unwrap().len() <= 1024,
            "{name} too large"
        );
        total += tshark_packets(&p).len() as u64;
    }
    assert_eq!(total, st["decoder"]["monitored"].as_u64().unwrap());
    assert_eq!(
        run(&["-r", "samples/gen-policy.pcap", "-C", "1k"]).code,
        2,
        "-C needs -w"
    );
    assert_eq!(
        run(&["-r", "samples/gen-policy.pcap", "-w", "/no/such/dir/x.pcap"]).code,
        2
    );
    assert_eq!(
        run(&[
            "-r",
            "samples/gen-policy.pcap",
            "-w",
            "x.pcap",
            "--workers",
            "2"
        ])
        .code,
        2
    );
}

/// SIGHUP reopens the evidence file by name: packets before it stay in the moved file,
/// packets after it go to the new one.
#[test]
fn sighup_reopens_the_evidence_file() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    if !have("tshark") {
        return skip_or_fail("tshark is not installed (make test installs it)");
    }
    let sample = std::fs::read(root().join("samples/gen-policy.pcap")).unwrap();
    // the sample's records, cut in two halves at a record boundary
    let mut at = 24;
    let mut cuts = vec![];
    while at + 16 <= sample.len() {
        cuts.push(at);
        at += 16 + u32::from_le_bytes(sample[at + 8..at + 12].try_into().unwrap()) as usize;
    }
    let half = cuts[cuts.len() / 2];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ev.pcap");
    let moved = dir.path().join("ev.pcap.old");
    let mut child = Command::new(bin())
        .args(["-r", "-", "-q", "-w", file.to_str().unwrap()])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&sample[..half]).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    std::fs::rename(&file, &moved).unwrap();
    assert!(Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(std::time::Duration::from_millis(300));
    stdin.write_all(&sample[half..]).unwrap();
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before = tshark_packets(&moved).len();
    let after = tshark_packets(&file).len();
    let r = run(&["-r", "samples/gen-policy.pcap", "-q"]);
    let monitored = r.of_type("stats")[0]["stats"]["decoder"]["monitored"]
        .as_u64()
        .unwrap();
    assert!(before > 0 && after > 0, "{before} + {after}");
    assert_eq!((before + after) as u64, monitored);
    let stats: Value = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event_type"] == "stats")
        .unwrap();
    assert_eq!(stats["stats"]["evidence"]["files"], 2);
}
