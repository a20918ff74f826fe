//! pcapng files, stdin and pipes, through pcap-parser's streaming reader: several interfaces of
//! different link types and time resolutions, a first packet decoded without waiting for a full
//! buffer from a live pipe.

use super::deliver::{classic_ts, deliver, Summary, MAX_RECORD, PROGRESS_EVERY};
use super::filter::OfflineFilter;
use super::{CaptureError, Frame};
use crate::net::Timestamp;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use pcap_parser::pcapng::Block;
use pcap_parser::{create_reader, PcapBlockOwned, PcapError};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

const INITIAL_BUFFER: usize = 1 << 20;

struct Interface {
    linktype: u32,
    /// Units per second.
    resolution: u64,
    offset: i64,
    snaplen: u32,
}

pub(super) fn replay(
    path: &Path,
    mut filter: Option<&mut OfflineFilter>,
    stop: &AtomicBool,
    on: &mut dyn FnMut(&Frame<'_>, bool),
    progress: &mut dyn FnMut(u64),
) -> Result<Summary, CaptureError> {
    let p = || path.to_path_buf();
    let (input, is_ng) = match open(path, stop) {
        // Stopped before the header came (an idle pipe): nothing was read, nothing is wrong.
        Err(_) | Ok((_, _)) if stop.load(Ordering::Relaxed) => {
            return Ok(Summary {
                interrupted: true,
                ..Summary::default()
            })
        }
        r => r?,
    };
    let mut reader = match create_reader(INITIAL_BUFFER, input) {
        Ok(r) => r,
        Err(_) if stop.load(Ordering::Relaxed) => {
            return Ok(Summary {
                interrupted: true,
                ..Summary::default()
            })
        }
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
            // A stop while a pipe was idle ends the input where it is: a record cut by it is
            // the stop's doing, not the capture's.
            Err(_) if stop.load(Ordering::Relaxed) => {
                sum.interrupted = true;
                break;
            }
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
fn open<'a>(
    path: &Path,
    stop: &'a AtomicBool,
) -> Result<(Box<dyn Read + Send + 'a>, bool), CaptureError> {
    let err = |source| CaptureError::Open {
        path: path.to_path_buf(),
        source,
    };
    let mut input: Box<dyn Read + Send + 'a> = if path == Path::new("-") {
        // A duplicate of fd 0, read unbuffered: std's stdin buffers what it reads, and a poll
        // of the descriptor would wait for more while a packet sat in that buffer.
        let fd = io::stdin().as_fd().try_clone_to_owned().map_err(err)?;
        Box::new(Interruptible {
            inner: std::fs::File::from(fd),
            stop,
        })
    } else {
        let meta = std::fs::metadata(path).map_err(err)?;
        if meta.is_dir() {
            return Err(CaptureError::IsDirectory {
                path: path.to_path_buf(),
            });
        }
        let file = std::fs::File::open(path).map_err(err)?;
        if meta.is_file() {
            Box::new(file)
        } else {
            // a named pipe or a device: it may stay silent for as long as its writer likes
            Box::new(Interruptible { inner: file, stop })
        }
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

/// A pipe that may stay silent for hours (`tcpdump -w - | bjnp-watch -r -` on a quiet link):
/// each read first waits until there is something to read, looking at the stop flag every
/// 100 ms, so INT/TERM end the replay at once (a read that sees the flag is the end of input)
/// instead of at the next packet.
struct Interruptible<'a, R> {
    inner: R,
    stop: &'a AtomicBool,
}

impl<R: Read + AsFd> Read for Interruptible<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(0);
            }
            let mut fds = [PollFd::new(self.inner.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(100u16)) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                // readable, closed (POLLHUP) or in error: the read itself says which
                Ok(_) => return self.inner.read(buf),
                Err(e) => return Err(io::Error::from(e)),
            }
        }
    }
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
