//! Defragment: IP fragments of TCP and UDP datagrams in, whole datagrams out, for the flow
//! stage to handle like any other packet. Every datagram is held until it completes, times out,
//! or the table needs its room; all three hand it on, so the head of a datagram whose tail
//! never came is still analysed and reported. Overlaps follow the configured
//! [`OverlapPolicy`]; what the fragments did wrong travels with the datagram as [`Findings`].
//!
//! Bounded like every table fed from the wire: a cap on datagrams, a cap on bytes held, an
//! age; the oldest go first and are counted.

mod datagram;
mod policy;

pub use datagram::{Datagram, Ending, Findings, MAX_DATAGRAM, MAX_PIECES};
pub use policy::OverlapPolicy;

use crate::bounded::BoundedMap;
use crate::decode::Fragment;
use crate::net::Timestamp;
use std::collections::VecDeque;
use std::net::IpAddr;

/// A datagram's identity (RFC 791: source, destination, protocol, identification).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    pub proto: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefragConfig {
    pub policy: OverlapPolicy,
    /// Datagrams held at once.
    pub max_datagrams: usize,
    /// Heap bytes held at once, over all datagrams.
    pub max_bytes: usize,
    /// A datagram whose fragments stop coming for this long is handed on incomplete.
    pub timeout_ns: u64,
}

impl Default for DefragConfig {
    fn default() -> Self {
        DefragConfig {
            policy: OverlapPolicy::default(),
            max_datagrams: 4096,
            max_bytes: 16 << 20,
            timeout_ns: 60 * 1_000_000_000,
        }
    }
}

/// A datagram handed on: its identity, its bytes, and how it ended.
pub struct Done {
    pub key: Key,
    pub datagram: Datagram,
    pub ending: Ending,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DefragStats {
    /// Datagrams held now, and the heap bytes they hold.
    pub held: u64,
    pub held_bytes: u64,
    /// Datagrams dropped to make room (a cap on datagrams or bytes).
    pub evicted: u64,
}

pub struct Defragmenter {
    config: DefragConfig,
    table: BoundedMap<Key, Datagram>,
    held_bytes: usize,
    evicted: u64,
    /// Datagrams that left the table since the caller last took them.
    done: VecDeque<Done>,
}

impl Defragmenter {
    pub fn new(config: DefragConfig) -> Self {
        Defragmenter {
            config,
            table: BoundedMap::new(config.max_datagrams),
            held_bytes: 0,
            evicted: 0,
            done: VecDeque::new(),
        }
    }

    pub fn policy(&self) -> OverlapPolicy {
        self.config.policy
    }

    /// One fragment at `ts` (`cnt`: its packet number, `wire`: its length on the wire). What
    /// completes, is discarded or is evicted now waits in [`take_done`](Self::take_done).
    pub fn fragment(&mut self, f: &Fragment<'_>, ts: Timestamp, cnt: u64, wire: u32) {
        let key = Key {
            src: f.src,
            dst: f.dst,
            id: f.id,
            // IPv6 keys a datagram by addresses and identification alone and takes the
            // protocol from its first fragment (later ones may name another: evasion)
            proto: if f.src.is_ipv4() { f.proto } else { 0 },
        };
        if self.table.get(&key).is_none() {
            let fresh = Datagram::new(f, ts);
            if let Some((k, d)) = self.table.insert_evicting(key, fresh, ts) {
                self.gone(k, d, Ending::Evicted);
            }
        } else {
            self.table.touch(&key, ts);
        }
        let Some(d) = self.table.get_mut(&key) else {
            return;
        };
        let (before, was_discarded) = (d.held(), d.discarded);
        d.add(f, self.config.policy);
        d.wire_bytes += u64::from(wire);
        d.last_ts = d.last_ts.max(ts);
        d.last_cnt = cnt;
        let after = d.held();
        self.held_bytes = (self.held_bytes + after).saturating_sub(before);
        let (complete, discarded) = (d.complete(), d.discarded && !was_discarded);
        // Complete, or thrown away as the target does (Linux forgets a datagram it discards,
        // so fragments that come later with its identification start a new one).
        let ending = match (complete, discarded) {
            (true, _) => Some(Ending::Complete),
            (false, true) => Some(Ending::Discarded),
            _ => None,
        };
        if let Some(ending) = ending {
            if let Some((_, d)) = self.table.remove(&key) {
                self.held_bytes -= d.held().min(self.held_bytes);
                self.done.push_back(Done {
                    key,
                    datagram: d,
                    ending,
                });
            }
        }
        while self.held_bytes > self.config.max_bytes {
            let Some((k, d)) = self.table.pop_oldest() else {
                break;
            };
            self.evicted += 1;
            self.gone(k, d, Ending::Evicted);
        }
    }

    fn gone(&mut self, key: Key, d: Datagram, ending: Ending) {
        self.held_bytes -= d.held().min(self.held_bytes);
        self.done.push_back(Done {
            key,
            datagram: d,
            ending,
        });
    }

    /// Datagrams whose fragments stopped coming.
    pub fn expire(&mut self, now: Timestamp) {
        let mut old = Vec::new();
        self.table
            .expire_each(now, self.config.timeout_ns, |k, d| old.push((k, d)));
        for (k, d) in old {
            self.gone(k, d, Ending::TimedOut);
        }
    }

    /// End of input: every datagram still held is handed on.
    pub fn drain(&mut self) {
        while let Some((k, d)) = self.table.pop_oldest() {
            self.gone(k, d, Ending::EndOfInput);
        }
    }

    /// What left the table since the last call, in the order it left.
    pub fn take_done(&mut self) -> Option<Done> {
        self.done.pop_front()
    }

    pub fn stats(&self) -> DefragStats {
        DefragStats {
            held: self.table.len() as u64,
            held_bytes: self.held_bytes as u64,
            evicted: self.evicted + self.table.evicted(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(offset: u32, more: bool, data: &[u8]) -> Fragment<'_> {
        datagram::test_fragment(9, offset, more, data)
    }

    fn endings(d: &mut Defragmenter) -> Vec<Ending> {
        std::iter::from_fn(|| d.take_done())
            .map(|x| x.ending)
            .collect()
    }

    #[test]
    fn a_discarded_datagram_is_forgotten_as_linux_forgets_it() {
        let mut d = Defragmenter::new(DefragConfig::default());
        let t = Timestamp(0);
        d.fragment(&frag(0, true, &[1; 16]), t, 1, 50);
        d.fragment(&frag(8, true, &[2; 16]), t, 2, 50); // a partial overlap: discarded
        assert_eq!(endings(&mut d), [Ending::Discarded]);
        assert_eq!(d.stats().held, 0);
        // the same identification again, clean: a new datagram that completes
        d.fragment(&frag(0, true, &[1; 16]), t, 3, 50);
        d.fragment(&frag(16, false, &[3; 4]), t, 4, 50);
        assert_eq!(endings(&mut d), [Ending::Complete]);
    }

    #[test]
    fn a_non_last_fragment_is_trimmed_to_eight_bytes_as_linux_does() {
        let mut d = Defragmenter::new(DefragConfig::default());
        let t = Timestamp(0);
        // 13 bytes with more-fragments: Linux keeps 8, so the next at offset 8 does not overlap
        d.fragment(&frag(0, true, &[1; 13]), t, 1, 50);
        d.fragment(&frag(8, false, &[2; 4]), t, 2, 50);
        let done = d.take_done().expect("complete");
        assert_eq!(done.ending, Ending::Complete);
        assert_eq!(done.datagram.head(), [1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2]);
        assert!(!done.datagram.findings.evasive());
    }
}
