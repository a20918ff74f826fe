//! A hash map with a hard cap and an age on every entry: the shape of every table that holds
//! attacker-driven state (pending requests, fragment trains, suppression keys, scan tracking).
//!
//! When full, the entry least recently inserted or touched goes. A queue of (slot, stamp) in
//! that order makes eviction O(1): an entry touched again gets a new stamp at the back, and the
//! old queue slot is recognised as stale when it reaches the front. The queue is compacted once
//! it holds a quarter more slots than the cap, so it costs O(1) a touch, amortised. Order is
//! processing order, so the outcome never depends on the hasher's seed.
//!
//! Entries live in a slab behind an index of 4-byte slot numbers. A hash table that churns at
//! its cap fills with tombstones and settles at about four buckets an entry; with the entries
//! themselves in the buckets that was 4 × 64 bytes an entry for pending requests, with slot
//! numbers it is 4 × 5 bytes plus the entry once.

use crate::event::Timestamp;
use hashbrown::{DefaultHashBuilder, HashTable};
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash};

struct Entry<K, V> {
    key: K,
    /// The key's hash, kept so a removal and a rebuild of the index never hash again (a table
    /// churning at its cap rebuilds its index to clear tombstones, rehashing every entry).
    hash: u64,
    at: Timestamp,
    stamp: u64,
    value: V,
}

pub struct BoundedMap<K, V> {
    hasher: DefaultHashBuilder,
    index: HashTable<u32>,
    slab: Vec<Option<Entry<K, V>>>,
    free: Vec<u32>,
    /// (slot, stamp) in the order of insertion or touch.
    order: VecDeque<(u32, u64)>,
    next: u64,
    cap: usize,
    evicted: u64,
}

impl<K: Hash + Eq + Ord + Copy, V> BoundedMap<K, V> {
    pub fn new(cap: usize) -> Self {
        BoundedMap {
            hasher: DefaultHashBuilder::default(),
            index: HashTable::new(),
            slab: Vec::new(),
            free: Vec::new(),
            order: VecDeque::new(),
            next: 0,
            cap: cap.clamp(1, u32::MAX as usize),
            evicted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Entries dropped because the map was full.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    fn slot_of(&self, k: &K) -> Option<u32> {
        self.slot_of_hashed(self.hasher.hash_one(k), k)
    }

    /// [`slot_of`](Self::slot_of) with the key's hash already worked out.
    fn slot_of_hashed(&self, hash: u64, k: &K) -> Option<u32> {
        let slab = &self.slab;
        self.index
            .find(hash, |&i| {
                slab[i as usize].as_ref().is_some_and(|e| e.key == *k)
            })
            .copied()
    }

    /// A new stamp for `slot`, queued at the back.
    fn stamp(&mut self, slot: u32) -> u64 {
        let s = self.next;
        self.next += 1;
        self.order.push_back((slot, s));
        if self.order.len() > self.cap + self.cap / 4 + 16 {
            let slab = &self.slab;
            self.order
                .retain(|&(i, s)| slab[i as usize].as_ref().is_some_and(|e| e.stamp == s));
        }
        s
    }

    /// Takes the entry out of `slot`.
    fn take(&mut self, slot: u32) -> Option<Entry<K, V>> {
        let e = self.slab[slot as usize].take()?;
        if let Ok(found) = self.index.find_entry(e.hash, |&i| i == slot) {
            found.remove();
        }
        self.free.push(slot);
        Some(e)
    }

    /// Drops the entry least recently inserted or touched (counted as evicted).
    fn evict_one(&mut self) -> Option<(K, V)> {
        let out = self.pop_oldest();
        self.evicted += u64::from(out.is_some());
        out
    }

    /// Takes out the entry least recently inserted or touched (a caller that evicts for a
    /// budget of its own counts it).
    pub fn pop_oldest(&mut self) -> Option<(K, V)> {
        while let Some((i, s)) = self.order.pop_front() {
            if self.slab[i as usize].as_ref().is_some_and(|e| e.stamp == s) {
                return self.take(i).map(|e| (e.key, e.value));
            }
        }
        None
    }

    /// Inserts or replaces `k`, now. When full, the entry least recently inserted or touched
    /// goes first.
    pub fn insert(&mut self, k: K, v: V, now: Timestamp) {
        self.insert_evicting(k, v, now);
    }

    /// [`insert`](Self::insert), handing back the entry evicted to make room, for a table
    /// whose entries must be reported when they go.
    pub fn insert_evicting(&mut self, k: K, v: V, now: Timestamp) -> Option<(K, V)> {
        // hashed once, for the lookup and for the insertion
        let hash = self.hasher.hash_one(k);
        if let Some(i) = self.slot_of_hashed(hash, &k) {
            let stamp = self.stamp(i);
            self.slab[i as usize] = Some(Entry {
                key: k,
                hash,
                at: now,
                stamp,
                value: v,
            });
            return None;
        }
        let evicted = if self.len() >= self.cap {
            self.evict_one()
        } else {
            None
        };
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slab.push(None);
                (self.slab.len() - 1) as u32
            }
        };
        let stamp = self.stamp(i);
        self.slab[i as usize] = Some(Entry {
            key: k,
            hash,
            at: now,
            stamp,
            value: v,
        });
        let slab = &self.slab;
        self.index.insert_unique(hash, i, |&j| {
            slab[j as usize].as_ref().map_or(0, |e| e.hash)
        });
        evicted
    }

    pub fn get(&self, k: &K) -> Option<(Timestamp, &V)> {
        let i = self.slot_of(k)?;
        self.slab[i as usize].as_ref().map(|e| (e.at, &e.value))
    }

    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        let i = self.slot_of(k)?;
        self.slab[i as usize].as_mut().map(|e| &mut e.value)
    }

    /// Marks `k` as used now, so eviction takes other entries first.
    pub fn touch(&mut self, k: &K, now: Timestamp) {
        let Some(i) = self.slot_of(k) else {
            return;
        };
        let stamp = self.stamp(i);
        if let Some(e) = self.slab[i as usize].as_mut() {
            e.at = e.at.max(now);
            e.stamp = stamp;
        }
    }

    /// Entries in key order (stable output whatever the hasher's seed).
    pub fn sorted(&self) -> Vec<(&K, &V)> {
        let mut v: Vec<(&K, &V)> = self
            .slab
            .iter()
            .flatten()
            .map(|e| (&e.key, &e.value))
            .collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }

    pub fn remove(&mut self, k: &K) -> Option<(Timestamp, V)> {
        // the queue slot goes stale and is skipped or compacted away
        let i = self.slot_of(k)?;
        self.take(i).map(|e| (e.at, e.value))
    }

    /// Drops entries older than `ttl_ns` before `now`.
    pub fn expire(&mut self, now: Timestamp, ttl_ns: u64) {
        self.expire_each(now, ttl_ns, |_, _| {});
    }

    /// Takes out entries older than `ttl_ns` before `now`, handing each to `gone` in the
    /// order they were inserted or last touched.
    pub fn expire_each(&mut self, now: Timestamp, ttl_ns: u64, mut gone: impl FnMut(K, V)) {
        let mut old: Vec<(u64, u32)> = Vec::new();
        for (i, e) in self.slab.iter().enumerate() {
            if let Some(e) = e.as_ref().filter(|e| now.since(e.at) > ttl_ns) {
                old.push((e.stamp, i as u32));
            }
        }
        old.sort_unstable();
        for (_, i) in old {
            if let Some(e) = self.take(i) {
                gone(e.key, e.value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_holds_under_a_flood() {
        let mut m = BoundedMap::new(100);
        for i in 0..10_000u32 {
            m.insert(i, (), Timestamp(u64::from(i)));
            assert!(m.len() <= 100);
            assert!(m.order.len() <= 100 + 25 + 16 + 1);
            assert!(m.slab.len() <= 100, "slots are reused");
        }
        assert_eq!(m.evicted(), 9_900);
        // the newest survive
        assert!(m.get(&9_999).is_some());
        assert!(m.get(&9_900).is_some());
        assert!(m.get(&9_899).is_none());
        m.expire(Timestamp(10_000), 50);
        assert!(m.len() <= 51);
    }

    #[test]
    fn a_touched_entry_outlives_untouched_ones() {
        let mut m = BoundedMap::new(3);
        for i in 0..3u32 {
            m.insert(i, i, Timestamp(u64::from(i)));
        }
        // 0 is the oldest, but used again: 1 goes first, then 2
        for round in 0..1_000u64 {
            m.touch(&0, Timestamp(10 + round));
        }
        assert!(m.order.len() <= 3 + 16 + 1);
        m.insert(3, 3, Timestamp(2_000));
        assert!(m.get(&0).is_some() && m.get(&1).is_none());
        m.insert(4, 4, Timestamp(2_001));
        assert!(m.get(&0).is_some() && m.get(&2).is_none());
        assert_eq!(m.evicted(), 2);
        // a removed entry's stale slot is skipped, not counted
        m.remove(&0);
        m.insert(5, 5, Timestamp(2_002));
        m.insert(6, 6, Timestamp(2_003));
        assert_eq!(m.len(), 3);
        assert_eq!(m.evicted(), 3, "only 3 went at the cap");
        assert!(m.get(&3).is_none());
    }
}
