//! Output: where records go and in which format. The engine only sees [`RecordSink`].

pub mod format;
pub mod inventory;
pub mod json;
pub mod pcap;
pub mod sink;
pub mod writer;

use crate::event::{Record, Timestamp};

/// Receives records from the engine. Implementations must not block for long: the engine runs
/// on the capture thread.
pub trait RecordSink {
    fn emit(&mut self, r: Record);
    /// Hand over records buffered so far (a batching sink holds them back otherwise): called
    /// by the live loop after each read and after each frame of a streamed replay.
    fn commit(&mut self) {}
    /// The sink cannot take any more records (its reader went away): stop producing them.
    fn failed(&self) -> bool {
        false
    }
    /// An alert about `flow_id` is being made: the evidence capture (`-w`), when it stands in
    /// front of the output, keeps that flow's packets and names the file that holds them
    /// (`evidence.pcap_file`). Called before the alert record is built.
    fn alerted(&mut self, flow_id: u64, ts: Timestamp) -> Option<String> {
        let _ = (flow_id, ts);
        None
    }
}

/// Tests and benches collect records in memory.
impl RecordSink for Vec<Record> {
    fn emit(&mut self, r: Record) {
        self.push(r);
    }
}

/// Counts and drops (benchmarks of the engine alone).
#[derive(Default)]
pub struct Discard(pub u64);

impl RecordSink for Discard {
    fn emit(&mut self, _r: Record) {
        self.0 += 1;
    }
}
