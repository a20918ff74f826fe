//! What both capture readers share: the handover of one packet (numbered, counted, filtered),
//! the limit on a record's size, the classic pcap timestamp and the summary of a read.

use super::filter::OfflineFilter;
use super::{CaptureError, Frame};
use crate::net::Timestamp;

/// No real record is this large (libpcap caps snaplen at 256 KiB); a larger one means the
/// length field is garbage, and growing the buffer to fit it would let a file exhaust memory.
pub const MAX_RECORD: usize = 16 << 20;

/// What a replay read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub packets: u64,
    pub bytes: u64,
    /// Stopped early by a signal.
    pub interrupted: bool,
}

/// Packets between two progress reports.
pub(super) const PROGRESS_EVERY: u64 = 8192;

/// Classic pcap record time: seconds and micro- or nanoseconds.
pub(super) fn classic_ts(secs: u32, frac: u32, nanos: bool) -> Timestamp {
    if nanos {
        Timestamp::from_parts(u64::from(secs), u64::from(frac))
    } else {
        Timestamp::from_micros(u64::from(secs), u64::from(frac))
    }
}

/// One packet to `on`, numbered and counted, with the `-f` verdict; both readers end here.
pub(super) fn deliver(
    sum: &mut Summary,
    (ts, linktype, data, orig_len): (Timestamp, u32, &[u8], u32),
    filter: Option<&mut OfflineFilter>,
    on: &mut dyn FnMut(&Frame<'_>, bool),
) -> Result<(), CaptureError> {
    sum.packets += 1;
    sum.bytes += data.len() as u64;
    let passed = match filter {
        Some(f) => f.matches(linktype, data)?,
        None => true,
    };
    let frame = Frame {
        ts,
        linktype,
        data,
        orig_len,
        cnt: sum.packets,
    };
    on(&frame, passed);
    Ok(())
}
