use super::*;
use crate::event::{Origin, Timestamp};
use crate::output::format::{Format, Observer};
use std::sync::mpsc;

fn stats_record() -> Record {
    Record {
        timestamp: Timestamp(0),
        flow_id: None,
        origin: Origin::None,
        endpoints: None,
        body: Body::Stats(Box::default()),
    }
}

/// A record that goes first when the queue is full.
fn anomaly_record() -> Record {
    Record {
        timestamp: Timestamp(0),
        flow_id: None,
        origin: Origin::None,
        endpoints: None,
        body: Body::Anomaly(crate::event::Anomaly {
            kind: crate::event::AnomalyType::Decode,
            event: crate::event::AnomalyEvent::ALL[0],
            layer: None,
            reason: None,
            bytes: None,
            preview_hex: None,
        }),
    }
}

/// A sink that takes `delay` per record and reports what it got.
struct Slow {
    delay: Duration,
    got: mpsc::Sender<Vec<u8>>,
}

impl Transport for Slow {
    fn send(&mut self, line: &[u8], _m: Meta) -> io::Result<Sent> {
        std::thread::sleep(self.delay);
        let _ = self.got.send(line.to_vec());
        Ok(Sent::Written)
    }
    fn flush(&mut self) -> io::Result<crate::output::sink::Flushed> {
        Ok(Default::default())
    }
    fn description(&self) -> String {
        "slow".into()
    }
}

fn formatter() -> Formatter {
    Formatter::new(
        Format::Eve,
        Observer {
            hostname: "t".into(),
            version: "0",
        },
    )
}

/// An output stage in `mode`, `queue` records in flight, in front of a sink that takes `delay`
/// per record; what it wrote comes out of the receiver.
fn slow_output(delay: Duration, mode: Mode, queue: usize) -> (Output, mpsc::Receiver<Vec<u8>>) {
    let (got, rx) = mpsc::channel();
    let sink = Slow { delay, got };
    let out = Output::start(formatter(), Box::new(sink), mode, queue, None);
    (out, rx)
}

#[test]
fn a_stuck_sink_never_blocks_live_capture_and_drops_are_counted() {
    let (mut out, _rx) = slow_output(Duration::from_secs(3600), Mode::DropWhenFull, 512);
    let t = Instant::now();
    for _ in 0..10_000 {
        out.emit(anomaly_record());
    }
    out.commit();
    let elapsed = t.elapsed();
    let dropped = out.counters().dropped_queue_full.load(Ordering::Relaxed);
    // the stuck thread is abandoned, not joined (that would wait an hour)
    std::mem::forget(out);
    assert!(elapsed < Duration::from_secs(5), "emit blocked");
    // 512 records in flight (one batch in the sink's hands, one queued), the rest dropped
    assert_eq!(dropped, 10_000 - 512, "{dropped}");
}

#[test]
fn the_live_limit_counts_records_not_batches() {
    // single-record batches (a live commit after every read): the limit is still in records
    let (mut out, _rx) = slow_output(Duration::from_secs(3600), Mode::DropWhenFull, 100);
    for _ in 0..1_000 {
        out.emit(anomaly_record());
        out.commit();
    }
    let dropped = out.counters().dropped_queue_full.load(Ordering::Relaxed);
    std::mem::forget(out);
    assert_eq!(dropped, 900);
}

#[test]
fn replay_waits_for_a_slow_sink_and_loses_nothing() {
    let (mut out, rx) = slow_output(Duration::from_millis(1), Mode::Lossless, 4);
    for _ in 0..200 {
        out.emit(stats_record());
    }
    out.finish().unwrap();
    let lines: Vec<Vec<u8>> = rx.try_iter().collect();
    assert_eq!(lines.len(), 200);
    // each stats record counts exactly the records written before it
    for (i, l) in lines.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_slice(l).unwrap();
        assert_eq!(v["stats"]["output"]["written"], i as u64);
    }
}

/// Blocks its first write until released; then writes through to `got`.
struct Gate {
    release: mpsc::Receiver<()>,
    opened: bool,
    got: mpsc::Sender<Vec<u8>>,
}

impl Transport for Gate {
    fn send(&mut self, line: &[u8], _m: Meta) -> io::Result<Sent> {
        if !self.opened {
            let _ = self.release.recv();
            self.opened = true;
        }
        let _ = self.got.send(line.to_vec());
        Ok(Sent::Written)
    }
    fn flush(&mut self) -> io::Result<crate::output::sink::Flushed> {
        Ok(Default::default())
    }
    fn description(&self) -> String {
        "gate".into()
    }
}

/// An output stage in `mode`, `queue` records in flight, in front of a sink that holds its
/// first write until the sender says so; what it wrote comes out of the receiver.
fn gated_output(mode: Mode, queue: usize) -> (Output, mpsc::Sender<()>, mpsc::Receiver<Vec<u8>>) {
    let (open, release) = mpsc::channel();
    let (got, rx) = mpsc::channel();
    let sink = Gate {
        release,
        opened: false,
        got,
    };
    let out = Output::start(formatter(), Box::new(sink), mode, queue, None);
    (out, open, rx)
}

#[test]
fn shutdown_delivers_the_last_records_even_after_live_drops() {
    let (mut out, open, rx) = gated_output(Mode::DropWhenFull, 256);
    for _ in 0..5 * BATCH {
        out.emit(stats_record());
    }
    out.commit();
    assert!(out.counters().dropped_queue_full.load(Ordering::Relaxed) > 0);
    // capture stops; the final records are written whatever the queue's state
    out.lossless_from_now();
    let mut last = stats_record();
    last.timestamp = Timestamp(1_000_000_000);
    out.emit(last);
    open.send(()).unwrap();
    out.finish().unwrap();
    let lines: Vec<Vec<u8>> = rx.try_iter().collect();
    let v: serde_json::Value = serde_json::from_slice(lines.last().unwrap()).unwrap();
    assert_eq!(v["timestamp"], "1970-01-01T00:00:01.000000Z");
}

/// A stuck sink under a burst: the queue's limit is reached, flow-like records are dropped
/// and counted by type, alerts and stats go on in the reserve, and each stats record's
/// counters are of one moment: the records before it were written or dropped.
#[test]
fn under_pressure_alerts_and_stats_go_first_and_stats_are_of_one_moment() {
    let (mut out, open, rx) = gated_output(Mode::DropWhenFull, 64);
    let alert = || {
        let mut r = stats_record();
        r.body = Body::Warning(Box::new(crate::event::Warning {
            code: crate::event::WarningCode::ALL[0],
            message: "test".into(),
            silent_sec: None,
            iface_rx_packets: None,
        }));
        r
    };
    let (mut alerts, mut made) = (0, 0);
    for i in 0..2_000 {
        out.emit(anomaly_record());
        made += 1;
        if i % 200 == 0 {
            out.emit(alert());
            alerts += 1;
            made += 1;
        }
        if i % 500 == 499 {
            out.emit(stats_record());
            made += 1;
        }
        out.commit();
    }
    assert!(made > 2_000);
    open.send(()).unwrap();
    out.finish().unwrap();
    let lines: Vec<serde_json::Value> = rx
        .try_iter()
        .map(|l| serde_json::from_slice(&l).unwrap())
        .collect();
    let got = |t: &str| lines.iter().filter(|v| v["event_type"] == t).count();
    // 10 warnings and 4 stats fit the reserve (a quarter of the limit) of a stuck sink
    assert_eq!(got("warning"), alerts, "every priority record came through");
    assert_eq!(got("stats"), 4);
    assert!(
        got("anomaly") < 200,
        "the burst was dropped: {}",
        got("anomaly")
    );
    // every stats record: records before it = written + dropped before it
    for (written_before, v) in lines.iter().enumerate() {
        let written_before = written_before as u64;
        if v["event_type"] == "stats" {
            let o = &v["stats"]["output"];
            let n = |k: &str| o[k].as_u64().unwrap();
            assert_eq!(n("written"), written_before, "{o}");
            assert_eq!(
                n("records"),
                n("written") + n("dropped_queue_full") + n("dropped_sink_down"),
                "{o}"
            );
            assert_eq!(
                o["dropped_by_type"]["anomaly"], o["dropped_queue_full"],
                "{o}"
            );
            assert!(o["dropped_by_type"].get("warning").is_none(), "{o}");
        }
    }
}

/// Fails every write, like stdout after the reader of a pipe went away.
struct Broken;

impl Transport for Broken {
    fn send(&mut self, _l: &[u8], _m: Meta) -> io::Result<Sent> {
        Err(io::Error::from(io::ErrorKind::BrokenPipe))
    }
    fn flush(&mut self) -> io::Result<crate::output::sink::Flushed> {
        Ok(Default::default())
    }
    fn description(&self) -> String {
        "broken".into()
    }
}

#[test]
fn a_fatal_sink_error_is_reported_and_releases_the_producer() {
    let mut out = Output::start(formatter(), Box::new(Broken), Mode::Lossless, 2, None);
    for _ in 0..1000 {
        out.emit(stats_record());
    }
    out.commit();
    let t = Instant::now();
    while !out.failed() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(out.failed());
    let e = out.finish().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
}

#[test]
fn stats_carry_the_output_counters() {
    let (mut out, rx) = slow_output(Duration::ZERO, Mode::Lossless, 16);
    out.shared
        .counters
        .dropped_queue_full
        .store(5, Ordering::Relaxed);
    out.emit(stats_record());
    out.finish().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&rx.recv().unwrap()).unwrap();
    assert_eq!(v["stats"]["output"]["dropped_queue_full"], 5);
    assert_eq!(v["stats"]["output"]["written"], 0);
}

#[test]
fn a_burst_of_small_batches_keeps_only_a_few_for_reuse() {
    // Live, a stalled sink: every record goes over alone, each in a batch of its own. Written
    // batches come back with their records; all of them kept would hold what they last carried
    // for as long as they circulate.
    let (mut out, open, rx) = gated_output(Mode::DropWhenFull, 512);
    for _ in 0..400 {
        out.emit(anomaly_record());
        out.commit();
    }
    open.send(()).unwrap();
    for _ in 0..400 {
        rx.recv_timeout(Duration::from_secs(10))
            .expect("every record written");
    }
    // the last batch is sent back just after its record is written
    std::thread::sleep(Duration::from_millis(50));
    let mut kept = 0;
    while out.spent.try_recv().is_ok() {
        kept += 1;
    }
    assert!(
        (1..=SPARE_BATCHES).contains(&kept),
        "{kept} batches came back for reuse"
    );
    out.finish().unwrap();
}
