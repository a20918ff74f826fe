//! Scan and flood tracking. A *scan* is one source reaching many printer hosts or ports (alert
//! 1004); a *flood* is many sources reaching one printer port (alert 1005), the shape of a
//! distributed scan or a spoofed SYN storm. Either turns the per-target alerts it explains into
//! one alert, and both tables are capped: a million sources cannot grow them.

use crate::bounded::BoundedMap;
use crate::event::Timestamp;
use std::net::IpAddr;

/// How many targets (or sources) an alert lists.
pub const LISTED: usize = 16;
/// Sources remembered within a scan window; older ones go first when full.
const SOURCES_CAP: usize = 16_384;
const DESTS_CAP: usize = 4_096;

pub struct ScanConfig {
    pub hosts: usize,
    pub ports: usize,
    pub flood_sources: usize,
    pub window_ns: u64,
    /// How long a scan or flood alert stands for the per-target alerts it explains (the
    /// suppression window: attempts are decided up to a timeout after they were made).
    pub fold_ns: u64,
}

struct BySource {
    start: Timestamp,
    /// Distinct (host, port) targets, up to what the thresholds and the listing need.
    targets: Vec<(IpAddr, u16)>,
    total: u64,
    alerted: bool,
    last_alert: Option<Timestamp>,
}

struct ByDest {
    start: Timestamp,
    sources: Vec<IpAddr>,
    total: u64,
    alerted: bool,
    last_alert: Option<Timestamp>,
}

/// A threshold crossed: what to put in the alert.
pub struct Finding {
    pub listed: Vec<(IpAddr, u16)>,
    pub sources: Vec<IpAddr>,
    pub total: u64,
}

pub struct ScanTracker {
    cfg: ScanConfig,
    by_source: BoundedMap<IpAddr, BySource>,
    by_dest: BoundedMap<(IpAddr, u16), ByDest>,
}

impl ScanTracker {
    pub fn new(cfg: ScanConfig) -> Self {
        ScanTracker {
            cfg,
            by_source: BoundedMap::new(SOURCES_CAP),
            by_dest: BoundedMap::new(DESTS_CAP),
        }
    }

    pub fn sources(&self) -> u64 {
        self.by_source.len() as u64
    }

    pub fn evicted(&self) -> u64 {
        self.by_source.evicted() + self.by_dest.evicted()
    }

    /// A new contact from `src` to `dst:port`. Returns (scan finding, flood finding) when this
    /// contact crosses a threshold for the first time in the window.
    pub fn contact(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        port: u16,
        now: Timestamp,
    ) -> (Option<Finding>, Option<Finding>) {
        (
            self.by_source(src, dst, port, now),
            self.by_dest(src, dst, port, now),
        )
    }

    fn by_source(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        port: u16,
        now: Timestamp,
    ) -> Option<Finding> {
        let (window, hosts, ports) = (self.cfg.window_ns, self.cfg.hosts, self.cfg.ports);
        let keep = hosts.max(ports).max(LISTED) + 1;
        if self.by_source.get(&src).is_none() {
            let fresh = BySource {
                start: now,
                targets: Vec::new(),
                total: 0,
                alerted: false,
                last_alert: None,
            };
            self.by_source.insert(src, fresh, now);
        }
        // A source that keeps contacting printers stays; idle ones are evicted first.
        self.by_source.touch(&src, now);
        let st = self.by_source.get_mut(&src)?;
        if now.since(st.start) > window {
            st.start = now;
            st.targets.clear();
            st.total = 0;
            st.alerted = false;
        }
        if st.targets.contains(&(dst, port)) {
            return None;
        }
        st.total += 1;
        if st.targets.len() < keep {
            st.targets.push((dst, port));
        }
        if st.alerted {
            return None;
        }
        let n_hosts = distinct(&st.targets, |t| t.0);
        let n_ports = distinct(&st.targets, |t| t.1);
        if n_hosts >= hosts || n_ports >= ports {
            st.alerted = true;
            st.last_alert = Some(now);
            return Some(Finding {
                listed: st.targets.iter().take(LISTED).copied().collect(),
                sources: vec![],
                total: st.total,
            });
        }
        None
    }

    fn by_dest(&mut self, src: IpAddr, dst: IpAddr, port: u16, now: Timestamp) -> Option<Finding> {
        let (window, limit) = (self.cfg.window_ns, self.cfg.flood_sources);
        let key = (dst, port);
        if self.by_dest.get(&key).is_none() {
            let fresh = ByDest {
                start: now,
                sources: Vec::new(),
                total: 0,
                alerted: false,
                last_alert: None,
            };
            self.by_dest.insert(key, fresh, now);
        }
        self.by_dest.touch(&key, now);
        let st = self.by_dest.get_mut(&key)?;
        if now.since(st.start) > window {
            st.start = now;
            st.sources.clear();
            st.total = 0;
            st.alerted = false;
        }
        if st.alerted {
            st.total += 1;
            return None;
        }
        if st.sources.contains(&src) {
            return None;
        }
        st.total += 1;
        st.sources.push(src);
        if st.sources.len() >= limit {
            st.alerted = true;
            st.last_alert = Some(now);
            return Some(Finding {
                listed: vec![],
                sources: st.sources.iter().take(LISTED).copied().collect(),
                total: st.total,
            });
        }
        None
    }

    /// Whether a per-target alert for `src -> dst:port` is already explained by a scan or flood
    /// alert of the current window.
    pub fn explains(&self, src: IpAddr, dst: IpAddr, port: u16, now: Timestamp) -> bool {
        let recent = |t: Option<Timestamp>| t.is_some_and(|t| now.since(t) <= self.cfg.fold_ns);
        self.by_source
            .get(&src)
            .is_some_and(|(_, s)| recent(s.last_alert))
            || self
                .by_dest
                .get(&(dst, port))
                .is_some_and(|(_, d)| recent(d.last_alert))
    }
}

/// Distinct values of `key` among `items`, without allocating (the lists are short: the
/// thresholds are capped by the policy).
fn distinct<T, K: PartialEq>(items: &[T], key: impl Fn(&T) -> K) -> usize {
    (0..items.len())
        .filter(|&i| !items[..i].iter().any(|x| key(x) == key(&items[i])))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn tracker() -> ScanTracker {
        ScanTracker::new(ScanConfig {
            hosts: 8,
            ports: 4,
            flood_sources: 64,
            window_ns: 60_000_000_000,
            fold_ns: 3_600_000_000_000,
        })
    }

    #[test]
    fn a_host_sweep_fires_once() {
        let mut t = tracker();
        let src = ip("203.0.113.50");
        let mut fired = 0;
        for i in 0..12 {
            let (scan, flood) =
                t.contact(src, ip(&format!("192.0.2.{}", 100 + i)), 9100, Timestamp(i));
            assert!(flood.is_none());
            if let Some(f) = scan {
                fired += 1;
                assert_eq!(f.listed.len(), 8);
                assert_eq!(i, 7, "fires on the 8th host");
            }
        }
        assert_eq!(fired, 1);
        assert!(t.explains(src, ip("192.0.2.200"), 9100, Timestamp(100)));
        // an attempt decided after the scan window (5 s timeouts, late sweeps) is still
        // explained while the suppression window lasts
        let later = Timestamp(61_000_000_000);
        assert!(t.explains(src, ip("192.0.2.100"), 9100, later));
        assert!(!t.explains(src, ip("192.0.2.100"), 9100, Timestamp(3_700_000_000_000)));
        // a new window starts afresh: the first contact is no scan
        assert!(t.contact(src, ip("192.0.2.100"), 9100, later).0.is_none());
    }

    #[test]
    fn a_port_sweep_fires_on_the_fourth_port() {
        let mut t = tracker();
        let src = ip("203.0.113.50");
        let hits: Vec<bool> = [8610, 8612, 8613, 8614, 9101]
            .iter()
            .map(|&p| {
                t.contact(src, ip("192.0.2.31"), p, Timestamp(1))
                    .0
                    .is_some()
            })
            .collect();
        assert_eq!(hits, [false, false, false, true, false]);
        // repeating a target is not a new contact
        let mut t = tracker();
        for _ in 0..20 {
            assert!(t
                .contact(src, ip("192.0.2.31"), 9100, Timestamp(1))
                .0
                .is_none());
        }
    }

    #[test]
    fn many_sources_to_one_port_is_a_flood_and_memory_stays_capped() {
        let mut t = tracker();
        let dst = ip("192.0.2.30");
        let mut floods = 0;
        for i in 0..200_000u32 {
            let src = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let (scan, flood) = t.contact(src, dst, 9100, Timestamp(u64::from(i)));
            assert!(scan.is_none());
            floods += usize::from(flood.is_some());
        }
        assert_eq!(floods, 1);
        assert!(t.sources() <= SOURCES_CAP as u64);
        assert!(t.evicted() > 0);
        assert!(t.explains(ip("10.9.9.9"), dst, 9100, Timestamp(200_000)));
    }
}
