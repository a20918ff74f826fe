//! A hash map with a hard cap and an age on every entry: the shape of every table that holds
//! attacker-driven state (pending requests, fragment trains, later suppression windows).

use crate::event::Timestamp;
use hashbrown::HashMap;
use std::hash::Hash;

pub struct BoundedMap<K, V> {
    map: HashMap<K, (Timestamp, V)>,
    cap: usize,
    evicted: u64,
}

impl<K: Hash + Eq + Ord + Copy, V> BoundedMap<K, V> {
    pub fn new(cap: usize) -> Self {
        BoundedMap {
            map: HashMap::new(),
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

    /// Inserts or refreshes `k`. When full, the oldest sixteenth goes first (ties broken by key,
    /// so the outcome does not depend on the hasher's seed).
    pub fn insert(&mut self, k: K, v: V, now: Timestamp) {
        if !self.map.contains_key(&k) && self.map.len() >= self.cap {
            let n = (self.map.len() / 16).max(1);
            let mut ages: Vec<(Timestamp, K)> = self.map.iter().map(|(k, e)| (e.0, *k)).collect();
            ages.select_nth_unstable(n - 1);
            let cutoff = ages[n - 1];
            let before = self.map.len();
            self.map.retain(|k, e| (e.0, *k) > cutoff);
            self.evicted += (before - self.map.len()) as u64;
        }
        self.map.insert(k, (now, v));
    }

    pub fn get(&self, k: &K) -> Option<(Timestamp, &V)> {
        self.map.get(k).map(|(t, v)| (*t, v))
    }

    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.map.get_mut(k).map(|(_, v)| v)
    }

    /// Marks `k` as used now, so eviction takes older entries first.
    pub fn touch(&mut self, k: &K, now: Timestamp) {
        if let Some(e) = self.map.get_mut(k) {
            e.0 = e.0.max(now);
        }
    }

    /// Entries in key order (stable output whatever the hasher's seed).
    pub fn sorted(&self) -> Vec<(&K, &V)> {
        let mut v: Vec<(&K, &V)> = self.map.iter().map(|(k, (_, v))| (k, v)).collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }

    pub fn remove(&mut self, k: &K) -> Option<(Timestamp, V)> {
        self.map.remove(k)
    }

    /// Drops entries older than `ttl_ns` before `now`.
    pub fn expire(&mut self, now: Timestamp, ttl_ns: u64) {
        self.map.retain(|_, e| now.since(e.0) <= ttl_ns);
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
        }
        assert!(m.evicted() >= 9_900);
        // the newest survive
        assert!(m.get(&9_999).is_some());
        assert!(m.get(&0).is_none());
        m.expire(Timestamp(10_000), 50);
        assert!(m.len() <= 51);
    }
}
