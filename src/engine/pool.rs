//! Several workers on threads of their own, one judge: replay with `--workers N`.
//!
//! The calling thread reads frames and dispatches them: it counts each, drops what the
//! pre-check says touches no monitored port, and hands the rest to the worker its two IP
//! addresses hash to (both directions of a flow, and every fragment of a datagram, land on the
//! same worker). Every frame and marker (a sweep, the end) gets a sequence number; a worker
//! tags its facts with it, and the judge, on the calling thread, takes facts from all workers
//! in that order. Flows that end together (a sweep, the end) are ordered by last packet time
//! and flow id, as one worker orders them. So the judge sees what it would see with one worker,
//! and a replay gives the same records however many workers share it (tests/scaling/workers.rs).
//!
//! What differs: each worker's flow table holds `max_flows / N` flows, so which flows are
//! evicted at the cap depends on N; and known printers orient a new flow from the judge's last
//! published list, which may lag by a batch (only flows whose two ports are both monitored,
//! with no SYN and no BJNP header to go by, are oriented that way).

use super::fact::{Batch, Fact, Pos, WorkerStats};
use super::judge::{snapshot, Judge, Printers, PublishedPrinters};
use super::worker::Worker;
use super::{stats_record, EngineConfig, FrameEngine, SWEEP_INTERVAL_NS};
use crate::capture::{Frame, Source};
use crate::decode::{self, Decoded};
use crate::event::{InventoryReport, Origin, Record};
use crate::net::{PortSet, Timestamp};
use crate::output::RecordSink;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

/// Frames dispatched between two hand-overs to the workers.
const FLUSH_FRAMES: usize = 4096;
/// Jobs queued per worker before the dispatcher waits.
const JOBS_IN_FLIGHT: usize = 4;

enum Item {
    Frame {
        seq: u64,
        ts: Timestamp,
        cnt: u64,
        linktype: u32,
        orig_len: u32,
        at: (usize, usize),
    },
    Sweep {
        seq: u64,
        now: Timestamp,
    },
    Drain {
        seq: u64,
        now: Timestamp,
    },
    Source(Source),
}

/// Frames (copied, back to back) and markers for one worker.
#[derive(Default)]
struct Job {
    data: Vec<u8>,
    items: Vec<Item>,
    /// Every item numbered below this has been given to this worker.
    sync: u64,
}

/// What a worker sends back.
struct Facts {
    worker: usize,
    facts: Vec<(Pos, Fact)>,
    /// Every fact of items numbered below this is in this or an earlier batch.
    watermark: u64,
    /// The worker's counters, with its last batch.
    stats: Option<WorkerStats>,
}

struct Lane {
    tx: Option<SyncSender<Job>>,
    job: Job,
    queue: VecDeque<(Pos, Fact)>,
    watermark: u64,
    stats: Option<WorkerStats>,
    handle: Option<JoinHandle<()>>,
}

pub struct Pool {
    lanes: Vec<Lane>,
    facts: Receiver<Facts>,
    /// The dispatcher's own facts (ticks, the end), in order.
    own: VecDeque<(Pos, Fact)>,
    /// Counts frames and runs the pre-check; never holds a flow.
    front: Worker,
    judge: Judge,
    printers: PublishedPrinters,
    hasher: hashbrown::DefaultHashBuilder,
    seq: u64,
    next_sweep: Timestamp,
    pending_frames: usize,
    source: Option<Source>,
    finished: bool,
}

impl Pool {
    pub fn new(cfg: EngineConfig, workers: usize) -> Self {
        let n = workers.max(1);
        let printers = PublishedPrinters::default();
        let (facts_tx, facts) = channel();
        let mut per_worker = cfg.clone();
        per_worker.flow.max_flows = cfg.flow.max_flows.div_ceil(n).max(16);
        let lanes = (0..n)
            .map(|i| {
                let (tx, rx) = sync_channel(JOBS_IN_FLIGHT);
                let worker = per_worker.worker(i as u16);
                let out = facts_tx.clone();
                let printers = printers.reader();
                let handle = std::thread::Builder::new()
                    .name(format!("worker-{i}"))
                    .spawn(move || work(i, worker, rx, out, printers))
                    .expect("spawn a worker thread");
                Lane {
                    tx: Some(tx),
                    job: Job::default(),
                    queue: VecDeque::new(),
                    watermark: 0,
                    stats: None,
                    handle: Some(handle),
                }
            })
            .collect();
        let judge = cfg.judge();
        let mut pool = Pool {
            lanes,
            facts,
            own: VecDeque::new(),
            front: cfg.worker(u16::MAX),
            judge,
            printers,
            hasher: hashbrown::DefaultHashBuilder::default(),
            seq: 0,
            next_sweep: Timestamp::default(),
            pending_frames: 0,
            source: None,
            finished: false,
        };
        pool.publish_printers();
        pool
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
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

    /// The worker a frame belongs to: a hash of its two addresses, the same both ways.
    fn lane_of(&self, frame: &Frame<'_>) -> usize {
        let pair = match decode::decode(frame.linktype, frame.data) {
            Decoded::Packet(p) => Some((p.src, p.dst)),
            Decoded::Fragment(f) => Some((f.src, f.dst)),
            // An unreachable belongs with the flow it quotes, whoever sent it.
            Decoded::Unreachable(u) => Some((u.src, u.dst)),
            _ => None,
        };
        let Some((a, b)) = pair else {
            return 0;
        };
        let mut h = self.hasher.build_hasher();
        a.min(b).hash(&mut h);
        a.max(b).hash(&mut h);
        (h.finish() % self.lanes.len() as u64) as usize
    }

    fn broadcast(&mut self, item: impl Fn() -> Item) {
        for lane in &mut self.lanes {
            lane.job.items.push(item());
        }
    }

    /// Hands every worker its job (an empty one still moves its watermark), then judges what
    /// is ready.
    fn flush(&mut self, out: &mut dyn RecordSink) {
        let sync = self.seq + 1;
        for i in 0..self.lanes.len() {
            let mut job = std::mem::take(&mut self.lanes[i].job);
            job.sync = sync;
            let Some(tx) = self.lanes[i].tx.clone() else {
                continue;
            };
            // A full queue: judge what has come back meanwhile, then wait for room. Workers
            // never wait for the judge, so this cannot deadlock.
            match tx.try_send(job) {
                Ok(()) => {}
                Err(std::sync::mpsc::TrySendError::Full(job)) => {
                    self.collect();
                    self.judge_ready(out);
                    let _ = tx.send(job);
                }
                Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {}
            }
        }
        self.pending_frames = 0;
        self.collect();
        self.judge_ready(out);
    }

    /// Takes whatever batches the workers sent back, without waiting.
    fn collect(&mut self) {
        while let Ok(f) = self.facts.try_recv() {
            self.take(f);
        }
    }

    fn take(&mut self, f: Facts) {
        let lane = &mut self.lanes[f.worker];
        lane.queue.extend(f.facts);
        lane.watermark = lane.watermark.max(f.watermark);
        if f.stats.is_some() {
            lane.stats = f.stats;
        }
    }

    /// Judges facts in order for as long as no worker may still send an earlier one.
    fn judge_ready(&mut self, out: &mut dyn RecordSink) {
        loop {
            // the smallest head of all queues
            let mut best: Option<(Pos, Option<usize>)> = self.own.front().map(|(p, _)| (*p, None));
            for (i, lane) in self.lanes.iter().enumerate() {
                if let Some((p, _)) = lane.queue.front() {
                    if best.is_none_or(|(b, _)| *p < b) {
                        best = Some((*p, Some(i)));
                    }
                }
            }
            let Some((pos, from)) = best else {
                return;
            };
            // a worker with nothing queued may still owe a fact at or below `pos`
            let owed = self.lanes.iter().enumerate().any(|(i, lane)| {
                Some(i) != from && lane.queue.is_empty() && lane.watermark <= pos.seq
            });
            if owed {
                return;
            }
            let (_, fact) = match from {
                Some(i) => self.lanes[i].queue.pop_front(),
                None => self.own.pop_front(),
            }
            .expect("the head was just seen");
            self.judge.handle(fact, out);
            self.publish_printers();
        }
    }

    /// Gives the workers the printers the judge knows, when that changed.
    fn publish_printers(&mut self) {
        self.printers.publish(&self.judge);
    }

    fn totals(&self) -> WorkerStats {
        let mut sum = self.front.stats();
        for lane in &self.lanes {
            if let Some(s) = &lane.stats {
                sum.add(s);
            }
        }
        sum
    }
}

impl FrameEngine for Pool {
    fn set_source(&mut self, src: Source) {
        self.front.set_source(src.clone(), true);
        self.broadcast(|| Item::Source(src.clone()));
        self.source = Some(src);
    }

    fn count_filtered(&mut self, frame: &Frame<'_>) {
        self.front.count_filtered(frame);
    }

    fn process(&mut self, frame: &Frame<'_>, out: &mut dyn RecordSink) {
        self.front.count_frame(frame);
        if frame.ts >= self.next_sweep {
            let now = frame.ts;
            self.next_sweep = Timestamp(now.0.saturating_add(SWEEP_INTERVAL_NS));
            let seq = self.next_seq();
            self.broadcast(|| Item::Sweep { seq, now });
            let origin = self.origin();
            self.own
                .push_back((Pos::after_flows(seq), Fact::Tick(now, origin)));
        }
        if !self.front.wanted(frame) {
            return;
        }
        let seq = self.next_seq();
        let i = self.lane_of(frame);
        let job = &mut self.lanes[i].job;
        let start = job.data.len();
        job.data.extend_from_slice(frame.data);
        job.items.push(Item::Frame {
            seq,
            ts: frame.ts,
            cnt: frame.cnt,
            linktype: frame.linktype,
            orig_len: frame.orig_len,
            at: (start, job.data.len()),
        });
        self.pending_frames += 1;
        if self.pending_frames >= FLUSH_FRAMES {
            self.flush(out);
        }
    }

    fn tick(&mut self, _now: Timestamp, out: &mut dyn RecordSink) {
        // replay moves time with its frames; here only what is pending goes out
        self.flush(out);
    }

    fn finish(&mut self, out: &mut dyn RecordSink) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let now = self.front.last_ts();
        let seq = self.next_seq();
        self.broadcast(|| Item::Drain { seq, now });
        let origin = self.origin();
        self.own
            .push_back((Pos::after_flows(seq), Fact::Finish(now, origin)));
        self.flush(out);
        // no more jobs: each worker sends its last batch with its counters and stops
        for lane in &mut self.lanes {
            lane.tx = None;
        }
        while self.lanes.iter().any(|l| l.stats.is_none()) {
            match self.facts.recv() {
                Ok(f) => {
                    self.take(f);
                    self.judge_ready(out);
                }
                Err(_) => break,
            }
        }
        for lane in &mut self.lanes {
            lane.watermark = u64::MAX;
            if let Some(h) = lane.handle.take() {
                let _ = h.join();
            }
        }
        self.judge_ready(out);
    }

    fn stats_record(&self, now: Timestamp, live: Option<crate::capture::PcapCounters>) -> Record {
        stats_record(&self.totals(), &self.judge, now, live)
    }

    fn packets(&self) -> u64 {
        self.front.packets()
    }

    fn last_ts(&self) -> Timestamp {
        self.front.last_ts()
    }

    fn inventory(&self) -> InventoryReport {
        self.judge.inventory()
    }

    fn ports(&self) -> &PortSet {
        self.front.ports()
    }
    /// The judge takes the new policy where it falls among the workers' facts, so what came
    /// before is judged by the old one. The workers keep their ports: a change of monitored
    /// ports needs a restart here, and the `reload` record says it was not applied.
    fn reload(
        &mut self,
        policy: crate::config::Policy,
        now: Timestamp,
        _out: &mut dyn RecordSink,
    ) -> crate::detect::PolicyChange {
        let change = crate::detect::PolicyChange::between(self.judge.detect().policy(), &policy);
        let seq = self.next_seq();
        let origin = self.origin();
        self.own.push_back((
            Pos::after_flows(seq),
            Fact::Reload(Box::new(policy), now, origin),
        ));
        change
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for lane in &mut self.lanes {
            lane.tx = None;
        }
        for lane in &mut self.lanes {
            if let Some(h) = lane.handle.take() {
                let _ = h.join();
            }
        }
    }
}

/// A worker thread: jobs in, fact batches out, its counters with the last batch.
fn work(
    id: usize,
    mut worker: Worker,
    jobs: Receiver<Job>,
    out: Sender<Facts>,
    printers: Printers,
) {
    while let Ok(job) = jobs.recv() {
        let known = snapshot(&printers);
        let mut facts = Vec::new();
        let mut sink = Batch {
            facts: &mut facts,
            printers: &|ip| known.contains(&ip),
        };
        for item in &job.items {
            match item {
                Item::Frame {
                    seq,
                    ts,
                    cnt,
                    linktype,
                    orig_len,
                    at,
                } => {
                    let frame = Frame {
                        ts: *ts,
                        linktype: *linktype,
                        data: &job.data[at.0..at.1],
                        orig_len: *orig_len,
                        cnt: *cnt,
                    };
                    worker.frame(&frame, *seq, &mut sink);
                }
                Item::Sweep { seq, now } => worker.expire(*now, *seq, &mut sink),
                Item::Drain { seq, now } => worker.drain(*now, *seq, &mut sink),
                Item::Source(s) => worker.set_source(s.clone(), false),
            }
        }
        let batch = Facts {
            worker: id,
            facts,
            watermark: job.sync,
            stats: None,
        };
        if out.send(batch).is_err() {
            return;
        }
    }
    let _ = out.send(Facts {
        worker: id,
        facts: Vec::new(),
        watermark: u64::MAX,
        stats: Some(worker.stats()),
    });
}
