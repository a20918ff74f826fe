//! `--metrics ADDR:PORT`: the sensor's counters for Prometheus. Every `stats` record the output
//! thread writes is also handed here, whole (one Arc swapped under a lock, nothing else); a
//! thread of its own serves `GET /metrics` in the OpenMetrics text format (prometheus-client)
//! from the last one, so the figures a scrape sees are exactly a `stats` record's. The data
//! path never waits for a scraper: at most `MAX_CONNECTIONS` are served at once, each within
//! two seconds in all (to send its request and to take the answer); the listener's backlog is
//! all a flood can fill.

mod exposition;

use crate::event::{Record, Stats};
use crate::net::Timestamp;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one scraper may take in all: to send its request and to take the answer.
pub const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections served at once; more wait in the listener's backlog.
pub const MAX_CONNECTIONS: usize = 8;
/// Longest request head read.
const MAX_REQUEST: usize = 8 * 1024;

/// The last `stats` record and what it was written to.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub ts: Timestamp,
    pub stats: Stats,
    /// `stdout`, `file`, `syslog`, `kafka`.
    pub sink: String,
    /// Records waiting in the output queue as it was written.
    pub queued: u64,
}

/// The last policy reload: when, and whether it took.
#[derive(Clone, Copy, Debug)]
pub struct LastReload {
    pub ts: Timestamp,
    pub ok: bool,
}

/// What the serving thread reads.
#[derive(Debug)]
pub struct Shared {
    pub sensor: String,
    pub version: &'static str,
    pub started: Instant,
    snapshot: Mutex<Option<Arc<Snapshot>>>,
    reloads: Mutex<(Option<LastReload>, u64, u64)>,
}

impl Shared {
    pub fn new(sensor: String) -> Self {
        Shared {
            sensor,
            version: env!("CARGO_PKG_VERSION"),
            started: Instant::now(),
            snapshot: Mutex::new(None),
            reloads: Mutex::new((None, 0, 0)),
        }
    }

    /// A `stats` record as written (called on the output thread).
    pub fn publish(&self, r: &Record, sink: &str, queued: u64) {
        if let crate::event::Body::Stats(st) = &r.body {
            let snap = Arc::new(Snapshot {
                ts: r.timestamp,
                stats: (**st).clone(),
                sink: sink.to_owned(),
                queued,
            });
            if let Ok(mut s) = self.snapshot.lock() {
                *s = Some(snap);
            }
        }
    }

    /// A policy reload happened.
    pub fn reloaded(&self, ts: Timestamp, ok: bool) {
        if let Ok(mut r) = self.reloads.lock() {
            r.0 = Some(LastReload { ts, ok });
            if ok {
                r.1 += 1;
            } else {
                r.2 += 1;
            }
        }
    }

    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.snapshot.lock().ok().and_then(|s| s.clone())
    }

    /// The last reload, and how many succeeded and failed.
    pub fn reloads(&self) -> (Option<LastReload>, u64, u64) {
        self.reloads.lock().map(|r| *r).unwrap_or((None, 0, 0))
    }

    /// The exposition, as a scrape gets it.
    pub fn render(&self) -> String {
        exposition::render(self)
    }
}

/// The metrics endpoint: a bound listener and the thread serving it.
pub struct Exporter {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl Exporter {
    /// Binds `addr` (errors here are the user's: a bad or busy address) and starts serving.
    pub fn start(addr: SocketAddr, sensor: String) -> io::Result<Exporter> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(sensor));
        let serving = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || serve(listener, &serving))?;
        Ok(Exporter { shared, addr })
    }

    /// The address it listens on (the port the kernel chose for `:0`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }
}

/// Up to `MAX_CONNECTIONS` at once, each on a thread of its own and bounded in time; a failed
/// one is dropped.
fn serve(listener: TcpListener, shared: &Arc<Shared>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let busy = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                // at the cap, wait for a slot: the kernel's backlog holds the rest
                while busy.load(Ordering::Acquire) >= MAX_CONNECTIONS {
                    std::thread::sleep(Duration::from_millis(20));
                }
                busy.fetch_add(1, Ordering::AcqRel);
                let (shared, done) = (Arc::clone(shared), Arc::clone(&busy));
                let spawned = std::thread::Builder::new()
                    .name("metrics-conn".into())
                    .spawn(move || {
                        if let Err(e) = answer(stream, &shared) {
                            tracing::debug!("metrics: {e}");
                        }
                        done.fetch_sub(1, Ordering::AcqRel);
                    });
                if spawned.is_err() {
                    busy.fetch_sub(1, Ordering::AcqRel);
                }
            }
            Err(e) => {
                tracing::debug!("metrics: accept: {e}");
                // out of descriptors, say: do not spin
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// What a request asks for: a path (query dropped), OpenMetrics or not, HEAD or not.
struct Request {
    path: String,
    openmetrics: bool,
    head: bool,
}

fn answer(mut stream: TcpStream, shared: &Shared) -> io::Result<()> {
    let deadline = Instant::now() + IO_TIMEOUT;
    let bad = |s: &mut TcpStream| {
        respond(
            s,
            deadline,
            "400 Bad Request",
            "text/plain",
            "bad request\n",
            true,
        )
    };
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut have = 0;
    // a request head, within the size and the time in all (a sender dripping bytes gets no
    // more than a silent one)
    let req = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || have == buf.len() {
            return bad(&mut stream);
        }
        stream.set_read_timeout(Some(left))?;
        let n = match stream.read(&mut buf[have..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(());
        }
        have += n;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf[..have]) {
            Ok(httparse::Status::Complete(_)) => {
                let get = matches!(req.method, Some("GET") | Some("HEAD"));
                // Prometheus asks for OpenMetrics; promtool and curl get the classic text
                let openmetrics = req.headers.iter().any(|h| {
                    h.name.eq_ignore_ascii_case("accept")
                        && String::from_utf8_lossy(h.value).contains("application/openmetrics-text")
                });
                let path = req.path.unwrap_or("").split('?').next().unwrap_or("");
                break get.then(|| Request {
                    path: path.to_owned(),
                    openmetrics,
                    head: req.method == Some("HEAD"),
                });
            }
            Ok(httparse::Status::Partial) => continue,
            Err(_) => return bad(&mut stream),
        }
    };
    let Some(req) = req else {
        let msg = "GET /metrics\n";
        return respond(
            &mut stream,
            deadline,
            "405 Method Not Allowed",
            "text/plain",
            msg,
            true,
        );
    };
    let body = !req.head;
    if req.path != "/metrics" && req.path != "/metrics/" {
        return respond(
            &mut stream,
            deadline,
            "404 Not Found",
            "text/plain",
            "try /metrics\n",
            body,
        );
    }
    let text = shared.render();
    if req.openmetrics {
        let ctype = "application/openmetrics-text; version=1.0.0; charset=utf-8";
        respond(&mut stream, deadline, "200 OK", ctype, &text, body)
    } else {
        let ctype = "text/plain; version=0.0.4; charset=utf-8";
        let text = exposition::to_text_004(&text);
        respond(&mut stream, deadline, "200 OK", ctype, &text, body)
    }
}

/// The answer, within what is left of the connection's time (`with_body`: false for HEAD).
fn respond(
    stream: &mut TcpStream,
    deadline: Instant,
    status: &str,
    ctype: &str,
    body: &str,
    with_body: bool,
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut out = head.into_bytes();
    if with_body {
        out.extend_from_slice(body.as_bytes());
    }
    let mut sent = 0;
    while sent < out.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "scraper too slow"));
        }
        stream.set_write_timeout(Some(left))?;
        match stream.write(&out[sent..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Body, Origin};

    fn stats_record() -> Record {
        let mut st = Stats::default();
        st.capture.packets = 113;
        st.flow.active = 2;
        st.detect.alerts = 3;
        st.detect.alerts_by_rule.insert(1001, 2);
        st.detect.alerts_by_rule.insert(1306, 1);
        st.output.dropped_by_type.flow = 4;
        st.doors.lpd_jobs = 5;
        Record {
            timestamp: Timestamp::from_parts(1_780_000_000, 0),
            flow_id: None,
            origin: Origin::None,
            endpoints: None,
            body: Body::Stats(Box::new(st)),
        }
    }

    #[test]
    fn every_number_of_the_stats_record_is_a_metric_named_after_its_place() {
        let s = Shared::new("sensor \"1\"".into());
        // before the first stats record: build info and uptime only
        let empty = s.render();
        assert!(empty.contains("bjnp_watch_build_info{"), "{empty}");
        assert!(!empty.contains("capture_packets"));
        s.publish(&stats_record(), "file", 7);
        s.reloaded(Timestamp::from_parts(1_780_000_100, 0), false);
        let m = s.render();
        let has = |line: &str| m.lines().any(|l| l == line);
        assert!(
            has("bjnp_watch_capture_packets_total{sensor=\"sensor \\\"1\\\"\"} 113"),
            "{m}"
        );
        assert!(has("# TYPE bjnp_watch_flow_active gauge"), "{m}");
        assert!(m.contains("bjnp_watch_flow_active{sensor=\"sensor \\\"1\\\"\"} 2"));
        assert!(m.contains(
            "bjnp_watch_detect_alerts_by_rule_total{sensor=\"sensor \\\"1\\\"\",rule=\"1306\"} 1"
        ));
        assert!(m.contains("bjnp_watch_output_dropped_by_type_total{sensor=\"sensor \\\"1\\\"\",sink=\"file\",type=\"flow\"} 4"));
        assert!(m.contains("bjnp_watch_doors_lpd_jobs_total{sensor=\"sensor \\\"1\\\"\"} 5"));
        assert!(m.contains(
            "bjnp_watch_policy_reloads_total{sensor=\"sensor \\\"1\\\"\",result=\"failed\"} 1"
        ));
        assert!(m.contains("bjnp_watch_policy_reload_success{sensor=\"sensor \\\"1\\\"\"} 0"));
        assert!(m.contains(
            "bjnp_watch_stats_timestamp_seconds{sensor=\"sensor \\\"1\\\"\"} 1780000000"
        ));
        assert!(
            m.contains(
                "bjnp_watch_output_queue_depth{sensor=\"sensor \\\"1\\\"\",sink=\"file\"} 7"
            ),
            "{m}"
        );
        assert!(m.ends_with("# EOF\n"));
    }

    #[test]
    fn a_silent_or_garbage_scraper_gets_nothing_and_holds_nothing() {
        use std::io::{Read, Write};
        let e = Exporter::start("127.0.0.1:0".parse().unwrap(), "t".into()).unwrap();
        e.shared().publish(&stats_record(), "stdout", 0);
        // one connection that never speaks, and one that speaks nonsense
        let _silent = TcpStream::connect(e.addr()).unwrap();
        let mut junk = TcpStream::connect(e.addr()).unwrap();
        junk.write_all(b"\x16\x03\x01 not http\r\n\r\n").unwrap();
        // a real scrape is answered within the silent one's timeout and the junk's
        let t = Instant::now();
        let mut c = TcpStream::connect(e.addr()).unwrap();
        c.write_all(
            b"GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text; version=1.0.0\r\n\r\n",
        )
        .unwrap();
        let mut body = String::new();
        c.read_to_string(&mut body).unwrap();
        assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
        assert!(body.contains("# TYPE bjnp_watch_capture_packets counter"));
        assert!(body.ends_with("# EOF\n"));
        // the classic text format for everyone else
        let mut c = TcpStream::connect(e.addr()).unwrap();
        c.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
        let mut body = String::new();
        c.read_to_string(&mut body).unwrap();
        assert!(
            body.contains("# TYPE bjnp_watch_capture_packets_total counter"),
            "{body}"
        );
        assert!(!body.contains("# EOF"));
        assert!(t.elapsed() < IO_TIMEOUT * 3, "{:?}", t.elapsed());
        let mut c = TcpStream::connect(e.addr()).unwrap();
        c.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let mut body = String::new();
        c.read_to_string(&mut body).unwrap();
        assert!(body.starts_with("HTTP/1.1 404"), "{body}");
    }
}
