//! Scan and flood tracking. A *scan* is one source reaching many printer hosts or ports (alert
//! 1004) within the scan window, or within the slow window for one that takes its time (a probe
//! a minute); a *flood* is many sources reaching one printer port (protocol and port) within the
//! scan window (alert 1005), the shape of a distributed scan or a spoofed SYN storm. Each is an
//! episode: it alerts once, and stands for the per-target alerts it explains for as long as the
//! activity goes on, until it has been quiet for the fold window. Both tables are capped: a
//! million sources cannot grow them.

use crate::bounded::BoundedMap;
use crate::net::{Timestamp, L4};
use std::net::IpAddr;

/// How many targets (or sources) an alert lists.
pub const LISTED: usize = 16;
/// Sources remembered; the longest idle go first when full.
const SOURCES_CAP: usize = 16_384;
const DESTS_CAP: usize = 4_096;

pub struct ScanConfig {
    pub hosts: usize,
    pub ports: usize,
    pub flood_sources: usize,
    pub window_ns: u64,
    pub slow_window_ns: u64,
    /// How long an episode stands for the per-target alerts it explains after its last
    /// activity (the suppression window: attempts are decided up to a timeout after they were
    /// made).
    pub fold_ns: u64,
}

struct BySource {
    /// Distinct (host, port) targets with the last time each was contacted, newest last,
    /// at most `keep`.
    targets: Vec<(IpAddr, u16, Timestamp)>,
    /// Distinct new targets since the episode (or the tracking) began.
    total: u64,
    episode: Episode,
}

struct ByDest {
    /// Distinct sources with their last contact, newest last, at most the flood threshold.
    sources: Vec<(IpAddr, Timestamp)>,
    total: u64,
    episode: Episode,
}

/// An alerting episode: when it began (its alert) and when it was last active.
#[derive(Clone, Copy, Default)]
struct Episode {
    started: Option<Timestamp>,
    active: Timestamp,
    /// The flow the episode's alert names.
    flow_id: u64,
}

impl Episode {
    fn explains(&self, now: Timestamp, fold_ns: u64) -> bool {
        self.started.is_some() && now.since(self.active) <= fold_ns
    }

    /// The threshold is crossed at `now`: a new episode (true) or the current one goes on.
    fn crossed(&mut self, now: Timestamp, fold_ns: u64, flow_id: &dyn Fn() -> u64) -> bool {
        let new = !self.explains(now, fold_ns);
        if new {
            self.started = Some(now);
            self.flow_id = flow_id();
        }
        self.active = now;
        new
    }
}

/// A threshold crossed: what to put in the alert.
pub struct Finding {
    pub listed: Vec<(IpAddr, u16)>,
    pub sources: Vec<IpAddr>,
    pub total: u64,
    /// The slow window, not the scan window, saw the threshold crossed.
    pub slow: bool,
}

/// What explains a per-target attempt: the episode's rule and the flow its alert names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Explained {
    Scan(u64),
    Flood(u64),
}

pub struct ScanTracker {
    cfg: ScanConfig,
    by_source: BoundedMap<IpAddr, BySource>,
    by_dest: BoundedMap<(L4, IpAddr, u16), ByDest>,
}

impl ScanTracker {
    /// New thresholds and windows (a policy reload); what is being tracked stays.
    pub fn set_config(&mut self, cfg: ScanConfig) {
        self.cfg = cfg;
    }

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

    /// A new contact from `src` to `dst:port` over `l4`, in the flow `flow_id` (asked for only
    /// when an episode starts). `track` is false while a campaign on the port stands for its
    /// sources and targets: the contact is the campaign's, not counted here. Returns (scan,
    /// flood) findings when this contact starts an episode.
    pub fn contact(
        &mut self,
        l4: L4,
        src: IpAddr,
        (dst, port): (IpAddr, u16),
        now: Timestamp,
        flow_id: &dyn Fn() -> u64,
        track: bool,
    ) -> (Option<Finding>, Option<Finding>) {
        if !track {
            return (None, None);
        }
        (
            self.by_source(src, dst, port, now, flow_id),
            self.by_dest(l4, src, dst, port, now, flow_id),
        )
    }

    fn by_source(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        port: u16,
        now: Timestamp,
        flow_id: &dyn Fn() -> u64,
    ) -> Option<Finding> {
        let c = &self.cfg;
        let keep = c.hosts.max(c.ports).max(LISTED) + 1;
        if self.by_source.get(&src).is_none() {
            let fresh = BySource {
                targets: Vec::new(),
                total: 0,
                episode: Episode::default(),
            };
            self.by_source.insert(src, fresh, now);
        }
        // A source that keeps contacting printers stays; idle ones are evicted first.
        self.by_source.touch(&src, now);
        let st = self.by_source.get_mut(&src)?;
        st.targets.retain(|t| now.since(t.2) <= c.slow_window_ns);
        match st.targets.iter().position(|t| (t.0, t.1) == (dst, port)) {
            Some(i) => {
                // a repeated target is no new contact; it only stays recent
                let t = st.targets.remove(i);
                st.targets.push((t.0, t.1, now));
                if st.episode.explains(now, c.fold_ns) {
                    st.episode.active = now;
                }
                return None;
            }
            None => {
                if st.targets.len() >= keep {
                    st.targets.remove(0);
                }
                st.targets.push((dst, port, now));
                st.total += 1;
            }
        }
        let within = |w: u64| -> (usize, usize) {
            let recent = |t: &(IpAddr, u16, Timestamp)| now.since(t.2) <= w;
            (
                distinct(&st.targets, recent, |t| t.0),
                distinct(&st.targets, recent, |t| t.1),
            )
        };
        let (fast_hosts, fast_ports) = within(c.window_ns);
        let fast = fast_hosts >= c.hosts || fast_ports >= c.ports;
        let slow = !fast && {
            let (h, p) = within(c.slow_window_ns);
            h >= c.hosts || p >= c.ports
        };
        if !(fast || slow) {
            return None;
        }
        if !st.episode.crossed(now, c.fold_ns, flow_id) {
            return None;
        }
        Some(Finding {
            listed: st
                .targets
                .iter()
                .rev()
                .take(LISTED)
                .rev()
                .map(|t| (t.0, t.1))
                .collect(),
            sources: vec![],
            total: st.total,
            slow,
        })
    }

    fn by_dest(
        &mut self,
        l4: L4,
        src: IpAddr,
        dst: IpAddr,
        port: u16,
        now: Timestamp,
        flow_id: &dyn Fn() -> u64,
    ) -> Option<Finding> {
        let (window, limit, fold) = (self.cfg.window_ns, self.cfg.flood_sources, self.cfg.fold_ns);
        let key = (l4, dst, port);
        if self.by_dest.get(&key).is_none() {
            let fresh = ByDest {
                sources: Vec::new(),
                total: 0,
                episode: Episode::default(),
            };
            self.by_dest.insert(key, fresh, now);
        }
        self.by_dest.touch(&key, now);
        let st = self.by_dest.get_mut(&key)?;
        st.sources.retain(|s| now.since(s.1) <= window);
        if let Some(i) = st.sources.iter().position(|s| s.0 == src) {
            st.sources[i].1 = now;
        } else {
            if st.sources.len() >= limit {
                st.sources.remove(0);
            }
            st.sources.push((src, now));
            st.total += 1;
        }
        if st.sources.len() < limit {
            return None;
        }
        if !st.episode.crossed(now, fold, flow_id) {
            return None;
        }
        Some(Finding {
            listed: vec![],
            sources: st.sources.iter().take(LISTED).map(|s| s.0).collect(),
            total: st.total,
            slow: false,
        })
    }

    /// Whether a per-target alert for `src -> dst:port` over `l4` is explained by a scan or
    /// flood episode that is still going on.
    pub fn explains(
        &self,
        l4: L4,
        src: IpAddr,
        (dst, port): (IpAddr, u16),
        now: Timestamp,
    ) -> Option<Explained> {
        let fold = self.cfg.fold_ns;
        if let Some((_, s)) = self.by_source.get(&src) {
            if s.episode.explains(now, fold) {
                return Some(Explained::Scan(s.episode.flow_id));
            }
        }
        match self.by_dest.get(&(l4, dst, port)) {
            Some((_, d)) if d.episode.explains(now, fold) => {
                Some(Explained::Flood(d.episode.flow_id))
            }
            _ => None,
        }
    }
}

/// Distinct values of `key` among the `items` that pass `keep`, without allocating (the lists
/// are short: the thresholds are capped by the policy).
fn distinct<T, K: PartialEq>(
    items: &[T],
    keep: impl Fn(&T) -> bool,
    key: impl Fn(&T) -> K,
) -> usize {
    (0..items.len())
        .filter(|&i| {
            keep(&items[i])
                && !items[..i]
                    .iter()
                    .any(|x| keep(x) && key(x) == key(&items[i]))
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const SEC: u64 = 1_000_000_000;

    fn tracker() -> ScanTracker {
        ScanTracker::new(ScanConfig {
            hosts: 8,
            ports: 4,
            flood_sources: 64,
            window_ns: 60 * SEC,
            slow_window_ns: 3600 * SEC,
            fold_ns: 3600 * SEC,
        })
    }

    fn contact(t: &mut ScanTracker, src: IpAddr, dst: &str, port: u16, ts: u64) -> (bool, bool) {
        let (s, f) = t.contact(L4::Tcp, src, (ip(dst), port), Timestamp(ts), &|| ts, true);
        (s.is_some(), f.is_some())
    }

    #[test]
    fn a_host_sweep_fires_once() {
        let mut t = tracker();
        let src = ip("203.0.113.50");
        let mut fired = 0;
        for i in 0..12 {
            let (scan, flood) = t.contact(
                L4::Tcp,
                src,
                (ip(&format!("192.0.2.{}", 100 + i)), 9100),
                Timestamp(i),
                &|| 77,
                true,
            );
            assert!(flood.is_none());
            if let Some(f) = scan {
                fired += 1;
                assert_eq!(f.listed.len(), 8);
                assert!(!f.slow);
                assert_eq!(i, 7, "fires on the 8th host");
            }
        }
        assert_eq!(fired, 1);
        let any = |t: &ScanTracker, dst: &str, ts: u64| {
            t.explains(L4::Tcp, src, (ip(dst), 9100), Timestamp(ts))
        };
        assert_eq!(any(&t, "192.0.2.200", 100), Some(Explained::Scan(77)));
        // an attempt decided after the scan window (5 s timeouts, late sweeps) is still
        // explained while the fold window lasts
        assert!(any(&t, "192.0.2.100", 61 * SEC).is_some());
        assert!(any(&t, "192.0.2.100", 3700 * SEC).is_none());
    }

    #[test]
    fn a_port_sweep_fires_on_the_fourth_port() {
        let mut t = tracker();
        let src = ip("203.0.113.50");
        let hits: Vec<bool> = [8610, 8612, 8613, 8614, 9101]
            .iter()
            .map(|&p| contact(&mut t, src, "192.0.2.31", p, 1).0)
            .collect();
        assert_eq!(hits, [false, false, false, true, false]);
        // repeating a target is not a new contact
        let mut t = tracker();
        for _ in 0..20 {
            assert!(!contact(&mut t, src, "192.0.2.31", 9100, 1).0);
        }
    }

    #[test]
    fn a_slow_scan_is_one_episode_for_a_day() {
        // one probe a minute to the next host of a /24, for a day
        let mut t = tracker();
        let src = ip("198.51.100.77");
        let mut fired = vec![];
        for m in 0..1440u64 {
            let dst = format!("192.0.2.{}", 1 + m % 254);
            if contact(&mut t, src, &dst, 9100, m * 60 * SEC).0 {
                fired.push(m);
            }
            // every attempt after the first alert is explained
            if m >= 7 {
                assert!(t
                    .explains(
                        L4::Tcp,
                        src,
                        (ip(&dst), 9100),
                        Timestamp(m * 60 * SEC + 5 * SEC)
                    )
                    .is_some());
            }
        }
        assert_eq!(fired, [7], "the 8th probe, within the slow window, once");
    }

    #[test]
    fn many_sources_to_one_port_is_a_flood_per_protocol_and_memory_stays_capped() {
        let mut t = tracker();
        let dst = ip("192.0.2.30");
        let mut floods = 0;
        for i in 0..200_000u32 {
            let src = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let (scan, flood) = t.contact(
                L4::Tcp,
                src,
                (dst, 9100),
                Timestamp(u64::from(i)),
                &|| 5,
                true,
            );
            assert!(scan.is_none());
            floods += usize::from(flood.is_some());
        }
        assert_eq!(floods, 1);
        assert!(t.sources() <= SOURCES_CAP as u64);
        assert!(t.evicted() > 0);
        assert_eq!(
            t.explains(L4::Tcp, ip("10.9.9.9"), (dst, 9100), Timestamp(200_000)),
            Some(Explained::Flood(5))
        );
        // the same port over UDP is another service: not explained
        assert_eq!(
            t.explains(L4::Udp, ip("10.9.9.9"), (dst, 9100), Timestamp(200_000)),
            None
        );
    }

    #[test]
    fn what_a_campaign_stands_for_is_not_tracked() {
        let mut t = tracker();
        for i in 0..100u32 {
            let src = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            for h in 0..10u8 {
                let (s, _) = t.contact(
                    L4::Tcp,
                    src,
                    (ip(&format!("192.0.2.{h}")), 9100),
                    Timestamp(1),
                    &|| 1,
                    false,
                );
                assert!(s.is_none());
            }
        }
        assert_eq!(t.sources(), 0);
    }
}
