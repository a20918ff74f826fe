//! Replay of capture files: classic pcap (µs and ns, either byte order) and pcapng (several
//! interfaces, each with its own link type and time resolution), from a file or stdin.

use super::filter::OfflineFilter;
use super::CaptureError;
use super::Frame;
use crate::net::Timestamp;
use pcap_parser::pcapng::Block;
use pcap_parser::{create_reader, PcapBlockOwned, PcapError};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

const INITIAL_BUFFER: usize = 1 << 20;
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

struct Interface {
    linktype: u32,
    /// Units per second.
    resolution: u64,
    offset: i64,
    snaplen: u32,
}

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

/// Packets between two progress reports.
const PROGRESS_EVERY: u64 = 8192;

/// [`replay`], also calling `progress(bytes_of_the_file_consumed)` now and then and at the end.
pub fn replay_reporting(
    path: &Path,
    filter: Option<&mut OfflineFilter>,
    stop: &AtomicBool,
    on: &mut dyn FnMut(&Frame<'_>, bool),
    progress: &mut dyn FnMut(u64),
) -> Result<Summary, CaptureError> {
    if let Some((file, header)) = open_classic_pcap(path) {
        return replay_classic(path, file, header, filter, stop, on, progress);
    }
    replay_streamed(path, filter, stop, on, progress)
}

/// Whether [`replay`] reads `path` with the classic-pcap fast path (tests compare both).
pub fn is_fast_path(path: &Path) -> bool {
    open_classic_pcap(path).is_some()
}

/// The streaming reader only, whatever the file (tests: the fast path equals the slow one).
pub fn replay_streaming_only(
    path: &Path,
    stop: &AtomicBool,
    on: &mut dyn FnMut(&Frame<'_>, bool),
) -> Result<Summary, CaptureError> {
    replay_streamed(path, None, stop, on, &mut |_| {})
}

/// Classic pcap in a regular file is read with large reads and a record parser of its own:
/// the most common format of large captures, with fixed 16-byte record headers that need no
/// general parser. Everything else (pcapng, stdin, pipes) goes through pcap-parser's
/// streaming reader. (A memory map was tried and measured slower: page faults on 4 KiB pages
/// cost more than copying, and the mapped file counted in RSS.)
fn open_classic_pcap(path: &Path) -> Option<(std::fs::File, (bool, bool, u32))> {
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

/// Classic pcap record time: seconds and micro- or nanoseconds.
fn classic_ts(secs: u32, frac: u32, nanos: bool) -> Timestamp {
    if nanos {
        Timestamp::from_parts(u64::from(secs), u64::from(frac))
    } else {
        Timestamp::from_micros(u64::from(secs), u64::from(frac))
    }
}

/// One packet to `on`, numbered and counted, with the `-f` verdict; both readers end here.
fn deliver(
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

/// Bytes read at a time by the classic-pcap reader.
const CHUNK: usize = 4 << 20;

fn replay_classic(
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

fn replay_streamed(
    path: &Path,
    mut filter: Option<&mut OfflineFilter>,
    stop: &AtomicBool,
    on: &mut dyn FnMut(&Frame<'_>, bool),
    progress: &mut dyn FnMut(u64),
) -> Result<Summary, CaptureError> {
    let (input, is_ng) = open(path)?;
    let p = || path.to_path_buf();
    let mut reader = match create_reader(INITIAL_BUFFER, input) {
        Ok(r) => r,
        Err(PcapError::Eof) => {
            return Err(CaptureError::NotACapture {
                path: p(),
                reason: "empty file",
            })
        }
        Err(PcapError::ReadError) => {
            return Err(CaptureError::Read {
                path: p(),
                packets: 0,
            })
        }
        Err(_) => {
            return Err(CaptureError::NotACapture {
                path: p(),
                reason: "no pcap or pcapng header",
            })
        }
    };
    let mut sum = Summary::default();
    let mut ifaces: Vec<Interface> = Vec::new();
    let mut legacy: Option<(u32, bool)> = None;
    let mut last_ts = Timestamp::default();
    let mut capacity = INITIAL_BUFFER;
    let mut consumed = 0u64;
    // pcapng: None before the first section header, else whether the section is big endian.
    let mut ng_big_endian: Option<bool> = None;
    let mut ng_check = |data: &[u8]| {
        if is_ng {
            bad_ng_block(data, &mut ng_big_endian)
        } else {
            None
        }
    };
    loop {
        if stop.load(Ordering::Relaxed) {
            sum.interrupted = true;
            break;
        }
        if let Some(detail) = ng_check(reader.data()) {
            return Err(CaptureError::Corrupt {
                path: p(),
                packets: sum.packets,
                detail,
            });
        }
        let offset = match reader.next() {
            Ok((offset, block)) => {
                let frame = match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy = Some((h.network.0 as u32, h.is_nanosecond_precision()));
                        None
                    }
                    PcapBlockOwned::Legacy(b) => legacy.map(|(linktype, nanos)| {
                        let ts = classic_ts(b.ts_sec, b.ts_usec, nanos);
                        let caplen = (b.caplen as usize).min(b.data.len());
                        (ts, linktype, &b.data[..caplen], b.origlen)
                    }),
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                        // Interface ids are per section.
                        ifaces.clear();
                        None
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        ifaces.push(Interface {
                            linktype: idb.linktype.0 as u32,
                            // An absurd if_tsresol falls back to the pcapng default (µs).
                            resolution: idb.ts_resolution().unwrap_or(1_000_000),
                            offset: idb.ts_offset(),
                            snaplen: idb.snaplen,
                        });
                        None
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        match ifaces.get(epb.if_id as usize) {
                            Some(i) => {
                                let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                                let ts = ng_time(units, i.resolution, i.offset);
                                let caplen = (epb.caplen as usize).min(epb.data.len());
                                Some((ts, i.linktype, &epb.data[..caplen], epb.origlen))
                            }
                            None => {
                                return Err(CaptureError::Corrupt {
                                    path: p(),
                                    packets: sum.packets,
                                    detail: format!(
                                        "packet names interface {} but only {} are described",
                                        epb.if_id,
                                        ifaces.len()
                                    ),
                                });
                            }
                        }
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => match ifaces.first() {
                        // Simple packets carry no time: they inherit the previous packet's.
                        Some(i) => {
                            let caplen = (spb.origlen as usize)
                                .min(if i.snaplen == 0 {
                                    usize::MAX
                                } else {
                                    i.snaplen as usize
                                })
                                .min(spb.data.len());
                            Some((last_ts, i.linktype, &spb.data[..caplen], spb.origlen))
                        }
                        None => None,
                    },
                    _ => None,
                };
                if let Some(parts) = frame {
                    last_ts = parts.0;
                    deliver(&mut sum, parts, filter.as_deref_mut(), on)?;
                    if sum.packets % PROGRESS_EVERY == 0 {
                        progress(consumed);
                    }
                }
                offset
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                reader.refill().map_err(|_| CaptureError::Read {
                    path: p(),
                    packets: sum.packets,
                })?;
                continue;
            }
            Err(PcapError::UnexpectedEof) => {
                return Err(CaptureError::Truncated {
                    path: p(),
                    packets: sum.packets,
                })
            }
            Err(PcapError::BufferTooSmall) => {
                if capacity >= MAX_RECORD {
                    return Err(CaptureError::RecordTooLarge {
                        path: p(),
                        packets: sum.packets,
                        size: capacity,
                        limit: MAX_RECORD,
                    });
                }
                capacity = (capacity * 2).min(MAX_RECORD);
                reader.grow(capacity);
                reader.refill().map_err(|_| CaptureError::Read {
                    path: p(),
                    packets: sum.packets,
                })?;
                continue;
            }
            Err(e) => {
                return Err(CaptureError::Corrupt {
                    path: p(),
                    packets: sum.packets,
                    detail: describe(&e),
                })
            }
        };
        reader.consume(offset);
        consumed += offset as u64;
    }
    progress(consumed);
    Ok(sum)
}

/// pcap-parser 0.17 subtracts 12 from a pcapng block's length before checking it for some
/// block types (process information, a fuzzer found): a length below 12 underflows. Such a
/// block is rejected here first, in the section's byte order.
fn bad_ng_block(data: &[u8], big_endian: &mut Option<bool>) -> Option<String> {
    const SHB: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
    if data.len() < 12 {
        return None;
    }
    if data[..4] == SHB {
        *big_endian = Some(data[8..12] == [0x1a, 0x2b, 0x3c, 0x4d]);
    }
    let be = (*big_endian)?;
    let len = [data[4], data[5], data[6], data[7]];
    let len = if be {
        u32::from_be_bytes(len)
    } else {
        u32::from_le_bytes(len)
    };
    (len < 12).then(|| format!("a block of {len} bytes, shorter than a block header"))
}

fn describe(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::NomError(_, pcap_parser::nom::error::ErrorKind::Verify)
        | PcapError::OwnedNomError(_, pcap_parser::nom::error::ErrorKind::Verify) => {
            "a block whose length fields are inconsistent".into()
        }
        PcapError::NomError(_, kind) => format!("unparsable block: {kind:?}"),
        PcapError::OwnedNomError(_, kind) => format!("unparsable block: {kind:?}"),
        PcapError::HeaderNotRecognized => "unknown block".into(),
        PcapError::ReadError => "read error".into(),
        other => format!("{other:?}"),
    }
}

/// pcapng time: units since the epoch at `resolution` units per second, plus `if_tsoffset`
/// seconds.
fn ng_time(units: u64, resolution: u64, offset: i64) -> Timestamp {
    let res = resolution.max(1);
    let secs = (units / res).saturating_add_signed(offset);
    let frac = units % res;
    let nanos = (u128::from(frac) * 1_000_000_000 / u128::from(res)) as u64;
    Timestamp::from_parts(secs, nanos)
}

/// Opens the input and reads its head up front (also: whether it is pcapng): pcap-parser sniffs the format from its first
/// read, and a pipe may hand over only a few bytes at a time.
fn open(path: &Path) -> Result<(Box<dyn Read + Send>, bool), CaptureError> {
    let err = |source| CaptureError::Open {
        path: path.to_path_buf(),
        source,
    };
    let mut input: Box<dyn Read + Send> = if path == Path::new("-") {
        Box::new(io::stdin())
    } else {
        if std::fs::metadata(path).map_err(err)?.is_dir() {
            return Err(CaptureError::IsDirectory {
                path: path.to_path_buf(),
            });
        }
        Box::new(std::fs::File::open(path).map_err(err)?)
    };
    let mut head = Vec::with_capacity(HEAD_MAX);
    let mut chunk = [0u8; HEAD_MAX];
    // Only as much as the header needs: a live pipe (`tcpdump -w - | bjnp-watch -r -`) must
    // not wait for more packets before the first is decoded.
    while head.len() < header_len(&head) {
        let want = header_len(&head) - head.len();
        match input.read(&mut chunk[..want]) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(CaptureError::Open {
                    path: path.to_path_buf(),
                    source: e,
                })
            }
        }
    }
    let is_ng = head.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]);
    Ok((Box::new(io::Cursor::new(head).chain(input)), is_ng))
}

/// The most bytes read up front to recognise the format.
const HEAD_MAX: usize = 4096;

/// Bytes needed before pcap-parser can recognise the file from `head`: the 24-byte pcap
/// header, or the whole pcapng section header block (its length is in bytes 4..8).
fn header_len(head: &[u8]) -> usize {
    const PCAP_HEADER: usize = 24;
    if head.len() < 12 || head[..4] != [0x0a, 0x0d, 0x0d, 0x0a] {
        return PCAP_HEADER.max(head.len().min(12));
    }
    let len = [head[4], head[5], head[6], head[7]];
    let len = match head[8..12] {
        [0x4d, 0x3c, 0x2b, 0x1a] => u32::from_le_bytes(len),
        _ => u32::from_be_bytes(len),
    };
    (len as usize).clamp(PCAP_HEADER, HEAD_MAX)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcapng_time_resolutions() {
        assert_eq!(
            ng_time(1_500_000, 1_000_000, 0),
            Timestamp::from_parts(1, 500_000_000)
        );
        assert_eq!(
            ng_time(1_500_000_001, 1_000_000_000, 0),
            Timestamp::from_parts(1, 500_000_001)
        );
        // power-of-two resolution (if_tsresol with the top bit set)
        assert_eq!(
            ng_time(3 * 1024 + 512, 1024, 0),
            Timestamp::from_parts(3, 500_000_000)
        );
        assert_eq!(ng_time(10, 1, 100), Timestamp::from_parts(110, 0));
        assert_eq!(ng_time(10, 1, -100), Timestamp::from_parts(0, 0));
        assert_eq!(ng_time(u64::MAX, 0, i64::MAX).0, u64::MAX);
    }
}
