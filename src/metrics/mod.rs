//! `--metrics ADDR:PORT`: the sensor's counters for Prometheus. Every `stats` record the output
//! thread writes is also handed here, whole (one Arc swapped under a lock, nothing else); a
//! thread of its own serves `GET /metrics` in the OpenMetrics text format (prometheus-client)
//! from the last one, so the figures a scrape sees are exactly a `stats` record's. The data
//! path never waits for a scraper: a connection gets two seconds to send its request and two to
//! take the answer, one at a time, and the listener's backlog is all a flood can fill.

mod exposition;

use crate::event::{Record, Stats};
use crate::net::Timestamp;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one scraper may take to send its request, and to take the answer.
pub const IO_TIMEOUT: Duration = Duration::from_secs(2);
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

/// One connection at a time, each bounded in time; a failed one is dropped.
fn serve(listener: TcpListener, shared: &Shared) {
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                if let Err(e) = answer(stream, shared) {
                    tracing::debug!("metrics: {e}");
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

fn answer(mut stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut have = 0;
    // a request head, within the size and the time (a slow sender gets no more than that)
    let target = loop {
        if Instant::now() >= deadline || have == buf.len() {
            return respond(
                &mut stream,
                "400 Bad Request",
                "text/plain",
                "bad request\n",
            );
        }
        let n = stream.read(&mut buf[have..])?;
        if n == 0 {
            return Ok(());
        }
        have += n;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf[..have]) {
            Ok(httparse::Status::Complete(_)) => {
                let ok = req.method == Some("GET") || req.method == Some("HEAD");
                // Prometheus asks for OpenMetrics; promtool and curl get the classic text
                let open = req.headers.iter().any(|h| {
                    h.name.eq_ignore_ascii_case("accept")
                        && String::from_utf8_lossy(h.value).contains("application/openmetrics-text")
                });
                break ok.then(|| (req.path.unwrap_or("").to_owned(), open));
            }
            Ok(httparse::Status::Partial) => continue,
            Err(_) => {
                return respond(
                    &mut stream,
                    "400 Bad Request",
                    "text/plain",
                    "bad request\n",
                )
            }
        }
    };
    match target {
        Some((path, open)) if path == "/metrics" || path == "/metrics/" => {
            let body = shared.render();
            if open {
                let ctype = "application/openmetrics-text; version=1.0.0; charset=utf-8";
                respond(&mut stream, "200 OK", ctype, &body)
            } else {
                let ctype = "text/plain; version=0.0.4; charset=utf-8";
                respond(
                    &mut stream,
                    "200 OK",
                    ctype,
                    &exposition::to_text_004(&body),
                )
            }
        }
        Some(_) => respond(&mut stream, "404 Not Found", "text/plain", "try /metrics\n"),
        None => respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            "GET /metrics\n",
        ),
    }
}

fn respond(stream: &mut TcpStream, status: &str, ctype: &str, body: &str) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
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
