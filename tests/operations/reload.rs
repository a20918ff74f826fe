//! Policy reload without a restart (issue 24): a capture fed through a pipe, the policy file
//! edited and SIGHUP sent between two connections. What came before is judged by the old
//! policy, what comes after by the new one, no flow is lost, a `reload` record says what
//! changed; a broken edit changes nothing but a warning.

#[path = "../common/mod.rs"]
mod common;
use common::*;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// An Ethernet/IPv4/TCP frame as a pcap record at second `t`.
#[allow(clippy::too_many_arguments)]
fn tcp(
    t: u32,
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
) -> Vec<u8> {
    let ip = ipv4_header(src, dst, 6, 20);
    let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0];
    frame.extend(ip);
    frame.extend(sport.to_be_bytes());
    frame.extend(dport.to_be_bytes());
    frame.extend(seq.to_be_bytes());
    frame.extend(ack.to_be_bytes());
    frame.extend([0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    let mut rec = vec![];
    rec.extend((1_780_000_000 + t).to_le_bytes());
    rec.extend(0u32.to_le_bytes());
    rec.extend((frame.len() as u32).to_le_bytes());
    rec.extend((frame.len() as u32).to_le_bytes());
    rec.extend(frame);
    rec
}

const CLIENT: [u8; 4] = [192, 0, 2, 5];
const PRINTER: [u8; 4] = [192, 0, 2, 30];

/// A completed handshake from the client to the printer's 9100 at second `t`.
fn connection(t: u32, sport: u16) -> Vec<u8> {
    let mut v = tcp(t, CLIENT, sport, PRINTER, 9100, 100, 0, 0x02);
    v.extend(tcp(t, PRINTER, 9100, CLIENT, sport, 500, 101, 0x12));
    v.extend(tcp(t, CLIENT, sport, PRINTER, 9100, 101, 501, 0x10));
    v
}

const ALLOWED: &str = "[[printer]]\nname = \"p\"\naddress = \"192.0.2.30\"\n\n[clients]\nallow = [\"192.0.2.5/32\"]\n";
const NOT_ALLOWED: &str = "[[printer]]\nname = \"p\"\naddress = \"192.0.2.30\"\n\n[clients]\nallow = [\"192.0.2.8/29\"]\n\n[defrag]\npolicy = \"bsd\"\n";

/// Feeds the first connection, waits until the sensor has judged it (its `printer` record is
/// out), edits the policy to `edit`, sends SIGHUP, feeds the second.
fn run_with_reload(edit: &str) -> (Vec<serde_json::Value>, String, i32) {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, ALLOWED).unwrap();
    let mut child = Command::new(bin())
        .args(["-r", "-", "-q", "--policy"])
        .arg(&policy)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<serde_json::Value>();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(serde_json::from_str(&line).unwrap());
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    let mut first = pcap_header();
    first.extend(connection(0, 40001));
    stdin.write_all(&first).unwrap();
    stdin.flush().unwrap();
    // a pipe's records are handed on as they come: the printer's record says the first
    // connection's handshake was judged (signals are set up before any record)
    let mut recs = vec![];
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !recs
        .iter()
        .any(|r: &serde_json::Value| r["event_type"] == "printer")
    {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        recs.push(
            rx.recv_timeout(left)
                .expect("the first connection was not judged"),
        );
    }
    // the ACK in the same read: give it time to be judged too
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&policy, edit).unwrap();
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(300));
    stdin.write_all(&connection(10, 40002)).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    reader.join().unwrap();
    recs.extend(rx.try_iter());
    (
        recs,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn unexpected_ports(recs: &[serde_json::Value]) -> Vec<u64> {
    recs.iter()
        .filter(|r| r["event_type"] == "alert" && r["alert"]["signature_id"] == 1001)
        .map(|r| r["src_port"].as_u64().unwrap())
        .collect()
}

#[test]
fn a_reload_judges_what_follows_by_the_new_policy_and_keeps_every_flow() {
    let (recs, stderr, code) = run_with_reload(NOT_ALLOWED);
    assert_eq!(code, 0, "{stderr}");
    // the first connection was allowed; the second, after the edit, is not
    assert_eq!(unexpected_ports(&recs), [40002], "{recs:#?}");
    let reload: Vec<_> = recs
        .iter()
        .filter(|r| r["event_type"] == "reload")
        .collect();
    assert_eq!(reload.len(), 1, "{recs:#?}");
    let r = &reload[0]["reload"];
    assert_eq!(r["clients"]["before"], 1);
    assert_eq!(r["clients"]["after"], 1);
    assert_eq!(r["printers"]["after"], 1);
    assert_eq!(r["ports_applied"], true);
    // the defragmenters' overlap policy waits for a restart, and the record says so
    assert_eq!(r["needs_restart"], serde_json::json!(["defrag_policy"]));
    assert_eq!(r["digest"].as_str().unwrap().len(), 40);
    // the reload record sits between the two connections' judgements
    let at = |pred: &dyn Fn(&serde_json::Value) -> bool| recs.iter().position(pred).unwrap();
    let reload_at = at(&|r| r["event_type"] == "reload");
    let alert_at = at(&|r| r["event_type"] == "alert" && r["alert"]["signature_id"] == 1001);
    assert!(reload_at < alert_at);
    // no flow lost: both end at the end of input, the first one unalerted
    let flows: Vec<_> = recs.iter().filter(|r| r["event_type"] == "flow").collect();
    assert_eq!(flows.len(), 2);
    let stats = recs.iter().find(|r| r["event_type"] == "stats").unwrap();
    assert_eq!(stats["stats"]["flow"]["created"], 2);
}

#[test]
fn a_broken_edit_keeps_the_running_policy_and_says_why() {
    let (recs, stderr, code) = run_with_reload("[[printer]\nname = ");
    assert_eq!(code, 0, "the exit status is untouched: {stderr}");
    assert!(stderr.contains("policy reload failed"), "{stderr}");
    let warning: Vec<_> = recs
        .iter()
        .filter(|r| r["event_type"] == "warning")
        .collect();
    assert_eq!(warning.len(), 1);
    assert_eq!(warning[0]["warning"]["code"], "policy_reload_failed");
    assert!(warning[0]["warning"]["message"]
        .as_str()
        .unwrap()
        .contains("policy.toml"));
    // the old policy still allows the client
    assert!(unexpected_ports(&recs).is_empty(), "{recs:#?}");
    assert!(!recs.iter().any(|r| r["event_type"] == "reload"));
}

/// Live: a port added to the policy is watched after SIGHUP, by the kernel filter and the flow
/// stage alike, without a restart.
#[test]
fn live_a_reload_with_new_ports_updates_the_capture_filter() {
    if !is_root() || !have("ip") {
        return skip_or_fail("the live reload test needs root and iproute2 (ip netns)");
    }
    let ns = format!("bjnpw-rl-{}", std::process::id());
    if !sh(&format!(
        "ip netns add {ns} && ip netns exec {ns} ip link set lo up"
    )) {
        return skip_or_fail("cannot create network namespaces here (no CAP_SYS_ADMIN?)");
    }
    let _ns = Netns(vec![ns.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "monitor_ports = { tcp = [9100], udp = [] }\n").unwrap();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns])
        .arg(bin())
        .args(["-i", "lo", "--stats-interval", "0", "--policy"])
        .arg(&policy)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = watch_stderr(
        &mut child,
        "bjnp-watch",
        &["capturing", "capture filter follows"],
    );
    rx.recv_timeout(Duration::from_secs(20))
        .expect("bjnp-watch did not start capturing");
    std::thread::sleep(Duration::from_millis(300));
    let knock = |port: u16| {
        let script = format!(
            "import socket\ns=socket.socket(); s.settimeout(1)\ntry: s.connect(('127.0.0.1',{port}))\nexcept OSError: pass\ns.close()"
        );
        assert!(Command::new("ip")
            .args(["netns", "exec", &ns, "python3", "-c", &script])
            .status()
            .unwrap()
            .success());
    };
    knock(9101); // not monitored yet
    std::fs::write(
        &policy,
        "monitor_ports = { tcp = [9100, 9101], udp = [] }\n",
    )
    .unwrap();
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let line = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the filter did not follow the reload");
    assert!(line.contains("capture filter follows"), "{line}");
    knock(9101); // monitored now
    std::thread::sleep(Duration::from_millis(500));
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let recs: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let reload = recs
        .iter()
        .find(|r| r["event_type"] == "reload")
        .expect("a reload record");
    assert_eq!(reload["reload"]["tcp_ports"]["before"], 1);
    assert_eq!(reload["reload"]["tcp_ports"]["after"], 2);
    assert_eq!(reload["reload"]["ports_applied"], true);
    // exactly one attempt on 9101 was seen: the one after the reload
    let flows: Vec<_> = recs
        .iter()
        .filter(|r| r["event_type"] == "flow" && r["dest_port"] == 9101)
        .collect();
    assert_eq!(flows.len(), 1, "{recs:#?}");
    assert_eq!(flows[0]["flow"]["outcome"], "refused");
}
