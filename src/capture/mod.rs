//! Capture sources. Each yields `Frame`s (time, link type, bytes) and decodes nothing: this
//! stage imports only the shared primitives of `net`.
//!
//! * `replay`: pcap (µs and ns) and pcapng files, or stdin, read with pcap-parser.
//! * `live`: an interface through libpcap.
//! * `filter`: BPF expressions compiled by libpcap, applied in the kernel live and with
//!   `pcap_offline_filter` on replay, so `-f` means the same thing in both modes.

mod deliver;
pub mod filter;
pub mod live;
mod pcap_file;
mod pcap_stream;
pub mod replay;

pub use deliver::{Summary, MAX_RECORD};

use crate::net::Timestamp;
use std::path::PathBuf;
use std::sync::Arc;

/// libpcap's own counters of a live capture (`pcap_stats`, cumulative since it started).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PcapCounters {
    /// What the kernel's filter passed to the capture buffer.
    pub received: u64,
    /// Passed the filter but arrived while the buffer was full.
    pub dropped: u64,
    /// Dropped by the interface or driver before capture.
    pub if_dropped: u64,
}

impl PcapCounters {
    /// Several sockets' counters (`--workers`) as one: the interface's own drops are one
    /// counter every socket sees, not one each.
    pub fn add(&mut self, o: &PcapCounters) {
        self.received += o.received;
        self.dropped += o.dropped;
        self.if_dropped = self.if_dropped.max(o.if_dropped);
    }
}

/// One captured frame, as every capture source yields it.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub ts: Timestamp,
    pub linktype: u32,
    pub data: &'a [u8],
    /// Length on the wire (larger than `data` when snaplen cut it).
    pub orig_len: u32,
    /// Packet number within its file, from 1 (Wireshark's frame number); 0 live.
    pub cnt: u64,
}

/// Where the frames currently come from.
#[derive(Clone, Debug)]
pub enum Source {
    File(Arc<str>),
    Iface(Arc<str>),
}

/// Everything that can stop a capture source: problems with what the user gave (arguments,
/// files, interface names, filters) or failures of the environment at run time (`is_usage`).
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot open '{}': {source}", path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("'{}' is a directory, not a capture file", path.display())]
    IsDirectory { path: PathBuf },
    #[error("'{}' is not a pcap or pcapng capture file ({reason})", path.display())]
    NotACapture { path: PathBuf, reason: &'static str },
    #[error("'{}' is cut short in the middle of a record after {packets} packets", path.display())]
    Truncated { path: PathBuf, packets: u64 },
    #[error("'{}' has a record of {size} bytes or more after {packets} packets: the file is corrupt (limit {limit} bytes)", path.display())]
    RecordTooLarge {
        path: PathBuf,
        packets: u64,
        size: usize,
        limit: usize,
    },
    #[error("'{}' is corrupt after {packets} packets ({detail})", path.display())]
    Corrupt {
        path: PathBuf,
        packets: u64,
        detail: String,
    },
    #[error("read error on '{}' after {packets} packets", path.display())]
    Read { path: PathBuf, packets: u64 },
    #[error("bad filter expression '{expr}': {msg}")]
    BadFilter { expr: String, msg: String },
    #[error("no such interface '{iface}' (see --list-interfaces)")]
    NoSuchInterface { iface: String },
    #[error("no permission to capture on '{iface}': run as root, or grant the binary the capability once with: sudo setcap cap_net_raw,cap_net_admin=eip $(command -v bjnp-watch)")]
    Permission { iface: String },
    #[error("capture on '{iface}' failed: {msg}")]
    Live { iface: String, msg: String },
}

impl CaptureError {
    /// Whether the user gave something wrong (arguments, files, interface names, filters), as
    /// opposed to the environment failing at run time (no permission, a capture that broke).
    pub fn is_usage(&self) -> bool {
        !matches!(
            self,
            CaptureError::Permission { .. } | CaptureError::Live { .. }
        )
    }
}
