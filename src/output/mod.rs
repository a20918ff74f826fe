//! Output: where records go and in which format. The engine only sees [`RecordSink`].

pub mod format;
pub mod inventory;
pub mod json;
pub mod pcap;
pub mod sink;
pub mod writer;

use crate::event::Record;

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
