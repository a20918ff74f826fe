//! Operations: exit codes, the replay progress bar and summary, and the files in contrib/
//! checked by the tools that read them (systemd-analyze, logrotate; Filebeat and Vector are
//! not packaged in Debian, so their configurations are parsed and cross-checked instead).

#[path = "../common/mod.rs"]
mod common;
use common::*;
use std::process::{Command, Stdio};

#[test]
fn exit_codes_mean_what_the_help_says() {
    let s = sample("cups-bjnp-print.pcap");
    // 0: done
    assert_eq!(run(&["-r", &s, "-q"]).code, 0);
    // 2: usage and input errors
    let usage: &[&[&str]] = &[
        &["--no-such-flag"],
        &["-r", &s, "--format", "xml"],
        &["-r", &s, "--syslog", "http://x"],
        &["-r", &s, "--syslog", "tcp://no-such-host.invalid:514"],
        &[
            "-r",
            &s,
            "--syslog-facility",
            "local9",
            "--syslog",
            "udp://127.0.0.1",
        ],
        &["-r", &s, "--stats-interval", "-1"],
        &["-r", "samples/no-such.pcap"],
        &["-r", &s, "-o", "/no/such/dir/eve.json"],
        &["-r", &s, "-Z", "no-such-user-bjnpw"],
        &["-r", &s, "--syslog", "udp://127.0.0.1", "-o", "/tmp/x.json"],
    ];
    for args in usage {
        let r = run(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"));
        assert!(r.stdout.is_empty(), "{args:?} wrote records");
    }
    // an output that cannot be written (a full disk) does not end the sensor: the records are
    // dropped and counted, the trouble reported on stderr with the final stats it could not write
    if std::path::Path::new("/dev/full").exists() {
        let r = run(&["-r", &s, "-q", "-o", "/dev/full"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stderr.contains("cannot write records"), "{}", r.stderr);
        assert!(!r.stderr.contains("works again"), "{}", r.stderr);
        let stats = r
            .stderr
            .lines()
            .find(|l| l.starts_with('{'))
            .expect("the final stats on stderr");
        let v: serde_json::Value = serde_json::from_str(stats).unwrap();
        let o = &v["stats"]["output"];
        let n = |k: &str| o[k].as_u64().unwrap();
        assert_eq!(n("written"), 0);
        assert_eq!(n("records") + n("warnings"), n("dropped_sink_down"), "{o}");
    }
}

#[test]
fn summary_line_and_quiet() {
    let s = sample("gen-policy.pcap");
    let r = run(&["-r", &s]);
    assert_eq!(r.code, 0);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{:?}", r.stderr);
    let stats = r.of_type("stats");
    let st = &stats[0]["stats"];
    let want = format!(
        "bjnp-watch: {} packets (",
        st["capture"]["packets"].as_u64().unwrap()
    );
    assert!(lines[0].starts_with(&want), "{}", lines[0]);
    for part in [
        format!("; {} flows, ", st["flow"]["created"]),
        format!(" {} alerts, ", st["detect"]["alerts"]),
        format!(" {} records", st["output"]["records"]),
        "pkt/s, ".to_string(),
    ] {
        assert!(lines[0].contains(&part), "{part:?} in {}", lines[0]);
    }
    // every record reached the sink: the line does not say otherwise
    assert!(lines[0].ends_with(" records"), "{}", lines[0]);
    // no progress bar when stderr is not a terminal: nothing else on stderr
    assert!(!r.stderr.contains('\r') && !r.stderr.contains('\u{1b}'));
    let q = run(&["-r", &s, "--quiet"]);
    assert_eq!(q.code, 0);
    assert!(q.stderr.is_empty(), "{}", q.stderr);
    assert_eq!(q.stdout, r.stdout);
}

/// On a terminal (a pty from `script`), a long replay draws a progress bar with ETA.
#[test]
fn progress_bar_on_a_terminal() {
    if !have("script") {
        return skip_or_fail("script (util-linux) is needed to give the replay a terminal");
    }
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("storm.pcap");
    let ok = Command::new("python3")
        .arg(root().join("tools/gen_storms.py"))
        .args(["spoofed", "--no-needles", "--count", "60000", "--out"])
        .arg(&big)
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let cmd = format!("{} -r {} -o /dev/null", bin(), big.display());
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{tty}");
    assert!(tty.contains("ETA"), "no progress bar drawn: {tty:?}");
    assert!(tty.contains("pkt/s"));
    assert!(tty.contains("bjnp-watch: 60000 packets"), "{tty:?}");
    // --quiet: not even on a terminal
    let out = Command::new("script")
        .args(["-qec", &format!("{cmd} --quiet"), "/dev/null"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());
}

fn contrib(name: &str) -> String {
    std::fs::read_to_string(root().join("contrib").join(name)).unwrap()
}

/// The output path every contrib file agrees on.
const LOG: &str = "/var/log/bjnp-watch/eve.json";

#[test]
fn systemd_unit_verifies() {
    if !have("systemd-analyze") {
        return skip_or_fail("systemd-analyze (package systemd) is not installed");
    }
    let unit = contrib("bjnp-watch.service");
    assert!(unit.contains(&format!("-o {LOG}")));
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    let dir = tempfile::tempdir().unwrap();
    // verify checks that ExecStart exists: point it at the binary under test
    let path = dir.path().join("bjnp-watch.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/bjnp-watch", bin())).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // verify reports unknown keys and bad values as warnings with status 0: none allowed
    assert!(err.trim().is_empty(), "systemd-analyze verify: {err}");
    // and it does report them (the check is not vacuous)
    let bad = dir.path().join("bad.service");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&path)
            .unwrap()
            .replace("ProtectHome=yes", "ProtectHomme=yes"),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("ProtectHomme"));
}

#[test]
fn logrotate_snippet_parses_and_rotation_with_sighup_loses_nothing() {
    if !have("logrotate") {
        return skip_or_fail("logrotate is not installed (`make test` installs it)");
    }
    let snippet = contrib("logrotate");
    assert!(snippet.contains(LOG));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("eve.json");
    // the snippet as shipped, pointed at a scratch file, with postrotate signalling the test's
    // own bjnp-watch instead of the systemd unit
    let mut child = Command::new(bin())
        .args(["-r", "-", "-q", "-o"])
        .arg(&log)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let conf = snippet.replace(LOG, log.to_str().unwrap()).replace(
        "systemctl kill --signal=HUP --kill-whom=main bjnp-watch.service",
        &format!("kill -HUP {}", child.id()),
    );
    let conf_path = dir.path().join("logrotate.conf");
    std::fs::write(&conf_path, &conf).unwrap();
    let state = dir.path().join("state");
    let dry = Command::new("logrotate")
        .arg("-d")
        .arg("-s")
        .arg(&state)
        .arg(&conf_path)
        .output()
        .unwrap();
    let dry_err = String::from_utf8_lossy(&dry.stderr);
    assert!(
        dry.status.success() && !dry_err.contains("error"),
        "{dry_err}"
    );

    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap();
    let pcap = std::fs::read(root().join("samples/gen-policy.pcap")).unwrap();
    // header and the first half of the packets, then rotate, then the rest
    let half = pcap.len() / 2;
    let cut = packet_boundary(&pcap, half);
    stdin.write_all(&pcap[..cut]).unwrap();
    stdin.flush().unwrap();
    let t = std::time::Instant::now();
    while std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(t.elapsed().as_secs() < 10, "no records before rotation");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let forced = Command::new("logrotate")
        .arg("-f")
        .arg("-s")
        .arg(&state)
        .arg(&conf_path)
        .output()
        .unwrap();
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    let rotated = dir.path().join("eve.json.1");
    assert!(rotated.exists(), "logrotate did not rotate");
    std::thread::sleep(std::time::Duration::from_millis(400));
    stdin.write_all(&pcap[cut..]).unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
    let all = std::fs::read_to_string(&rotated).unwrap() + &std::fs::read_to_string(&log).unwrap();
    let direct = Command::new(bin())
        .args(["-q", "-r"])
        .arg(root().join("samples/gen-policy.pcap"))
        .output()
        .unwrap();
    let direct = String::from_utf8_lossy(&direct.stdout).into_owned();
    // the SIGHUP also reloaded the (absent) policy: one reload record, nothing changed
    let reloads: Vec<&str> = all
        .lines()
        .filter(|l| l.contains("\"event_type\":\"reload\""))
        .collect();
    assert_eq!(reloads.len(), 1, "{reloads:?}");
    assert!(reloads[0].contains("\"tcp_ports\":{\"before\":10,\"after\":10}"));
    // same records (the file name differs: '-' vs the path), none lost or doubled
    let strip = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| {
                !l.contains("\"event_type\":\"stats\"") && !l.contains("\"event_type\":\"reload\"")
            })
            .map(|l| {
                l.replace("\"pcap_filename\":\"-\",", "").replace(
                    &format!(
                        "\"pcap_filename\":\"{}\",",
                        root().join("samples/gen-policy.pcap").display()
                    ),
                    "",
                )
            })
            .collect()
    };
    assert_eq!(strip(&all), strip(&direct));
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("\"reopens\":1"));
}

/// The byte offset of the first packet record at or after `at` in a little-endian pcap.
fn packet_boundary(pcap: &[u8], at: usize) -> usize {
    let mut off = 24;
    while off < pcap.len() {
        let caplen = u32::from_le_bytes(pcap[off + 8..off + 12].try_into().unwrap()) as usize;
        let next = off + 16 + caplen;
        if next >= at {
            return next;
        }
        off = next;
    }
    pcap.len()
}

#[test]
fn vector_and_filebeat_inputs_read_the_units_output() {
    let vector: toml::Value = toml::from_str(&contrib("vector.toml")).expect("vector.toml is TOML");
    let src = &vector["sources"]["bjnp_watch"];
    assert_eq!(src["type"].as_str(), Some("file"));
    assert_eq!(src["include"][0].as_str(), Some(LOG));
    let remap = &vector["transforms"]["bjnp_watch_parse"];
    assert_eq!(remap["inputs"][0].as_str(), Some("bjnp_watch"));
    assert!(remap["source"].as_str().unwrap().contains("parse_json!"));
    if !have("python3") {
        return skip_or_fail("python3 is needed to parse filebeat.yml");
    }
    let check = format!(
        "import yaml,sys; c=yaml.safe_load(open('{}')); i=c['filebeat.inputs'][0]; \
         assert i['type']=='filestream', i; assert i['paths']==['{LOG}'], i; \
         assert 'ndjson' in i['parsers'][0], i",
        root().join("contrib/filebeat.yml").display()
    );
    let out = Command::new("python3")
        .args(["-c", &check])
        .output()
        .unwrap();
    if String::from_utf8_lossy(&out.stderr).contains("No module named 'yaml'") {
        return skip_or_fail("python3-yaml is needed to parse filebeat.yml");
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The fleet example: the sensor's file (name, Kafka, SASL over TLS) is one `--check-config`
/// accepts, with the password masked; the SIEM side reads the topic it names.
#[test]
fn the_fleet_examples_agree() {
    let policy = root().join("contrib/bjnp-watch-fleet.toml");
    // its CA file is the site's: without it, the check fails as the sensor would
    let r = run(&["--check-config", "--policy", policy.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("ssl.ca.location"), "{}", r.stderr);
    let ca = "/etc/ssl/certs/ca-certificates.crt";
    if !std::path::Path::new(ca).exists() {
        return skip_or_fail("no CA bundle at /etc/ssl/certs (Debian's ca-certificates)");
    }
    let ca_flag = format!("ssl.ca.location={ca}");
    let r = run(&[
        "--check-config",
        "--policy",
        policy.to_str().unwrap(),
        "--kafka-option",
        &ca_flag,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!(" {ca_flag} ")),
        "the flag wins: {}",
        r.stdout
    );
    assert!(!r.stdout.contains("kafka-ca.pem (not"), "{}", r.stdout);
    assert!(
        r.stdout.contains(
            "# output: kafka://kafka1.example.internal:9093,kafka2.example.internal:9093/printer-security"
        ),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("sasl.password=***"), "{}", r.stdout);
    assert!(
        !r.stdout.contains("change-me"),
        "a secret was shown: {}",
        r.stdout
    );
    assert!(
        r.stdout.contains("[sensor]\nname = \"bldg2-floor3\""),
        "{}",
        r.stdout
    );
    let vector: toml::Value =
        toml::from_str(&contrib("vector-kafka.toml")).expect("vector-kafka.toml is TOML");
    let src = &vector["sources"]["bjnp_fleet"];
    assert_eq!(src["type"].as_str(), Some("kafka"));
    assert_eq!(src["topics"][0].as_str(), Some("printer-security"));
    // a flag beats the file: an unknown librdkafka setting is refused before anything runs
    let r = run(&[
        "--check-config",
        "--policy",
        policy.to_str().unwrap(),
        "--kafka-option",
        "no.such.setting=1",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}
