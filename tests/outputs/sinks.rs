//! Sinks: `-o FILE` reopened on SIGHUP with nothing lost, and syslog over UDP, TCP
//! (octet-counted) and a unix socket, read back from a real rsyslogd the test starts on
//! loopback, including a receiver that dies and comes back.

#[path = "../common/mod.rs"]
mod common;
use common::*;
use serde_json::Value;
use std::io::Write;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

// ---- a capture written on the fly: classic pcap, Ethernet, one BJNP discover per frame ----

/// A BJNP discover from 192.0.2.5:`sport` to 192.0.2.30:8611 at second `t`.
fn discover_frame(t: u32, sport: u16) -> Vec<u8> {
    let bjnp = [b"BJNP".as_slice(), &[1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]].concat();
    let udp_len = 8 + bjnp.len() as u16;
    let ip = ipv4_header([192, 0, 2, 5], [192, 0, 2, 30], 17, udp_len);
    let mut frame = vec![2, 0, 0x5e, 0x10, 0, 0x30, 2, 0, 0x5e, 0x10, 0, 5, 8, 0];
    frame.extend(ip);
    frame.extend(sport.to_be_bytes());
    frame.extend(8611u16.to_be_bytes());
    frame.extend(udp_len.to_be_bytes());
    frame.extend([0, 0]);
    frame.extend(bjnp);
    let mut rec = vec![];
    rec.extend((1_768_471_200 + t).to_le_bytes());
    rec.extend(0u32.to_le_bytes());
    rec.extend((frame.len() as u32).to_le_bytes());
    rec.extend((frame.len() as u32).to_le_bytes());
    rec.extend(frame);
    rec
}

fn spawn_reading_stdin(args: &[&str]) -> (Child, ChildStdin) {
    spawn_reading_stdin_with(args, Stdio::inherit())
}

/// The same, with `stderr` where the test wants it (piped: to read the final stats there).
fn spawn_reading_stdin_with(args: &[&str], stderr: Stdio) -> (Child, ChildStdin) {
    let mut child = Command::new(bin())
        .args(["-r", "-", "-q"])
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&pcap_header()).unwrap();
    (child, stdin)
}

fn feed(stdin: &mut ChildStdin, from: u32, to: u32) {
    for i in from..to {
        stdin
            .write_all(&discover_frame(i, 40_000 + i as u16))
            .unwrap();
    }
    stdin.flush().unwrap();
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn lines_of(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn sighup_reopens_the_output_file_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eve.json");
    let rotated = dir.path().join("eve.json.1");
    let (mut child, mut stdin) = spawn_reading_stdin(&["-o", out.to_str().unwrap()]);
    feed(&mut stdin, 0, 20);
    // 20 discovers: a bjnp record each (and one alert), flushed within 200 ms
    wait_for("the first records", Duration::from_secs(10), || {
        lines_of(&out).len() >= 20
    });
    std::fs::rename(&out, &rotated).unwrap();
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    wait_for("the new file", Duration::from_secs(10), || out.exists());
    feed(&mut stdin, 20, 40);
    drop(stdin);
    assert!(child.wait().unwrap().success());

    let old = lines_of(&rotated);
    let new = lines_of(&out);
    assert!(
        old.len() >= 20 && new.len() >= 20,
        "{} + {}",
        old.len(),
        new.len()
    );
    // the same capture in one go gives the same records, in the same order
    let dir2 = tempfile::tempdir().unwrap();
    let once = dir2.path().join("once.json");
    let (mut c2, mut s2) = spawn_reading_stdin(&["-o", once.to_str().unwrap()]);
    feed(&mut s2, 0, 40);
    drop(s2);
    assert!(c2.wait().unwrap().success());
    let once = lines_of(&once);
    // SIGHUP also reloaded the (absent) policy: one `reload` record, then the same records
    let is_reload = |l: &String| l.contains("\"event_type\":\"reload\"");
    let both: Vec<String> = old.iter().chain(&new).cloned().collect();
    assert_eq!(both.iter().filter(|l| is_reload(l)).count(), 1);
    let both: Vec<String> = both.into_iter().filter(|l| !is_reload(l)).collect();
    assert_eq!(both.len(), once.len());
    let last = both.len() - 1;
    assert_eq!(
        both[..last],
        once[..last],
        "records lost, doubled or reordered"
    );
    let stats: Value = serde_json::from_str(&both[last]).unwrap();
    assert_eq!(stats["stats"]["output"]["reopens"], 1);
    // every record before the stats one was written, the reload record too
    assert_eq!(stats["stats"]["output"]["written"], last as u64 + 1);
    // the first records after the signal went to the new file: the reload, then a bjnp record
    let first_new: Vec<Value> = new
        .iter()
        .take(2)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(first_new[0]["event_type"], "reload");
    assert_eq!(first_new[1]["event_type"], "bjnp");
}

// ---- rsyslog ----

struct Rsyslog {
    child: Child,
    dir: PathBuf,
    udp: u16,
    tcp: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Rsyslog {
    fn start(dir: &Path, udp: u16, tcp: u16) -> Rsyslog {
        let conf = format!(
            r#"global(workDirectory="{d}" maxMessageSize="8k")
module(load="imudp")
module(load="imtcp")
module(load="imuxsock" SysSock.Use="off")
input(type="imudp" address="127.0.0.1" port="{udp}")
input(type="imtcp" address="127.0.0.1" port="{tcp}")
input(type="imuxsock" Socket="{d}/log")
template(name="fields" type="string" string="%inputname%|%syslogfacility-text%|%syslogseverity-text%|%hostname%|%app-name%|%procid%|%msgid%|%msg%\n")
*.* action(type="omfile" file="{d}/out.log" template="fields")
"#,
            d = dir.display()
        );
        std::fs::write(dir.join("rsyslog.conf"), conf).unwrap();
        let child = Command::new("rsyslogd")
            .args(["-n", "-f"])
            .arg(dir.join("rsyslog.conf"))
            .arg("-i")
            .arg(dir.join("rsyslog.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start rsyslogd");
        let r = Rsyslog {
            child,
            dir: dir.to_owned(),
            udp,
            tcp,
        };
        wait_for("rsyslogd to listen", Duration::from_secs(15), || {
            TcpStream::connect(("127.0.0.1", tcp)).is_ok() && dir.join("log").exists()
        });
        r
    }

    fn stop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    /// (input, facility, severity, hostname, app, procid, msgid, msg) per stored message.
    fn stored(&self) -> Vec<Vec<String>> {
        lines_of(&self.dir.join("out.log"))
            .into_iter()
            .map(|l| {
                let mut f: Vec<String> = l.splitn(8, '|').map(str::to_owned).collect();
                // rsyslog keeps the space that separates a BSD-style tag from the message
                if let Some(m) = f.get_mut(7) {
                    if let Some(rest) = m.strip_prefix(' ') {
                        *m = rest.to_owned();
                    }
                }
                f
            })
            .collect()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}

fn rsyslog_available() -> bool {
    if have("rsyslogd") {
        return true;
    }
    skip_or_fail("rsyslogd is not installed (Debian package rsyslog; `make test` installs it)");
    false
}

#[test]
fn syslog_udp_tcp_and_unix_socket_into_a_real_rsyslogd() {
    if !rsyslog_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rs = Rsyslog::start(dir.path(), free_udp_port(), free_port());
    let capture = sample("gen-policy.pcap");
    let eve = run(&["-r", &capture, "-q"]);
    let want: Vec<&str> = eve.stdout.lines().collect();
    let targets = [
        ("imudp", format!("udp://127.0.0.1:{}", rs.udp)),
        ("imtcp", format!("tcp://127.0.0.1:{}", rs.tcp)),
        ("imuxsock", format!("unix://{}/log", dir.path().display())),
    ];
    for (_, url) in &targets {
        let r = run(&[
            "-r",
            &capture,
            "-q",
            "--syslog",
            url,
            "--sensor-name",
            "sensor-1",
        ]);
        assert_eq!(r.code, 0, "{url}: {}", r.stderr);
        assert!(r.stdout.is_empty());
    }
    wait_for("every message in rsyslog", Duration::from_secs(20), || {
        rs.stored().len() >= 3 * want.len()
    });
    let stored = rs.stored();
    for (input, url) in &targets {
        let got: Vec<&Vec<String>> = stored.iter().filter(|f| f[0] == *input).collect();
        assert_eq!(got.len(), want.len(), "{url}");
        for (f, w) in got.iter().zip(&want) {
            let rec: Value = serde_json::from_str(w).unwrap();
            let et = rec["event_type"].as_str().unwrap();
            assert_eq!(f[1], "local5", "{url}");
            assert_eq!(f[4], "bjnp-watch", "{url}");
            let severity = match rec["alert"]["severity"].as_u64() {
                Some(1) => "crit",
                Some(2) => "err",
                Some(3) => "warning",
                Some(_) => "notice",
                None => "info",
            };
            assert_eq!(f[2], severity, "{url} {et}");
            if *input != "imuxsock" {
                // RFC 5424 fields, parsed by rsyslog
                assert_eq!(f[3], "sensor-1", "{url}");
                assert_eq!(f[6], et, "{url}");
            }
            assert!(f[5].parse::<u32>().is_ok(), "procid {:?}", f[5]);
            // the message is the record, byte for byte, except the stats counters
            let mut msg: Value = serde_json::from_str(&f[7])
                .unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {:?}", f[7]));
            // a named sensor's EVE records carry its name
            let host = msg.as_object_mut().unwrap().remove("host");
            assert_eq!(
                host.as_ref().and_then(Value::as_str),
                Some("sensor-1"),
                "{url}"
            );
            if et == "stats" {
                assert_eq!(msg["stats"]["output"]["written"], (want.len() - 1) as u64);
                assert_eq!(msg["stats"]["output"]["dropped_sink_down"], 0);
            } else {
                assert_eq!(msg, rec, "{url}");
            }
        }
    }
}

#[test]
fn cef_over_tcp_syslog() {
    if !rsyslog_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rs = Rsyslog::start(dir.path(), free_udp_port(), free_port());
    let url = format!("tcp://127.0.0.1:{}", rs.tcp);
    let capture = sample("gen-hostile-strings.pcap");
    let want = run(&["-r", &capture, "-q", "--format", "cef"]);
    let want: Vec<&str> = want.stdout.lines().collect();
    let r = run(&["-r", &capture, "-q", "--format", "cef", "--syslog", &url]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    wait_for("the CEF messages", Duration::from_secs(20), || {
        rs.stored().len() >= want.len()
    });
    let stored = rs.stored();
    assert_eq!(stored.len(), want.len());
    for (f, w) in stored.iter().zip(&want) {
        assert!(f[7].starts_with("CEF:0|bjnp-watch|"), "{:?}", f[7]);
        // octet counting kept every record whole, hostile bytes and all (stats aside: the
        // written counter differs run to run only if something was lost)
        assert_eq!(&f[7], w);
    }
}

#[test]
fn tcp_syslog_receiver_restart_drops_are_counted_and_delivery_resumes() {
    if !rsyslog_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (udp, tcp) = (free_udp_port(), free_port());
    let mut rs = Rsyslog::start(dir.path(), udp, tcp);
    let url = format!("tcp://127.0.0.1:{tcp}");
    let (mut child, mut stdin) = spawn_reading_stdin(&["--syslog", &url]);
    feed(&mut stdin, 0, 10);
    wait_for("the first messages", Duration::from_secs(10), || {
        rs.stored().len() >= 10
    });
    rs.stop();
    let before = rs.stored().len();
    // records made while the receiver is down are dropped, not queued forever
    feed(&mut stdin, 10, 20);
    std::thread::sleep(Duration::from_millis(500));
    let _ = std::fs::remove_file(dir.path().join("log"));
    let rs2 = Rsyslog::start(dir.path(), udp, tcp);
    // once the backoff allows a new attempt, records reconnect and get through: feed a few
    // at a time until they arrive (bounded: 10 rounds)
    for round in 0..10u32 {
        feed(&mut stdin, 20 + 5 * round, 25 + 5 * round);
        std::thread::sleep(Duration::from_millis(700));
        if rs2.stored().len() > before {
            break;
        }
    }
    assert!(rs2.stored().len() > before, "never reconnected");
    drop(stdin);
    assert!(child.wait().unwrap().success());
    wait_for("the final stats record", Duration::from_secs(10), || {
        rs2.stored().iter().any(|f| f[6] == "stats")
    });
    let stored = rs2.stored();
    assert!(before >= 10);
    let stats: Value = serde_json::from_str(&stored.last().unwrap()[7]).unwrap();
    let o = &stats["stats"]["output"];
    assert!(o["reconnects"].as_u64().unwrap() >= 1, "{o}");
    let dropped = o["dropped_sink_down"].as_u64().unwrap();
    let written = o["written"].as_u64().unwrap();
    assert!(dropped >= 2, "{o}");
    // every record the engine made was either written or counted as dropped
    assert_eq!(written + dropped, o["records"].as_u64().unwrap(), "{o}");
    // and what was written is exactly what the two rsyslog runs stored (one file)
    assert_eq!(stored.len() as u64 - 1, written, "{o}");
}

// ---- sinks that fail: they never end the sensor nor corrupt a file ----

/// Every line of the file is one whole JSON record.
fn assert_whole_lines(p: &Path, skip_first: usize) -> Vec<Value> {
    let text = std::fs::read_to_string(p).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "ends mid-line");
    text.lines()
        .skip(skip_first)
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a whole record ({e}): {l}"))
        })
        .collect()
}

#[test]
fn a_file_left_mid_line_gets_a_newline_before_new_records() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eve.json");
    std::fs::write(&out, "{\"timestamp\":\"2026-01-01T00:00:00Z\",\"event_ty").unwrap();
    let r = run(&[
        "-r",
        "samples/gen-policy.pcap",
        "-q",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "{\"timestamp\":\"2026-01-01T00:00:00Z\",\"event_ty"
    );
    let recs = assert_whole_lines(&out, 1);
    assert!(recs.len() > 10);
    assert_eq!(recs.last().unwrap()["event_type"], "stats");
}

/// A tmpfs of 64 KiB that fills up during a replay (root: a mount namespace of the test's own).
/// The sensor goes on, drops what does not fit (counted), leaves only whole lines, reports the
/// trouble on stderr, and the final stats (which the full disk cannot take) go to stderr.
#[test]
fn a_filling_disk_drops_records_whole_and_counted() {
    if !is_root() || !have("unshare") {
        return skip_or_fail("the full-disk test needs root and unshare (a mount namespace)");
    }
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let out = mnt.join("eve.json");
    let copy = dir.path().join("eve-copy.json");
    // the namespace's mount vanishes with it: copy the file out before leaving
    let script = format!(
        "mount -t tmpfs -o size=64k tmpfs {m} && {bin} -r samples/gen-storm-recon.pcap -q -o {o}; rc=$?; cp {o} {c}; exit $rc",
        m = mnt.display(),
        bin = bin(),
        o = out.display(),
        c = copy.display()
    );
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .current_dir(root())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    if stderr.contains("mount:") {
        return skip_or_fail(&format!("cannot mount a tmpfs here: {stderr}"));
    }
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let size = std::fs::metadata(&copy).unwrap().len();
    assert!(size > 32 * 1024, "the disk filled up: {size} bytes");
    let recs = assert_whole_lines(&copy, 0);
    assert!(stderr.contains("cannot write records"), "{stderr}");
    let st = final_stats_on_stderr(&stderr);
    let out_st = &st["stats"]["output"];
    let n = |k: &str| out_st[k].as_u64().unwrap();
    assert!(n("dropped_sink_down") > 0, "{out_st}");
    assert_eq!(
        n("records") + n("warnings"),
        n("written") + n("dropped_sink_down") + n("dropped_queue_full"),
        "{out_st}"
    );
    // what the file holds is what was counted as written (the warning of the failure included)
    assert_eq!(recs.len() as u64, n("written"), "{out_st}");
}

/// Logrotate moved the file away and the directory is not writable by the `-Z` user: the
/// reopen fails, the sensor writes on to the open (moved) file, says so in a warning record
/// and on stderr, and still ends with exit 0 and the final stats.
#[test]
fn a_failed_reopen_after_dropping_root_keeps_the_open_file() {
    if !is_root() || !have("setpriv") {
        return skip_or_fail("the -Z reopen test needs root");
    }
    let (bindir, copy) = world_readable_copy();
    let dir = tempfile::Builder::new()
        .prefix("bjnpw-logs")
        .tempdir()
        .unwrap();
    // root's directory, world-readable, not writable by nobody
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = dir.path().join("eve.json");
    let rotated = dir.path().join("eve.json.1");
    let mut child = Command::new(&copy)
        .args(["-r", "-", "-q", "-Z", "nobody", "-o", out.to_str().unwrap()])
        .current_dir(bindir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&pcap_header()).unwrap();
    feed(&mut stdin, 0, 10);
    wait_for("the first records", Duration::from_secs(10), || {
        lines_of(&out).len() >= 10
    });
    std::fs::rename(&out, &rotated).unwrap();
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(500));
    feed(&mut stdin, 10, 20);
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("cannot reopen"), "{stderr}");
    assert!(!out.exists(), "nobody could not create the new file");
    let recs = assert_whole_lines(&rotated, 0);
    let warning = recs
        .iter()
        .find(|r| r["event_type"] == "warning")
        .expect("a warning record in the open file");
    assert_eq!(warning["warning"]["code"], "output_reopen_failed");
    let bjnp = recs.iter().filter(|r| r["event_type"] == "bjnp").count();
    assert_eq!(
        bjnp, 20,
        "the records after the signal went to the open file"
    );
    let last = recs.last().unwrap();
    assert_eq!(last["event_type"], "stats");
    assert_eq!(last["stats"]["output"]["reopens"], 0);
}

/// The final `stats` record a run wrote to stderr (its sink could not take it).
fn final_stats_on_stderr(stderr: &str) -> Value {
    let line = stderr
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("final stats on stderr: {stderr}"));
    serde_json::from_str(line).unwrap()
}

/// SIGTERM, then wait at most `limit` for the exit (killed after that): the status, if it
/// exited by itself, and how long it took.
fn terminate_bounded(
    child: &mut Child,
    limit: Duration,
) -> (Option<std::process::ExitStatus>, Duration) {
    let sent = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    while sent.elapsed() < limit {
        if let Some(s) = child.try_wait().unwrap() {
            return (Some(s), sent.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    (None, sent.elapsed())
}

/// A local syslog daemon that stopped reading (its socket full): SIGTERM still ends the sensor
/// within 5 s, the records it could not send counted, the final stats on stderr.
#[test]
fn sigterm_ends_within_five_seconds_whatever_the_sink_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sock");
    // bound and never read: after a few datagrams every send waits
    let _stalled = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    let target = format!("unix://{}", path.display());
    let (mut child, mut stdin) = spawn_reading_stdin_with(&["--syslog", &target], Stdio::piped());
    feed(&mut stdin, 0, 400);
    std::thread::sleep(Duration::from_millis(1500));
    let (status, took) = terminate_bounded(&mut child, Duration::from_secs(10));
    let o = child.wait_with_output().unwrap();
    drop(stdin);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        took < Duration::from_secs(5),
        "SIGTERM took {took:?}: {stderr}"
    );
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{stderr}");
    let st = final_stats_on_stderr(&stderr);
    let out_st = &st["stats"]["output"];
    assert!(
        out_st["dropped_sink_down"].as_u64().unwrap() > 0,
        "{out_st}"
    );
}

/// A TCP syslog receiver that accepts and never reads, while a replay waits for room in the
/// queue: SIGTERM still ends it within 5 s (the budget starts at the signal), every record
/// written or counted.
#[test]
fn sigterm_with_a_stuck_tcp_receiver_and_a_full_queue() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("tcp://{}", listener.local_addr().unwrap());
    let (mut child, mut stdin) = spawn_reading_stdin_with(&["--syslog", &target], Stdio::piped());
    let (_conn, _) = listener.accept().unwrap(); // held open, never read
    let mut data = vec![];
    for i in 0..60_000u32 {
        data.extend(discover_frame(i / 1000, 1024 + (i % 60_000) as u16));
    }
    // the replay blocks on the full queue: write from a thread of its own
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
        stdin
    });
    std::thread::sleep(Duration::from_secs(3));
    let (status, took) = terminate_bounded(&mut child, Duration::from_secs(15));
    let o = child.wait_with_output().unwrap();
    drop(writer.join());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(took < Duration::from_secs(5), "SIGTERM took {took:?}");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{stderr}");
    let st = final_stats_on_stderr(&stderr);
    let out = &st["stats"]["output"];
    let n = |k: &str| out[k].as_u64().unwrap();
    assert!(n("dropped_sink_down") > 0, "{out}");
    assert_eq!(
        n("records") + n("warnings"),
        n("written") + n("dropped_sink_down") + n("dropped_queue_full"),
        "{out}"
    );
}
