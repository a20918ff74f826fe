//! `bjnp-watch verify` on captures of a real fix (tools/record_verify.sh: CUPS socket and bjnp
//! backends, nmap, iptables DROP and REJECT on a router in namespaces): the verdicts, the
//! before/after split, every format, the exit statuses, the records path, a live watch, and
//! the HTML page in a real browser.

#[path = "../common/mod.rs"]
mod common;

use common::*;
use serde_json::Value;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const POLICY: &str = "tests/policy/verify-lab.toml";

fn change_at(sample: &str) -> String {
    std::fs::read_to_string(root().join(format!("samples/{sample}.change-at")))
        .unwrap()
        .trim()
        .to_owned()
}

fn verify(args: &[&str]) -> Run {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    run(&all)
}

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.stdout))
}

fn row<'a>(report: &'a Value, proto: &str, port: u64) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["proto"] == proto && r["port"] == port)
        .unwrap_or_else(|| panic!("no row {proto}/{port} in {report:#}"))
}

fn fix_report(format: &str) -> Run {
    let at = change_at("verify-fix");
    verify(&[
        "-r",
        "samples/verify-fix.pcap",
        "--policy",
        POLICY,
        "--change-at",
        &at,
        "--format",
        format,
    ])
}

#[test]
fn the_fix_passes_and_shows_both_sides() {
    let r = fix_report("json");
    assert_eq!(r.code, 0, "pass exits 0; stderr: {}", r.stderr);
    let j = json(&r);
    assert_eq!(j["overall"], "pass", "{:#}", j["reasons"]);
    // raw printing: reached by the workstation before, DROPped (unanswered) after
    let raw = row(&j, "TCP", 9100);
    assert_eq!(raw["before"]["reachability"], "open");
    assert_eq!(raw["reachability"], "blocked");
    assert_eq!(raw["reach"]["outcomes"]["attempted"], 2, "{raw:#}");
    assert_eq!(raw["reach"]["conn_states"]["S0"], 2);
    assert_eq!(raw["reach"]["sample_clients"][0], "10.77.1.50");
    assert_eq!(raw["service"], "working");
    assert_eq!(
        raw["usage"]["jobs"], 1,
        "the print server's job after the change"
    );
    // BJNP over TCP: REJECT with a reset
    let bjnp = row(&j, "TCP", 8611);
    assert_eq!(bjnp["reachability"], "blocked");
    assert_eq!(bjnp["reach"]["conn_states"]["REJ"], 1, "{bjnp:#}");
    assert_eq!(bjnp["service"], "working");
    assert_eq!(
        bjnp["usage"]["jobs"], 1,
        "one BJNP print session after the change"
    );
    // BJNP over UDP: REJECT with an ICMP port unreachable, which alone proves the refusal
    let udp = row(&j, "UDP", 8611);
    assert_eq!(udp["before"]["reachability"], "open");
    assert_eq!(udp["reachability"], "blocked");
    assert_eq!(udp["reach"]["outcomes"]["refused"], 1, "{udp:#}");
    assert_eq!(udp["reach"]["refused_by_icmp"], 1);
    assert_eq!(
        udp["reach"]["conn_states"]["S0"], 1,
        "Zeek's state stays S0"
    );
    // the blocked port, tested on both protocols, by the workstation only
    for proto in ["TCP", "UDP"] {
        let b = row(&j, proto, 8612);
        assert_eq!(b["blocked_port"], true);
        assert_eq!(b["reachability"], "blocked", "{b:#}");
        assert!(b.get("severity").is_none());
    }
    assert!(j["before"]["attempts"].as_u64().unwrap() > 0);
    assert!(j["after"]["attempts"].as_u64().unwrap() > 0);
    assert_eq!(j["change_at"], change_at("verify-fix").as_str());
}

#[test]
fn the_broken_fix_fails_because_printing_broke() {
    let at = change_at("verify-broken");
    let r = verify(&[
        "-r",
        "samples/verify-broken.pcap",
        "--policy",
        POLICY,
        "--change-at",
        &at,
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 1, "fail exits 1; stderr: {}", r.stderr);
    let j = json(&r);
    assert_eq!(j["overall"], "fail");
    for (proto, port) in [("TCP", 9100), ("TCP", 8611), ("UDP", 8611)] {
        let x = row(&j, proto, port);
        assert_eq!(x["before"]["service"], "working", "{x:#}");
        assert_eq!(x["service"], "broken", "{x:#}");
        assert_eq!(
            x["reachability"], "blocked",
            "the fix did block the workstation"
        );
        assert_eq!(x["severity"], 2);
    }
    assert!(j["reasons"][0].as_str().unwrap().contains("broke printing"));
    // without the change the same capture says what the whole of it shows
    let whole = verify(&[
        "-r",
        "samples/verify-broken.pcap",
        "--policy",
        POLICY,
        "--format",
        "json",
    ]);
    let w = json(&whole);
    assert_eq!(
        row(&w, "TCP", 9100)["reachability"],
        "open",
        "before the change it was open"
    );
    assert_eq!(whole.code, 1);
}

#[test]
fn no_change_no_traffic_and_untested_ports_are_inconclusive() {
    // the whole fix capture without --change-at: the workstation got through before the fix
    let r = verify(&["-r", "samples/verify-fix.pcap", "--policy", POLICY]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    // a capture without printer traffic proves nothing
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pcap");
    let mut header = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    header.extend([0u8; 8]);
    header.extend(65535u32.to_le_bytes());
    header.extend(1u32.to_le_bytes());
    std::fs::write(&empty, header).unwrap();
    let r = verify(&[
        "-r",
        empty.to_str().unwrap(),
        "--policy",
        POLICY,
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 3, "inconclusive exits 3; {}", r.stdout);
    let j = json(&r);
    assert_eq!(j["overall"], "inconclusive");
    let untested = row(&j, "UDP", 8612);
    assert_eq!(untested["reachability"], "untested");
    assert!(untested["reach"]["how_to_test"]
        .as_str()
        .unwrap()
        .contains("nmap -sU -p 8612 --script bjnp-discover 10.77.0.30"));
}

#[test]
fn records_give_the_same_report_as_the_capture() {
    let dir = tempfile::tempdir().unwrap();
    let eve = dir.path().join("eve.json");
    let eve_s = eve.to_str().unwrap();
    let w = run(&[
        "-r",
        "samples/verify-fix.pcap",
        "--policy",
        POLICY,
        "-o",
        eve_s,
        "-q",
    ]);
    assert_eq!(w.code, 0, "{}", w.stderr);
    let at = change_at("verify-fix");
    let from_pcap = fix_report("json");
    let from_records = verify(&[
        "--records",
        eve_s,
        "--policy",
        POLICY,
        "--change-at",
        &at,
        "--format",
        "json",
    ]);
    assert_eq!(from_records.code, 0, "{}", from_records.stderr);
    assert_eq!(
        json(&from_records),
        json(&from_pcap),
        "same evidence, same report"
    );
    // a record file cut mid-line (the sensor is still writing) is read up to the cut
    let text = std::fs::read_to_string(&eve).unwrap();
    let cut = dir.path().join("cut.json");
    std::fs::write(&cut, &text[..text.len() - 40]).unwrap();
    let r = verify(&["--records", cut.to_str().unwrap(), "--policy", POLICY]);
    assert!(r.stderr.contains("ends mid-record"), "{}", r.stderr);
    assert!(
        r.code == 0 || r.code == 1 || r.code == 3,
        "a verdict, not an error: {}",
        r.stderr
    );
    // anything else that is not EVE is an input error that names the line
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        format!("{}\nnot json\n", text.lines().next().unwrap()),
    )
    .unwrap();
    verify(&["--records", bad.to_str().unwrap()]).assert_clean_error(2, "line 2");
    let ecs = dir.path().join("ecs.json");
    std::fs::write(&ecs, "{\"@timestamp\":\"2026-01-01T00:00:00Z\"}\n").unwrap();
    verify(&["--records", ecs.to_str().unwrap()]).assert_clean_error(2, "not an EVE record");
}

/// Writes the packets of a pcap before `at` (or from it on) to `out`: the capture split at the
/// change, as two files a user would bring.
fn split_pcap(src: &Path, at_ns: u64, before: bool, out: &Path) {
    let b = std::fs::read(src).unwrap();
    assert_eq!(
        &b[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian microsecond pcap"
    );
    let mut o = b[..24].to_vec();
    let mut i = 24;
    while i + 16 <= b.len() {
        let u = |k: usize| u64::from(u32::from_le_bytes(b[i + k..i + k + 4].try_into().unwrap()));
        let ts = u(0) * 1_000_000_000 + u(4) * 1000;
        let len = u(8) as usize;
        if (ts < at_ns) == before {
            o.extend_from_slice(&b[i..i + 16 + len]);
        }
        i += 16 + len;
    }
    std::fs::write(out, o).unwrap();
}

#[test]
fn before_and_after_files_agree_with_change_at() {
    let dir = tempfile::tempdir().unwrap();
    let at = change_at("verify-fix");
    let t = humantime::parse_rfc3339(&at).unwrap();
    let at_ns = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let src = root().join("samples/verify-fix.pcap");
    let (b, a) = (
        dir.path().join("before.pcap"),
        dir.path().join("after.pcap"),
    );
    split_pcap(&src, at_ns, true, &b);
    split_pcap(&src, at_ns, false, &a);
    let r = verify(&[
        "--before",
        b.to_str().unwrap(),
        "--after",
        a.to_str().unwrap(),
        "--policy",
        POLICY,
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let split = json(&r);
    let joined = json(&fix_report("json"));
    let verdicts = |j: &Value| -> Vec<(String, String, String, String, String)> {
        j["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    format!("{}/{}", r["proto"], r["port"]),
                    r["reachability"].to_string(),
                    r["service"].to_string(),
                    r["before"]["reachability"].to_string(),
                    r["before"]["service"].to_string(),
                )
            })
            .collect()
    };
    assert_eq!(verdicts(&split), verdicts(&joined));
    // an EVE file is accepted as either side
    let eve = dir.path().join("after.json");
    let w = run(&[
        "-r",
        a.to_str().unwrap(),
        "--policy",
        POLICY,
        "-o",
        eve.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(w.code, 0);
    let r = verify(&[
        "--before",
        b.to_str().unwrap(),
        "--after",
        eve.to_str().unwrap(),
        "--policy",
        POLICY,
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn table_and_markdown_read_at_a_glance() {
    let t = fix_report("table");
    assert!(
        t.stdout.starts_with("bjnp-watch verify: PASS\n"),
        "{}",
        t.stdout
    );
    let raw = t.stdout.lines().find(|l| l.contains("tcp/9100")).unwrap();
    assert!(
        raw.contains("open → blocked") && raw.contains("working (unchanged)"),
        "{raw}"
    );
    assert!(t.stdout.contains("change at "));
    let m = fix_report("markdown");
    assert!(m.stdout.contains("**PASS**"));
    let header = m
        .stdout
        .lines()
        .find(|l| l.starts_with("| printer |"))
        .unwrap();
    let cols = header.matches('|').count();
    for l in m.stdout.lines().filter(|l| l.starts_with("| lab-printer")) {
        assert_eq!(
            l.matches('|').count() - l.matches("\\|").count(),
            cols,
            "{l}"
        );
    }
    assert_eq!(
        m.stdout
            .lines()
            .filter(|l| l.starts_with("| lab-printer"))
            .count(),
        5
    );
}

/// The README shows the table of the fix sample: it must be what the code prints today.
#[test]
fn readme_table_is_current() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let at = readme.find("<!-- verify-fix table").expect("README marker");
    let block: Vec<&str> = readme[at..]
        .lines()
        .skip(2)
        .take_while(|l| l.trim() != "```")
        .map(|l| l.strip_prefix("   ").unwrap_or(l))
        .collect();
    let shown = block.join("\n") + "\n";
    assert_eq!(
        shown,
        fix_report("table").stdout,
        "README's verify table is stale"
    );
}

#[test]
fn usage_errors_are_clean() {
    verify(&["-r", "samples/nope.pcap"]).assert_clean_error(2, "nope.pcap");
    let r = verify(&["-r", "samples/verify-fix.pcap", "--change-at", "yesterday"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is not a time"), "{}", r.stderr);
    let r = verify(&["-i", "lo"]);
    assert_eq!(r.code, 2, "-i needs --for");
    assert!(r.stderr.contains("--for"), "{}", r.stderr);
    let r = verify(&["--before", "samples/verify-fix.pcap"]);
    assert_eq!(r.code, 2, "--before needs --after");
    let r = verify(&[]);
    assert_eq!(r.code, 2, "no evidence");
    verify(&["-i", "no-such-if0", "--for", "1s"]).assert_clean_error(2, "no-such-if0");
}

#[test]
fn html_is_one_self_contained_page_with_a_timeline_per_printer() {
    let h = fix_report("html");
    assert_eq!(h.code, 0);
    let page = &h.stdout;
    assert!(page.starts_with("<!DOCTYPE html>"));
    for external in ["src=", "href=", "http://", "https://", "@import", "url("] {
        assert!(!page.contains(external), "self-contained: found {external}");
    }
    assert_eq!(
        page.matches("<svg class=\"timeline\"").count(),
        1,
        "one printer, one chart"
    );
    assert!(page.contains("class=\"change\""), "the change is marked");
    for class in [
        "unallowed-established",
        "unallowed-refused",
        "unallowed-attempted",
        "allowed-ok",
    ] {
        assert!(
            page.contains(&format!("class=\"bar {class}\"")),
            "{class} bars"
        );
    }
    assert!(page.contains("id=\"overall\" class=\"verdict pass\""));
    // the embedded report is the JSON report
    let start = page.find("id=\"report\">").unwrap() + "id=\"report\">".len();
    let end = start + page[start..].find("</script>").unwrap();
    let embedded: Value = serde_json::from_str(&page[start..end].replace("<\\/", "</")).unwrap();
    assert_eq!(embedded, json(&fix_report("json")));
}

/// The page in headless Chromium: it renders (a screenshot of the chart), the browser's DOM
/// holds the table rows and chart bars, and the console stays free of errors.
#[test]
fn html_renders_in_chromium() {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| have(b))
    else {
        return skip_or_fail("headless Chromium is not installed (make test installs it)");
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let at = change_at("verify-broken");
    let r = verify(&[
        "-r",
        "samples/verify-broken.pcap",
        "--policy",
        POLICY,
        "--change-at",
        &at,
        "--format",
        "html",
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let url = format!("file://{}", page.display());
    let shot = dir.path().join("shot.png");
    let base = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--enable-logging=stderr",
        "--v=0",
    ];
    let profile = format!("--user-data-dir={}", dir.path().join("profile").display());
    let out = Command::new("timeout")
        .arg("60")
        .arg(chromium)
        .args(base)
        .arg(&profile)
        .args([
            "--window-size=1200,1400",
            &format!("--screenshot={}", shot.display()),
            &url,
        ])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let png =
        std::fs::read(&shot).unwrap_or_else(|_| panic!("no screenshot; chromium said: {log}"));
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 20_000,
        "a rendered page, not a blank one ({} bytes)",
        png.len()
    );
    let dom = Command::new("timeout")
        .arg("60")
        .arg(chromium)
        .args(base)
        .arg(&profile)
        .args(["--dump-dom", &url])
        .output()
        .unwrap();
    let dom_log = String::from_utf8_lossy(&dom.stderr);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("class=\"verdict fail\""), "{dom}");
    assert_eq!(dom.matches("<tr data-printer=").count(), 5);
    assert!(
        dom.matches("class=\"bar allowed-failed\"").count() >= 1,
        "the broken service shows"
    );
    for l in [&log, &dom_log] {
        let errors: Vec<&str> = l
            .lines()
            .filter(|x| x.contains("CONSOLE") || x.contains("Uncaught"))
            .collect();
        assert!(errors.is_empty(), "console errors: {errors:#?}");
    }
}

/// `verify -i` watches a real interface for a bounded time: in a namespace of its own, an
/// allowed client prints over TCP 9100 while another one is refused on TCP 8611 (a reset) and
/// on UDP 8611 and 8612 (ICMP port unreachable, which the default filter must let through).
#[test]
fn live_watch_for_a_bounded_time() {
    if !is_root() || !have("ip") || !have("python3") {
        return skip_or_fail("the live verify test needs root, iproute2 and python3");
    }
    let ns = format!("bjnpw-verify-{}", std::process::id());
    let ok = Command::new("sh")
        .args([
            "-c",
            &format!("ip netns add {ns} && ip netns exec {ns} ip link set lo up"),
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return skip_or_fail("cannot create network namespaces here (no CAP_SYS_ADMIN?)");
    }
    struct Ns(String);
    impl Drop for Ns {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let _guard = Ns(ns.clone());
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns])
        .arg(bin())
        .args([
            "verify",
            "-i",
            "lo",
            "--for",
            "4s",
            "--printer",
            "127.0.0.1",
            "--allow",
            "127.0.0.2/32",
            "--blocked-port",
            "8612",
            "--format",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = watch_stderr(&mut child, "verify", &["watching"]);
    rx.recv_timeout(Duration::from_secs(20))
        .expect("verify started watching");
    std::thread::sleep(Duration::from_millis(300));
    let script = r#"
import socket, threading
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 9100)); srv.listen(1); srv.settimeout(3)
def serve():
    c, _ = srv.accept(); c.settimeout(2)
    while c.recv(4096): pass
    c.close()
t = threading.Thread(target=serve); t.start()
job = socket.socket(); job.settimeout(2); job.bind(("127.0.0.2", 0))
job.connect(("127.0.0.1", 9100)); job.sendall(b"\x1b%-12345X@PJL JOB\r\nhello\x0c\x1b%-12345X"); job.close()
t.join(3)
for p in (8611, 8612):
    bad = socket.socket(); bad.settimeout(1); bad.bind(("127.0.0.5", 0))
    try: bad.connect(("127.0.0.1", p))
    except OSError: pass
    bad.close()
for p in (8611, 8612):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.5", 0))
    u.sendto(b"BJNP\x01\x30" + bytes(10), ("127.0.0.1", p)); u.close()
"#;
    assert!(Command::new("ip")
        .args(["netns", "exec", &ns, "timeout", "10", "python3", "-c", script])
        .status()
        .unwrap()
        .success());
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = child.wait().unwrap();
    let j: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(j["overall"], "pass", "{j:#}");
    assert_eq!(status.code(), Some(0));
    let raw = row(&j, "TCP", 9100);
    assert_eq!(
        (raw["service"].as_str(), raw["usage"]["jobs"].as_u64()),
        (Some("working"), Some(1))
    );
    for port in [8611, 8612] {
        assert_eq!(row(&j, "TCP", port)["reach"]["conn_states"]["REJ"], 1);
        let u = row(&j, "UDP", port);
        assert_eq!(u["reachability"], "blocked", "{u:#}");
        assert_eq!(
            u["reach"]["refused_by_icmp"], 1,
            "the ICMP unreachable was captured: {u:#}"
        );
    }
}
