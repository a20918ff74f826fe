//! Where formatted records go: stdout, a file (reopened on SIGHUP), a syslog receiver, or a
//! Kafka topic.
//! A sink only moves bytes; the format and the queue in front of it are someone else's job.

mod file;
mod kafka;
mod syslog;

pub use file::LineSink;
pub use kafka::{ConnectError, Kafka, KafkaConfig, KafkaTarget, MAX_IN_FLIGHT};
pub use syslog::{rfc5424, Facility, Syslog, SyslogTarget};

use crate::event::EventType;
use std::io;

/// What the sink knows about a record besides its bytes (syslog header fields).
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    /// The record's event type (RFC 5424's MSGID; what a full queue drops first).
    pub event_type: EventType,
    /// RFC 5424 severity, 0-7.
    pub severity: u8,
    /// The record's flow id: Kafka's message key, so one flow's records keep their order.
    pub key: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    Written,
    /// Taken into the sink's buffer: [`Transport::flush`] reports whether it reached the file.
    Buffered,
    /// The receiver is unavailable; the record is counted as lost and the sink keeps trying.
    Dropped,
}

/// Buffered records that reached their destination, or were lost to a write error, since the
/// last flush.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flushed {
    pub written: u64,
    pub lost: u64,
}

/// A sink in trouble that keeps going (a disk full, a failed write): what the writer reports
/// in a `warning` record and on stderr, once when it starts and once when it is over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkTrouble {
    pub error: String,
    /// Records lost so far in this episode.
    pub lost: u64,
    pub recovered: bool,
    pub reported: bool,
}

pub trait Transport: Send {
    /// Writes (or buffers) one record. An error is fatal to output (stdout closed); a file
    /// that cannot be written and receivers that go away are not errors but
    /// [`Sent::Dropped`] or, for buffered records, [`Flushed::lost`].
    fn send(&mut self, line: &[u8], meta: Meta) -> io::Result<Sent>;
    /// Writes what is buffered; reports what became of buffered records since the last call.
    fn flush(&mut self) -> io::Result<Flushed>;
    /// SIGHUP: reopen the file (after logrotate moved it). No-op for other sinks.
    fn reopen(&mut self) -> io::Result<bool> {
        Ok(false)
    }
    /// Connections re-established after a loss.
    fn reconnects(&self) -> u64 {
        0
    }
    /// Records taken by the sink whose fate (written or lost) is not known yet.
    fn in_flight(&self) -> u64 {
        0
    }
    /// New trouble to report, or the end of it.
    fn trouble(&mut self) -> Option<SinkTrouble> {
        None
    }
    /// Shutting down: no single write may wait past `deadline`.
    fn set_deadline(&mut self, _deadline: std::time::Instant) {}
    /// Replay: a sink with a queue of its own waits for room in it instead of dropping.
    fn set_lossless(&mut self, _lossless: bool) {}
    /// Records the output queue should hold on replay, when this sink needs more than the
    /// default to keep the capture thread from waiting.
    fn replay_queue(&self) -> Option<usize> {
        None
    }
    /// For messages: `stdout`, `file PATH`, `syslog tcp://HOST:PORT`.
    fn description(&self) -> String;
}
