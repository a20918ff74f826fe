//! Suppression windows: one alert per rule and key per window, counted when held back.

use super::rules::Rule;
use crate::bounded::BoundedMap;
use crate::net::Timestamp;
use std::net::IpAddr;

const SUPPRESS_CAP: usize = 65_536;

/// (rule, variant, source, destination, port). The variant separates alerts of one rule that
/// must not suppress each other (1001's outcomes).
type Key = (Rule, u8, IpAddr, IpAddr, u16);

pub struct Suppressor {
    seen: BoundedMap<Key, ()>,
    window_ns: u64,
    /// Alerts held back because the same key fired within the window.
    pub suppressed: u64,
}

impl Suppressor {
    pub fn new(window_ns: u64) -> Self {
        Suppressor {
            seen: BoundedMap::new(SUPPRESS_CAP),
            window_ns,
            suppressed: 0,
        }
    }

    pub fn evicted(&self) -> u64 {
        self.seen.evicted()
    }

    /// Whether an alert for `key` may be written now; if so the window starts again.
    pub fn admit(
        &mut self,
        rule: Rule,
        variant: u8,
        key: (IpAddr, IpAddr, u16),
        now: Timestamp,
    ) -> bool {
        let key = (rule, variant, key.0, key.1, key.2);
        if let Some((first, _)) = self.seen.get(&key) {
            if now.since(first) < self.window_ns {
                self.suppressed += 1;
                return false;
            }
        }
        self.seen.insert(key, (), now);
        true
    }
}
