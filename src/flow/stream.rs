//! One direction of a TCP stream, delivered in order: retransmissions and overlaps are trimmed,
//! early segments wait in a small capped buffer, and a hole that does not fill becomes an
//! explicit gap the parser is told about. Memory per direction is bounded by `MAX_BUFFERED`
//! (plus `UNACKED` when overlaps are verified) however long the stream.
//!
//! Overlap policy: the first copy of a byte wins, whether it was delivered or still waits
//! behind a hole (a receiver that already took bytes keeps them). A stream whose overlaps are
//! verified (the client's side of a print or BJNP stream) keeps the bytes it delivered that the
//! receiver has not acknowledged yet, the only ones a sender may still send again, and counts
//! every overlapping segment whose bytes differ from the copy that won (`conflicts`): the
//! insertion/evasion trick of sending one thing to the monitor and another to the printer. A
//! healthy stream whose receiver acknowledges what it got holds nothing.

/// Out-of-order bytes held per direction before a hole is declared a gap.
pub const MAX_BUFFERED: usize = 256 * 1024;
const MAX_SEGMENTS: usize = 64;
/// Delivered, unacknowledged bytes kept for comparing overlaps (the newest), when verifying.
pub const UNACKED: usize = 4096;

/// What the stream hands the parser.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery<'a> {
    Data(&'a [u8]),
    /// `n` bytes are missing here (lost before capture, or given up on).
    Gap(u32),
}

/// One direction's state: 64 bytes, two per printer connection, kept while a closed
/// connection lingers in the flow table. Segments waiting behind a hole are rare, so they live
/// in a box of their own; the counters saturate at `u32::MAX`.
#[derive(Default)]
pub struct Reassembler {
    next: Option<u32>,
    /// Segments waiting for the hole before them; allocated by the first early segment, freed
    /// when the last is delivered.
    held: Option<Box<Held>>,
    pub gaps: u32,
    pub retransmitted: u32,
    /// Compare overlapping bytes with the copy that won (see the module's policy).
    pub verify: bool,
    /// Delivered bytes not yet acknowledged (only when verifying), ending at `next`.
    unacked: Vec<u8>,
    /// Overlapping segments whose bytes differed, and the sequence number of the first.
    pub conflicts: u32,
    pub first_conflict: Option<u32>,
}

/// Early segments and their bytes.
#[derive(Default)]
struct Held {
    /// (seq, bytes, counted), sorted by seq; `counted`: a conflict of this segment's overlap
    /// was already counted when it arrived.
    segments: Vec<(u32, Vec<u8>, bool)>,
    bytes: usize,
}

/// Emptied buffers of delivered bytes a receiver acknowledged, at most this many a thread,
/// kept for the next stream that delivers: on a healthy stream every few segments are
/// acknowledged before the next, and a buffer allocated and freed for each was most of what
/// verification cost. Bounded: 64 x 4 KiB a thread.
const SPARE_BUFFERS: usize = 64;

thread_local! {
    static SPARE: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn spare_buffer() -> Vec<u8> {
    SPARE.with_borrow_mut(Vec::pop).unwrap_or_default()
}

fn give_back(mut b: Vec<u8>) {
    if b.capacity() <= UNACKED {
        b.clear();
        SPARE.with_borrow_mut(|s| {
            if s.len() < SPARE_BUFFERS {
                s.push(b);
            }
        });
    }
}

/// Sequence-space comparison (RFC 1982 style): positive when `a` is after `b`.
fn diff(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

impl Reassembler {
    /// A reassembler that compares overlaps with the copy that won.
    pub fn verifying() -> Self {
        Reassembler {
            verify: true,
            ..Reassembler::default()
        }
    }

    /// The receiver acknowledged everything before `ack`: those bytes can no longer be sent
    /// again to any effect, so they are not kept.
    pub fn acked(&mut self, ack: u32) {
        let Some(next) = self.next.filter(|_| !self.unacked.is_empty()) else {
            return;
        };
        let from = next.wrapping_sub(self.unacked.len() as u32);
        let done = diff(ack, from);
        if done <= 0 {
            return;
        }
        if done as usize >= self.unacked.len() {
            give_back(std::mem::take(&mut self.unacked));
        } else {
            self.unacked.drain(..done as usize);
        }
    }

    /// Bytes held for comparison (what verification costs this stream now).
    pub fn unacked(&self) -> usize {
        self.unacked.len()
    }

    /// A SYN: data starts at `isn + 1`.
    pub fn syn(&mut self, isn: u32) {
        if self.next.is_none() {
            self.next = Some(isn.wrapping_add(1));
        }
    }

    pub fn buffered(&self) -> usize {
        self.held.as_ref().map_or(0, |h| h.bytes)
    }

    /// The segments waiting behind a hole, in order.
    fn pending(&self) -> &[(u32, Vec<u8>, bool)] {
        self.held.as_ref().map_or(&[], |h| &h.segments)
    }

    /// A segment carrying `data` at `seq`. Contiguous bytes (this segment and any waiting ones
    /// it unblocks) go to `deliver`.
    pub fn segment(&mut self, seq: u32, data: &[u8], deliver: &mut dyn FnMut(Delivery<'_>)) {
        if data.is_empty() {
            return;
        }
        let next = *self.next.get_or_insert(seq);
        let off = diff(seq, next);
        if off > 0 {
            self.hold(seq, data, deliver);
            return;
        }
        let skip = off.unsigned_abs() as usize;
        if self.verify && skip > 0 {
            self.check_delivered(seq, &data[..skip.min(data.len())], skip);
        }
        if skip >= data.len() {
            self.retransmitted = self.retransmitted.saturating_add(1);
            return;
        }
        self.emit(&data[skip..], deliver);
        self.next = Some(next.wrapping_add((data.len() - skip) as u32));
        self.drain(deliver);
    }

    /// Bytes handed to the parser, kept for comparing later overlaps until acknowledged.
    fn emit(&mut self, bytes: &[u8], deliver: &mut dyn FnMut(Delivery<'_>)) {
        deliver(Delivery::Data(bytes));
        if self.verify {
            if self.unacked.capacity() == 0 {
                self.unacked = spare_buffer();
            }
            let tail = &bytes[bytes.len() - bytes.len().min(UNACKED)..];
            let over = (self.unacked.len() + tail.len()).saturating_sub(UNACKED);
            self.unacked.drain(..over.min(self.unacked.len()));
            self.unacked.extend_from_slice(tail);
        }
    }

    /// `old`, the head of a segment at `seq` that lies before `next` (`back` bytes of it
    /// overlap delivered bytes), against the delivered bytes still kept.
    fn check_delivered(&mut self, seq: u32, old: &[u8], back: usize) {
        let kept = self.unacked.len();
        // the kept bytes are the last `kept` before `next`; `old` starts `back` before it
        let (skip_old, from_kept) = if back > kept {
            (back - kept, 0)
        } else {
            (0, kept - back)
        };
        let Some(old) = old.get(skip_old..) else {
            return; // wholly older than what is kept: cannot be compared
        };
        let n = old.len().min(kept - from_kept);
        if old[..n] != self.unacked[from_kept..from_kept + n] {
            self.conflict(seq);
        }
    }

    fn conflict(&mut self, seq: u32) {
        self.conflicts = self.conflicts.saturating_add(1);
        self.first_conflict.get_or_insert(seq);
    }

    /// The connection ended: whatever still waits behind a hole is delivered after a gap.
    pub fn finish(&mut self, deliver: &mut dyn FnMut(Delivery<'_>)) {
        while !self.pending().is_empty() {
            self.skip_hole(deliver);
            self.drain(deliver);
        }
    }

    fn hold(&mut self, seq: u32, data: &[u8], deliver: &mut dyn FnMut(Delivery<'_>)) {
        if self.buffered() + data.len() > MAX_BUFFERED || self.pending().len() >= MAX_SEGMENTS {
            // The hole is not going to fill in time: give it up so memory stays bounded.
            self.skip_hole(deliver);
            self.drain(deliver);
            if let Some(next) = self.next {
                if diff(seq, next) <= 0 {
                    return self.segment(seq, data, deliver);
                }
            }
            if self.buffered() + data.len() > MAX_BUFFERED {
                // Still too much even alone: deliver it after a gap.
                let gap = self.next.map_or(0, |n| diff(seq, n).max(0) as u32);
                self.gaps = self.gaps.saturating_add(1);
                self.unacked.clear();
                deliver(Delivery::Gap(gap));
                self.emit(data, deliver);
                self.next = Some(seq.wrapping_add(data.len() as u32));
                return;
            }
        }
        let mut counted = false;
        if self.verify {
            // a waiting segment's bytes won: an overlapping one must say the same
            let end = i64::from(data.len() as u32);
            counted = self.pending().iter().any(|(s, d, _)| {
                let from = diff(*s, seq).max(0);
                let to = (diff(*s, seq) + d.len() as i64).min(end);
                from < to && {
                    let off = (from - diff(*s, seq)) as usize;
                    let (a, b) = (from as usize, to as usize);
                    d[off..off + (b - a)] != data[a..b]
                }
            });
            if counted {
                self.conflict(seq);
            }
        }
        let held = self.held.get_or_insert_with(Box::default);
        let at = held
            .segments
            .iter()
            .position(|(s, _, _)| diff(*s, seq) > 0)
            .unwrap_or(held.segments.len());
        held.bytes += data.len();
        held.segments.insert(at, (seq, data.to_vec(), counted));
    }

    /// Jumps over the hole before the earliest waiting segment.
    fn skip_hole(&mut self, deliver: &mut dyn FnMut(Delivery<'_>)) {
        let (Some(next), Some(&(seq, _, _))) = (self.next, self.pending().first()) else {
            return;
        };
        let gap = diff(seq, next);
        if gap > 0 {
            self.gaps = self.gaps.saturating_add(1);
            self.unacked.clear();
            deliver(Delivery::Gap(gap as u32));
            self.next = Some(seq);
        }
    }

    /// Delivers waiting segments that are now contiguous.
    fn drain(&mut self, deliver: &mut dyn FnMut(Delivery<'_>)) {
        while let (Some(next), Some((seq, _, _))) = (self.next, self.pending().first()) {
            let off = diff(*seq, next);
            if off > 0 {
                return;
            }
            let Some(held) = self.held.as_mut() else {
                return;
            };
            let (seq, data, counted) = held.segments.remove(0);
            held.bytes -= data.len();
            if held.segments.is_empty() {
                self.held = None;
            }
            let skip = diff(next, seq) as usize;
            if self.verify && !counted && skip > 0 {
                self.check_delivered(seq, &data[..skip.min(data.len())], skip);
            }
            if skip < data.len() {
                self.emit(&data[skip..], deliver);
                self.next = Some(next.wrapping_add((data.len() - skip) as u32));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(r: &mut Reassembler, segs: &[(u32, &[u8])]) -> Vec<String> {
        let mut out = vec![];
        for (seq, d) in segs {
            r.segment(*seq, d, &mut |x| {
                out.push(match x {
                    Delivery::Data(b) => String::from_utf8_lossy(b).into_owned(),
                    Delivery::Gap(n) => format!("<gap {n}>"),
                })
            });
        }
        out
    }

    #[test]
    fn in_order_retransmit_overlap_and_reorder() {
        let mut r = Reassembler::default();
        r.syn(99);
        let out = run(
            &mut r,
            &[
                (100, b"hello "),
                (100, b"hello "),
                (103, b"lo wor"),
                (111, b"!"),
                (109, b"ld"),
            ],
        );
        assert_eq!(out, ["hello ", "wor", "ld", "!"]);
        assert_eq!(r.retransmitted, 1);
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn overlaps_with_other_bytes_are_conflicts_and_the_first_copy_wins() {
        let mut r = Reassembler::verifying();
        r.syn(99);
        // delivered "@PJL INFO ID", then the same bytes again (a plain retransmission), then an
        // overlap that says something else: kept out, counted
        let out = run(
            &mut r,
            &[
                (100, b"@PJL INFO ID"),
                (100, b"@PJL INFO ID"),
                (105, b"INFO"),
                (105, b"FSDELETE NAME"),
            ],
        );
        assert_eq!(out.concat(), "@PJL INFO IDE NAME", "the first copy won");
        assert_eq!((r.conflicts, r.first_conflict), (1, Some(105)));
        // two early segments that overlap each other with other bytes: the waiting one wins
        let mut r = Reassembler::verifying();
        r.syn(0);
        let out = run(&mut r, &[(5, b"AAAA"), (7, b"BBBB"), (1, b"0123")]);
        assert_eq!(out.concat(), "0123AAAABB");
        assert_eq!(r.conflicts, 1);
        // without verification nothing is compared or kept
        let mut r = Reassembler::default();
        r.syn(99);
        run(&mut r, &[(100, b"abc"), (100, b"xyz")]);
        assert_eq!((r.conflicts, r.unacked()), (0, 0));
    }

    #[test]
    fn acknowledged_bytes_are_not_kept() {
        let mut r = Reassembler::verifying();
        r.syn(0);
        run(&mut r, &[(1, b"hello "), (7, b"world")]);
        assert_eq!(r.unacked(), 11);
        r.acked(7);
        assert_eq!(r.unacked(), 5, "\"world\" is still in flight");
        // a resend of acknowledged bytes cannot be compared (nor change what the printer got)
        run(&mut r, &[(1, b"HELLO ")]);
        assert_eq!(r.conflicts, 0);
        // one of bytes in flight can
        run(&mut r, &[(7, b"WORLD")]);
        assert_eq!(r.conflicts, 1);
        r.acked(12);
        assert_eq!(r.unacked(), 0);
        // a long unacknowledged run keeps only the newest bytes
        let big = vec![b'x'; 3 * UNACKED];
        run(&mut r, &[(12, &big)]);
        assert_eq!(r.unacked(), UNACKED);
        // an old acknowledgement changes nothing
        r.acked(5);
        assert_eq!(r.unacked(), UNACKED);
    }

    /// A healthy stream (each segment acknowledged before the next) allocates no buffer of
    /// its own per segment: the one an acknowledgement empties serves the next segment, of
    /// this stream or another.
    #[test]
    fn acknowledged_buffers_are_reused() {
        let mut a = Reassembler::verifying();
        a.syn(0);
        run(&mut a, &[(1, b"job part one")]);
        let first = a.unacked.as_ptr();
        a.acked(13);
        assert_eq!((a.unacked(), a.unacked.capacity()), (0, 0), "given back");
        let mut b = Reassembler::verifying();
        b.syn(100);
        run(&mut b, &[(101, b"another stream")]);
        assert_eq!(b.unacked.as_ptr(), first, "the spare buffer, not a new one");
        b.acked(115);
        run(&mut a, &[(13, b"job part two")]);
        assert_eq!(a.unacked.as_ptr(), first);
        assert_eq!(a.unacked(), 12);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut r = Reassembler::default();
        r.syn(u32::MAX - 2);
        let out = run(&mut r, &[(u32::MAX - 1, b"ab"), (0, b"cd"), (2, b"ef")]);
        assert_eq!(out.concat(), "abcdef");
    }

    #[test]
    fn a_hole_that_never_fills_is_a_gap_at_the_end() {
        let mut r = Reassembler::default();
        r.syn(0);
        let mut out = run(&mut r, &[(1, b"abc"), (10, b"xyz")]);
        r.finish(&mut |x| out.push(format!("{x:?}")));
        assert_eq!(out, ["abc", "Gap(6)", "Data([120, 121, 122])"]);
        assert_eq!(r.gaps, 1);
    }

    #[test]
    fn memory_stays_bounded_when_holes_pile_up() {
        let mut r = Reassembler::default();
        r.syn(0);
        let chunk = vec![b'x'; 1400];
        let mut gaps = 0;
        let mut delivered = 0usize;
        // every other segment lost, 10 MB of stream
        for i in 0..15_000u32 {
            r.segment(1 + i * 2 * 1400, &chunk, &mut |d| match d {
                Delivery::Gap(_) => gaps += 1,
                Delivery::Data(b) => delivered += b.len(),
            });
            assert!(r.buffered() <= MAX_BUFFERED);
        }
        assert!(gaps > 10_000 / 64);
        assert!(delivered > 10_000_000);
    }

    #[test]
    fn a_direction_is_small_and_frees_what_waited_behind_a_hole() {
        // two per printer connection, kept while a closed one lingers in the flow table
        assert!(std::mem::size_of::<Reassembler>() <= 64);
        let mut r = Reassembler::default();
        r.syn(99);
        let mut got = Vec::new();
        let mut d = |x: Delivery<'_>| {
            if let Delivery::Data(b) = x {
                got.extend_from_slice(b)
            }
        };
        r.segment(105, b"fgh", &mut d);
        assert_eq!(r.buffered(), 3);
        assert!(r.held.is_some());
        r.segment(100, b"abcde", &mut d);
        assert_eq!(got, b"abcdefgh");
        assert_eq!(r.buffered(), 0);
        assert!(
            r.held.is_none(),
            "the box goes with the last waiting segment"
        );
    }
}
