//! A hash map with a hard cap and an age on every entry: the shape of every table that holds
//! attacker-driven state (pending requests, fragment trains, suppression keys, scan tracking).
//!
//! When full, the entry least recently inserted or touched goes. A queue of (stamp, key) in
//! that order makes eviction O(1): an entry touched again gets a new stamp at the back, and the
//! old queue slot is recognised as stale when it reaches the front. The queue is compacted once
//! it holds a quarter more slots than the cap, so it costs O(1) a touch, amortised. Order is
//! processing order, so the outcome never depends on the hasher's seed.

use crate::event::Timestamp;
use hashbrown::HashMap;
use std::collections::VecDeque;
use std::hash::Hash;

struct Entry<V> {
    at: Timestamp,
    stamp: u64,
    value: V,
}

pub struct BoundedMap<K, V> {
    map: HashMap<K, Entry<V>>,
    order: VecDeque<(u64, K)>,
    next: u64,
    cap: usize,
    evicted: u64,
}

impl<K: Hash + Eq + Ord + Copy, V> BoundedMap<K, V> {
    pub fn new(cap: usize) -> Self {
        BoundedMap {
            map: HashMap::new(),
            order: VecDeque::new(),
            next: 0,
            cap: cap.max(1),
            evicted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Entries dropped because the map was full.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    fn stamp(&mut self, k: K) -> u64 {
        let s = self.next;
        self.next += 1;
        self.order.push_back((s, k));
        if self.order.len() > self.cap + self.cap / 4 + 16 {
            let map = &self.map;
            self.order
                .retain(|(s, k)| map.get(k).is_some_and(|e| e.stamp == *s));
        }
        s
    }

    /// Drops the entry least recently inserted or touched.
    fn evict_one(&mut self) {
        while let Some((s, k)) = self.order.pop_front() {
            if self.map.get(&k).is_some_and(|e| e.stamp == s) {
                self.map.remove(&k);
                self.evicted += 1;
                return;
            }
        }
    }

    /// Inserts or replaces `k`, now. When full, the entry least recently inserted or touched
    /// goes first.
    pub fn insert(&mut self, k: K, v: V, now: Timestamp) {
        if !self.map.contains_key(&k) && self.map.len() >= self.cap {
            self.evict_one();
        }
        let stamp = self.stamp(k);
        self.map.insert(
            k,
            Entry {
                at: now,
                stamp,
                value: v,
            },
        );
    }

    pub fn get(&self, k: &K) -> Option<(Timestamp, &V)> {
        self.map.get(k).map(|e| (e.at, &e.value))
    }

    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.map.get_mut(k).map(|e| &mut e.value)
    }

    /// Marks `k` as used now, so eviction takes other entries first.
    pub fn touch(&mut self, k: &K, now: Timestamp) {
        if !self.map.contains_key(k) {
            return;
        }
        let stamp = self.stamp(*k);
        if let Some(e) = self.map.get_mut(k) {
            e.at = e.at.max(now);
            e.stamp = stamp;
        }
    }

    /// Entries in key order (stable output whatever the hasher's seed).
    pub fn sorted(&self) -> Vec<(&K, &V)> {
        let mut v: Vec<(&K, &V)> = self.map.iter().map(|(k, e)| (k, &e.value)).collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }

    pub fn remove(&mut self, k: &K) -> Option<(Timestamp, V)> {
        // the queue slot goes stale and is skipped or compacted away
        self.map.remove(k).map(|e| (e.at, e.value))
    }

    /// Drops entries older than `ttl_ns` before `now`.
    pub fn expire(&mut self, now: Timestamp, ttl_ns: u64) {
        self.map.retain(|_, e| now.since(e.at) <= ttl_ns);
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
