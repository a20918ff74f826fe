use super::{Dir, FlowKey, TcpTrack};
use crate::decode::{Packet, Tcp, Vlans};
use crate::event::{ConnState, EndReason, FlowTableStats};
use crate::net::{Timestamp, L4};
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::net::IpAddr;

/// Limits and idle timeouts (seconds of packet time on replay, wall time live). The defaults
/// are Zeek's: an unanswered SYN is decided S0 after 5 s, a closed connection lingers 5 s for
/// stray packets, an established one lives 5 min idle, UDP 1 min.
#[derive(Clone, Debug)]
pub struct FlowConfig {
    pub max_flows: usize,
    pub udp_timeout: u64,
    pub tcp_timeout: u64,
    pub tcp_attempt_timeout: u64,
    pub tcp_closed_timeout: u64,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 65_536,
            udp_timeout: 60,
            tcp_timeout: 300,
            tcp_attempt_timeout: 5,
            tcp_closed_timeout: 5,
        }
    }
}

/// The facts of one connection, whatever its application.
#[derive(Clone)]
pub struct Conn {
    /// The flow id, worked out when first asked for (a flow a campaign counts never is).
    id: std::cell::Cell<u64>,
    pub l4: L4,
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    pub vlan: Vlans,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    /// Indexed by `Dir`.
    pub pkts: [u64; 2],
    pub bytes: [u64; 2],
    /// Flags each side sent and the history letters (Zeek's conn_state/history).
    pub track: TcpTrack,
    /// The sequence number of the first SYN from each side (indexed by `Dir`): where stream
    /// reassembly starts once a flow carries data.
    pub isn: [Option<u32>; 2],
    /// What the link layer said of the first packet to the server: addressed to a group
    /// (broadcast or multicast) or not; `None` when it says nothing.
    pub to_group: Option<bool>,
}

impl Conn {
    /// A connection first seen at `ts`, nothing counted yet.
    pub fn new(
        l4: L4,
        client: (IpAddr, u16),
        server: (IpAddr, u16),
        vlan: Vlans,
        ts: Timestamp,
    ) -> Self {
        Conn {
            id: std::cell::Cell::new(0),
            l4,
            client,
            server,
            vlan,
            first_ts: ts,
            last_ts: ts,
            pkts: [0; 2],
            bytes: [0; 2],
            track: TcpTrack::default(),
            isn: [None; 2],
            to_group: None,
        }
    }

    /// A stable 53-bit id for records: a fixed hash of the key and the first packet's time,
    /// so replaying a capture gives the same ids.
    pub fn id(&self) -> u64 {
        if self.id.get() == 0 {
            let key = FlowKey::new(
                self.l4,
                self.client.0,
                self.client.1,
                self.server.0,
                self.server.1,
                self.vlan,
            );
            self.id.set(key.flow_id(self.first_ts.0));
        }
        self.id.get()
    }

    /// The server is a broadcast or multicast address: what the link layer said, else the IP
    /// address alone (an IPv4 address ending in .255 is taken for a subnet-directed broadcast:
    /// the mask is not on the wire, and clients broadcast discovery exactly so).
    pub fn to_group(&self) -> bool {
        let ip_group = match self.server.0 {
            IpAddr::V4(a) => a.is_broadcast() || a.is_multicast(),
            IpAddr::V6(a) => a.is_multicast(),
        };
        ip_group
            || self.to_group.unwrap_or(match self.server.0 {
                IpAddr::V4(a) => a.octets()[3] == 255,
                IpAddr::V6(_) => false,
            })
    }

    /// Zeek's conn_state for this flow now.
    pub fn conn_state(&self) -> ConnState {
        match self.l4 {
            L4::Tcp => self.track.conn_state(),
            L4::Udp => self.track.udp_state(),
        }
    }

    /// The server has answered (SYN-ACK, or any packet back).
    pub fn answered(&self) -> bool {
        self.track.resp.any
    }

    /// Idle limit and the reason to give when it passes.
    fn idle_limit(&self, cfg: &FlowConfig) -> (u64, EndReason) {
        match self.l4 {
            L4::Udp => (cfg.udp_timeout, EndReason::Timeout),
            L4::Tcp if self.track.closed() => (cfg.tcp_closed_timeout, EndReason::Closed),
            L4::Tcp if !self.track.resp.any => (cfg.tcp_attempt_timeout, EndReason::Timeout),
            L4::Tcp => (cfg.tcp_timeout, EndReason::Timeout),
        }
    }

    pub fn dir_of(&self, p: &Packet<'_>) -> Dir {
        if (p.src, p.src_port) == self.client {
            Dir::ToServer
        } else {
            Dir::ToClient
        }
    }

    /// Counts one packet of this flow (`wire_len` bytes on the wire): counters, Zeek flags and
    /// the side's ISN. Returns its direction.
    pub fn update(&mut self, p: &Packet<'_>, wire_len: u32) -> Dir {
        let dir = self.dir_of(p);
        let di = dir.index();
        self.pkts[di] += 1;
        self.bytes[di] += u64::from(wire_len);
        self.track
            .update(p.l4, p.tcp, !p.payload.is_empty(), dir == Dir::ToServer);
        if p.l4 == L4::Tcp && p.tcp.has(Tcp::SYN) {
            // A retransmitted SYN changes nothing: the first one stands.
            self.isn[di].get_or_insert(p.tcp.seq);
        }
        if dir == Dir::ToServer && self.to_group.is_none() {
            self.to_group = p.link_group;
        }
        dir
    }
}

/// A SYN (without ACK) from the client of a closed TCP connection, at another sequence number
/// than its first: Zeek's rule for a new connection on reused ports.
fn is_new_connection(conn: &Conn, p: &Packet<'_>) -> bool {
    p.l4 == L4::Tcp
        && p.tcp.has(Tcp::SYN)
        && !p.tcp.has(Tcp::ACK)
        && conn.track.closed()
        && (p.src, p.src_port) == conn.client
        && conn.isn[0] != Some(p.tcp.seq)
}

/// A connection and what the engine keeps with it.
pub struct Flow<T> {
    pub conn: Conn,
    pub ext: T,
    /// Where the flow lies in the table: unique among live flows, reused after it ends.
    pub slot: u32,
}

/// The flows, in a slab behind a compact index. The index holds only 4-byte slab positions (a
/// 65 536-flow table's index is half a megabyte and stays in cache), so a lookup costs one
/// probe of the index and one visit to the flow itself; the slab never moves or grows past
/// the cap, and rebuilding the index after churn copies 4 bytes a flow, not the flows.
pub struct FlowTable<T> {
    cfg: FlowConfig,
    // Keys come off the wire: the hasher is seeded per process (foldhash), so an attacker
    // cannot aim every flow at one bucket.
    hasher: hashbrown::DefaultHashBuilder,
    index: HashTable<u32>,
    slab: Vec<Option<Slot<T>>>,
    /// Per slab position, what sweeps and evictions read: scanning these 24 bytes a flow
    /// instead of the flows themselves keeps a sweep of a full table in cache.
    times: Vec<Times>,
    /// Free slab positions.
    free: Vec<u32>,
    /// The position the last upsert returned: its packet may have changed its deadline, which
    /// is read again before the next look at the table's times.
    last: Option<u32>,
    stats: FlowTableStats,
}

struct Slot<T> {
    key: FlowKey,
    /// The key's hash, kept so ending a flow and resizing the index never hash again.
    hash: u64,
    flow: Flow<T>,
}

/// When a flow was last seen and when it goes idle. A free position has `last` at the end of
/// time. Ties are broken by slab position, which depends only on the order of the input, never
/// on the hasher's seed.
#[derive(Clone, Copy)]
struct Times {
    last: Timestamp,
    idle_at: Timestamp,
}

const FREE: Times = Times {
    last: Timestamp(u64::MAX),
    idle_at: Timestamp(u64::MAX),
};

impl<T> FlowTable<T> {
    pub fn new(cfg: FlowConfig) -> Self {
        let cap = cfg.max_flows.clamp(1, 1 << 24);
        FlowTable {
            hasher: hashbrown::DefaultHashBuilder::default(),
            index: HashTable::with_capacity(cap),
            // Reserved once for the cap; pages are touched only as flows arrive.
            slab: Vec::with_capacity(cap),
            times: Vec::with_capacity(cap),
            free: Vec::new(),
            last: None,
            cfg: FlowConfig {
                max_flows: cap,
                ..cfg
            },
            stats: FlowTableStats::default(),
        }
    }

    pub fn stats(&self) -> FlowTableStats {
        FlowTableStats {
            active: self.index.len() as u64,
            ..self.stats
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn hash(&self, key: &FlowKey) -> u64 {
        self.hasher.hash_one(key)
    }

    fn find(&self, hash: u64, key: &FlowKey) -> Option<u32> {
        let slab = &self.slab;
        self.index
            .find(hash, |&i| {
                slab[i as usize].as_ref().is_some_and(|s| s.key == *key)
            })
            .copied()
    }

    /// The live flow with this key, if any; never creates one. Its deadline is read again
    /// before the next look at the table's times, as after an upsert.
    pub fn find_mut(&mut self, key: &FlowKey) -> Option<&mut Flow<T>> {
        self.refresh();
        let at = self.find(self.hash(key), key)?;
        self.last = Some(at);
        self.slab[at as usize].as_mut().map(|s| &mut s.flow)
    }

    /// Finds or creates the flow of `p`. A new flow asks `new` whether the packet's source is
    /// the client and what to keep with the flow. At the cap, the longest-idle flows are
    /// evicted first: each is shown to `on_end` where it lies, then dropped.
    pub fn upsert(
        &mut self,
        p: &Packet<'_>,
        ts: Timestamp,
        new: impl FnOnce() -> (bool, T),
        on_end: &mut dyn FnMut(&mut Flow<T>, EndReason),
    ) -> &mut Flow<T> {
        self.refresh();
        let key = FlowKey::new(p.l4, p.src, p.src_port, p.dst, p.dst_port, p.vlan);
        let hash = self.hash(&key);
        let mut found = self.find(hash, &key);
        if let Some(i) = found {
            if self.slab[i as usize]
                .as_ref()
                .is_some_and(|s| is_new_connection(&s.flow.conn, p))
            {
                // The ports were reused for a new connection while the old one lingered after
                // its close: the old one ends here, the new one starts with fresh state (its
                // data must not be taken for retransmissions of the old stream).
                self.end(i, EndReason::Closed, on_end);
                found = None;
            }
        }
        let at = match found {
            Some(i) => i,
            None => {
                if self.index.len() >= self.cfg.max_flows {
                    self.evict_oldest(on_end);
                }
                self.stats.created += 1;
                let (src_is_client, ext) = new();
                let i = match self.free.pop() {
                    Some(i) => i,
                    None => {
                        self.slab.push(None);
                        self.times.push(FREE);
                        (self.slab.len() - 1) as u32
                    }
                };
                self.slab[i as usize] = Some(Slot {
                    key,
                    hash,
                    flow: Flow {
                        conn: new_conn(p, ts, src_is_client),
                        ext,
                        slot: i,
                    },
                });
                let slab = &self.slab;
                // On a resize the index takes each live flow's kept hash.
                self.index.insert_unique(hash, i, |&j| {
                    slab[j as usize].as_ref().map_or(0, |s| s.hash)
                });
                i
            }
        };
        let flow = &mut self.slab[at as usize]
            .as_mut()
            .expect("the index points at live slots")
            .flow;
        if ts > flow.conn.last_ts {
            flow.conn.last_ts = ts;
        }
        self.last = Some(at);
        flow
    }

    /// The flow the last [`upsert`](Self::upsert) returned has since been updated by its
    /// packet: its idle deadline follows its state (an answered, a closed connection).
    fn refresh(&mut self) {
        let Some(i) = self.last.take() else {
            return;
        };
        let i = i as usize;
        if let Some(s) = self.slab.get(i).and_then(Option::as_ref) {
            let c = &s.flow.conn;
            let limit = c.idle_limit(&self.cfg).0.saturating_mul(1_000_000_000);
            self.times[i] = Times {
                last: c.last_ts,
                idle_at: Timestamp(c.last_ts.0.saturating_add(limit)),
            };
        }
    }

    /// Shows the flow at slab position `i` to `on_end` where it lies (ending a flow moves
    /// nothing), then frees its place.
    fn end(&mut self, i: u32, reason: EndReason, on_end: &mut dyn FnMut(&mut Flow<T>, EndReason)) {
        let Some(slot) = self.slab.get_mut(i as usize).and_then(Option::as_mut) else {
            return;
        };
        on_end(&mut slot.flow, reason);
        let hash = slot.hash;
        if let Ok(e) = self.index.find_entry(hash, |&j| j == i) {
            e.remove();
        }
        self.slab[i as usize] = None;
        self.times[i as usize] = FREE;
        self.free.push(i);
    }

    /// Positions whose times match `pick`, oldest first.
    fn select(&self, pick: impl Fn(u32, &Times) -> bool) -> Vec<(Timestamp, u32)> {
        let mut v: Vec<(Timestamp, u32)> = self
            .times
            .iter()
            .enumerate()
            .filter(|(i, t)| t.last != FREE.last && pick(*i as u32, t))
            .map(|(i, t)| (t.last, i as u32))
            .collect();
        v.sort_unstable();
        v
    }

    /// Positions whose times match `pick`, oldest first, ties by flow id: an order that does
    /// not depend on where flows lie, so flows spread over several tables end in the same
    /// order as in one.
    fn select_in_order(&self, pick: impl Fn(&Times) -> bool) -> Vec<(Timestamp, u64, u32)> {
        let mut v: Vec<(Timestamp, u64, u32)> = self
            .times
            .iter()
            .enumerate()
            .filter(|(_, t)| t.last != FREE.last && pick(t))
            .filter_map(|(i, t)| {
                let s = self.slab[i].as_ref()?;
                Some((t.last, s.flow.conn.id(), i as u32))
            })
            .collect();
        v.sort_unstable();
        v
    }

    /// Ends flows idle past their timeout, oldest first.
    pub fn expire(&mut self, now: Timestamp, on_end: &mut dyn FnMut(&mut Flow<T>, EndReason)) {
        self.refresh();
        let gone = self.select_in_order(|t| now > t.idle_at);
        self.stats.timed_out += gone.len() as u64;
        for (_, _, i) in gone {
            let reason = match &self.slab[i as usize] {
                Some(s) => s.flow.conn.idle_limit(&self.cfg).1,
                None => continue,
            };
            self.end(i, reason, on_end);
        }
    }

    /// Ends every flow (end of replay, stop signal), oldest first.
    pub fn drain(&mut self, on_end: &mut dyn FnMut(&mut Flow<T>, EndReason)) {
        self.refresh();
        for (_, _, i) in self.select_in_order(|_| true) {
            self.end(i, EndReason::Shutdown, on_end);
        }
    }

    /// Evicts the longest-idle sixteenth of the table in one pass, so a flood of new flows
    /// costs O(1) amortised per insertion instead of a scan each time.
    fn evict_oldest(&mut self, on_end: &mut dyn FnMut(&mut Flow<T>, EndReason)) {
        let n = (self.index.len() / 16).max(1);
        let mut ages: Vec<(Timestamp, u32)> = self
            .times
            .iter()
            .enumerate()
            .filter(|(_, t)| t.last != FREE.last)
            .map(|(i, t)| (t.last, i as u32))
            .collect();
        ages.select_nth_unstable(n - 1);
        let cutoff = ages[n - 1];
        drop(ages);
        let gone = self.select(|i, t| (t.last, i) <= cutoff);
        self.stats.evicted += gone.len() as u64;
        for (_, i) in gone {
            self.end(i, EndReason::Evicted, on_end);
        }
    }
}

fn new_conn(p: &Packet<'_>, ts: Timestamp, src_is_client: bool) -> Conn {
    let (client, server) = if src_is_client {
        ((p.src, p.src_port), (p.dst, p.dst_port))
    } else {
        ((p.dst, p.dst_port), (p.src, p.src_port))
    };
    Conn::new(p.l4, client, server, p.vlan, ts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Tcp;

    fn pkt(src: &str, sport: u16, dst: &str, dport: u16) -> Packet<'static> {
        Packet {
            vlan: Vlans::default(),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            l4: L4::Udp,
            src_port: sport,
            dst_port: dport,
            tcp: Tcp::default(),
            payload: &[],
            wire_payload_len: 0,
            reassembled: None,
            frame_cut: false,
            link_group: None,
        }
    }

    #[test]
    fn cap_holds_and_evictions_are_counted() {
        let mut t: FlowTable<()> = FlowTable::new(FlowConfig {
            max_flows: 64,
            ..FlowConfig::default()
        });
        let mut ended = 0;
        for i in 0..1000u32 {
            let src = format!("10.0.{}.{}", i / 256, i % 256);
            let p = pkt(&src, 40000, "192.0.2.30", 8611);
            t.upsert(&p, Timestamp(u64::from(i)), || (true, ()), &mut |_, r| {
                assert_eq!(r, EndReason::Evicted);
                ended += 1;
            });
            assert!(t.len() <= 64);
        }
        let s = t.stats();
        assert_eq!(s.created, 1000);
        assert_eq!(s.evicted, ended);
        assert_eq!(s.active + s.evicted, 1000);
    }

    #[test]
    fn idle_flows_time_out_in_order() {
        let mut t: FlowTable<()> = FlowTable::new(FlowConfig::default());
        let sec = 1_000_000_000;
        // (UDP: 60 s idle)
        let a = pkt("192.0.2.5", 1, "192.0.2.30", 8611);
        let b = pkt("192.0.2.6", 1, "192.0.2.30", 8611);
        t.upsert(&b, Timestamp(2 * sec), || (true, ()), &mut |_, _| {});
        t.upsert(&a, Timestamp(sec), || (true, ()), &mut |_, _| {});
        t.expire(Timestamp(30 * sec), &mut |_, _| panic!("too early"));
        let mut order = vec![];
        t.expire(Timestamp(100 * sec), &mut |f, r| {
            assert_eq!(r, EndReason::Timeout);
            order.push(f.conn.client.0.to_string());
        });
        assert_eq!(order, ["192.0.2.5", "192.0.2.6"]);
        assert!(t.is_empty());
        assert_eq!(t.stats().timed_out, 2);
    }

    #[test]
    fn the_caller_names_the_client() {
        let mut t: FlowTable<u8> = FlowTable::new(FlowConfig::default());
        // first packet is the printer's answer: the client is the other side
        let p = pkt("192.0.2.30", 8611, "192.0.2.5", 50000);
        let f = t.upsert(&p, Timestamp(1), || (false, 7), &mut |_, _| {});
        assert_eq!(f.conn.client, ("192.0.2.5".parse().unwrap(), 50000));
        assert_eq!(f.conn.dir_of(&p), Dir::ToClient);
        assert_eq!(f.ext, 7);
        // the second packet finds the flow: `new` is not asked again
        let f = t.upsert(&p, Timestamp(2), || unreachable!(), &mut |_, _| {});
        assert_eq!(f.conn.last_ts, Timestamp(2));
    }

    /// Ports reused for a new connection while the old one lingers after its close: the old
    /// flow ends, a new one starts (its stream is not the old one's retransmission); the old
    /// SYN sent again changes nothing.
    #[test]
    fn a_new_syn_after_a_close_is_a_new_connection() {
        let mut t: FlowTable<u32> = FlowTable::new(FlowConfig::default());
        let tcp = |flags: u8, seq: u32, from_client: bool| {
            let mut p = if from_client {
                pkt("192.0.2.5", 40000, "192.0.2.30", 9100)
            } else {
                pkt("192.0.2.30", 9100, "192.0.2.5", 40000)
            };
            p.l4 = L4::Tcp;
            p.tcp = Tcp { seq, ack: 0, flags };
            p
        };
        let mut made = 0;
        let ended = std::cell::RefCell::new(vec![]);
        let mut step = |t: &mut FlowTable<u32>, p: Packet<'_>, ts: u64| {
            let f = t.upsert(
                &p,
                Timestamp(ts),
                || {
                    made += 1;
                    (p.src_port == 40000, made)
                },
                &mut |f, why| ended.borrow_mut().push((f.ext, why)),
            );
            f.conn.update(&p, 60);
            f.ext
        };
        assert_eq!(step(&mut t, tcp(Tcp::SYN, 100, true), 1), 1);
        step(&mut t, tcp(Tcp::SYN | Tcp::ACK, 500, false), 2);
        step(&mut t, tcp(Tcp::RST, 101, true), 3);
        // the first SYN again (a retransmission): still the first connection
        assert_eq!(step(&mut t, tcp(Tcp::SYN, 100, true), 4), 1);
        // a SYN at another sequence number: the second connection
        assert_eq!(step(&mut t, tcp(Tcp::SYN, 9000, true), 5), 2);
        assert_eq!(*ended.borrow(), [(1, EndReason::Closed)]);
        // an open connection's SYN at another number is no new connection (SYN flood noise)
        assert_eq!(step(&mut t, tcp(Tcp::SYN, 7777, true), 6), 2);
        assert_eq!(t.len(), 1);
    }
}
