//! The engine: one frame in, zero or more records out. It owns the per-run state (flows,
//! analyzers, detection, counters), runs the stages in order for each frame, and hands what
//! they produce to the record builder (`records`). Live capture, replay, tests and benches
//! drive it the same way.

pub mod evidence;
pub mod fact;
pub mod judge;
pub mod pool;
pub mod records;
pub mod worker;

use crate::capture::{Frame, Source};
use crate::config::Policy;
use crate::decode::Screened;
use crate::defrag::DefragConfig;
use crate::detect::{Detector, PolicyChange};
use crate::event::{BjnpStats, InventoryReport, Origin, OutputStats, Record, Stats};
use crate::flow::FlowConfig;
use crate::net::{PortSet, Timestamp};
use crate::output::RecordSink;
use fact::WorkerStats;
use judge::{Inline, Judge};
use worker::Worker;

#[derive(Clone)]
pub struct EngineConfig {
    /// Monitored ports, inventory, allow lists, thresholds.
    pub policy: Policy,
    pub flow: FlowConfig,
    /// The fixed-offset pre-check; off only to prove it changes nothing.
    pub prefilter: bool,
    /// Datagrams put together from fragments: the overlap policy, caps and age.
    pub defrag: DefragConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            policy: Policy::default(),
            flow: FlowConfig::default(),
            prefilter: true,
            defrag: DefragConfig::default(),
        }
    }
}

impl EngineConfig {
    /// A worker of this configuration; `id` keeps its flow handles apart from other workers'.
    pub fn worker(&self, id: u16) -> Worker {
        Worker::new(
            id,
            self.policy.ports.clone(),
            self.flow.clone(),
            self.prefilter,
            DefragConfig {
                policy: self.policy.defrag_policy,
                ..self.defrag
            },
        )
    }

    pub fn judge(&self) -> Judge {
        Judge::new(Detector::new(self.policy.clone()))
    }
}

/// What the run loops drive: one worker and the judge on one thread ([`Engine`]), or several
/// workers on threads of their own ([`pool::Pool`]).
pub trait FrameEngine {
    /// A new file or interface starts; flow state carries across files.
    fn set_source(&mut self, src: Source);
    /// Counts a frame that a `-f` filter rejected before it reached the engine.
    fn count_filtered(&mut self, frame: &Frame<'_>);
    fn process(&mut self, frame: &Frame<'_>, out: &mut dyn RecordSink);
    /// Advances time without a packet (live capture on a quiet link).
    fn tick(&mut self, now: Timestamp, out: &mut dyn RecordSink);
    /// End of input: every flow ends, then what detection still holds.
    fn finish(&mut self, out: &mut dyn RecordSink);
    /// Counters as a `stats` record (see [`Engine::stats_record`]).
    fn stats_record(&self, now: Timestamp, live: Option<crate::capture::PcapCounters>) -> Record;
    /// Frames seen so far (including those a `-f` filter rejected).
    fn packets(&self) -> u64;
    /// The newest packet time seen (replay clock).
    fn last_ts(&self) -> Timestamp;
    /// The printers seen so far.
    fn inventory(&self) -> InventoryReport;
    fn ports(&self) -> &PortSet;
    /// A reloaded policy takes over from the next frame on, flows and detection state kept; a
    /// `reload` record says what changed.
    fn reload(&mut self, policy: Policy, now: Timestamp, out: &mut dyn RecordSink) -> PolicyChange;
    /// Monitored ports a reload changed, once, for the capture filter.
    fn take_ports(&mut self) -> Option<PortSet> {
        None
    }
}

impl FrameEngine for Engine {
    fn set_source(&mut self, src: Source) {
        Engine::set_source(self, src)
    }
    fn count_filtered(&mut self, frame: &Frame<'_>) {
        Engine::count_filtered(self, frame)
    }
    fn process(&mut self, frame: &Frame<'_>, out: &mut dyn RecordSink) {
        Engine::process(self, frame, out)
    }
    fn tick(&mut self, now: Timestamp, out: &mut dyn RecordSink) {
        Engine::tick(self, now, out)
    }
    fn finish(&mut self, out: &mut dyn RecordSink) {
        Engine::finish(self, out)
    }
    fn stats_record(&self, now: Timestamp, live: Option<crate::capture::PcapCounters>) -> Record {
        Engine::stats_record(self, now, live)
    }
    fn packets(&self) -> u64 {
        Engine::packets(self)
    }
    fn last_ts(&self) -> Timestamp {
        Engine::last_ts(self)
    }
    fn inventory(&self) -> InventoryReport {
        Engine::inventory(self)
    }
    fn ports(&self) -> &PortSet {
        Engine::ports(self)
    }
    fn reload(&mut self, policy: Policy, now: Timestamp, out: &mut dyn RecordSink) -> PolicyChange {
        Engine::reload(self, policy, now, out)
    }
}

/// Flows and pending state are swept once per this much packet time.
pub const SWEEP_INTERVAL_NS: u64 = 1_000_000_000;

/// One worker and the judge on one thread: a frame in, its records out, facts handed over
/// by a function call. Live capture, replay, tests and benches drive it the same way; several
/// workers (`--workers`) run the same two halves on threads of their own.
pub struct Engine {
    worker: Worker,
    judge: Judge,
    /// Sequence number of the next frame or marker.
    seq: u64,
    next_sweep: Timestamp,
    source: Option<Source>,
    /// `-w`: the evidence capture.
    evidence: Option<evidence::Evidence>,
}

impl Engine {
    pub fn new(cfg: EngineConfig) -> Self {
        Engine {
            worker: cfg.worker(0),
            judge: cfg.judge(),
            seq: 0,
            next_sweep: Timestamp::default(),
            source: None,
            evidence: None,
        }
    }

    /// Writes the packets of monitored flows (or of alerted ones) to an evidence capture.
    pub fn set_evidence(&mut self, ev: evidence::Evidence) {
        self.evidence = Some(ev);
    }

    /// Called when a new file or interface starts; flow state carries across files.
    pub fn set_source(&mut self, src: Source) {
        self.worker.set_source(src.clone(), true);
        self.source = Some(src);
    }

    fn origin(&self) -> Origin {
        match &self.source {
            Some(Source::File(name)) => Origin::File {
                name: name.clone(),
                cnt: 0,
            },
            Some(Source::Iface(i)) => Origin::Iface(i.clone()),
            None => Origin::None,
        }
    }

    /// Counts a frame that a `-f` filter rejected before it reached the engine.
    pub fn count_filtered(&mut self, frame: &Frame<'_>) {
        self.worker.count_filtered(frame);
    }

    pub fn process(&mut self, frame: &Frame<'_>, out: &mut dyn RecordSink) {
        self.worker.count_frame(frame);
        if frame.ts >= self.next_sweep {
            self.sweep(frame.ts, out);
        }
        let screened = self.worker.screen(frame);
        if matches!(screened, Screened::Ignored) {
            return;
        }
        let seq = self.next_seq();
        self.tapped(out, |worker, judge, out| {
            let out = &mut Inline { judge, out };
            match screened {
                Screened::Packet(p) => worker.decoded(frame, p, seq, out),
                _ => worker.frame(frame, seq, out),
            }
        });
        if let (Some(ev), Some(flow)) = (&mut self.evidence, self.worker.last_flow()) {
            ev.packet(flow, frame);
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn sweep(&mut self, now: Timestamp, out: &mut dyn RecordSink) {
        self.next_sweep = Timestamp(now.0.saturating_add(SWEEP_INTERVAL_NS));
        let seq = self.next_seq();
        let origin = self.origin();
        self.tapped(out, |worker, judge, out| {
            worker.expire(now, seq, &mut Inline { judge, out });
            judge.tick(now, &origin, out);
        });
        if let Some(e) = &mut self.evidence {
            e.tick(now);
        }
    }

    /// Runs `f` with the output, tapped by the evidence capture when there is one (alerts
    /// release their flow's packets and name the file).
    fn tapped(
        &mut self,
        out: &mut dyn RecordSink,
        f: impl FnOnce(&mut Worker, &mut Judge, &mut dyn RecordSink),
    ) {
        match &mut self.evidence {
            Some(e) => f(&mut self.worker, &mut self.judge, &mut e.tap(out)),
            None => f(&mut self.worker, &mut self.judge, out),
        }
    }

    /// A reloaded policy takes over from the next frame on: the flow stage follows its ports,
    /// the judge its allow lists, inventory and thresholds; flows and detection state stay.
    pub fn reload(
        &mut self,
        policy: Policy,
        now: Timestamp,
        out: &mut dyn RecordSink,
    ) -> PolicyChange {
        self.worker.set_ports(policy.ports.clone());
        let origin = self.origin();
        self.judge.reload(policy, true, now, &origin, out)
    }

    /// Advances time without a packet (live capture on a quiet link).
    pub fn tick(&mut self, now: Timestamp, out: &mut dyn RecordSink) {
        if now >= self.next_sweep {
            self.sweep(now, out);
        }
    }

    /// End of input: every flow ends, then what detection still holds (campaigns' totals,
    /// the last window's summary).
    pub fn finish(&mut self, out: &mut dyn RecordSink) {
        let now = self.worker.last_ts();
        let seq = self.next_seq();
        let origin = self.origin();
        self.tapped(out, |worker, judge, out| {
            worker.drain(now, seq, &mut Inline { judge, out });
            judge.finish(now, &origin, out);
        });
        if let Some(e) = &mut self.evidence {
            e.finish();
        }
    }

    /// Counters as a `stats` record. `live` carries libpcap's counters; `now` is the packet
    /// clock on replay (so replays are reproducible) and the wall clock live.
    pub fn stats_record(
        &self,
        now: Timestamp,
        live: Option<crate::capture::PcapCounters>,
    ) -> Record {
        let evidence = self.evidence.as_ref().map(evidence::Evidence::stats);
        stats_record_with(
            &self.worker.stats(),
            &self.judge,
            now,
            live,
            Vec::new(),
            evidence,
        )
    }

    /// Frames seen so far (including those a `-f` filter rejected).
    pub fn packets(&self) -> u64 {
        self.worker.packets()
    }

    pub fn ports(&self) -> &PortSet {
        self.worker.ports()
    }

    /// The printers seen so far (the `inventory` subcommand reads it at the end).
    pub fn inventory(&self) -> InventoryReport {
        self.judge.inventory()
    }

    pub fn policy(&self) -> &Policy {
        self.judge.detect().policy()
    }

    /// The newest packet time seen (replay clock).
    pub fn last_ts(&self) -> Timestamp {
        self.worker.last_ts()
    }
}

/// The `stats` record of a run: the workers' counters (summed) and the judge's.
pub fn stats_record(
    w: &WorkerStats,
    judge: &Judge,
    now: Timestamp,
    live: Option<crate::capture::PcapCounters>,
) -> Record {
    stats_record_with(w, judge, now, live, Vec::new(), None)
}

/// The same, with each live worker's share and the evidence capture's counters.
pub fn stats_record_with(
    w: &WorkerStats,
    judge: &Judge,
    now: Timestamp,
    live: Option<crate::capture::PcapCounters>,
    workers: Vec<crate::event::WorkerLoad>,
    evidence: Option<crate::event::EvidenceStats>,
) -> Record {
    let pairing = judge.bjnp_stats();
    records::stats(
        now,
        Stats {
            uptime_sec: w.first_ts.map_or(0, |t| now.since(t) / 1_000_000_000),
            capture: records::with_live(w.capture, live),
            decoder: records::decoder(w.decoder, w.fragment_trains, w.fragment_trains_evicted),
            flow: w.flow,
            bjnp: BjnpStats {
                responses_matched: pairing.responses_matched,
                responses_unmatched: pairing.responses_unmatched,
                pending_evicted: pairing.pending_evicted,
                ..w.bjnp
            },
            doors: w.doors,
            detect: judge.detect().stats(),
            evidence,
            output: OutputStats {
                records: judge.records(),
                ..OutputStats::default()
            },
            workers,
        },
    )
}
