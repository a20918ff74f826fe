//! Replay: every input in order into one engine, with progress on stderr, stopping early on a
//! signal or when nobody reads the output any more.

use crate::capture::filter::OfflineFilter;
use crate::capture::replay::replay_reporting;
use crate::capture::{CaptureError, Source};
use crate::engine::FrameEngine;
use crate::output::RecordSink;
use crate::report::Progress;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Reads every input in order into one engine; stops early on a signal or a dead sink.
pub fn replay_all(
    inputs: &[PathBuf],
    mut filter: Option<&mut OfflineFilter>,
    stop: &AtomicBool,
    engine: &mut dyn FrameEngine,
    sink: &mut dyn RecordSink,
    progress: &Progress,
) -> Result<(), CaptureError> {
    let mut done_before = 0u64;
    // Both callbacks below need the packet count; the engine is borrowed by the first.
    let packets = std::cell::Cell::new(engine.packets());
    for path in inputs {
        engine.set_source(Source::File(path.to_string_lossy().into()));
        // A pipe may pause for a long time (`tcpdump -w - | bjnp-watch -r -`): what a packet
        // produced is handed to the output at once instead of waiting for a full batch.
        let streamed = std::fs::metadata(path).map_or(true, |m| !m.is_file());
        let mut at = 0u64;
        let read = replay_reporting(
            path,
            filter.as_deref_mut(),
            stop,
            &mut |frame, passed| {
                packets.set(packets.get() + 1);
                if passed {
                    engine.process(frame, sink);
                } else {
                    engine.count_filtered(frame);
                }
                if streamed {
                    sink.commit();
                }
                // Nobody reads our output any more (`| head`): stop reading input too.
                if sink.failed() {
                    stop.store(true, Ordering::Relaxed);
                }
            },
            &mut |consumed| {
                at = consumed;
                progress.update(done_before + consumed, packets.get());
            },
        )?;
        done_before += at;
        progress.update(done_before, engine.packets());
        if read.interrupted || sink.failed() {
            break;
        }
    }
    Ok(())
}

/// Bytes of all inputs, for the progress bar; unknown when one of them is stdin.
pub fn total_size(inputs: &[PathBuf]) -> Option<u64> {
    inputs
        .iter()
        .map(|p: &PathBuf| {
            std::fs::metadata(Path::new(p))
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len())
        })
        .sum()
}
