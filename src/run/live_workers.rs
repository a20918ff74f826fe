//! Live capture with `--workers N`: N capture sockets on one interface, in one kernel fanout
//! group, so the kernel hands each flow (both directions) to one socket. Each worker thread
//! owns its socket, a flow table and the flows' analyzers, and sends facts in batches; the
//! calling thread is the judge (scans, floods, campaigns, suppression and inventory stay one,
//! so a scanner whose probes land on different workers gives one alert) and feeds the one
//! output stage. Facts are judged as they arrive: live, there is no capture order to keep
//! across sockets.
//!
//! Stats records carry the totals and each worker's share (`workers`), its socket's
//! `received` and `dropped` included.

use super::live::{Clock, FrameSource, POLL_MS};
use crate::capture::{CaptureError, Frame, Source};
use crate::engine::fact::{Batch, Fact, Pos, WorkerStats};
use crate::engine::judge::{snapshot, Judge, Printers, PublishedPrinters};
use crate::engine::{records, stats_record_with, EngineConfig, FrameEngine, SWEEP_INTERVAL_NS};
use crate::event::{InventoryReport, Origin, Record, WorkerLoad};
use crate::health::SilenceWatch;
use crate::net::{PortSet, Timestamp};
use crate::output::RecordSink;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

/// A worker sends its counters at least this often, with or without facts.
const REPORT_EVERY_NS: u64 = 500_000_000;

struct Facts {
    worker: usize,
    facts: Vec<(Pos, Fact)>,
    stats: WorkerStats,
    /// The socket's (received, dropped, if_dropped).
    socket: Option<crate::capture::PcapCounters>,
    last: bool,
}

/// libpcap's (received, dropped, if_dropped) of one socket.
type SocketCounters = Option<crate::capture::PcapCounters>;

/// The judge's side of a multi-worker live capture; after [`capture`](Self::capture) returns,
/// it finishes the run like any engine.
pub struct LiveWorkers {
    cfg: EngineConfig,
    judge: Judge,
    iface: Arc<str>,
    stats: Vec<(WorkerStats, SocketCounters)>,
    printers: PublishedPrinters,
    /// SIGHUP's policy reload, taken by the judge between two batches of facts.
    reloader: Option<super::reload::Reloader>,
}

impl LiveWorkers {
    pub fn new(cfg: EngineConfig, iface: &str, workers: usize) -> Self {
        let mut lw = LiveWorkers {
            judge: cfg.judge(),
            cfg,
            iface: iface.into(),
            stats: vec![Default::default(); workers.max(1)],
            printers: PublishedPrinters::default(),
            reloader: None,
        };
        lw.publish_printers();
        lw
    }

    /// Reloads the policy when SIGHUP asks (the workers keep their ports).
    pub fn set_reloader(&mut self, r: super::reload::Reloader) {
        self.reloader = Some(r);
    }

    fn publish_printers(&mut self) {
        self.printers.publish(&self.judge);
    }

    fn totals(
        &self,
    ) -> (
        WorkerStats,
        Option<crate::capture::PcapCounters>,
        Vec<WorkerLoad>,
    ) {
        let mut sum = WorkerStats::default();
        let mut socket: Option<crate::capture::PcapCounters> = None;
        let mut loads = Vec::new();
        for (i, (s, sock)) in self.stats.iter().enumerate() {
            sum.add(s);
            if let Some(p) = sock {
                socket.get_or_insert_with(Default::default).add(p);
            }
            loads.push(WorkerLoad {
                worker: i as u16,
                packets: s.capture.packets,
                received: sock.map(|s| s.received),
                dropped: sock.map(|s| s.dropped),
                flows_active: s.flow.active,
            });
        }
        (sum, socket, loads)
    }

    /// Captures from every source (one per worker) until `stop` is set or the sink fails.
    /// Returns the sockets' summed counters.
    pub fn capture(
        &mut self,
        sources: Vec<Box<dyn FrameSource + Send>>,
        clock: &(dyn Clock + Sync),
        stats_interval_secs: u64,
        stop: &Arc<AtomicBool>,
        sink: &mut dyn RecordSink,
    ) -> Result<Option<crate::capture::PcapCounters>, CaptureError> {
        let n = sources.len();
        self.stats = vec![Default::default(); n];
        let (tx, rx) = channel();
        let origin = Origin::Iface(Arc::clone(&self.iface));
        let interval_ns = stats_interval_secs.saturating_mul(1_000_000_000);
        let mut next_stats = Timestamp(clock.now().0.saturating_add(interval_ns));
        let mut next_tick = clock.now();
        let mut silence = SilenceWatch::new(0, crate::health::iface_rx_packets(&self.iface));
        let mut failed: Option<CaptureError> = None;
        let cfg = self.cfg.clone();
        let cfg = &cfg;
        std::thread::scope(|scope| {
            let handles: Vec<_> = sources
                .into_iter()
                .enumerate()
                .map(|(i, source)| {
                    let tx = tx.clone();
                    let printers = self.printers.reader();
                    let iface = Arc::clone(&self.iface);
                    std::thread::Builder::new()
                        .name(format!("worker-{i}"))
                        .spawn_scoped(scope, move || {
                            work(i, source, cfg, iface, clock, stop, tx, printers)
                        })
                        .expect("spawn a capture worker")
                })
                .collect();
            drop(tx);
            let mut done = 0;
            while done < n {
                match rx.recv_timeout(Duration::from_millis(u64::from(POLL_MS))) {
                    Ok(batch) => {
                        for (_, f) in batch.facts {
                            self.judge.handle(f, sink);
                            self.publish_printers();
                        }
                        self.stats[batch.worker] = (batch.stats, batch.socket);
                        done += usize::from(batch.last);
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
                let now = clock.now();
                if let Some(r) = &self.reloader {
                    let judge = &mut self.judge;
                    r.poll(now, &origin, sink, |p, out| {
                        judge.reload(p, false, now, &origin, out)
                    });
                }
                if now >= next_tick {
                    next_tick = Timestamp(now.0.saturating_add(SWEEP_INTERVAL_NS));
                    self.judge.tick(now, &origin, sink);
                }
                if interval_ns > 0 && now >= next_stats {
                    next_stats = Timestamp(next_stats.0.saturating_add(interval_ns));
                    let (sum, socket, loads) = self.totals();
                    sink.emit(stats_record_with(
                        &sum,
                        &self.judge,
                        now,
                        socket,
                        loads,
                        None,
                    ));
                    let rx = crate::health::iface_rx_packets(&self.iface);
                    let packets = sum.capture.packets;
                    if let Some(w) = silence.on_interval(packets, rx, stats_interval_secs) {
                        tracing::warn!("{}", w.message);
                        sink.emit(records::warning(w, now, origin.clone()));
                    }
                }
                sink.commit();
                if sink.failed() {
                    stop.store(true, Ordering::Relaxed);
                }
            }
            for h in handles {
                if let Ok(Err(e)) = h.join() {
                    failed.get_or_insert(e);
                    stop.store(true, Ordering::Relaxed);
                }
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        Ok(self.totals().1)
    }
}

/// One capture worker: its socket's frames through its own flow table; facts and counters to
/// the judge. At a stop, what is still in its ring, then every flow ends.
#[allow(clippy::too_many_arguments)]
fn work(
    id: usize,
    mut source: Box<dyn FrameSource + Send>,
    cfg: &EngineConfig,
    iface: Arc<str>,
    clock: &(dyn Clock + Sync),
    stop: &AtomicBool,
    tx: Sender<Facts>,
    printers: Printers,
) -> Result<(), CaptureError> {
    let mut worker = cfg.worker(id as u16);
    worker.set_source(Source::Iface(iface), false);
    let mut facts: Vec<(Pos, Fact)> = Vec::new();
    let mut next_sweep = clock.now();
    let mut next_report = Timestamp(0);
    let mut result = Ok(());
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        let known = snapshot(&printers);
        let mut sink = Batch {
            facts: &mut facts,
            printers: &|ip| known.contains(&ip),
        };
        let mut on = |frame: &Frame<'_>| {
            worker.count_frame(frame);
            if frame.ts >= next_sweep {
                next_sweep = Timestamp(frame.ts.0.saturating_add(SWEEP_INTERVAL_NS));
                worker.expire(frame.ts, 0, &mut sink);
            }
            if worker.wanted(frame) {
                worker.frame(frame, 0, &mut sink);
            }
        };
        if stopping {
            source.drain(&mut on);
            let now = clock.now();
            worker.drain(now, 0, &mut sink);
        } else {
            match source.next_batch(POLL_MS, stop, &mut on) {
                Ok(0) => {
                    let now = clock.now();
                    if now >= next_sweep {
                        next_sweep = Timestamp(now.0.saturating_add(SWEEP_INTERVAL_NS));
                        worker.expire(now, 0, &mut sink);
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    // this worker's socket failed: the others stop too, and the error is told
                    result = Err(e);
                    stop.store(true, Ordering::Relaxed);
                    continue;
                }
            }
        }
        let now = clock.now();
        if stopping || !facts.is_empty() || now >= next_report {
            next_report = Timestamp(now.0.saturating_add(REPORT_EVERY_NS));
            let batch = Facts {
                worker: id,
                facts: std::mem::take(&mut facts),
                stats: worker.stats(),
                socket: source.stats(),
                last: stopping,
            };
            if tx.send(batch).is_err() || stopping {
                return result;
            }
        }
    }
}

impl FrameEngine for LiveWorkers {
    fn set_source(&mut self, src: Source) {
        if let Source::Iface(i) = src {
            self.iface = i;
        }
    }
    fn count_filtered(&mut self, _frame: &Frame<'_>) {}
    /// Frames reach the workers' own sockets, never this thread.
    fn process(&mut self, _frame: &Frame<'_>, _out: &mut dyn RecordSink) {}
    fn tick(&mut self, now: Timestamp, out: &mut dyn RecordSink) {
        let origin = Origin::Iface(Arc::clone(&self.iface));
        self.judge.tick(now, &origin, out);
    }
    /// The workers ended every flow when capture stopped; what detection holds is reported.
    fn finish(&mut self, out: &mut dyn RecordSink) {
        let (sum, _, _) = self.totals();
        let origin = Origin::Iface(Arc::clone(&self.iface));
        self.judge
            .finish(sum.last_ts.max(Timestamp::now()), &origin, out);
    }
    fn stats_record(&self, now: Timestamp, live: Option<crate::capture::PcapCounters>) -> Record {
        let (sum, socket, loads) = self.totals();
        stats_record_with(&sum, &self.judge, now, live.or(socket), loads, None)
    }
    fn packets(&self) -> u64 {
        self.totals().0.capture.packets
    }
    fn last_ts(&self) -> Timestamp {
        self.totals().0.last_ts
    }
    fn inventory(&self) -> InventoryReport {
        self.judge.inventory()
    }
    fn ports(&self) -> &PortSet {
        &self.cfg.policy.ports
    }
    /// The judge takes the new policy at once (facts from the workers arrive as they come);
    /// the workers keep their ports: a change of monitored ports needs a restart, and the
    /// `reload` record says it was not applied.
    fn reload(
        &mut self,
        policy: crate::config::Policy,
        now: Timestamp,
        out: &mut dyn RecordSink,
    ) -> crate::detect::PolicyChange {
        let origin = Origin::Iface(Arc::clone(&self.iface));
        self.judge.reload(policy, false, now, &origin, out)
    }
}
