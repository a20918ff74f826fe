//! One direction of a TCP stream, delivered in order: retransmissions and overlaps are trimmed,
//! early segments wait in a small capped buffer, and a hole that does not fill becomes an
//! explicit gap the parser is told about. Memory per direction is bounded by `MAX_BUFFERED`
//! however long the stream.

/// Out-of-order bytes held per direction before a hole is declared a gap.
pub const MAX_BUFFERED: usize = 256 * 1024;
const MAX_SEGMENTS: usize = 64;

/// What the stream hands the parser.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery<'a> {
    Data(&'a [u8]),
    /// `n` bytes are missing here (lost before capture, or given up on).
    Gap(u32),
}

#[derive(Default)]
pub struct Reassembler {
    next: Option<u32>,
    /// (seq, bytes) waiting for the hole before them, sorted by seq.
    pending: Vec<(u32, Vec<u8>)>,
    buffered: usize,
    pub gaps: u64,
    pub retransmitted: u64,
}

/// Sequence-space comparison (RFC 1982 style): positive when `a` is after `b`.
fn diff(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

impl Reassembler {
    /// A SYN: data starts at `isn + 1`.
    pub fn syn(&mut self, isn: u32) {
        if self.next.is_none() {
            self.next = Some(isn.wrapping_add(1));
        }
    }

    pub fn buffered(&self) -> usize {
        self.buffered
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
        if skip >= data.len() {
            self.retransmitted += 1;
            return;
        }
        deliver(Delivery::Data(&data[skip..]));
        self.next = Some(next.wrapping_add((data.len() - skip) as u32));
        self.drain(deliver);
    }

    /// The connection ended: whatever still waits behind a hole is delivered after a gap.
    pub fn finish(&mut self, deliver: &mut dyn FnMut(Delivery<'_>)) {
        while !self.pending.is_empty() {
            self.skip_hole(deliver);
            self.drain(deliver);
        }
    }

    fn hold(&mut self, seq: u32, data: &[u8], deliver: &mut dyn FnMut(Delivery<'_>)) {
        if self.buffered + data.len() > MAX_BUFFERED || self.pending.len() >= MAX_SEGMENTS {
            // The hole is not going to fill in time: give it up so memory stays bounded.
            self.skip_hole(deliver);
            self.drain(deliver);
            if let Some(next) = self.next {
                if diff(seq, next) <= 0 {
                    return self.segment(seq, data, deliver);
                }
            }
            if self.buffered + data.len() > MAX_BUFFERED {
                // Still too much even alone: deliver it after a gap.
                let gap = self.next.map_or(0, |n| diff(seq, n).max(0) as u32);
                self.gaps += 1;
                deliver(Delivery::Gap(gap));
                deliver(Delivery::Data(data));
                self.next = Some(seq.wrapping_add(data.len() as u32));
                return;
            }
        }
        let at = self
            .pending
            .iter()
            .position(|(s, _)| diff(*s, seq) > 0)
            .unwrap_or(self.pending.len());
        self.buffered += data.len();
        self.pending.insert(at, (seq, data.to_vec()));
    }

    /// Jumps over the hole before the earliest waiting segment.
    fn skip_hole(&mut self, deliver: &mut dyn FnMut(Delivery<'_>)) {
        let (Some(next), Some(&(seq, _))) = (self.next, self.pending.first()) else {
            return;
        };
        let gap = diff(seq, next);
        if gap > 0 {
            self.gaps += 1;
            deliver(Delivery::Gap(gap as u32));
            self.next = Some(seq);
        }
    }

    /// Delivers waiting segments that are now contiguous.
    fn drain(&mut self, deliver: &mut dyn FnMut(Delivery<'_>)) {
        while let (Some(next), Some((seq, _))) = (self.next, self.pending.first()) {
            let off = diff(*seq, next);
            if off > 0 {
                return;
            }
            let (seq, data) = self.pending.remove(0);
            self.buffered -= data.len();
            let skip = diff(next, seq) as usize;
            if skip < data.len() {
                deliver(Delivery::Data(&data[skip..]));
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
}
