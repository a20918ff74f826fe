//! `--metrics` against Debian's own Prometheus (issue 24): a live sensor in a network namespace
//! of the test's, traffic to its printer ports, a `prometheus` server scraping it every second;
//! the server's HTTP API must return the same capture, drop and alert counters as the sensor's
//! own `stats` records, `promtool check metrics` must accept the exposition, and scrapers that
//! hang or flood the endpoint must not hold up the capture.

#[path = "../common/mod.rs"]
mod common;
use common::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Ends a child started here, by its PID.
struct Guard(Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// GET through the namespace (the test process itself is outside it): python's urllib.
fn get(ns: &str, url: &str) -> Option<String> {
    get_within(ns, url, 5)
}

fn get_within(ns: &str, url: &str, secs: u32) -> Option<String> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c"])
        .arg(format!(
            "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen({url:?}, timeout={secs}).read().decode())"
        ))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One value of an instant query, from Prometheus's HTTP API.
fn query(ns: &str, q: &str) -> Option<f64> {
    let body = get(
        ns,
        &format!("http://127.0.0.1:19090/api/v1/query?query={}", q),
    )?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[test]
fn prometheus_scrapes_the_same_counters_as_the_stats_record() {
    if !is_root() || !have("ip") {
        return skip_or_fail("the metrics test needs root and iproute2 (ip netns)");
    }
    if !have("prometheus") || !have("promtool") {
        return skip_or_fail("Debian's prometheus is not installed (make test installs it)");
    }
    let ns = format!("bjnpw-prom-{}", std::process::id());
    if !sh(&format!(
        "ip netns add {ns} && ip netns exec {ns} ip link set lo up"
    )) {
        return skip_or_fail("cannot create network namespaces here (no CAP_SYS_ADMIN?)");
    }
    let _ns = Netns(vec![ns.clone()]);
    let dir = tempfile::tempdir().unwrap();

    // the sensor: live on the namespace's loopback, a stats record every second
    let mut sensor = Command::new("ip")
        .args(["netns", "exec", &ns])
        .arg(bin())
        .args([
            "-i",
            "lo",
            "--stats-interval",
            "1",
            "--sensor-name",
            "lab-1",
        ])
        .args(["--metrics", "127.0.0.1:19611"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = watch_stderr(&mut sensor, "sensor", &["capturing"]);
    let stdout = sensor.stdout.take().unwrap();
    let (rtx, records) = mpsc::channel::<serde_json::Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = rtx.send(v);
            }
        }
    });
    let pid = sensor.id();
    let mut sensor = Guard(Some(sensor));
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the sensor did not start capturing");

    // hanging scrapers and a flood of connections while traffic flows
    let flood = Command::new("ip")
        .args(["netns", "exec", &ns, "python3", "-c"])
        .arg(
            "import socket,time\n\
             held=[socket.create_connection(('127.0.0.1',19611)) for _ in range(20)]\n\
             for _ in range(300):\n\
             \x20   s=socket.create_connection(('127.0.0.1',19611)); s.close()\n\
             time.sleep(6)\n",
        )
        .spawn()
        .unwrap();
    let _flood = Guard(Some(flood));
    // traffic: refused attempts on every raw-printing port and BJNP datagrams, 3 rounds
    let traffic = r#"
import socket
for _ in range(3):
    for p in (9100, 9101, 9102, 515, 631):
        s = socket.socket(); s.settimeout(1)
        try: s.connect(("127.0.0.1", p))
        except OSError: pass
        s.close()
    for p in (8611, 8612):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b"BJNP\x01\x30" + bytes(10), ("127.0.0.1", p)); u.close()
"#;
    assert!(Command::new("ip")
        .args(["netns", "exec", &ns, "python3", "-c", traffic])
        .status()
        .unwrap()
        .success());
    // a scrape while those connections hang is still answered (8 at a time, 2 s each at most)
    let t0 = Instant::now();
    let during = get_within(&ns, "http://127.0.0.1:19611/metrics", 20);
    assert!(
        during.is_some_and(|b| b.contains("bjnp_watch_build_info")),
        "no answer while scrapers hang"
    );
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());

    // Debian's Prometheus scraping it
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: bjnp-watch\n    static_configs:\n      - targets: ['127.0.0.1:19611']\n",
    )
    .unwrap();
    let prom = Command::new("ip")
        .args(["netns", "exec", &ns, "prometheus"])
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .args(["--web.listen-address=127.0.0.1:19090", "--log.level=warn"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _prom = Guard(Some(prom));

    // wait (bounded) until the counters stand still and Prometheus has them
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last_stats: Option<serde_json::Value> = None;
    let mut agreed = false;
    while Instant::now() < deadline && !agreed {
        std::thread::sleep(Duration::from_millis(1500));
        while let Ok(r) = records.try_recv() {
            if r["event_type"] == "stats" {
                last_stats = Some(r["stats"].clone());
            }
        }
        let Some(st) = &last_stats else { continue };
        let want = [
            (
                "bjnp_watch_capture_packets_total",
                &st["capture"]["packets"],
            ),
            (
                "bjnp_watch_capture_dropped_total",
                &st["capture"]["dropped"],
            ),
            ("bjnp_watch_detect_alerts_total", &st["detect"]["alerts"]),
            ("bjnp_watch_flow_created_total", &st["flow"]["created"]),
        ];
        agreed = st["capture"]["packets"].as_u64() > Some(20)
            && want.iter().all(|(q, v)| {
                let q = format!("{q}%7Bsensor%3D%22lab-1%22%7D");
                query(&ns, &q) == v.as_f64()
            });
    }
    assert!(
        agreed,
        "Prometheus never agreed with the stats record {last_stats:#?}"
    );
    // alerts by rule: 1001 for the refused attempts is there with the same count
    let st = last_stats.unwrap();
    let n1001 = st["detect"]["alerts_by_rule"]["1001"].as_f64();
    assert!(n1001 > Some(0.0), "{st:#}");
    assert_eq!(
        query(
            &ns,
            "bjnp_watch_detect_alerts_by_rule_total%7Brule%3D%221001%22%7D"
        ),
        n1001
    );

    // promtool accepts the exposition
    let body = get(&ns, "http://127.0.0.1:19611/metrics").expect("a scrape");
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // the sensor stops cleanly
    assert!(sh(&format!("kill -INT {pid}")));
    let mut child = sensor.0.take().unwrap();
    let stop = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < stop,
            "the sensor did not stop after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn the_metrics_address_is_checked_before_anything_runs() {
    let s = sample("cups-bjnp-print.pcap");
    // a malformed address: a usage error
    let r = run(&["-r", &s, "--metrics", "localhost"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    // one that cannot be bound (taken here): a clear error, nothing written
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let r = run(&["-r", &s, "--metrics", &addr]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("cannot serve metrics on"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let r = run(&["-r", &s, "--check-config", "--metrics", &addr]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    drop(taken);
    let r = run(&["-r", &s, "--check-config", "--metrics", "127.0.0.1:0"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("# metrics: http://127.0.0.1:0/metrics"),
        "{}",
        r.stdout
    );
}
