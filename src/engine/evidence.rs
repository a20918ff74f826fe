//! `-w FILE`: which packets go into the evidence capture. Every packet of a monitored flow, or
//! with `--write-alerted` only the flows an alert names, from their first packet: until an
//! alert comes, each flow's first packets wait in a small buffer (16 packets, 16 KiB, at most
//! 1,024 flows, dropped after 10 minutes idle; what does not fit is counted). The evidence
//! capture stands in front of the output: told of each alert's flow before the alert record
//! is built, it releases the flow's packets and names the file that holds them
//! (`evidence.pcap_file`).

use crate::bounded::BoundedMap;
use crate::capture::Frame;
use crate::event::{EvidenceStats, Record};
use crate::net::Timestamp;
use crate::output::pcap::PcapWriter;
use crate::output::RecordSink;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const BUFFER_PACKETS: usize = 16;
const BUFFER_BYTES: usize = 16 * 1024;
const BUFFER_FLOWS: usize = 1024;
const BUFFER_IDLE_NS: u64 = 600 * 1_000_000_000;
const ALERTED_FLOWS: usize = 65_536;
const ALERTED_IDLE_NS: u64 = 3600 * 1_000_000_000;

/// A flow's first packets, waiting for an alert.
#[derive(Default)]
struct Held {
    bytes: Vec<u8>,
    /// (time, link type, wire length, end in `bytes`)
    frames: Vec<(Timestamp, u32, u32, usize)>,
}

pub struct Evidence {
    writer: PcapWriter,
    alerted_only: bool,
    alerted: BoundedMap<u64, ()>,
    held: BoundedMap<u64, Held>,
    not_buffered: u64,
    reopen: Option<Arc<AtomicBool>>,
}

impl Evidence {
    /// `reopen` is raised by SIGHUP: the file is reopened by name before the next packet.
    pub fn new(writer: PcapWriter, alerted_only: bool, reopen: Option<Arc<AtomicBool>>) -> Self {
        Evidence {
            writer,
            alerted_only,
            alerted: BoundedMap::new(ALERTED_FLOWS),
            held: BoundedMap::new(BUFFER_FLOWS),
            not_buffered: 0,
            reopen,
        }
    }

    /// A packet of the monitored flow `flow_id`.
    pub fn packet(&mut self, flow_id: u64, frame: &Frame<'_>) {
        if self
            .reopen
            .as_ref()
            .is_some_and(|r| r.swap(false, Ordering::Relaxed))
        {
            self.writer.reopen();
        }
        if !self.alerted_only || self.alerted.get(&flow_id).is_some() {
            if self.alerted_only {
                self.alerted.touch(&flow_id, frame.ts);
            }
            self.writer
                .write(frame.ts, frame.linktype, frame.data, frame.orig_len);
            return;
        }
        if self.held.get(&flow_id).is_none() {
            self.held.insert(flow_id, Held::default(), frame.ts);
        }
        self.held.touch(&flow_id, frame.ts);
        let Some(h) = self.held.get_mut(&flow_id) else {
            return;
        };
        if h.frames.len() >= BUFFER_PACKETS || h.bytes.len() + frame.data.len() > BUFFER_BYTES {
            self.not_buffered += 1;
            return;
        }
        h.bytes.extend_from_slice(frame.data);
        h.frames
            .push((frame.ts, frame.linktype, frame.orig_len, h.bytes.len()));
    }

    /// An alert names `flow_id`: its held packets go out, and so will the rest. Returns the
    /// file that holds them.
    fn alerted(&mut self, flow_id: u64, now: Timestamp) -> String {
        if self.alerted_only {
            self.release(flow_id, now);
        }
        self.writer.current().display().to_string()
    }

    fn release(&mut self, flow_id: u64, now: Timestamp) {
        self.alerted.insert(flow_id, (), now);
        if let Some((_, h)) = self.held.remove(&flow_id) {
            let mut start = 0;
            for (ts, lt, orig, end) in h.frames {
                self.writer.write(ts, lt, &h.bytes[start..end], orig);
                start = end;
            }
        }
    }

    /// Time passes: held packets of flows idle too long go.
    pub fn tick(&mut self, now: Timestamp) {
        self.held.expire(now, BUFFER_IDLE_NS);
        self.alerted.expire(now, ALERTED_IDLE_NS);
        self.writer.flush();
    }

    pub fn finish(&mut self) {
        self.writer.flush();
    }

    pub fn stats(&self) -> EvidenceStats {
        let p = self.writer.stats();
        EvidenceStats {
            files: p.files,
            packets: p.packets,
            bytes: p.bytes,
            write_errors: p.write_errors,
            packets_not_buffered: self.not_buffered,
            buffers_evicted: self.held.evicted(),
        }
    }

    /// Taps the records on their way to `out`.
    pub fn tap<'a>(&'a mut self, out: &'a mut dyn RecordSink) -> Tap<'a> {
        Tap { ev: self, out }
    }
}

/// The record sink in front of the output while evidence is written.
pub struct Tap<'a> {
    ev: &'a mut Evidence,
    out: &'a mut dyn RecordSink,
}

impl RecordSink for Tap<'_> {
    fn emit(&mut self, r: Record) {
        self.out.emit(r);
    }
    fn alerted(&mut self, flow_id: u64, ts: Timestamp) -> Option<String> {
        Some(self.ev.alerted(flow_id, ts))
    }
    fn commit(&mut self) {
        self.out.commit();
    }
    fn failed(&self) -> bool {
        self.out.failed()
    }
}
