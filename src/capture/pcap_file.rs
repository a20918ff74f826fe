//! Classic pcap in a regular file, read by a thread of its own and parsed by a record parser of
//! its own: the most common format of large captures, with fixed 16-byte record headers that
//! need no general parser. The reader copies the next chunks from the kernel while the caller
//! parses this one, so reading a file costs about what `cat` pays for it. Chunks are 256 KiB,
//! four at most ahead: what waits stays within the 1 MiB of a core's L2 between the copy and the
//! parse, and half as many hand-overs as with 128 KiB chunks. (A memory map was tried and
//! measured slower: page faults on 4 KiB pages cost more than copying, and the mapped file
//! counted in RSS.)

use super::deliver::{classic_ts, deliver, Summary, MAX_RECORD, PROGRESS_EVERY};
use super::filter::OfflineFilter;
use super::{CaptureError, Frame};
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, TryRecvError};
use std::sync::Arc;

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
const CHUNK: usize = 256 << 10;
/// Chunks read ahead of the parser at most.
const AHEAD: usize = 4;
/// A reader that has `AHEAD` chunks waiting sleeps until the parser is down to this many. A
/// reader blocked on every chunk had to be woken for every chunk taken: a system call on the
/// parser's thread (the busy one) every chunk, 2 % of the time of a printer-heavy replay.
const REFILL_AT: usize = AHEAD / 2;
/// Polls for the next chunk before sleeping (a copy of a chunk takes about 30 µs).
const SPINS: usize = 4096;

/// The file's bytes after its header, chunk by chunk, read by a thread of its own.
struct Chunks {
    rx: Receiver<io::Result<Vec<u8>>>,
    spent: Sender<Vec<u8>>,
    ahead: Arc<Ahead>,
    reader: std::thread::Thread,
}

/// Chunks sent and not yet taken, and whether the parser is gone.
#[derive(Default)]
struct Ahead {
    chunks: AtomicUsize,
    closed: AtomicBool,
}

impl Chunks {
    fn start(mut file: std::fs::File) -> Chunks {
        let (tx, rx) = sync_channel(AHEAD);
        let (spent, reuse) = channel::<Vec<u8>>();
        let ahead = Arc::new(Ahead::default());
        let shared = Arc::clone(&ahead);
        let reader = std::thread::Builder::new()
            .name("read".into())
            .spawn(move || loop {
                let mut b = reuse.try_recv().unwrap_or_default();
                b.resize(CHUNK, 0);
                let mut n = 0;
                while n < CHUNK {
                    match file.read(&mut b[n..]) {
                        Ok(0) => break,
                        Ok(k) => n += k,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            // counted like a chunk: the parser counts what it takes
                            shared.chunks.fetch_add(1, Ordering::AcqRel);
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
                b.truncate(n);
                if n == 0 {
                    return;
                }
                // Room: the parser unparks this thread when it is down to `REFILL_AT`; the
                // timeout only bounds the wait should the parser be gone.
                while shared.chunks.load(Ordering::Acquire) >= AHEAD {
                    if shared.closed.load(Ordering::Acquire) {
                        return;
                    }
                    std::thread::park_timeout(std::time::Duration::from_millis(20));
                }
                shared.chunks.fetch_add(1, Ordering::AcqRel);
                // the parser stopped early (a signal, a dead sink): so does the reader
                if tx.send(Ok(b)).is_err() {
                    return;
                }
            })
            .expect("spawn the file reader")
            .thread()
            .clone();
        Chunks {
            rx,
            spent,
            ahead,
            reader,
        }
    }

    /// A chunk was taken: the reader, if it waits for room, goes on at `REFILL_AT`.
    fn took(&self) {
        if self.ahead.chunks.fetch_sub(1, Ordering::AcqRel) == REFILL_AT + 1 {
            self.reader.unpark();
        }
    }

    /// The next chunk; `None` at the end of the file. The parser usually runs ahead of the
    /// reader: it waits a few microseconds before going to sleep, so the reader need not wake it
    /// for every chunk.
    fn next(&self) -> Option<io::Result<Vec<u8>>> {
        for _ in 0..SPINS {
            match self.rx.try_recv() {
                Ok(c) => {
                    self.took();
                    return Some(c);
                }
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => std::hint::spin_loop(),
            }
        }
        let c = self.rx.recv().ok()?;
        self.took();
        Some(c)
    }

    fn give_back(&self, b: Vec<u8>) {
        let _ = self.spent.send(b);
    }
}

impl Drop for Chunks {
    fn drop(&mut self) {
        self.ahead.closed.store(true, Ordering::Release);
        self.reader.unpark();
    }
}

pub(super) fn replay(
    path: &Path,
    file: std::fs::File,
    (be, nanos, linktype): (bool, bool, u32),
    mut filter: Option<&mut OfflineFilter>,
    stop: &AtomicBool,
    on: &mut dyn FnMut(&Frame<'_>, bool),
    progress: &mut dyn FnMut(u64),
) -> Result<Summary, CaptureError> {
    let mut sum = Summary::default();
    let chunks = Chunks::start(file);
    let too_large = |sum: &Summary, size: usize| CaptureError::RecordTooLarge {
        path: path.to_path_buf(),
        packets: sum.packets,
        size,
        limit: MAX_RECORD,
    };
    // The chunk being parsed, where the parse is, and the file bytes before the chunk.
    let mut cur: Vec<u8> = Vec::new();
    let mut pos = 0usize;
    let mut done = 24u64;
    // A record that straddles chunks is put together here.
    let mut carry: Vec<u8> = Vec::new();
    loop {
        if stop.load(Ordering::Relaxed) {
            sum.interrupted = true;
            break;
        }
        let avail = cur.len() - pos;
        if carry.is_empty() && avail >= 16 {
            let caplen = u32_at(&cur, pos + 8, be).expect("16 bytes available") as usize;
            if caplen > MAX_RECORD {
                return Err(too_large(&sum, caplen));
            }
            let need = 16 + caplen;
            if avail >= need {
                let rec = &cur[pos..pos + need];
                pos += need;
                one(
                    rec,
                    be,
                    nanos,
                    linktype,
                    &mut sum,
                    filter.as_deref_mut(),
                    on,
                )?;
                if sum.packets % PROGRESS_EVERY == 0 {
                    progress(done + pos as u64);
                }
                continue;
            }
        }
        // This chunk holds no whole record more: keep its tail, take the next chunk.
        carry.extend_from_slice(&cur[pos..]);
        done += cur.len() as u64;
        chunks.give_back(std::mem::take(&mut cur));
        pos = 0;
        let next = match chunks.next() {
            None => {
                if carry.is_empty() {
                    break;
                }
                return Err(CaptureError::Truncated {
                    path: path.to_path_buf(),
                    packets: sum.packets,
                });
            }
            Some(Err(_)) => {
                return Err(CaptureError::Read {
                    path: path.to_path_buf(),
                    packets: sum.packets,
                })
            }
            Some(Ok(c)) => c,
        };
        cur = next;
        if carry.is_empty() {
            continue;
        }
        // Complete the straddling record from the new chunk: its header first, then its data.
        let take = (16usize.saturating_sub(carry.len())).min(cur.len());
        carry.extend_from_slice(&cur[..take]);
        pos = take;
        if carry.len() < 16 {
            continue;
        }
        let caplen = u32_at(&carry, 8, be).expect("16 bytes carried") as usize;
        if caplen > MAX_RECORD {
            return Err(too_large(&sum, caplen));
        }
        let need = 16 + caplen;
        let take = (need - carry.len()).min(cur.len() - pos);
        carry.extend_from_slice(&cur[pos..pos + take]);
        pos += take;
        if carry.len() < need {
            continue;
        }
        let rec = std::mem::take(&mut carry);
        one(
            &rec,
            be,
            nanos,
            linktype,
            &mut sum,
            filter.as_deref_mut(),
            on,
        )?;
        carry = rec;
        carry.clear();
    }
    progress(done + pos as u64);
    Ok(sum)
}

/// One whole record (16-byte header, then the frame) to `on`.
fn one(
    rec: &[u8],
    be: bool,
    nanos: bool,
    linktype: u32,
    sum: &mut Summary,
    filter: Option<&mut OfflineFilter>,
    on: &mut dyn FnMut(&Frame<'_>, bool),
) -> Result<(), CaptureError> {
    let field = |i: usize| u32_at(rec, 4 * i, be).expect("header available");
    let (secs, frac, orig_len) = (field(0), field(1), field(3));
    let ts = classic_ts(secs, frac, nanos);
    deliver(sum, (ts, linktype, &rec[16..], orig_len), filter, on)
}
