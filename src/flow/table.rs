use super::{Dir, FlowKey, TcpTrack};
use crate::decode::{Packet, Tcp, Vlans};
use crate::event::{ConnState, EndReason, FlowTableStats};
use crate::net::{Timestamp, L4};
use hashbrown::HashMap;
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
pub struct Conn {
    pub id: u64,
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
}

impl Conn {
    /// A connection first seen at `ts`, nothing counted yet.
    pub fn new(
        id: u64,
        l4: L4,
        client: (IpAddr, u16),
        server: (IpAddr, u16),
        vlan: Vlans,
        ts: Timestamp,
    ) -> Self {
        Conn {
            id,
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
        }
    }

    /// Community ID v1 of the flow (computed when a record needs it: a per-flow string would
    /// cost more memory than the hash costs time).
    pub fn community_id(&self) -> String {
        crate::event::community_id_v1(
            0,
            self.client.0,
            self.server.0,
            self.client.1,
            self.server.1,
            self.l4.ip_number(),
        )
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
        dir
    }
}

/// A connection and what the engine keeps with it.
pub struct Flow<T> {
    pub conn: Conn,
    pub ext: T,
}

pub struct FlowTable<T> {
    cfg: FlowConfig,
    // hashbrown's default hasher is foldhash with a per-process random seed: keys come off the
    // wire, so a fixed hash would let an attacker aim every flow at one bucket.
    map: HashMap<FlowKey, Flow<T>>,
    stats: FlowTableStats,
}

impl<T> FlowTable<T> {
    pub fn new(cfg: FlowConfig) -> Self {
        FlowTable {
            // Sized once for the cap: growing by doubling would briefly hold both the old and
            // the new table, the peak of a flood. Pages are touched only as flows arrive.
            map: HashMap::with_capacity(cfg.max_flows.clamp(1, 1 << 22)),
            cfg: FlowConfig {
                max_flows: cfg.max_flows.max(1),
                ..cfg
            },
            stats: FlowTableStats::default(),
        }
    }

    pub fn stats(&self) -> FlowTableStats {
        FlowTableStats {
            active: self.map.len() as u64,
            ..self.stats
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Finds or creates the flow of `p`. A new flow asks `new` whether the packet's source is
    /// the client and what to keep with the flow. At the cap, the longest-idle flows are
    /// evicted first and handed to `on_end`.
    pub fn upsert(
        &mut self,
        p: &Packet<'_>,
        ts: Timestamp,
        new: impl FnOnce() -> (bool, T),
        on_end: &mut dyn FnMut(Flow<T>, EndReason),
    ) -> &mut Flow<T> {
        let key = FlowKey::new(p.l4, p.src, p.src_port, p.dst, p.dst_port, p.vlan);
        if !self.map.contains_key(&key) && self.map.len() >= self.cfg.max_flows {
            self.evict_oldest(on_end);
        }
        let stats = &mut self.stats;
        let flow = self.map.entry(key).or_insert_with(|| {
            stats.created += 1;
            let (src_is_client, ext) = new();
            Flow {
                conn: new_conn(&key, p, ts, src_is_client),
                ext,
            }
        });
        if ts > flow.conn.last_ts {
            flow.conn.last_ts = ts;
        }
        flow
    }

    /// Removes flows idle past their timeout, in (last seen, id) order so output is stable
    /// whatever the hasher's seed.
    pub fn expire(&mut self, now: Timestamp, on_end: &mut dyn FnMut(Flow<T>, EndReason)) {
        let cfg = &self.cfg;
        let idle = |f: &Flow<T>| {
            now.since(f.conn.last_ts) > f.conn.idle_limit(cfg).0.saturating_mul(1_000_000_000)
        };
        if !self.map.values().any(idle) {
            return;
        }
        let mut gone: Vec<Flow<T>> = self
            .map
            .extract_if(|_, f| idle(f))
            .map(|(_, f)| f)
            .collect();
        gone.sort_by_key(|f| (f.conn.last_ts, f.conn.id));
        self.stats.timed_out += gone.len() as u64;
        for f in gone {
            let reason = f.conn.idle_limit(&self.cfg).1;
            on_end(f, reason);
        }
    }

    /// Ends every flow (shutdown, end of replay).
    pub fn drain(&mut self, on_end: &mut dyn FnMut(Flow<T>, EndReason)) {
        let mut all: Vec<Flow<T>> = self.map.drain().map(|(_, f)| f).collect();
        all.sort_by_key(|f| (f.conn.last_ts, f.conn.id));
        for f in all {
            on_end(f, EndReason::Shutdown);
        }
    }

    /// Evicts the longest-idle sixteenth of the table in one pass, so a flood of new flows
    /// costs O(1) amortised per insertion instead of a scan each time.
    fn evict_oldest(&mut self, on_end: &mut dyn FnMut(Flow<T>, EndReason)) {
        let n = (self.map.len() / 16).max(1);
        let mut ages: Vec<(Timestamp, u64)> = self
            .map
            .values()
            .map(|f| (f.conn.last_ts, f.conn.id))
            .collect();
        ages.select_nth_unstable(n - 1);
        let cutoff = ages[n - 1];
        let mut gone: Vec<Flow<T>> = self
            .map
            .extract_if(|_, f| (f.conn.last_ts, f.conn.id) <= cutoff)
            .map(|(_, f)| f)
            .collect();
        gone.sort_by_key(|f| (f.conn.last_ts, f.conn.id));
        self.stats.evicted += gone.len() as u64;
        for f in gone {
            on_end(f, EndReason::Evicted);
        }
    }
}

fn new_conn(key: &FlowKey, p: &Packet<'_>, ts: Timestamp, src_is_client: bool) -> Conn {
    let (client, server) = if src_is_client {
        ((p.src, p.src_port), (p.dst, p.dst_port))
    } else {
        ((p.dst, p.dst_port), (p.src, p.src_port))
    };
    Conn::new(key.flow_id(ts.0), p.l4, client, server, p.vlan, ts)
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
            fragment: None,
            frame_cut: false,
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
}
