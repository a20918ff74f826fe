//! `--kafka` against a real Kafka-protocol broker (tansu, started here on 127.0.0.1 or inside a
//! network namespace of the test's own), read back by an independent client (confluent-kafka,
//! tools/kafka_consume.py). `make test` installs both (tools/install-kafka-test.sh).

#[path = "../common/mod.rs"]
mod common;

use common::{bin, have, is_root, root, sample, skip_or_fail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn tansu() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    let p = cache.join("bjnp-watch/tansu/bin/tansu");
    if p.exists() {
        return Some(p);
    }
    have("tansu").then(|| PathBuf::from("tansu"))
}

fn consumer_ready() -> bool {
    Command::new("python3")
        .args(["-c", "import confluent_kafka"])
        .status()
        .is_ok_and(|s| s.success())
}

/// What the tests need, or why they cannot run.
fn tools() -> Option<PathBuf> {
    let Some(t) = tansu() else {
        skip_or_fail("no tansu broker (tools/install-kafka-test.sh builds it)");
        return None;
    };
    if !consumer_ready() {
        skip_or_fail("no confluent-kafka for python3 (tools/install-kafka-test.sh installs it)");
        return None;
    }
    Some(t)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `args` inside the namespace `ns`, or here.
fn command(ns: Option<&str>, program: &str) -> Command {
    match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, program]);
            c
        }
        None => Command::new(program),
    }
}

/// A tansu broker on 127.0.0.1:`port` (in memory), ended by its PID when dropped.
struct Broker {
    child: Child,
}

impl Broker {
    /// Starts it and creates `topic` (3 partitions), retrying until it answers (at most 20 s).
    fn start(tansu: &std::path::Path, ns: Option<&str>, port: u16, topic: &str) -> Broker {
        let url = format!("tcp://127.0.0.1:{port}");
        let child = command(ns, tansu.to_str().unwrap())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        let broker = Broker { child };
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let ok = command(ns, tansu.to_str().unwrap())
                .args(["topic", "create", topic, "--broker", &url])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return broker;
            }
            assert!(Instant::now() < until, "tansu did not answer on {url}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Messages read back by the independent client: (partition, key, record).
fn consume(
    ns: Option<&str>,
    port: u16,
    topic: &str,
    count: usize,
    secs: u64,
) -> Vec<(u64, Option<String>, Value)> {
    let out = command(ns, "python3")
        .arg(root().join("tools/kafka_consume.py"))
        .args([
            &format!("127.0.0.1:{port}"),
            topic,
            &count.to_string(),
            &secs.to_string(),
        ])
        .output()
        .expect("run the consumer");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let m: Value = serde_json::from_str(l).unwrap();
            let value: Value = serde_json::from_str(m["value"].as_str().unwrap())
                .unwrap_or_else(|e| panic!("a message that is not one record: {e}: {l}"));
            (
                m["partition"].as_u64().unwrap(),
                m["key"].as_str().map(str::to_owned),
                value,
            )
        })
        .collect()
}

/// A record as both outputs must agree on it: a stats record's output counters are the sink's
/// own, and differ.
fn comparable(mut v: Value) -> String {
    if let Some(s) = v.get_mut("stats") {
        s.as_object_mut().unwrap().remove("output");
    }
    v.to_string()
}

/// A broker on 127.0.0.1 (a free port) holding `topic`, and its port; `None` (the test skips)
/// when the broker or the consumer is not installed.
fn loopback_broker(topic: &str) -> Option<(Broker, u16)> {
    let tansu = tools()?;
    let port = free_port();
    Some((Broker::start(&tansu, None, port, topic), port))
}

#[test]
fn records_reach_kafka_as_the_file_has_them() {
    let topic = "bjnp-records";
    let Some((_broker, port)) = loopback_broker(topic) else {
        return;
    };
    let capture = sample("verify-fix.pcap");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("eve.json");
    let run = |extra: &[&str]| {
        let mut args = vec!["-q", "-r", &capture, "--sensor-name", "floor2-sensor"];
        args.extend_from_slice(extra);
        let o = Command::new(bin()).args(&args).output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run(&["-o", file.to_str().unwrap()]);
    let url = format!("kafka://127.0.0.1:{port}/{topic}");
    run(&["--kafka", &url]);
    let lines: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines.len() > 50,
        "too few records to compare: {}",
        lines.len()
    );
    let got = consume(None, port, topic, lines.len(), 30);
    assert_eq!(got.len(), lines.len(), "every record arrived, no more");
    // the same records, line for line (Kafka orders within a partition only)
    let mut ours: Vec<String> = got.iter().map(|(_, _, v)| comparable(v.clone())).collect();
    let mut theirs: Vec<String> = lines.iter().map(|v| comparable(v.clone())).collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
    // keyed by flow id, so each flow's records keep their order on one partition
    let mut kafka_order: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut partitions: BTreeMap<String, std::collections::BTreeSet<u64>> = BTreeMap::new();
    for (p, key, v) in &got {
        assert_eq!(
            key.as_deref(),
            v["flow_id"].as_u64().map(|id| id.to_string()).as_deref(),
            "the key is the flow id: {v}"
        );
        assert_eq!(
            v["host"], "floor2-sensor",
            "every record names its sensor: {v}"
        );
        if let Some(k) = key {
            kafka_order
                .entry(k.clone())
                .or_default()
                .push(comparable(v.clone()));
            partitions.entry(k.clone()).or_default().insert(*p);
        }
    }
    assert!(partitions.values().all(|p| p.len() == 1));
    let mut file_order: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for v in &lines {
        if let Some(id) = v["flow_id"].as_u64() {
            file_order
                .entry(id.to_string())
                .or_default()
                .push(comparable(v.clone()));
        }
    }
    assert_eq!(kafka_order, file_order);
    assert!(kafka_order.len() > 5, "several flows");
    // the last stats record accounts for every record: delivered, none lost
    let stats = got
        .iter()
        .filter(|(_, _, v)| v["event_type"] == "stats")
        .map(|(_, _, v)| v["stats"]["output"].clone())
        .next_back()
        .expect("the stats record reached Kafka");
    let n = |k: &str| stats[k].as_u64().unwrap_or(0);
    assert_eq!(
        n("dropped_sink_down") + n("dropped_queue_full"),
        0,
        "{stats}"
    );
    assert_eq!(
        n("records") + n("warnings"),
        n("written") + n("in_flight"),
        "{stats}"
    );
}

#[test]
fn an_absent_broker_is_a_clear_error() {
    let port = free_port();
    let started = Instant::now();
    let o = Command::new(bin())
        .args(["-q", "-r", &sample("gen-policy.pcap")])
        .args(["--kafka", &format!("kafka://127.0.0.1:{port}/records")])
        .args(["--kafka-wait", "2"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(o.stdout.is_empty(), "no record anywhere");
    assert!(
        err.contains("no Kafka broker of kafka://127.0.0.1:") && err.contains("within 2 s"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // a setting librdkafka does not know is a usage error, before any connection
    let o = Command::new(bin())
        .args(["-q", "-r", &sample("gen-policy.pcap")])
        .args(["--kafka", &format!("kafka://127.0.0.1:{port}/records")])
        .args(["--kafka-option", "no.such.setting=1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no.such.setting"), "{err}");
}

/// `--check-config` checks the Kafka settings without a connection: nothing connects to the
/// port it names (librdkafka connects as soon as a producer exists, so the check must not make
/// one), and a setting librdkafka refuses is still found.
#[test]
fn a_configuration_check_contacts_no_broker() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let check = |extra: &[&str]| {
        Command::new(bin())
            .args(["--check-config", "-r", &sample("gen-policy.pcap")])
            .args(["--kafka", &format!("kafka://127.0.0.1:{port}/records")])
            .args(extra)
            .output()
            .unwrap()
    };
    let o = check(&[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("(not contacted)"), "{out}");
    let o = check(&["--kafka-option", "linger.ms=not-a-number"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("linger.ms"));
    // a connection attempt would have been queued on the listener by now
    std::thread::sleep(Duration::from_millis(300));
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the check connected to the named broker: {other:?}"),
    }
}

/// Live capture inside a namespace of the test's own while the broker goes away and comes
/// back: capture never stalls (every datagram sent is counted), what could not be delivered is
/// counted, delivery resumes, and SIGTERM still ends the sensor within 5 s.
#[test]
fn a_broker_that_goes_away_costs_counted_records_never_the_capture() {
    if !is_root() || !have("ip") {
        return skip_or_fail("the Kafka fault test needs root and iproute2 (ip netns)");
    }
    let Some(tansu) = tools() else { return };
    let ns = format!("bjnpw-kafka-{}", std::process::id());
    let made = Command::new("sh")
        .args([
            "-c",
            &format!("ip netns add {ns} && ip netns exec {ns} ip link set lo up"),
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        return skip_or_fail("cannot create network namespaces here (no CAP_SYS_ADMIN?)");
    }
    struct Netns(String);
    impl Drop for Netns {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let _guard = Netns(ns.clone());
    let port = 19092;
    let topic = "bjnp-live";
    let mut broker = Broker::start(&tansu, Some(&ns), port, topic);
    let url = format!("kafka://127.0.0.1:{port}/{topic}");
    let mut sensor = Command::new("ip")
        .args(["netns", "exec", &ns])
        .arg(bin())
        .args(["-q", "-i", "lo", "--kafka", &url, "--stats-interval", "1"])
        .args(["--kafka-option", "message.timeout.ms=2000"])
        .args(["--sensor-name", "lab-sensor"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    // one BJNP get-identity every 10 ms for 9 s, from one socket
    let sender = Command::new("ip")
        .args(["netns", "exec", &ns, "python3", "-c"])
        .arg(
            r#"
import socket, struct, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end, n = time.monotonic() + 9, 0
while time.monotonic() < end and n < 2000:
    s.sendto(b"BJNP\x01\x30\x00\x00" + struct.pack(">HHI", n, 0, 0), ("127.0.0.1", 8611))
    n += 1
    time.sleep(0.01)
print(n)
"#,
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    broker.stop();
    std::thread::sleep(Duration::from_secs(3));
    let _broker = Broker::start(&tansu, Some(&ns), port, topic);
    let sent: u64 = String::from_utf8_lossy(&sender.wait_with_output().unwrap().stdout)
        .trim()
        .parse()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    // what the restarted broker got while the sensor runs on (stats every second)
    let got = consume(Some(&ns), port, topic, 1_000_000, 8);
    let last = got
        .iter()
        .filter(|(_, _, v)| v["event_type"] == "stats")
        .max_by_key(|(_, _, v)| v["timestamp"].as_str().map(str::to_owned))
        .map(|(_, _, v)| v["stats"].clone())
        .expect("stats reached the broker after it came back");
    let out = &last["output"];
    eprintln!("kafka fault test: {sent} datagrams sent; output after the outage {out}");
    let n = |k: &str| out[k].as_u64().unwrap_or(0);
    assert!(
        n("dropped_sink_down") > 0,
        "the outage cost counted records: {out}"
    );
    assert!(n("written") > 0, "{out}");
    assert!(n("reconnects") >= 1, "{out}");
    assert_accounted(out, "every record accounted for");
    let monitored = last["decoder"]["monitored"].as_u64().unwrap();
    assert!(
        monitored >= sent,
        "capture never stalled: {monitored} of {sent} counted"
    );
    assert_eq!(
        last["capture"]["dropped"].as_u64().unwrap_or(0),
        0,
        "{last}"
    );
    assert!(
        got.iter()
            .any(|(_, _, v)| v["warning"]["code"] == "output_recovered"),
        "the recovery is reported"
    );
    assert!(got.iter().all(|(_, _, v)| v["host"] == "lab-sensor"));
    // the cluster goes away again, for good: SIGTERM still ends the sensor within 5 s, and
    // the final stats, which the cluster cannot take, go to stderr
    drop(_broker);
    std::thread::sleep(Duration::from_secs(1));
    let stopped = Instant::now();
    Command::new("kill")
        .args(["-TERM", &sensor.id().to_string()])
        .status()
        .unwrap();
    let status = sensor.wait().unwrap();
    let took = stopped.elapsed();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut sensor.stderr.take().unwrap(), &mut stderr).unwrap();
    eprintln!("kafka fault test: SIGTERM with the cluster down took {took:?}");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(took < Duration::from_secs(5), "SIGTERM took {took:?}");
    let out = final_output_on_stderr(&stderr);
    assert_accounted(&out, "every record accounted for at exit");
}

/// The output counters of the final `stats` record, which a run whose cluster could not take it
/// wrote to stderr.
fn final_output_on_stderr(stderr: &str) -> Value {
    let fin: Value = stderr
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("the final stats on stderr: {stderr}"));
    fin["stats"]["output"].clone()
}

/// Records (and the output stage's own warnings) = written + dropped + still in flight.
fn assert_accounted(out: &Value, what: &str) {
    let n = |k: &str| out[k].as_u64().unwrap_or(0);
    assert_eq!(
        n("records") + n("warnings"),
        n("written") + n("dropped_queue_full") + n("dropped_sink_down") + n("in_flight"),
        "{what}: {out}"
    );
}

/// CPU seconds `pid` has used so far (all its threads).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // the fields after the command name, which may hold spaces, in parentheses
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<u64> = rest
        .split(' ')
        .skip(11)
        .take(2)
        .map(|x| x.parse().unwrap())
        .collect();
    let hz: f64 = String::from_utf8(
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    (f[0] + f[1]) as f64 / hz
}

/// A cluster that stops answering (the broker frozen by SIGSTOP, its connection still open):
/// the sensor waits for the deliveries until its shutdown budget runs out, counts what was not
/// delivered, and the wait sleeps; it does not keep a core busy that the capture needs. (The
/// client library's poll with a timeout spins through its last millisecond: waiting through it
/// cost a whole core.)
#[test]
fn a_wait_for_a_silent_cluster_sleeps() {
    let topic = "bjnp-silent";
    let Some((broker, port)) = loopback_broker(topic) else {
        return;
    };
    // not quiet: the summary line says what never reached the cluster
    let mut sensor = Command::new(bin())
        .args(["-r", "-"])
        .args(["--kafka", &format!("kafka://127.0.0.1:{port}/{topic}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // the sensor connects before it reads its input
    std::thread::sleep(Duration::from_millis(1500));
    let signal = |s: &str| {
        Command::new("kill")
            .args([s, &broker.child.id().to_string()])
            .status()
            .unwrap()
    };
    assert!(signal("-STOP").success());
    let capture = std::fs::read(sample("verify-fix.pcap")).unwrap();
    {
        use std::io::Write;
        let mut stdin = sensor.stdin.take().unwrap();
        stdin.write_all(&capture).unwrap();
    }
    // the replay takes milliseconds; then the wait for the frozen broker
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_seconds(sensor.id());
    let waited = Instant::now();
    std::thread::sleep(Duration::from_millis(1500));
    let used = cpu_seconds(sensor.id()) - before;
    let wall = waited.elapsed().as_secs_f64();
    let status = sensor.wait().unwrap();
    assert!(signal("-CONT").success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut sensor.stderr.take().unwrap(), &mut stderr).unwrap();
    eprintln!("kafka wait test: {used:.2} CPU seconds in {wall:.2} s of waiting");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        used < 0.25 * wall,
        "the wait for the cluster used {used:.2} CPU seconds in {wall:.2} s"
    );
    // what the frozen cluster never acknowledged is counted, not lost silently
    let out = final_output_on_stderr(&stderr);
    assert!(out["dropped_sink_down"].as_u64().unwrap_or(0) > 0, "{out}");
    assert_accounted(&out, "every record accounted for");
    // The final stats cannot count what its own flush lost (the records still in flight and
    // itself); the summary line, written after the output drained, can.
    let n = |k: &str| out[k].as_u64().unwrap_or(0);
    let never = n("records") + n("warnings") + 1 - n("written");
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("bjnp-watch: "))
        .unwrap_or_else(|| panic!("a summary line: {stderr}"));
    assert!(
        summary.ends_with(&format!(" records, {never} not delivered")),
        "{summary} / {out}"
    );
}
