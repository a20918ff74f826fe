//! Whose bytes count where IP fragments overlap. Stacks disagree, and an evader sends bytes
//! that one stack keeps and another throws away; the monitor can only analyse what the target
//! sees if it is told how the target behaves (docs/EVASION.md).

use crate::net::named_enum;

named_enum! {
    /// How the monitored hosts put overlapping fragments together.
    pub enum OverlapPolicy {
        /// Linux since 4.19 (IPv4) and RFC 5722 (IPv6): a fragment wholly inside bytes already
        /// held is a duplicate and dropped; any other overlap discards the whole datagram.
        Linux = "linux",
        /// Bytes already held always stand.
        First = "first",
        /// Later bytes always replace earlier ones.
        Last = "last",
        /// Bytes already held stand, unless the newer fragment starts before the one that
        /// holds them (the BSD rule).
        Bsd = "bsd",
    }
}

// `named_enum!` derives a fixed list without `Default`, so it is written out.
#[allow(clippy::derivable_impls)]
impl Default for OverlapPolicy {
    fn default() -> Self {
        OverlapPolicy::Linux
    }
}

/// What a policy does with a fragment that overlaps bytes already held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Overlap {
    /// Keep or replace byte by byte (`new_wins` says who wins against a held piece).
    Merge,
    /// Drop the fragment when it lies wholly inside held bytes, else drop the datagram.
    DuplicateOrDiscard,
}

impl OverlapPolicy {
    pub(super) fn overlap(self) -> Overlap {
        match self {
            OverlapPolicy::Linux => Overlap::DuplicateOrDiscard,
            _ => Overlap::Merge,
        }
    }

    /// Whether a newer piece starting at `new_start` replaces bytes held by a piece that
    /// started at `held_start`.
    pub(super) fn new_wins(self, new_start: u32, held_start: u32) -> bool {
        match self {
            OverlapPolicy::Linux | OverlapPolicy::First => false,
            OverlapPolicy::Last => true,
            OverlapPolicy::Bsd => new_start < held_start,
        }
    }
}
