//! Fixed-memory summaries of a storm: how many distinct addresses (HyperLogLog) and which were
//! the most frequent (Filtered Space-Saving). Both hash with fixed keys, so replaying a capture
//! twice gives the same numbers.

use crate::event::{Estimate, TopAddress, TopNetwork};
use crate::flow::address_number;
use cardinality_estimator::CardinalityEstimator;
use siphasher::sip::SipHasher13;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use topk::FilteredSpaceSaving;

/// HyperLogLog at precision 12: 4 096 six-bit registers.
const HLL_ERROR: f64 = 1.04 / 64.0;
/// Counters kept to report a top 16 with small errors.
const TRACKED: usize = 64;

/// An address as the flow key spells it (IPv4 as its IPv6-mapped number).
fn key(ip: IpAddr) -> u128 {
    address_number(ip)
}

fn addr(k: u128) -> IpAddr {
    let v6 = Ipv6Addr::from_bits(k);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// Distinct addresses in about 3 KiB.
pub struct Distinct(CardinalityEstimator<u128>);

impl Default for Distinct {
    fn default() -> Self {
        Distinct(CardinalityEstimator::new())
    }
}

impl Distinct {
    pub fn insert(&mut self, ip: IpAddr) {
        self.0.insert(&key(ip));
    }

    pub fn estimate(&self) -> Estimate {
        Estimate {
            estimate: self.0.estimate() as u64,
            error: HLL_ERROR,
        }
    }
}

/// The most frequent keys with their counts and error bounds, in fixed memory. SipHash with
/// fixed (zero) keys: the default hasher of the sketch is seeded per process, which would make
/// two replays of one capture disagree.
#[derive(Clone)]
pub struct TopK<K: Hash + Eq + Clone + Ord>(FilteredSpaceSaving<K, SipHasher13>);

impl<K: Hash + Eq + Clone + Ord> Default for TopK<K> {
    fn default() -> Self {
        TopK(FilteredSpaceSaving::with_hasher(TRACKED))
    }
}

impl<K: Hash + Eq + Clone + Ord> TopK<K> {
    pub fn insert(&mut self, k: K, n: u64) {
        self.0.insert(k, n);
    }

    /// The `n` most frequent: (key, count, error), largest first, ties by key. Only keys seen
    /// at least twice for certain (count minus error) and whose certain part is at least half
    /// the count: under one-shot spoofed sources, or traffic spread evenly over many networks,
    /// every counter is mostly a guess, and a list of guesses would send an analyst after
    /// random addresses. A key with at least 1/32 of the total is always listed (Space-Saving
    /// over 64 counters errs by at most total/64).
    pub fn top(&self, n: usize) -> Vec<(K, u64, u64)> {
        let mut v: Vec<(K, u64, u64)> = self
            .0
            .clone()
            .into_sorted_vec()
            .into_iter()
            .map(|(k, c)| (k, c.estimated_count(), c.associated_error()))
            .filter(|(_, count, error)| {
                let certain = count.saturating_sub(*error);
                certain >= CERTAIN && certain >= *error
            })
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

/// A key that picks its own place in a small direct-mapped table.
pub trait Slot {
    fn slot(&self) -> usize;
}

impl Slot for IpAddr {
    fn slot(&self) -> usize {
        let k = key(*self);
        ((k ^ (k >> 17) ^ (k >> 41)) as usize).wrapping_mul(0x9e37_79b9) >> 8
    }
}

impl Slot for (u128, u8) {
    fn slot(&self) -> usize {
        let k = self.0 ^ u128::from(self.1);
        ((k ^ (k >> 29) ^ (k >> 67) ^ (k >> 97)) as usize).wrapping_mul(0x9e37_79b9) >> 8
    }
}

/// Contacts a heavy hitter must have for certain to be listed.
const CERTAIN: u64 = 2;

/// Places in front of each sketch.
const CACHED: usize = 64;

/// A heavy-hitter sketch with a small direct-mapped table in front: repeats of a key add up
/// there and reach the sketch as one insert with their count (under a sweep, a /16 is one key
/// for the whole campaign, and a /24 one for 256 attempts in a row).
pub struct Batched<K: Hash + Eq + Clone + Ord + Slot> {
    cache: Vec<Option<(K, u64)>>,
    top: TopK<K>,
}

impl<K: Hash + Eq + Clone + Ord + Slot> Default for Batched<K> {
    fn default() -> Self {
        Batched {
            cache: vec![None; CACHED],
            top: TopK::default(),
        }
    }
}

impl<K: Hash + Eq + Clone + Ord + Slot> Batched<K> {
    pub fn insert(&mut self, k: K, n: u64) {
        let at = k.slot() % CACHED;
        match &mut self.cache[at] {
            Some((held, count)) if *held == k => *count += n,
            slot => {
                if let Some((old, count)) = slot.replace((k, n)) {
                    self.top.insert(old, count);
                }
            }
        }
    }

    /// Everything so far, the cached counts included.
    pub fn sketch(&self) -> TopK<K> {
        let mut t = self.top.clone();
        for (k, n) in self.cache.iter().flatten() {
            t.insert(k.clone(), *n);
        }
        t
    }
}

impl TopK<IpAddr> {
    pub fn top_addresses(&self, n: usize) -> Vec<TopAddress> {
        self.top(n)
            .into_iter()
            .map(|(ip, count, error)| TopAddress { ip, count, error })
            .collect()
    }
}

/// An address's network at a prefix length: (network address, prefix length).
pub fn network(ip: IpAddr, bits: u8) -> (u128, u8) {
    let k = key(ip);
    let total = if ip.is_ipv4() {
        96 + u32::from(bits)
    } else {
        u32::from(bits)
    };
    let mask = if total == 0 {
        0
    } else {
        u128::MAX << (128 - total)
    };
    (k & mask, bits)
}

impl TopK<(u128, u8)> {
    pub fn top_networks(&self, n: usize) -> Vec<TopNetwork> {
        self.top(n)
            .into_iter()
            .map(|((k, bits), count, error)| TopNetwork {
                network: format!("{}/{bits}", addr(k)),
                count,
                error,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn distinct_counts_are_close_and_repeatable() {
        let mut d = Distinct::default();
        for i in 0..50_000u32 {
            d.insert(IpAddr::from(Ipv4Addr::from(0x0a00_0000 + i)));
            d.insert(IpAddr::from(Ipv4Addr::from(0x0a00_0000 + i / 2)));
        }
        let e = d.estimate();
        let rel = (e.estimate as f64 - 50_000.0).abs() / 50_000.0;
        assert!(rel < 4.0 * e.error, "{e:?}");
        let mut again = Distinct::default();
        for i in 0..50_000u32 {
            again.insert(IpAddr::from(Ipv4Addr::from(0x0a00_0000 + i)));
            again.insert(IpAddr::from(Ipv4Addr::from(0x0a00_0000 + i / 2)));
        }
        assert_eq!(again.estimate(), e);
    }

    #[test]
    fn the_heavy_hitters_come_first_with_bounds() {
        let mut t: TopK<IpAddr> = TopK::default();
        for i in 0..20_000u32 {
            // 10.0.0.1 .. 10.0.0.5 are heavy; the rest one each
            let heavy = i % 4 == 0;
            let ip = if heavy {
                IpAddr::from(Ipv4Addr::from(0x0a00_0001 + i % 5))
            } else {
                IpAddr::from(Ipv4Addr::from(0x0b00_0000 + i))
            };
            t.insert(ip, 1);
        }
        let top = t.top_addresses(5);
        let mut ips: Vec<String> = top.iter().map(|x| x.ip.to_string()).collect();
        ips.sort();
        assert_eq!(
            ips,
            ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]
        );
        for x in &top {
            assert!(x.count >= 1000 && x.count - x.error <= 1000, "{x:?}");
        }
    }

    #[test]
    fn one_shot_sources_list_nobody() {
        let mut t: TopK<IpAddr> = TopK::default();
        for i in 0..20_000u32 {
            t.insert(IpAddr::from(Ipv4Addr::from(0x0b00_0000 + i)), 1);
        }
        assert_eq!(t.top_addresses(16), []);
        // one real repeat among them is listed
        for _ in 0..400 {
            t.insert(IpAddr::from(Ipv4Addr::new(10, 0, 0, 9)), 1);
        }
        let top = t.top_addresses(16);
        assert_eq!(top.len(), 1, "{top:?}");
        assert_eq!(top[0].ip.to_string(), "10.0.0.9");
        // a key with 1/32 of the total, interleaved with one-shot noise, is always listed
        let mut t: TopK<IpAddr> = TopK::default();
        for i in 0..31_000u32 {
            t.insert(IpAddr::from(Ipv4Addr::from(0x0c00_0000 + i)), 1);
            if i % 31 == 0 {
                t.insert(IpAddr::from(Ipv4Addr::new(10, 0, 0, 7)), 1);
            }
        }
        let top = t.top_addresses(16);
        assert_eq!(top.len(), 1, "{top:?}");
        assert_eq!(top[0].ip.to_string(), "10.0.0.7");
    }

    #[test]
    fn networks_of_both_families() {
        let mut t: TopK<(u128, u8)> = TopK::default();
        t.insert(network("192.0.2.77".parse().unwrap(), 24), 3);
        t.insert(network("2001:db8:1:2:3::9".parse().unwrap(), 48), 2);
        let names: Vec<String> = t.top_networks(4).into_iter().map(|n| n.network).collect();
        assert_eq!(names, ["192.0.2.0/24", "2001:db8:1::/48"]);
    }

    #[test]
    fn batching_in_front_adds_up_the_same() {
        let mut b: Batched<IpAddr> = Batched::default();
        let mut t: TopK<IpAddr> = TopK::default();
        for i in 0..5_000u32 {
            let ip = IpAddr::from(Ipv4Addr::from(0x0a00_0000 + i % 40));
            b.insert(ip, 1);
            t.insert(ip, 1);
        }
        // 40 keys fit the sketch: both are exact
        assert_eq!(b.sketch().top_addresses(40), t.top_addresses(40));
        assert_eq!(b.sketch().top_addresses(1)[0].count, 125);
    }
}
