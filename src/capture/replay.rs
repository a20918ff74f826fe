//! Replay of capture files: classic pcap (µs and ns, either byte order) and pcapng (several
//! interfaces, each with its own link type and time resolution), from a file or stdin.
//!
//! Two readers: `pcap_file` for classic pcap in a regular file (large reads, a record parser of
//! its own), `pcap_stream` for everything else (pcapng, stdin, pipes). Both hand every packet
//! to the same `deliver`, and tests prove they give the same frames and the same errors.

use super::filter::OfflineFilter;
use super::{pcap_file, pcap_stream, CaptureError, Frame, Summary};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// Reads `path` (`-` for stdin) and calls `on(frame, passed_filter)` for every packet, in file
/// order. Stops between packets when `stop` is set.
pub fn replay(
    path: &Path,
    filter: Option<&mut OfflineFilter>,
    stop: &AtomicBool,
    on: &mut dyn FnMut(&Frame<'_>, bool),
) -> Result<Summary, CaptureError> {
    replay_reporting(path, filter, stop, on, &mut |_| {})
}

/// [`replay`], also calling `progress(bytes_of_the_file_consumed)` now and then and at the end.
pub fn replay_reporting(
    path: &Path,
    filter: Option<&mut OfflineFilter>,
    stop: &AtomicBool,
    on: &mut dyn FnMut(&Frame<'_>, bool),
    progress: &mut dyn FnMut(u64),
) -> Result<Summary, CaptureError> {
    if let Some((file, header)) = pcap_file::open(path) {
        return pcap_file::replay(path, file, header, filter, stop, on, progress);
    }
    pcap_stream::replay(path, filter, stop, on, progress)
}

/// Whether [`replay`] reads `path` with the classic-pcap fast path (tests compare both).
pub fn is_fast_path(path: &Path) -> bool {
    pcap_file::open(path).is_some()
}

/// The streaming reader only, whatever the file (tests: the fast path equals the slow one).
pub fn replay_streaming_only(
    path: &Path,
    stop: &AtomicBool,
    on: &mut dyn FnMut(&Frame<'_>, bool),
) -> Result<Summary, CaptureError> {
    pcap_stream::replay(path, None, stop, on, &mut |_| {})
}

/// Expands the `-r` arguments: `-` and existing paths as given, anything else as a glob
/// pattern (sorted, as the shell would), so `-r 'captures/*.pcap'` works when quoted.
pub fn expand_inputs(args: &[PathBuf]) -> Result<Vec<PathBuf>, CaptureError> {
    let mut out = Vec::new();
    for a in args {
        let s = a.to_string_lossy();
        let is_pattern = s.contains(['*', '?', '[']);
        if a == Path::new("-") || a.exists() || !is_pattern {
            out.push(a.clone());
            continue;
        }
        let mut matched: Vec<PathBuf> = glob::glob(&s)
            .map_err(|e| CaptureError::Open {
                path: a.clone(),
                source: io::Error::new(io::ErrorKind::InvalidInput, e.msg),
            })?
            .filter_map(Result::ok)
            .collect();
        if matched.is_empty() {
            return Err(CaptureError::Open {
                path: a.clone(),
                source: io::Error::new(io::ErrorKind::NotFound, "no file matches this pattern"),
            });
        }
        matched.sort();
        out.extend(matched);
    }
    Ok(out)
}
