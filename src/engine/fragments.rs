//! IP fragments of monitored datagrams: a first fragment (the one with the ports) opens a train,
//! so its later fragments, which carry no ports, can be counted as monitored traffic. Capped and
//! aged like every table fed from the wire.

use crate::bounded::BoundedMap;
use crate::decode::Fragment;
use crate::net::Timestamp;
use std::net::IpAddr;

const FRAGMENT_TTL_NS: u64 = 60 * 1_000_000_000;

type Key = (IpAddr, IpAddr, u32, u8);

pub struct Fragments {
    trains: BoundedMap<Key, ()>,
}

fn key(f: &Fragment) -> Key {
    (f.src, f.dst, f.id, f.proto)
}

impl Fragments {
    pub fn new(cap: usize) -> Self {
        Fragments {
            trains: BoundedMap::new(cap),
        }
    }

    /// A first fragment: true when it opens a new train (reported once per datagram).
    pub fn open(&mut self, f: &Fragment, now: Timestamp) -> bool {
        let k = key(f);
        if self.trains.get(&k).is_some() {
            return false;
        }
        self.trains.insert(k, (), now);
        true
    }

    /// A later fragment belongs to a monitored datagram.
    pub fn follows(&self, f: &Fragment) -> bool {
        self.trains.get(&key(f)).is_some()
    }

    pub fn expire(&mut self, now: Timestamp) {
        self.trains.expire(now, FRAGMENT_TTL_NS);
    }

    pub fn len(&self) -> usize {
        self.trains.len()
    }

    pub fn evicted(&self) -> u64 {
        self.trains.evicted()
    }
}
