//! The output stage: a thread of its own behind a bounded queue, so a slow or dead sink never
//! holds up the capture thread.
//!
//! Records are handed over in batches and rendered on the output thread, so the thread that
//! makes them (the capture thread with one worker) spends nothing on formatting: on a printer-
//! heavy link rendering was a sixth of its time. A rendered batch goes back to its producer
//! with its records, which are dropped there when the batch is reused: every allocation is
//! freed by the thread that made it, so the two threads never contend for an allocator lock.
//! A `stats` record is also written there, its output counters read the moment it is written.
//!
//! Live capture hands records over with `try_send`: when the queue is full the record is
//! dropped and counted (losing a record beats losing packets, and the count says so). Replay
//! waits for room instead: nothing is lost, the file is simply read more slowly. At shutdown
//! the queue is drained and the sink flushed before the process exits.

use super::format::{syslog_severity, Formatter};
use super::sink::{Meta, Sent, Transport};
use super::RecordSink;
use crate::event::{
    Body, DroppedByType, EventType, Origin, Record, Timestamp, Warning, WarningCode,
};
use std::io;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Records the queue holds live (a few hundred bytes each, a few MiB when full): room for a
/// burst while the sink is briefly slow.
pub const QUEUE_RECORDS: usize = 16_384;
/// On replay the reader simply waits for the writer, so a short queue is enough to keep both
/// busy, and memory stays with the flow table.
pub const QUEUE_RECORDS_REPLAY: usize = 1024;
/// Buffered output reaches the file at least this often, even when records trickle in.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

#[derive(Default)]
pub struct Counters {
    pub written: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub dropped_sink_down: AtomicU64,
    pub reconnects: AtomicU64,
    pub reopens: AtomicU64,
    /// Warnings the output stage wrote itself (a sink in trouble, a failed reopen).
    pub warnings: AtomicU64,
}

#[derive(Default)]
struct Shared {
    counters: Counters,
    /// Records handed over and not yet written: what the queue's size limits.
    queued: std::sync::atomic::AtomicUsize,
    /// Written batches sent back and not reused yet (at most `SPARE_BATCHES`).
    spare: std::sync::atomic::AtomicUsize,
    failed: AtomicBool,
    error: Mutex<Option<io::Error>>,
    /// Set at shutdown: past it, what is left is counted, not written.
    deadline: Mutex<Option<Instant>>,
    /// The run's stop flag (SIGINT/SIGTERM): the shutdown budget starts when it is raised,
    /// even while the producer still waits for room in the queue.
    stop: std::sync::OnceLock<Arc<AtomicBool>>,
    /// Sees every `stats` record as written, its output counters filled in (the metrics
    /// endpoint), with the sink's kind.
    stats_tap: std::sync::OnceLock<StatsTap>,
}

/// What watches the `stats` records the output thread writes: each record, complete, the
/// sink's kind (`stdout`, `file`, `syslog`, `kafka`) and the records waiting in the output
/// queue at that moment. It runs on the output thread and must only hand them over, never
/// wait.
pub type StatsTap = Box<dyn Fn(&Record, &str, u64) + Send + Sync>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Replay: wait for room in the queue.
    Lossless,
    /// Live: never wait; count what does not fit.
    DropWhenFull,
}

/// Records handed over together: one queue operation (and at most one wake-up of the output
/// thread) per batch instead of per record.
const BATCH: usize = 256;
/// Written batches kept for reuse, with their records (at most 2 048 records).
const SPARE_BATCHES: usize = 8;

/// One record of a batch; a `stats` record gets the output counters as it is written.
enum Item {
    Record(Record),
    Stats(Record),
}

/// Records handed over together. The output thread renders them and sends the batch back with
/// its records in it: they are dropped on the thread that made them when the batch is reused.
/// At most `SPARE_BATCHES` wait to be reused: a burst of small batches (live, a stalled sink)
/// would otherwise keep thousands in circulation, each holding the records it last carried;
/// the output thread drops any beyond them itself.
#[derive(Default)]
struct Batch {
    items: Vec<Item>,
}

impl Batch {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

pub struct Output {
    tx: Option<SyncSender<Batch>>,
    /// Records not yet handed over; see [`RecordSink::commit`].
    pending: Batch,
    /// Written batches the output thread sends back, so their buffers are reused (and their
    /// records dropped here).
    spent: Receiver<Batch>,
    handle: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    mode: Mode,
    /// The most records in flight before live capture drops.
    limit: usize,
    /// Records emitted so far, of every type (a `stats` record's `records`).
    made: u64,
    /// Records dropped for a full queue, by type (drops happen here, on the producer side).
    by_type: DroppedByType,
}

impl Output {
    /// Starts the output thread. `reopen` is set by a SIGHUP handler; the thread reopens the
    /// sink before its next write (or within 200 ms when idle).
    pub fn start(
        formatter: Formatter,
        mut sink: Box<dyn Transport>,
        mode: Mode,
        queue: usize,
        reopen: Option<Arc<AtomicBool>>,
    ) -> Output {
        // The channel counts batches; a live batch may be a single record, so the limit in
        // records is kept separately (`queued`), and the channel only has to be big enough.
        let (tx, rx) = sync_channel(match mode {
            Mode::Lossless => (queue / BATCH).max(1),
            // room for single-record batches up to the limit and its priority reserve
            Mode::DropWhenFull => queue.max(1) + queue / 4 + 1,
        });
        // A sink with a queue of its own (Kafka) waits for room on replay, as the queue in
        // front of it does.
        sink.set_lossless(mode == Mode::Lossless);
        let shared = Arc::new(Shared::default());
        let thread_shared = Arc::clone(&shared);
        let (give_back, spent) = std::sync::mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("output".into())
            .spawn(move || run(rx, give_back, formatter, sink, &thread_shared, reopen))
            .expect("spawn the output thread");
        Output {
            tx: Some(tx),
            pending: Batch::default(),
            spent,
            handle: Some(handle),
            shared,
            mode,
            limit: queue.max(1),
            made: 0,
            by_type: DroppedByType::default(),
        }
    }

    /// Every `stats` record from now on is also shown to `tap`, as written.
    pub fn tap_stats(&self, tap: StatsTap) {
        let _ = self.shared.stats_tap.set(tap);
    }

    /// The sink failed for good (stdout closed, disk full): stop producing.
    pub fn failed(&self) -> bool {
        self.shared.failed.load(Ordering::Relaxed)
    }

    /// Starts the shutdown budget as soon as `stop` is raised (SIGINT/SIGTERM), so a stuck sink
    /// cannot hold a replay that waits for room in the queue.
    pub fn watch_stop(&mut self, stop: Arc<AtomicBool>) {
        let _ = self.shared.stop.set(stop);
    }

    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// From now on wait for room instead of dropping: capture has stopped, and what is left
    /// (flows ended at shutdown, the final stats) must reach the sink.
    pub fn lossless_from_now(&mut self) {
        self.mode = Mode::Lossless;
    }

    /// Drains the queue, flushes, stops the thread. Returns the records that never reached
    /// the sink (dropped at a full queue or with the sink down, the final flush included: the
    /// final `stats` record cannot count what its own flush lost), or the sink's first fatal
    /// error. Nothing still buffered is dropped, whatever the mode.
    pub fn finish(mut self) -> io::Result<u64> {
        self.mode = Mode::Lossless;
        if let Ok(mut d) = self.shared.deadline.lock() {
            d.get_or_insert(Instant::now() + SHUTDOWN_BUDGET);
        }
        self.hand_over();
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        match self.shared.error.lock().map(|mut e| e.take()) {
            Ok(Some(e)) => Err(e),
            _ => {
                let c = &self.shared.counters;
                Ok(c.dropped_queue_full.load(Ordering::Relaxed)
                    + c.dropped_sink_down.load(Ordering::Relaxed))
            }
        }
    }
}

impl RecordSink for Output {
    fn failed(&self) -> bool {
        Output::failed(self)
    }

    fn emit(&mut self, mut r: Record) {
        if let Body::Stats(st) = &mut r.body {
            // this record's moment: every record before it was made by now
            st.output.records = self.made;
            self.pending.items.push(Item::Stats(r));
        } else {
            self.pending.items.push(Item::Record(r));
        }
        self.made += 1;
        if self.pending.len() >= BATCH {
            self.hand_over();
        }
    }

    fn commit(&mut self) {
        self.hand_over();
    }
}

impl Output {
    fn hand_over(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let Some(tx) = &self.tx else { return };
        let fresh = self.reused_batch();
        let mut batch = std::mem::replace(&mut self.pending, fresh);
        let n = batch.len();
        let queued = &self.shared.queued;
        match self.mode {
            Mode::Lossless => {
                self.stamp_all(&mut batch);
                queued.fetch_add(n, Ordering::Relaxed);
                // Fails only when the thread is gone after a fatal error, already reported.
                let _ = tx.send(batch);
            }
            Mode::DropWhenFull => {
                if queued.load(Ordering::Relaxed) + n > self.limit {
                    return self.overflow(batch);
                }
                self.stamp_all(&mut batch);
                queued.fetch_add(n, Ordering::Relaxed);
                match tx.try_send(batch) {
                    Ok(()) => {}
                    Err(TrySendError::Full(b)) => {
                        queued.fetch_sub(n, Ordering::Relaxed);
                        self.overflow(b);
                    }
                    Err(TrySendError::Disconnected(_)) => {}
                }
            }
        }
    }

    /// The queue has no room for `batch`: its priority records go on within the reserve, the
    /// rest is dropped and counted by type. A `stats` record's drop counters are read as it
    /// passes, so they count exactly the records before it.
    fn overflow(&mut self, batch: Batch) {
        let mut kept = self.reused_batch();
        for item in batch.items {
            match item {
                Item::Record(r) => {
                    // What a full queue keeps: records an analyst must not lose may use a reserve
                    // beyond the queue's limit.
                    let t = r.event_type();
                    if t.is_priority() {
                        kept.items.push(Item::Record(r));
                    } else {
                        self.dropped(t);
                    }
                }
                Item::Stats(mut r) => {
                    self.stamp(&mut r);
                    kept.items.push(Item::Stats(r));
                }
            }
        }
        let m = kept.len();
        if m == 0 {
            return;
        }
        let Some(tx) = &self.tx else { return };
        let queued = &self.shared.queued;
        let reserve = self.limit / 4 + 1;
        if queued.load(Ordering::Relaxed) + m <= self.limit + reserve {
            queued.fetch_add(m, Ordering::Relaxed);
            match tx.try_send(kept) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => return,
                Err(TrySendError::Full(b)) => {
                    queued.fetch_sub(m, Ordering::Relaxed);
                    kept = b;
                }
            }
        }
        {
            for item in &kept.items {
                match item {
                    Item::Record(r) => self.dropped(r.event_type()),
                    Item::Stats(_) => self.dropped(EventType::Stats),
                }
            }
        }
    }

    /// An empty batch: one the output thread sent back (its written records are dropped here,
    /// where they were made), or a new one.
    fn reused_batch(&self) -> Batch {
        match self.spent.try_recv() {
            Ok(mut b) => {
                self.shared.spare.fetch_sub(1, Ordering::Relaxed);
                b.items.clear();
                b
            }
            Err(_) => Batch::default(),
        }
    }

    fn dropped(&mut self, event_type: EventType) {
        self.shared
            .counters
            .dropped_queue_full
            .fetch_add(1, Ordering::Relaxed);
        *self.by_type.of(event_type) += 1;
    }

    /// The producer's side of a `stats` record's output counters, as of this record.
    fn stamp(&self, r: &mut Record) {
        if let Body::Stats(st) = &mut r.body {
            st.output.dropped_queue_full = self
                .shared
                .counters
                .dropped_queue_full
                .load(Ordering::Relaxed);
            st.output.dropped_by_type = self.by_type;
        }
    }

    fn stamp_all(&self, batch: &mut Batch) {
        for item in &mut batch.items {
            if let Item::Stats(r) = item {
                self.stamp(r);
            }
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        self.hand_over();
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// How long shutdown may take to write what is left before the rest is counted as dropped:
/// with the sinks' own per-write bounds, SIGTERM ends the process within 5 s.
pub const SHUTDOWN_BUDGET: Duration = Duration::from_millis(2500);
/// A failed reopen is tried again this often, the open file kept meanwhile.
const REOPEN_RETRY: Duration = Duration::from_secs(5);

/// The output thread's own bookkeeping around the sink.
struct Writer<'a> {
    sink: Box<dyn Transport>,
    formatter: Formatter,
    shared: &'a Shared,
    line: Vec<u8>,
    /// A reopen that failed: tried again at this time.
    reopen_retry: Option<Instant>,
    deadline: Option<Instant>,
}

impl Writer<'_> {
    fn c(&self) -> &Counters {
        &self.shared.counters
    }

    fn fail(&self, e: io::Error) {
        if let Ok(mut slot) = self.shared.error.lock() {
            slot.get_or_insert(e);
        }
        self.shared.failed.store(true, Ordering::Relaxed);
    }

    fn account(&self, sent: io::Result<Sent>) {
        match sent {
            Ok(Sent::Written) => {
                self.c().written.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Sent::Buffered) => {}
            Ok(Sent::Dropped) => {
                self.c().dropped_sink_down.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => self.fail(e),
        }
    }

    /// Writes what the sink buffers and counts what became of it; then reports any trouble.
    fn flush(&mut self) {
        if self.shared.failed.load(Ordering::Relaxed) {
            return;
        }
        match self.sink.flush() {
            Ok(f) => {
                let c = self.c();
                c.written.fetch_add(f.written, Ordering::Relaxed);
                c.dropped_sink_down.fetch_add(f.lost, Ordering::Relaxed);
            }
            Err(e) => self.fail(e),
        }
        if let Some(t) = self.sink.trouble() {
            let what = self.sink.description();
            let (code, message) = if t.recovered {
                tracing::warn!(sink = %what, lost = t.lost, "output works again");
                (
                    WarningCode::OutputRecovered,
                    format!(
                        "{what} works again; {} records were lost meanwhile ({})",
                        t.lost, t.error
                    ),
                )
            } else {
                tracing::warn!(sink = %what, error = %t.error, "cannot write records; dropping them (counted) and retrying");
                (
                    WarningCode::OutputFailing,
                    format!("cannot write to {what}: {}; records are dropped (counted) and writing is retried", t.error),
                )
            };
            self.warn(code, message);
        }
    }

    /// A `warning` of the output stage itself, written through the sink like any record (and
    /// counted in `stats.output.warnings`, not in `records`).
    fn warn(&mut self, code: WarningCode, message: String) {
        let r = Record {
            timestamp: Timestamp::now(),
            flow_id: None,
            origin: Origin::None,
            endpoints: None,
            body: Body::Warning(Box::new(Warning {
                code,
                message,
                silent_sec: None,
                iface_rx_packets: None,
            })),
        };
        self.c().warnings.fetch_add(1, Ordering::Relaxed);
        self.formatter.render(&r, &mut self.line);
        let meta = Meta {
            event_type: r.event_type(),
            severity: syslog_severity(&r),
            key: None,
        };
        let sent = self.sink.send(&self.line, meta);
        self.account(sent);
    }

    /// SIGHUP (or a retry of a failed reopen): a reopen that fails keeps the open file.
    fn reopen(&mut self) {
        match self.sink.reopen() {
            Ok(true) => {
                self.c().reopens.fetch_add(1, Ordering::Relaxed);
                self.reopen_retry = None;
                tracing::info!(sink = %self.sink.description(), "reopened");
            }
            Ok(false) => {}
            Err(e) => {
                let first = self.reopen_retry.is_none();
                self.reopen_retry = Some(Instant::now() + REOPEN_RETRY);
                if first {
                    let what = self.sink.description();
                    tracing::warn!(sink = %what, error = %e, "cannot reopen; writing on to the open file, retrying every 5 s");
                    self.warn(
                        WarningCode::OutputReopenFailed,
                        format!("cannot reopen {what}: {e}; writing on to the file already open, retrying every 5 s"),
                    );
                }
            }
        }
    }

    /// The shutdown budget: from `finish`, or from the moment the run's stop flag went up.
    fn check_deadline(&mut self) {
        if self.deadline.is_some() {
            return;
        }
        let mut slot = self
            .shared
            .deadline
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if slot.is_none()
            && self
                .shared
                .stop
                .get()
                .is_some_and(|s| s.load(Ordering::Relaxed))
        {
            *slot = Some(Instant::now() + SHUTDOWN_BUDGET);
        }
        if let Some(d) = *slot {
            drop(slot);
            self.deadline = Some(d);
            self.sink.set_deadline(d);
        }
    }

    /// Past the shutdown deadline: the record is counted as dropped instead of written (a
    /// stats record is still tried, and goes to stderr if the sink cannot take it).
    fn late(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    fn item(&mut self, item: &mut Item) {
        self.check_deadline();
        match item {
            Item::Record(r) => {
                if self.late() {
                    self.c().dropped_sink_down.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                self.formatter.render(r, &mut self.line);
                let meta = Meta {
                    event_type: r.event_type(),
                    severity: syslog_severity(r),
                    key: r.flow_id,
                };
                let sent = self.sink.send(&self.line, meta);
                self.account(sent);
            }
            Item::Stats(r) => {
                // its counters must see every record before it accounted: flush first
                self.flush();
                let c = &self.shared.counters;
                let sent = write_stats(r, &self.formatter, self.sink.as_mut(), c, &mut self.line);
                if let Some(tap) = self.shared.stats_tap.get() {
                    let kind = self.sink.description();
                    let queued = self.shared.queued.load(Ordering::Relaxed) as u64;
                    // `file PATH`, `syslog tcp://…`, `kafka://…`: the kind alone, never the target
                    tap(r, kind.split([' ', ':']).next().unwrap_or("stdout"), queued);
                }
                let ok = matches!(sent, Ok(Sent::Written | Sent::Buffered));
                self.account(sent);
                if self.deadline.is_some() {
                    // the last stats: make sure it is out, or on stderr
                    let flushed = self.sink.flush();
                    let reached = ok && matches!(flushed, Ok(f) if f.lost == 0);
                    if let Ok(f) = flushed {
                        self.c().written.fetch_add(f.written, Ordering::Relaxed);
                        self.c()
                            .dropped_sink_down
                            .fetch_add(f.lost, Ordering::Relaxed);
                    }
                    if !reached {
                        let mut err = io::stderr().lock();
                        let _ = err.write_all(&self.line);
                        let _ = err.write_all(b"\n");
                    }
                }
            }
        }
    }
}

fn run(
    rx: Receiver<Batch>,
    give_back: std::sync::mpsc::Sender<Batch>,
    formatter: Formatter,
    sink: Box<dyn Transport>,
    shared: &Shared,
    reopen: Option<Arc<AtomicBool>>,
) {
    let mut w = Writer {
        sink,
        formatter,
        shared,
        line: Vec::with_capacity(8192),
        reopen_retry: None,
        deadline: None,
    };
    let mut last_flush = Instant::now();
    loop {
        let next = rx.recv_timeout(FLUSH_EVERY);
        let hup = reopen
            .as_ref()
            .is_some_and(|flag| flag.swap(false, Ordering::Relaxed));
        if hup || w.reopen_retry.is_some_and(|t| Instant::now() >= t) {
            w.reopen();
        }
        w.check_deadline();
        let mut batch = match next {
            Ok(b) => b,
            Err(RecvTimeoutError::Timeout) => {
                w.flush();
                last_flush = Instant::now();
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let n = batch.len();
        for item in &mut batch.items {
            if shared.failed.load(Ordering::Relaxed) {
                // Keep draining so a waiting producer is released; the error is reported at
                // exit.
                break;
            }
            w.item(item);
        }
        shared.queued.fetch_sub(n, Ordering::Relaxed);
        // back with its records, dropped where they were made, unless enough wait already
        // (then, or when the producer is gone at shutdown, they go here)
        if shared.spare.load(Ordering::Relaxed) < SPARE_BATCHES {
            shared.spare.fetch_add(1, Ordering::Relaxed);
            if give_back.send(batch).is_err() {
                shared.spare.fetch_sub(1, Ordering::Relaxed);
            }
        }
        if last_flush.elapsed() >= FLUSH_EVERY {
            w.flush();
            last_flush = Instant::now();
        }
    }
    w.flush();
}

/// A `stats` record, with the output counters as they are at this point of the stream:
/// everything before it is accounted.
fn write_stats(
    r: &mut Record,
    formatter: &Formatter,
    sink: &mut dyn Transport,
    c: &Counters,
    line: &mut Vec<u8>,
) -> io::Result<Sent> {
    if let Body::Stats(st) = &mut r.body {
        // Only a stats record reads it: ask the sink then, not for every record.
        c.reconnects.store(sink.reconnects(), Ordering::Relaxed);
        st.output.written = c.written.load(Ordering::Relaxed);
        st.output.dropped_sink_down = c.dropped_sink_down.load(Ordering::Relaxed);
        st.output.reconnects = c.reconnects.load(Ordering::Relaxed);
        st.output.reopens = c.reopens.load(Ordering::Relaxed);
        st.output.warnings = c.warnings.load(Ordering::Relaxed);
        st.output.in_flight = sink.in_flight();
    }
    formatter.render(r, line);
    let meta = Meta {
        event_type: r.event_type(),
        severity: syslog_severity(r),
        key: None,
    };
    sink.send(line, meta)
}

#[cfg(test)]
mod tests;
