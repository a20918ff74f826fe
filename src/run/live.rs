//! Live capture until stopped: frames from a source, the engine ticking on a quiet link so flows
//! still time out, a `stats` record every interval, and a `warning` when the capture goes
//! silent. The source and the clock are parameters, so all of this is tested without root.

use crate::capture::live::Live;
use crate::capture::{CaptureError, Frame, Source};
use crate::engine::{records, FrameEngine};
use crate::event::Origin;
use crate::health::{iface_rx_packets, SilenceWatch};
use crate::net::Timestamp;
use crate::output::RecordSink;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How long the loop waits for packets when the link is quiet: the latency of a stop request, a
/// stats record or a flow timeout on an idle link.
pub const POLL_MS: u16 = 200;

/// Where live frames come from.
pub trait FrameSource {
    /// The interface's name (records say `in_iface`).
    fn name(&self) -> &str;
    /// Waits up to `timeout_ms` for frames and hands them to `on`; returns how many (0 when
    /// none came in time).
    fn next_batch(
        &mut self,
        timeout_ms: u16,
        stop: &AtomicBool,
        on: &mut dyn FnMut(&Frame<'_>),
    ) -> Result<usize, CaptureError>;
    /// After a stop: what is still in the kernel's buffer (bounded).
    fn drain(&mut self, on: &mut dyn FnMut(&Frame<'_>));
    /// libpcap's (received, dropped, if_dropped).
    fn stats(&mut self) -> Option<crate::capture::PcapCounters>;
    /// What the interface itself received (for telling a dead link from an idle filter).
    fn iface_rx_packets(&self) -> Option<u64>;
    /// The monitored ports changed (a policy reload): the capture filter follows (true), or
    /// stays as the user gave it (false).
    fn set_ports(&mut self, _ports: &crate::net::PortSet) -> Result<bool, CaptureError> {
        Ok(false)
    }
}

impl FrameSource for Live {
    fn name(&self) -> &str {
        self.iface()
    }

    fn next_batch(
        &mut self,
        timeout_ms: u16,
        stop: &AtomicBool,
        on: &mut dyn FnMut(&Frame<'_>),
    ) -> Result<usize, CaptureError> {
        if self.wait(timeout_ms) {
            self.dispatch(stop, on)
        } else {
            Ok(0)
        }
    }

    fn drain(&mut self, on: &mut dyn FnMut(&Frame<'_>)) {
        Live::drain(self, on);
    }

    fn stats(&mut self) -> Option<crate::capture::PcapCounters> {
        Live::stats(self)
    }

    fn iface_rx_packets(&self) -> Option<u64> {
        iface_rx_packets(self.iface())
    }

    fn set_ports(&mut self, ports: &crate::net::PortSet) -> Result<bool, CaptureError> {
        Live::set_ports(self, ports)
    }
}

/// Wall time, or a test's.
pub trait Clock {
    fn now(&self) -> Timestamp;
}

/// The system clock.
pub struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// Captures from `source` until `stop` is set or the sink fails; a `stats` record every
/// `stats_interval_secs` (0: none) and a silence warning after several silent intervals. Returns
/// the source's final counters.
pub fn capture(
    source: &mut dyn FrameSource,
    clock: &dyn Clock,
    stats_interval_secs: u64,
    stop: &Arc<AtomicBool>,
    engine: &mut dyn FrameEngine,
    sink: &mut dyn RecordSink,
) -> Result<Option<crate::capture::PcapCounters>, CaptureError> {
    let iface: Arc<str> = source.name().into();
    engine.set_source(Source::Iface(Arc::clone(&iface)));
    let interval_ns = stats_interval_secs.saturating_mul(1_000_000_000);
    let mut next_stats = Timestamp(clock.now().0.saturating_add(interval_ns));
    let mut silence = SilenceWatch::new(engine.packets(), source.iface_rx_packets());
    while !stop.load(Ordering::Relaxed) {
        let n = source.next_batch(POLL_MS, stop, &mut |frame| engine.process(frame, sink))?;
        if n == 0 {
            engine.tick(clock.now(), sink);
        }
        if let Some(ports) = engine.take_ports() {
            // a filter the kernel refuses keeps the old one: the sensor goes on, and says so
            match source.set_ports(&ports) {
                Ok(true) => tracing::info!("capture filter follows the reloaded ports"),
                Ok(false) => tracing::info!("the -f capture filter stays as given"),
                Err(e) => {
                    let message = format!(
                        "capture filter not changed ({e}): new ports are seen only where the old filter passes them"
                    );
                    eprintln!("bjnp-watch: warning: {message}");
                    let w = crate::event::Warning {
                        code: crate::event::WarningCode::PolicyReloadFailed,
                        message,
                        silent_sec: None,
                        iface_rx_packets: None,
                    };
                    sink.emit(records::warning(
                        w,
                        clock.now(),
                        Origin::Iface(Arc::clone(&iface)),
                    ));
                }
            }
        }
        let now = clock.now();
        if interval_ns > 0 && now >= next_stats {
            next_stats = Timestamp(next_stats.0.saturating_add(interval_ns));
            sink.emit(engine.stats_record(now, source.stats()));
            let rx = source.iface_rx_packets();
            if let Some(w) = silence.on_interval(engine.packets(), rx, stats_interval_secs) {
                tracing::warn!("{}", w.message);
                sink.emit(records::warning(w, now, Origin::Iface(Arc::clone(&iface))));
            }
        }
        sink.commit();
        if sink.failed() {
            break;
        }
    }
    source.drain(&mut |frame| engine.process(frame, sink));
    Ok(source.stats())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, EngineConfig};
    use crate::event::{Body, Record};
    use std::cell::Cell;

    /// A quiet interface whose clock moves `POLL_MS` per wait; it can hand over one frame first,
    /// and asks to stop after `polls` waits.
    struct Quiet<'a> {
        clock: &'a Cell<u64>,
        first: Option<Vec<u8>>,
        polls: u32,
        rx: Option<u64>,
    }

    impl FrameSource for Quiet<'_> {
        fn name(&self) -> &str {
            "test0"
        }
        fn next_batch(
            &mut self,
            timeout_ms: u16,
            stop: &AtomicBool,
            on: &mut dyn FnMut(&Frame<'_>),
        ) -> Result<usize, CaptureError> {
            if let Some(data) = self.first.take() {
                on(&Frame {
                    ts: Timestamp(self.clock.get()),
                    linktype: crate::net::linktype::ETHERNET,
                    data: &data,
                    orig_len: data.len() as u32,
                    cnt: 0,
                });
                return Ok(1);
            }
            self.clock
                .set(self.clock.get() + u64::from(timeout_ms) * 1_000_000);
            self.polls = self.polls.saturating_sub(1);
            if self.polls == 0 {
                stop.store(true, Ordering::Relaxed);
            }
            Ok(0)
        }
        fn drain(&mut self, _: &mut dyn FnMut(&Frame<'_>)) {}
        fn stats(&mut self) -> Option<crate::capture::PcapCounters> {
            Some(crate::capture::PcapCounters {
                received: 1,
                ..Default::default()
            })
        }
        fn iface_rx_packets(&self) -> Option<u64> {
            self.rx
        }
    }

    struct TestClock<'a>(&'a Cell<u64>);

    impl Clock for TestClock<'_> {
        fn now(&self) -> Timestamp {
            Timestamp(self.0.get())
        }
    }

    /// A UDP get-identity request to 192.0.2.30:8611 on Ethernet.
    fn bjnp_request() -> Vec<u8> {
        let payload = *b"BJNP\x01\x30\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00";
        let mut f = vec![0u8; 12];
        f.extend([0x08, 0x00, 0x45, 0, 0, 44, 0, 1, 0, 0, 64, 17, 0, 0]);
        f.extend([192, 0, 2, 5, 192, 0, 2, 30]);
        f.extend(50000u16.to_be_bytes());
        f.extend(8611u16.to_be_bytes());
        f.extend([0, 24, 0, 0]);
        f.extend(payload);
        f
    }

    fn run(polls: u32, first: Option<Vec<u8>>, interval: u64, rx: Option<u64>) -> Vec<Record> {
        let start = 1_768_471_200 * 1_000_000_000u64;
        let clock = Cell::new(start);
        let mut source = Quiet {
            clock: &clock,
            first,
            polls,
            rx,
        };
        let mut engine = Engine::new(EngineConfig::default());
        let mut out: Vec<Record> = Vec::new();
        let stop = Arc::new(AtomicBool::new(false));
        let stats = capture(
            &mut source,
            &TestClock(&clock),
            interval,
            &stop,
            &mut engine,
            &mut out,
        )
        .unwrap();
        assert_eq!(stats.map(|p| p.received), Some(1));
        assert_eq!(stats.map(|p| p.dropped + p.if_dropped), Some(0));
        out
    }

    fn types(out: &[Record]) -> Vec<&'static str> {
        out.iter().map(|r| r.event_type().name()).collect()
    }

    #[test]
    fn a_quiet_link_still_ends_flows() {
        // one request, then 70 s of silence: the UDP flow (60 s idle) ends without a packet
        let out = run(350, Some(bjnp_request()), 0, None);
        let t = types(&out);
        assert_eq!(t.first(), Some(&"bjnp"));
        let flow = out
            .iter()
            .find(|r| matches!(r.body, Body::Flow(_)))
            .expect("flow ended");
        let Body::Flow(f) = &flow.body else {
            unreachable!()
        };
        assert_eq!(f.flow.reason, crate::event::EndReason::Timeout);
        assert!(
            !t.contains(&"stats"),
            "interval 0: no periodic stats: {t:?}"
        );
    }

    #[test]
    fn stats_every_interval_and_a_warning_when_silent() {
        // 190 s of a silent capture with 60 s intervals: three stats records, and after the
        // third silent interval a warning naming the interface's own traffic
        let out = run(950, None, 60, Some(5));
        let t = types(&out);
        assert_eq!(t, ["stats", "stats", "stats", "warning"], "{t:?}");
        let Body::Warning(w) = &out[3].body else {
            unreachable!()
        };
        assert_eq!(w.silent_sec, Some(180));
        assert_eq!(w.iface_rx_packets, Some(0));
        assert_eq!(out[3].origin, Origin::Iface("test0".into()));
        // the stats records carry the source's counters, at the clock's time
        let Body::Stats(s) = &out[0].body else {
            unreachable!()
        };
        assert_eq!(s.capture.received, Some(1));
        assert_eq!(
            out[1].timestamp.since(out[0].timestamp),
            60_000_000_000,
            "one interval apart"
        );
    }

    #[test]
    fn traffic_keeps_the_warning_away() {
        let out = run(950, Some(bjnp_request()), 60, Some(5));
        // the first interval saw a packet; the next two are silent: not yet three in a row
        assert!(!types(&out).contains(&"warning"), "{:?}", types(&out));
    }
}
