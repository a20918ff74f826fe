//! Classic pcap in a regular file, read with 4 MiB reads and a record parser of its own: the
//! most common format of large captures, with fixed 16-byte record headers that need no general
//! parser. (A memory map was tried and measured slower: page faults on 4 KiB pages cost more
//! than copying, and the mapped file counted in RSS.)

use super::deliver::{classic_ts, deliver, Summary, MAX_RECORD, PROGRESS_EVERY};
use super::filter::OfflineFilter;
use super::{CaptureError, Frame};
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Opens `path` when it is a regular file with a classic pcap header: (file positioned after
/// the header, (big endian, nanosecond, link type)).
pub(super) fn open(path: &Path) -> Option<(std::fs::File, (bool, bool, u32))> {
    if path == Path::new("-") {
        return None;
    }
    // Look before opening: opening a FIFO here would consume its writer, and the streaming
    // reader that handles FIFOs would then wait for a writer forever.
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let mut file = std::fs::File::open(path).ok()?;
    let mut head = [0u8; 24];
    file.read_exact(&mut head).ok()?;
    let h = classic_header(&head)?;
    Some((file, h))
}

/// (big endian, nanosecond, link type) of a classic pcap header.
fn classic_header(b: &[u8]) -> Option<(bool, bool, u32)> {
    let magic: [u8; 4] = b.get(..4)?.try_into().ok()?;
    let (be, nanos) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (false, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => (true, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (false, true),
        [0xa1, 0xb2, 0x3c, 0x4d] => (true, true),
        _ => return None,
    };
    let linktype = u32_at(b, 20, be)?;
    Some((be, nanos, linktype))
}

fn u32_at(b: &[u8], at: usize, be: bool) -> Option<u32> {
    let w: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if be {
        u32::from_be_bytes(w)
    } else {
        u32::from_le_bytes(w)
    })
}

/// Bytes read at a time by the classic-pcap reader.
const CHUNK: usize = 128 << 10;

pub(super) fn replay(
    path: &Path,
    mut file: std::fs::File,
    (be, nanos, linktype): (bool, bool, u32),
    mut filter: Option<&mut OfflineFilter>,
    stop: &AtomicBool,
    on: &mut dyn FnMut(&Frame<'_>, bool),
    progress: &mut dyn FnMut(u64),
) -> Result<Summary, CaptureError> {
    let mut sum = Summary::default();
    let mut buf = vec![0u8; CHUNK];
    // buf[pos..len] is read and not yet parsed; `done` counts the file bytes before buf[0].
    let (mut pos, mut len, mut done) = (0usize, 0usize, 24u64);
    let mut eof = false;
    loop {
        if stop.load(Ordering::Relaxed) {
            sum.interrupted = true;
            break;
        }
        let avail = len - pos;
        let need = if avail < 16 {
            16
        } else {
            let caplen = u32_at(&buf, pos + 8, be).expect("16 bytes available") as usize;
            if caplen > MAX_RECORD {
                return Err(CaptureError::RecordTooLarge {
                    path: path.to_path_buf(),
                    packets: sum.packets,
                    size: caplen,
                    limit: MAX_RECORD,
                });
            }
            16 + caplen
        };
        if avail < need {
            if eof {
                if avail == 0 {
                    break;
                }
                return Err(CaptureError::Truncated {
                    path: path.to_path_buf(),
                    packets: sum.packets,
                });
            }
            // Keep the partial record, make room for at least the whole of it, read more.
            buf.copy_within(pos..len, 0);
            done += pos as u64;
            len = avail;
            pos = 0;
            if buf.len() < need {
                buf.resize(need, 0);
            }
            while len < buf.len() {
                match file.read(&mut buf[len..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => len += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        return Err(CaptureError::Read {
                            path: path.to_path_buf(),
                            packets: sum.packets,
                        })
                    }
                }
            }
            continue;
        }
        let field = |i: usize| u32_at(&buf, pos + 4 * i, be).expect("header available");
        let (secs, frac, orig_len) = (field(0), field(1), field(3));
        let data = &buf[pos + 16..pos + need];
        pos += need;
        let ts = classic_ts(secs, frac, nanos);
        deliver(
            &mut sum,
            (ts, linktype, data, orig_len),
            filter.as_deref_mut(),
            on,
        )?;
        if sum.packets % PROGRESS_EVERY == 0 {
            progress(done + pos as u64);
        }
    }
    progress(done + pos as u64);
    Ok(sum)
}
