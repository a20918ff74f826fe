//! One datagram being put together: its bytes so far, which piece holds each byte, and what
//! its fragments did that a well-behaved sender never does.

use super::policy::{Overlap, OverlapPolicy};
use crate::decode::{Fragment, Vlans};
use crate::net::Timestamp;

/// The largest IP payload a datagram can carry (an IPv4 total length is 16 bits): a fragment
/// reaching past it is the "ping of death" shape.
pub const MAX_DATAGRAM: u32 = 65_535;
/// Fragments one datagram may have; an 8-byte-piece flood would otherwise cost a piece table
/// entry per 8 bytes.
pub const MAX_PIECES: usize = 1024;
/// Bytes of a discarded datagram's head kept for its report (the transport header).
const DISCARDED_HEAD: usize = 64;

/// How a datagram left the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Every byte up to the last fragment arrived.
    Complete,
    /// The policy threw it away, as the target would (an overlap under `linux`, a second last
    /// fragment that disagrees, a datagram too large).
    Discarded,
    /// Its fragments stopped coming for longer than the timeout.
    TimedOut,
    /// The table was full (datagrams or bytes) and it was the oldest.
    Evicted,
    /// The capture ended before it completed.
    EndOfInput,
}

/// What a datagram's fragments did that a well-behaved sender never does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Findings {
    /// A fragment overlapped held bytes with different bytes: the first offset where they
    /// differed.
    pub conflict_at: Option<u32>,
    /// Fragments overlapped at all (identical bytes included).
    pub overlapped: bool,
    /// The first fragment ends inside the transport header (its length).
    pub tiny_first: Option<u32>,
    /// A fragment reached past the largest datagram, or there were more than
    /// [`MAX_PIECES`] fragments.
    pub too_large: bool,
}

impl Findings {
    /// Something an evader does (the fragmentation-evasion alert).
    pub fn evasive(&self) -> bool {
        self.conflict_at.is_some() || self.tiny_first.is_some() || self.too_large
    }
}

/// One datagram under assembly.
pub struct Datagram {
    pub vlan: Vlans,
    pub proto: u8,
    data: Vec<u8>,
    /// Per byte: 0 when not yet held, else the index + 1 of the piece that holds it.
    owner: Vec<u16>,
    /// Where each piece started, by arrival.
    starts: Vec<u32>,
    /// The datagram's length, once its last fragment came.
    end: Option<u32>,
    /// Bytes held (owner != 0).
    filled: u32,
    pub fragments: u16,
    /// Wire bytes of its fragments (what the flow counts).
    pub wire_bytes: u64,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    /// Packet number of the latest fragment (0 live).
    pub last_cnt: u64,
    pub findings: Findings,
    /// Thrown away (as the target would): handed on at once, with only its head's first bytes.
    pub discarded: bool,
}

impl Datagram {
    pub fn new(f: &Fragment<'_>, ts: Timestamp) -> Self {
        Datagram {
            vlan: f.vlan,
            proto: f.proto,
            data: Vec::new(),
            owner: Vec::new(),
            starts: Vec::new(),
            end: None,
            filled: 0,
            fragments: 0,
            wire_bytes: 0,
            first_ts: ts,
            last_ts: ts,
            last_cnt: 0,
            findings: Findings::default(),
            discarded: false,
        }
    }

    /// Heap bytes held (what the table's byte budget counts).
    pub fn held(&self) -> usize {
        self.data.capacity() + self.owner.capacity() * 2 + self.starts.capacity() * 4
    }

    pub fn complete(&self) -> bool {
        !self.discarded && self.end.is_some_and(|e| e == self.filled)
    }

    /// The bytes from offset 0 up to the first byte missing: the whole datagram when
    /// complete, its head otherwise.
    pub fn head(&self) -> &[u8] {
        if self.discarded {
            return &self.data;
        }
        let len = match self.end.filter(|_| self.complete()) {
            Some(e) => e as usize,
            None => self.head_len(),
        };
        &self.data[..len]
    }

    /// Adds one fragment's bytes under `policy`. Bytes snaplen cut off are missing: the
    /// datagram is then held as far as it goes and cannot complete.
    pub fn add(&mut self, f: &Fragment<'_>, policy: OverlapPolicy) {
        self.fragments = self.fragments.saturating_add(1);
        if self.discarded {
            return;
        }
        let mut announced = f.announced;
        if f.more && announced % 8 != 0 {
            // A fragment before the last must end on an 8-byte boundary: Linux trims an IPv4
            // one and drops an IPv6 one (RFC 8200), and so does the monitor.
            if f.src.is_ipv6() {
                return;
            }
            announced &= !7;
        }
        let bytes = &f.data[..f.data.len().min(announced)];
        let start = f.offset;
        let announced_stop = start.saturating_add(announced as u32);
        if announced_stop > MAX_DATAGRAM {
            self.findings.too_large = true;
            return self.discard();
        }
        let stop = start + bytes.len() as u32;
        if f.offset == 0 {
            // the first fragment names the protocol (for IPv6 the later ones may disagree)
            self.proto = f.proto;
            let header = transport_header_len(f.proto, bytes);
            if f.more && (announced as u32) < header {
                self.findings.tiny_first = Some(f.announced as u32);
            }
        }
        // The last fragment fixes the length; one that disagrees, or a fragment past it, is
        // a datagram no stack would deliver.
        if !f.more {
            match self.end {
                // bytes already held past the end it announces: no stack delivers that
                _ if self.data.len() as u32 > announced_stop => {
                    self.findings.conflict_at.get_or_insert(announced_stop);
                    return self.discard();
                }
                Some(e) if e != announced_stop => {
                    self.findings
                        .conflict_at
                        .get_or_insert(e.min(announced_stop));
                    return self.discard();
                }
                _ => self.end = Some(announced_stop),
            }
        }
        if self.end.is_some_and(|e| announced_stop > e) {
            self.findings.conflict_at.get_or_insert(start);
            return self.discard();
        }
        if self.starts.len() >= MAX_PIECES {
            self.findings.too_large = true;
            return self.discard();
        }
        if self.data.len() < stop as usize {
            self.data.resize(stop as usize, 0);
            self.owner.resize(stop as usize, 0);
        }
        let range = start as usize..stop as usize;
        let held = self.owner[range.clone()]
            .iter()
            .filter(|&&o| o != 0)
            .count();
        if held > 0 {
            self.findings.overlapped = true;
            if let Some(at) = self.data[range.clone()]
                .iter()
                .zip(bytes)
                .zip(&self.owner[range.clone()])
                .position(|((a, b), &o)| o != 0 && a != b)
            {
                self.findings.conflict_at.get_or_insert(start + at as u32);
            }
            if policy.overlap() == Overlap::DuplicateOrDiscard {
                if held == bytes.len() {
                    // a duplicate: the bytes held stand
                    return;
                }
                return self.discard();
            }
        }
        self.starts.push(start);
        let piece = self.starts.len() as u16;
        for (i, &b) in range.zip(bytes) {
            match self.owner[i] {
                0 => {
                    self.filled += 1;
                }
                o if policy.new_wins(start, self.starts[usize::from(o) - 1]) => {}
                _ => continue,
            }
            self.data[i] = b;
            self.owner[i] = piece;
        }
    }

    /// Thrown away: only the head's first bytes stay, so the report can still name the ports.
    fn discard(&mut self) {
        let keep = self.head_len().min(DISCARDED_HEAD);
        self.discarded = true;
        self.data.truncate(keep);
        self.data.shrink_to_fit();
        self.owner = Vec::new();
        self.starts = Vec::new();
    }

    fn head_len(&self) -> usize {
        self.owner
            .iter()
            .position(|&o| o == 0)
            .unwrap_or(self.owner.len())
    }
}

/// The transport header's length as far as the first fragment tells it.
fn transport_header_len(proto: u8, bytes: &[u8]) -> u32 {
    match proto {
        6 => bytes.get(12).map_or(20, |o| u32::from(o >> 4) * 4).max(20),
        _ => 8,
    }
}

/// A UDP fragment from 192.0.2.1 to itself, for the defragmenter's tests.
#[cfg(test)]
pub(super) fn test_fragment(id: u32, offset: u32, more: bool, data: &[u8]) -> Fragment<'_> {
    let a = std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    Fragment {
        vlan: Vlans::default(),
        src: a,
        dst: a,
        id,
        offset,
        more,
        proto: 17,
        data,
        announced: data.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(offset: u32, more: bool, data: &[u8]) -> Fragment<'_> {
        test_fragment(7, offset, more, data)
    }

    fn put(policy: OverlapPolicy, pieces: &[(u32, bool, &[u8])]) -> Datagram {
        let mut d = Datagram::new(&frag(0, true, b""), Timestamp(0));
        for (o, m, b) in pieces {
            d.add(&frag(*o, *m, b), policy);
        }
        d
    }

    #[test]
    fn in_order_out_of_order_and_duplicates_complete_alike() {
        let whole: Vec<u8> = (0..40u8).collect();
        for policy in OverlapPolicy::ALL {
            let a = put(
                *policy,
                &[
                    (0, true, &whole[..16]),
                    (16, true, &whole[16..32]),
                    (32, false, &whole[32..]),
                ],
            );
            let b = put(
                *policy,
                &[
                    (32, false, &whole[32..]),
                    (0, true, &whole[..16]),
                    (0, true, &whole[..16]),
                    (16, true, &whole[16..32]),
                ],
            );
            for d in [a, b] {
                assert!(d.complete(), "{policy}");
                assert_eq!(d.head(), &whole[..]);
                assert_eq!(d.findings.conflict_at, None);
                assert!(!d.findings.evasive());
            }
        }
    }

    #[test]
    fn overlap_policies_choose_their_bytes() {
        // held: AAAAAAAA at 8..16; new: BBBBBBBBBBBBBBBB at 0..16 (starts before it)
        let run = |p| {
            put(
                p,
                &[
                    (8, true, b"AAAAAAAA"),
                    (0, true, b"BBBBBBBBBBBBBBBB"),
                    (16, false, b"CCCCCCCC"),
                ],
            )
        };
        let d = run(OverlapPolicy::First);
        assert_eq!(d.head(), b"BBBBBBBBAAAAAAAACCCCCCCC");
        assert_eq!(d.findings.conflict_at, Some(8));
        let d = run(OverlapPolicy::Last);
        assert_eq!(d.head(), b"BBBBBBBBBBBBBBBBCCCCCCCC");
        let d = run(OverlapPolicy::Bsd);
        assert_eq!(
            d.head(),
            b"BBBBBBBBBBBBBBBBCCCCCCCC",
            "it starts before the held piece"
        );
        let d = put(
            OverlapPolicy::Bsd,
            &[
                (0, true, b"AAAAAAAAAAAAAAAA"),
                (8, true, b"BBBBBBBB"),
                (16, false, b"CC"),
            ],
        );
        assert_eq!(
            d.head(),
            b"AAAAAAAAAAAAAAAACC",
            "it starts after: held bytes stand"
        );
        // linux: a partial overlap throws the datagram away, the evasion is still found
        let d = run(OverlapPolicy::Linux);
        assert!(d.discarded && !d.complete());
        assert_eq!(d.findings.conflict_at, Some(8));
        assert!(d.head().is_empty(), "nothing was held from offset 0");
        // linux: a fragment wholly inside held bytes is a duplicate; the held bytes stand
        let d = put(
            OverlapPolicy::Linux,
            &[
                (0, true, b"AAAAAAAAAAAAAAAA"),
                (8, true, b"BBBBBBBB"),
                (16, false, b"CC"),
            ],
        );
        assert!(d.complete());
        assert_eq!(d.head(), b"AAAAAAAAAAAAAAAACC");
        assert_eq!(d.findings.conflict_at, Some(8));
    }

    #[test]
    fn malformed_trains_are_found() {
        // a first fragment that ends inside the UDP header
        let d = put(
            OverlapPolicy::Linux,
            &[(0, true, b"\x01\x02\x03\x04"), (8, false, b"x")],
        );
        assert_eq!(d.findings.tiny_first, Some(4));
        // a fragment past 64 KiB
        let d = put(OverlapPolicy::First, &[(65_528, false, &[0u8; 16])]);
        assert!(d.findings.too_large && d.discarded);
        // two last fragments that disagree on the length
        let d = put(
            OverlapPolicy::First,
            &[(8, false, b"12345678"), (16, false, b"1")],
        );
        assert!(d.discarded && d.findings.evasive());
        // a last fragment that ends before bytes already held
        let d = put(
            OverlapPolicy::First,
            &[(16, true, b"late...."), (8, false, b"12345678")],
        );
        assert!(d.discarded && !d.complete() && d.findings.evasive());
        // a flood of pieces stops at the cap
        let mut d = Datagram::new(&frag(0, true, b""), Timestamp(0));
        for i in 0..(MAX_PIECES as u32 + 10) {
            d.add(&frag(i * 8, true, &[1u8; 8]), OverlapPolicy::First);
        }
        assert!(d.discarded && d.findings.too_large);
        assert!(d.held() <= DISCARDED_HEAD, "only the head stays");
    }

    #[test]
    fn an_incomplete_datagram_gives_its_head() {
        let d = put(
            OverlapPolicy::Linux,
            &[(0, true, b"HEADHEAD"), (16, false, b"tail")],
        );
        assert!(!d.complete());
        assert_eq!(d.head(), b"HEADHEAD");
    }
}
