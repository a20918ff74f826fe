//! The run loops: replay of capture files and live capture, each feeding the engine and the
//! output stage, plus the errors that end a run and the exit status each means. `main.rs` parses
//! the flags and calls these; tests drive them with their own frame sources and clocks.

pub mod live;
pub mod live_workers;
pub mod open;
pub mod reload;
pub mod replay;
pub mod setup;
pub mod verify;

use crate::capture::CaptureError;
use crate::config::PolicyError;
use crate::engine::FrameEngine;
use crate::event::Body;
use crate::net::Timestamp;
use crate::output::writer::Output;
use crate::output::RecordSink;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

/// The documented exit statuses.
pub mod exit {
    /// Done, also after SIGINT/SIGTERM and when the reader of stdout went away.
    pub const OK: u8 = 0;
    /// A failure at run time: no permission to capture, capture or output failed.
    pub const RUNTIME: u8 = 1;
    /// Usage or input error: bad flag, unreadable or corrupt capture, unknown interface, bad
    /// filter or policy, unknown `-Z` user.
    pub const USAGE: u8 = 2;
}

/// Why a run ended early.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The reader of our output went away (`| head`): stop quietly, like any filter.
    #[error("the reader of the output went away")]
    OutputClosed,
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("cannot open output '{}': {source}", path.display())]
    OpenOutput { path: PathBuf, source: io::Error },
    #[error("no such user '{0}' (-Z)")]
    NoSuchUser(String),
    #[error("{0}")]
    Privileges(String),
    #[error("cannot install signal handler: {0}")]
    Signals(io::Error),
    #[error("Kafka output: {0}")]
    KafkaSettings(String),
    #[error("Kafka output: {0}")]
    KafkaUnreachable(String),
    #[error("cannot write records: {0}")]
    Write(io::Error),
    #[error("cannot write the inventory: {0}")]
    WriteInventory(io::Error),
    #[error("cannot serve metrics on {addr}: {source}")]
    Metrics {
        addr: std::net::SocketAddr,
        source: io::Error,
    },
}

impl RunError {
    /// The exit status this error means (see [`exit`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::OutputClosed => exit::OK,
            RunError::Capture(e) if e.is_usage() => exit::USAGE,
            RunError::Capture(_) => exit::RUNTIME,
            RunError::Policy(_)
            | RunError::OpenOutput { .. }
            | RunError::NoSuchUser(_)
            | RunError::KafkaSettings(_)
            | RunError::Metrics { .. } => exit::USAGE,
            RunError::KafkaUnreachable(_) => exit::RUNTIME,
            RunError::Privileges(_)
            | RunError::Signals(_)
            | RunError::Write(_)
            | RunError::WriteInventory(_) => exit::RUNTIME,
        }
    }

    /// A write error that means nobody reads the output any more is not an error.
    pub fn from_write(e: io::Error, wrap: fn(io::Error) -> RunError) -> RunError {
        if e.kind() == io::ErrorKind::BrokenPipe {
            RunError::OutputClosed
        } else {
            wrap(e)
        }
    }
}

/// Installs the signal handlers: the first INT/TERM sets `stop` (a second one, while the first
/// is still being honoured, exits at once with status 1); HUP sets `reopen`.
pub fn signals() -> Result<(Arc<AtomicBool>, Arc<AtomicBool>), RunError> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    let reopen = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&stop)))
            .map_err(RunError::Signals)?;
    }
    signal_hook::flag::register(SIGHUP, Arc::clone(&reopen)).map_err(RunError::Signals)?;
    Ok((stop, reopen))
}

/// `-c COUNT`: the engine sees at most COUNT frames (those the filter passed, as tcpdump
/// counts), then the run is asked to stop; frames that arrive after (the rest of a live batch,
/// the drain at stop) are not processed.
pub struct CountLimit {
    inner: Box<dyn FrameEngine>,
    left: Option<u64>,
    stop: Arc<AtomicBool>,
}

impl CountLimit {
    pub fn new(inner: Box<dyn FrameEngine>, count: Option<u64>, stop: Arc<AtomicBool>) -> Self {
        CountLimit {
            inner,
            left: count,
            stop,
        }
    }
}

impl FrameEngine for CountLimit {
    fn set_source(&mut self, src: crate::capture::Source) {
        self.inner.set_source(src)
    }
    fn count_filtered(&mut self, frame: &crate::capture::Frame<'_>) {
        if self.left != Some(0) {
            self.inner.count_filtered(frame)
        }
    }
    fn process(&mut self, frame: &crate::capture::Frame<'_>, out: &mut dyn RecordSink) {
        match &mut self.left {
            Some(0) => return,
            Some(n) => {
                *n -= 1;
                if *n == 0 {
                    self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            }
            None => {}
        }
        self.inner.process(frame, out)
    }
    fn tick(&mut self, now: Timestamp, out: &mut dyn RecordSink) {
        self.inner.tick(now, out)
    }
    fn finish(&mut self, out: &mut dyn RecordSink) {
        self.inner.finish(out)
    }
    fn stats_record(
        &self,
        now: Timestamp,
        live: Option<crate::capture::PcapCounters>,
    ) -> crate::event::Record {
        self.inner.stats_record(now, live)
    }
    fn packets(&self) -> u64 {
        self.inner.packets()
    }
    fn last_ts(&self) -> Timestamp {
        self.inner.last_ts()
    }
    fn inventory(&self) -> crate::event::InventoryReport {
        self.inner.inventory()
    }
    fn ports(&self) -> &crate::net::PortSet {
        self.inner.ports()
    }
    fn reload(
        &mut self,
        policy: crate::config::Policy,
        now: Timestamp,
        out: &mut dyn RecordSink,
    ) -> crate::detect::PolicyChange {
        self.inner.reload(policy, now, out)
    }
    fn take_ports(&mut self) -> Option<crate::net::PortSet> {
        self.inner.take_ports()
    }
}

/// A flag SIGHUP raises for one more reader (the evidence capture's reopen; the output thread
/// has its own).
pub fn hup_flag() -> Result<Arc<AtomicBool>, RunError> {
    let flag = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&flag))
        .map_err(RunError::Signals)?;
    Ok(flag)
}

/// The end of a run whose input was read: every flow ends, the final `stats` record (at `now`,
/// with the live `counters`) is written, the output drains. Returns the summary line.
pub fn finish(
    engine: &mut dyn FrameEngine,
    mut out: Output,
    now: Timestamp,
    counters: Option<crate::capture::PcapCounters>,
    started: Instant,
) -> Result<String, RunError> {
    // Capture is over: the records of flows ending now and the final stats are not dropped.
    out.lossless_from_now();
    engine.finish(&mut out);
    let stats = engine.stats_record(now, counters);
    let totals = match &stats.body {
        Body::Stats(st) => Some(crate::report::Totals {
            packets: st.capture.packets,
            bytes: st.capture.bytes,
            flows: st.flow.created,
            alerts: st.detect.alerts,
            records: st.output.records,
        }),
        _ => None,
    };
    out.emit(stats);
    let undelivered = out
        .finish()
        .map_err(|e| RunError::from_write(e, RunError::Write))?;
    // after the output drained: only then is it known what the sink never got
    Ok(totals
        .map(|t| crate::report::summary(t, undelivered, started.elapsed()))
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_documented_status() {
        let perm = CaptureError::Permission {
            iface: "eth0".into(),
        };
        let missing = CaptureError::Open {
            path: "x".into(),
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        assert_eq!(RunError::from(perm).exit_code(), exit::RUNTIME);
        assert_eq!(RunError::from(missing).exit_code(), exit::USAGE);
        assert_eq!(RunError::NoSuchUser("x".into()).exit_code(), exit::USAGE);
        assert_eq!(
            RunError::Write(io::Error::from(io::ErrorKind::StorageFull)).exit_code(),
            exit::RUNTIME
        );
        let closed =
            RunError::from_write(io::Error::from(io::ErrorKind::BrokenPipe), RunError::Write);
        assert_eq!(closed.exit_code(), exit::OK);
    }
}
