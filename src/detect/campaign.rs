//! Campaigns: many sources failing to reach one printer port (protocol and port) across the
//! network, the shape of internet background noise and distributed scans. Before a campaign,
//! each port counts contacts and a few distinct sources per window; once enough sources made
//! enough contacts, a campaign starts (alert 1006) and, while it lasts, every failed attempt on
//! the port is counted into it in fixed memory: distinct sources and targets (HyperLogLog), the
//! heaviest sources and target networks (Space-Saving), the outcomes. One `campaign` record a
//! window, one when it ends (a whole window without a contact, or the end of input).

use super::sketch::{network, Batched, Distinct};
use crate::bounded::BoundedMap;
use crate::event::{Campaign, CampaignOutcomes, CampaignPhase, Outcome, TopNetworks};
use crate::net::{Timestamp, L4};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Ports tracked before a campaign (one entry per monitored port and transport that saw a
/// contact in the window).
const PENDING_CAP: usize = 1024;
/// Campaigns at once: one per monitored port and transport at most; a policy that monitors
/// more ports than this gets no further campaigns until one ends (counted).
const ACTIVE_CAP: usize = 64;
/// Entries in each top list of a record.
const LISTED: usize = 16;

#[derive(Clone, Copy, Debug)]
pub struct CampaignConfig {
    /// Distinct sources, or distinct targets, within a window that make a campaign ...
    pub sources: usize,
    /// ... with at least this many contacts.
    pub contacts: u64,
    pub window_ns: u64,
}

/// A port before a campaign: contacts, distinct sources and targets in the current window.
struct Pending {
    start: Timestamp,
    contacts: u64,
    sources: Vec<IpAddr>,
    targets: Vec<IpAddr>,
}

struct Active {
    id: u64,
    /// The flow the 1006 alert names.
    alert_flow: u64,
    first_seen: Timestamp,
    last_seen: Timestamp,
    window_start: Timestamp,
    attempts: u64,
    window_attempts: u64,
    outcomes: CampaignOutcomes,
    flows_folded: u64,
    messages_folded: u64,
    sources: Distinct,
    targets: Distinct,
    top_sources: Batched<IpAddr>,
    v4_24: Batched<(u128, u8)>,
    v4_16: Batched<(u128, u8)>,
    v6_64: Batched<(u128, u8)>,
    v6_48: Batched<(u128, u8)>,
}

/// A campaign that starts now: what its alert says.
pub struct Started {
    pub id: u64,
    pub contacts: u64,
    /// The distinct sources and targets seen before it started (at most the threshold).
    pub sources: Vec<IpAddr>,
    pub targets: Vec<IpAddr>,
}

pub struct Campaigns {
    cfg: CampaignConfig,
    pending: BoundedMap<(L4, u16), Pending>,
    active: BTreeMap<(L4, u16), Box<Active>>,
    /// Campaigns that could not start because `ACTIVE_CAP` were running.
    pub refused: u64,
}

impl Campaigns {
    /// New thresholds and window (a policy reload); campaigns running go on.
    pub fn set_config(&mut self, cfg: CampaignConfig) {
        self.cfg = cfg;
    }

    pub fn new(cfg: CampaignConfig) -> Self {
        Campaigns {
            cfg,
            pending: BoundedMap::new(PENDING_CAP),
            active: BTreeMap::new(),
            refused: 0,
        }
    }

    /// Ports dropped from the table of ports before a campaign, and campaigns that could not
    /// start because `ACTIVE_CAP` were running.
    pub fn evicted(&self) -> u64 {
        self.pending.evicted() + self.refused
    }

    /// The campaign on a port: (id, the flow its alert names).
    pub fn active(&self, l4: L4, port: u16) -> Option<(u64, u64)> {
        self.active.get(&(l4, port)).map(|a| (a.id, a.alert_flow))
    }

    /// A contact from `src` to `dst` on `l4/port` (from a client the policy does not allow).
    /// Returns what to say when a campaign starts with it: enough contacts from many sources (a
    /// distributed scan, a spoofed flood) or to many targets (one source sweeping a network).
    pub fn contact(
        &mut self,
        l4: L4,
        port: u16,
        (src, dst): (IpAddr, IpAddr),
        now: Timestamp,
        flow_id: &dyn Fn() -> u64,
    ) -> Option<Started> {
        let key = (l4, port);
        if let Some(a) = self.active.get_mut(&key) {
            a.last_seen = a.last_seen.max(now);
            return None;
        }
        let cfg = self.cfg;
        if self.pending.get(&key).is_none() {
            let fresh = Pending {
                start: now,
                contacts: 0,
                sources: Vec::new(),
                targets: Vec::new(),
            };
            self.pending.insert(key, fresh, now);
        }
        self.pending.touch(&key, now);
        let p = self.pending.get_mut(&key)?;
        if now.since(p.start) > cfg.window_ns {
            p.start = now;
            p.contacts = 0;
            p.sources.clear();
            p.targets.clear();
        }
        p.contacts += 1;
        if p.sources.len() < cfg.sources && !p.sources.contains(&src) {
            p.sources.push(src);
        }
        if p.targets.len() < cfg.sources && !p.targets.contains(&dst) {
            p.targets.push(dst);
        }
        let wide = p.sources.len() >= cfg.sources || p.targets.len() >= cfg.sources;
        if p.contacts < cfg.contacts || !wide {
            return None;
        }
        if self.active.len() >= ACTIVE_CAP {
            self.refused += 1;
            return None;
        }
        let p = self.pending.remove(&key)?.1;
        let id = campaign_id(l4, port, p.start);
        self.active.insert(
            key,
            Box::new(Active {
                id,
                alert_flow: flow_id(),
                first_seen: p.start,
                last_seen: now,
                window_start: now,
                attempts: 0,
                window_attempts: 0,
                outcomes: CampaignOutcomes::default(),
                flows_folded: 0,
                messages_folded: 0,
                sources: Distinct::default(),
                targets: Distinct::default(),
                top_sources: Batched::default(),
                v4_24: Batched::default(),
                v4_16: Batched::default(),
                v6_64: Batched::default(),
                v6_48: Batched::default(),
            }),
        );
        Some(Started {
            id,
            contacts: p.contacts,
            sources: p.sources,
            targets: p.targets,
        })
    }

    /// An attempt on a port decided: a failed one is counted into the campaign (its id and the
    /// flow its alert names are returned); an answered one only counted.
    pub fn outcome(
        &mut self,
        l4: L4,
        port: u16,
        (src, dst): (IpAddr, IpAddr),
        outcome: Outcome,
    ) -> Option<(u64, u64)> {
        let a = self.active.get_mut(&(l4, port))?;
        match outcome {
            Outcome::Established => {
                a.outcomes.established += 1;
                return None;
            }
            // the printer answered a SYN whose sender never completed the handshake: what a
            // spoofed flood against a live port looks like, and no connection
            Outcome::HalfOpen => a.outcomes.half_open += 1,
            Outcome::Attempted => a.outcomes.attempted += 1,
            Outcome::Refused => a.outcomes.refused += 1,
        }
        a.attempts += 1;
        a.window_attempts += 1;
        a.sources.insert(src);
        a.targets.insert(dst);
        a.top_sources.insert(src, 1);
        if dst.is_ipv4() {
            a.v4_24.insert(network(dst, 24), 1);
            a.v4_16.insert(network(dst, 16), 1);
        } else {
            a.v6_64.insert(network(dst, 64), 1);
            a.v6_48.insert(network(dst, 48), 1);
        }
        Some((a.id, a.alert_flow))
    }

    /// A well-formed recon request on a port with a campaign: counted there instead of written
    /// (false: no campaign, write it).
    pub fn fold_message(&mut self, l4: L4, port: u16) -> bool {
        match self.active.get_mut(&(l4, port)) {
            Some(a) => {
                a.messages_folded += 1;
                true
            }
            None => false,
        }
    }

    /// A flow the campaign `id` counted ends: its `flow` record is counted instead of written.
    /// False when that campaign is over (the record is written then).
    pub fn fold_flow(&mut self, l4: L4, port: u16, id: u64) -> bool {
        match self.active.get_mut(&(l4, port)) {
            Some(a) if a.id == id => {
                a.flows_folded += 1;
                true
            }
            _ => false,
        }
    }

    /// Time passes: campaigns quiet for a whole window end; the others report each window
    /// that closed.
    pub fn tick(&mut self, now: Timestamp, out: &mut Vec<Campaign>) {
        let window = self.cfg.window_ns;
        let ended: Vec<(L4, u16)> = self
            .active
            .iter()
            .filter(|(_, a)| now.since(a.last_seen) > window)
            .map(|(k, _)| *k)
            .collect();
        for key in ended {
            if let Some(a) = self.active.remove(&key) {
                out.push(record(key, &a, CampaignPhase::End));
            }
        }
        for (key, a) in self.active.iter_mut() {
            if now.since(a.window_start) >= window {
                out.push(record(*key, a, CampaignPhase::Update));
                a.window_start =
                    Timestamp(a.window_start.0 + now.since(a.window_start) / window * window);
                a.window_attempts = 0;
            }
        }
    }

    /// The input ended: every campaign's totals.
    pub fn finish(&mut self, out: &mut Vec<Campaign>) {
        for (key, a) in std::mem::take(&mut self.active) {
            out.push(record(key, &a, CampaignPhase::End));
        }
    }
}

fn record((l4, port): (L4, u16), a: &Active, phase: CampaignPhase) -> Campaign {
    Campaign {
        id: a.id,
        phase,
        proto: l4,
        port,
        first_seen: a.first_seen,
        last_seen: a.last_seen,
        attempts: a.attempts,
        window_attempts: a.window_attempts,
        outcomes: a.outcomes,
        flows_folded: a.flows_folded,
        messages_folded: a.messages_folded,
        sources: a.sources.estimate(),
        targets: a.targets.estimate(),
        top_sources: a.top_sources.sketch().top_addresses(LISTED),
        top_targets: TopNetworks {
            v4_24: a.v4_24.sketch().top_networks(LISTED),
            v4_16: a.v4_16.sketch().top_networks(LISTED),
            v6_64: a.v6_64.sketch().top_networks(LISTED),
            v6_48: a.v6_48.sketch().top_networks(LISTED),
        },
    }
}

/// A stable 53-bit id (JSON-safe), like flow ids: the same capture gives the same ids.
fn campaign_id(l4: L4, port: u16, start: Timestamp) -> u64 {
    let mut z = start.0 ^ (u64::from(port) << 8) ^ u64::from(l4.ip_number()) ^ 0x6361_6d70;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z & ((1 << 53) - 1)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const SEC: u64 = 1_000_000_000;

    fn campaigns() -> Campaigns {
        Campaigns::new(CampaignConfig {
            sources: 32,
            contacts: 128,
            window_ns: 60 * SEC,
        })
    }

    fn src(i: u32) -> IpAddr {
        IpAddr::from(Ipv4Addr::from(0xc633_6400 + i))
    }

    #[test]
    fn campaigns_beyond_the_cap_are_counted_not_started() {
        let mut c = campaigns();
        let mut started = 0;
        for port in 1..=(ACTIVE_CAP as u16 + 3) {
            for i in 0..128u32 {
                let pair = (src(i), src(1000));
                started += usize::from(
                    c.contact(L4::Tcp, port, pair, Timestamp(u64::from(i)), &|| 1)
                        .is_some(),
                );
            }
        }
        assert_eq!(started, ACTIVE_CAP);
        assert_eq!(c.evicted(), 3);
    }

    #[test]
    fn many_sources_start_one_campaign_that_counts_and_ends() {
        let mut c = campaigns();
        let dst = |i: u32| IpAddr::from(Ipv4Addr::from(0x0a01_0000 + i));
        let mut started = vec![];
        for i in 0..10_000u32 {
            let pair = (src(i % 500), dst(7));
            if let Some(s) = c.contact(
                L4::Tcp,
                9100,
                pair,
                Timestamp(u64::from(i) * 1_000_000),
                &|| 7,
            ) {
                started.push((i, s.sources.len()));
            }
        }
        assert_eq!(started, [(127, 32)], "the 128th contact from 32 sources");
        // one source to one target never makes a campaign, however many contacts ...
        for i in 0..1_000u32 {
            assert!(c
                .contact(
                    L4::Udp,
                    8611,
                    (src(1), dst(1)),
                    Timestamp(u64::from(i)),
                    &|| 1
                )
                .is_none());
        }
        // ... one source sweeping many targets does
        let sweep = (0..1_000u32).position(|i| {
            c.contact(
                L4::Udp,
                8612,
                (src(1), dst(i)),
                Timestamp(u64::from(i)),
                &|| 1,
            )
            .is_some()
        });
        assert_eq!(sweep, Some(127));
        for i in 0..10_000u32 {
            let o = if i % 20 == 0 {
                Outcome::Refused
            } else {
                Outcome::Attempted
            };
            assert!(c
                .outcome(L4::Tcp, 9100, (src(i % 500), dst(i)), o)
                .is_some());
        }
        assert!(c
            .outcome(L4::Tcp, 9100, (src(1), dst(1)), Outcome::Established)
            .is_none());
        assert!(
            c.outcome(L4::Tcp, 9101, (src(1), dst(1)), Outcome::Attempted)
                .is_none(),
            "another port"
        );
        let (id, _) = c.active(L4::Tcp, 9100).unwrap();
        assert!(c.fold_flow(L4::Tcp, 9100, id));
        let mut out = vec![];
        c.tick(Timestamp(61 * SEC), &mut out);
        out.retain(|r| r.port == 9100);
        assert_eq!(out.len(), 1, "one update a window");
        assert_eq!(out[0].phase, CampaignPhase::Update);
        c.tick(Timestamp(200 * SEC), &mut out);
        out.retain(|r| r.port == 9100);
        let end = &out[1];
        assert_eq!(end.phase, CampaignPhase::End);
        assert_eq!(
            (end.attempts, end.outcomes.refused, end.outcomes.established),
            (10_000, 500, 1)
        );
        assert_eq!(end.flows_folded, 1);
        let s = end.sources.estimate as f64;
        assert!((s - 500.0).abs() < 500.0 * 0.05, "{:?}", end.sources);
        assert!((end.targets.estimate as f64 - 10_000.0).abs() < 10_000.0 * 0.05);
        assert_eq!(end.top_targets.v4_16[0].network, "10.1.0.0/16");
        assert_eq!(end.top_targets.v4_16[0].count, 10_000);
        // 500 sources of 20 contacts each: none stands out for certain, so none is named
        assert_eq!(end.top_sources, []);
        assert!(c.active(L4::Tcp, 9100).is_none());
        assert!(
            !c.fold_flow(L4::Tcp, 9100, id),
            "over: the flow record is written"
        );
    }
}
