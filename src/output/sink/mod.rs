//! Where formatted records go: stdout, a file (reopened on SIGHUP), or a syslog receiver.
//! A sink only moves bytes; the format and the queue in front of it are someone else's job.

mod file;
mod syslog;

pub use file::LineSink;
pub use syslog::{rfc5424, Facility, Syslog, SyslogTarget};

use std::io;

/// What the sink knows about a record besides its bytes (syslog header fields).
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    /// RFC 5424 MSGID: the record's event type.
    pub msgid: &'static str,
    /// RFC 5424 severity, 0-7.
    pub severity: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    Written,
    /// The receiver is unavailable; the record is counted as lost and the sink keeps trying.
    Dropped,
}

pub trait Transport: Send {
    /// Writes one record. An error is fatal to output (stdout closed, disk full); network
    /// receivers that go away are not errors but [`Sent::Dropped`].
    fn send(&mut self, line: &[u8], meta: Meta) -> io::Result<Sent>;
    fn flush(&mut self) -> io::Result<()>;
    /// SIGHUP: reopen the file (after logrotate moved it). No-op for other sinks.
    fn reopen(&mut self) -> io::Result<bool> {
        Ok(false)
    }
    /// Connections re-established after a loss.
    fn reconnects(&self) -> u64 {
        0
    }
    /// For messages: `stdout`, `file PATH`, `syslog tcp://HOST:PORT`.
    fn description(&self) -> String;
}
