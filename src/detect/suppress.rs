//! Suppression windows: one alert per rule and key per window, counted when held back, and
//! remembering which flow the standing alert names. Episode rules (scans, floods, campaigns)
//! slide: every suppressed repeat extends the window, so an activity that never pauses for a
//! whole window alerts once.

use super::rules::Rule;
use crate::bounded::BoundedMap;
use crate::flow::address_number;
use crate::net::{Timestamp, L4};
use std::net::IpAddr;

const SUPPRESS_CAP: usize = 65_536;

/// What one standing alert stands for within its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub rule: Rule,
    /// Separates alerts of one rule that must not suppress each other (1001's outcomes,
    /// 1102's anomalies).
    pub variant: u32,
    /// Separates a TCP service from the UDP one on the same port (`None`: a rule about a
    /// source across every transport).
    pub l4: Option<L4>,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub port: u16,
}

/// Three words instead of a dozen field by field: every alert about to be decided is looked
/// up, most of them to be suppressed. (An IPv4 address and its IPv6-mapped form hash alike
/// and still differ as keys.)
impl std::hash::Hash for Key {
    // the flow key's mapping: an IPv4 address as its IPv6-mapped number
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let l4 = match self.l4 {
            None => 0u64,
            Some(l4) => 1 + l4 as u64,
        };
        // a rule is its signature id (four digits): the word holds every small field whole
        h.write_u64(
            u64::from(self.variant)
                | l4 << 32
                | u64::from(self.port) << 34
                | u64::from(self.rule.info().sid) << 50,
        );
        h.write_u128(address_number(self.src));
        h.write_u128(address_number(self.dst));
    }
}

pub struct Suppressor {
    /// The flow the standing alert names.
    seen: BoundedMap<Key, u64>,
    window_ns: u64,
    /// Alerts held back because the same key fired within the window.
    pub suppressed: u64,
}

impl Suppressor {
    /// A new window (a policy reload); keys already held keep their time.
    pub fn set_window(&mut self, window_ns: u64) {
        self.window_ns = window_ns;
    }

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

    /// Whether an alert for `key`, naming `flow_id`, may be written now; if not, the flow the
    /// standing alert names. `sliding`: a suppressed repeat extends the window.
    pub fn admit(
        &mut self,
        key: Key,
        now: Timestamp,
        flow_id: u64,
        sliding: bool,
    ) -> Result<(), u64> {
        if let Some((since, &by)) = self.seen.get(&key) {
            if now.since(since) < self.window_ns {
                self.suppressed += 1;
                if sliding {
                    self.seen.touch(&key, now);
                }
                return Err(by);
            }
        }
        self.seen.insert(key, flow_id, now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_fixed_and_sliding() {
        let sec = 1_000_000_000;
        let ip: IpAddr = "192.0.2.5".parse().unwrap();
        let key = |port| Key {
            rule: Rule::UnexpectedClient,
            variant: 1,
            l4: Some(L4::Tcp),
            src: ip,
            dst: ip,
            port,
        };
        let mut s = Suppressor::new(10 * sec);
        assert_eq!(s.admit(key(1), Timestamp(0), 7, false), Ok(()));
        assert_eq!(s.admit(key(1), Timestamp(5 * sec), 8, false), Err(7));
        assert_eq!(s.admit(key(1), Timestamp(11 * sec), 9, false), Ok(()));
        assert_eq!(s.admit(key(2), Timestamp(11 * sec), 9, false), Ok(()));
        // sliding: repeats every 6 s keep the one alert standing
        let mut s = Suppressor::new(10 * sec);
        assert_eq!(s.admit(key(1), Timestamp(0), 1, true), Ok(()));
        for t in 1..20 {
            assert_eq!(s.admit(key(1), Timestamp(t * 6 * sec), 2, true), Err(1));
        }
        assert_eq!(s.suppressed, 19);
    }
}
