use crate::decode::{Vlans, L4};
use std::net::IpAddr;

/// Both directions of a connection map to the same key: the lower (address, port) goes first.
/// Addresses are stored as 16 bytes (IPv4-mapped) so the key is fixed-size and cheap to hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub lo: [u8; 16],
    pub hi: [u8; 16],
    pub lo_port: u16,
    pub hi_port: u16,
    pub l4: L4,
    pub vlan: Vlans,
}

/// The address as the number its 16 bytes spell (IPv4 as `::ffff:a.b.c.d`). Worked out as an
/// integer, not byte by byte through the mapped address's octets: that took the compiler some
/// 300 instructions a key, called for every packet.
pub fn address_number(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => 0xffff_0000_0000 | u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

impl FlowKey {
    pub fn new(l4: L4, src: IpAddr, sport: u16, dst: IpAddr, dport: u16, vlan: Vlans) -> Self {
        let (s, d) = (address_number(src), address_number(dst));
        let (lo, lo_port, hi, hi_port) = if (s, sport) <= (d, dport) {
            (s, sport, d, dport)
        } else {
            (d, dport, s, sport)
        };
        FlowKey {
            lo: lo.to_be_bytes(),
            hi: hi.to_be_bytes(),
            lo_port,
            hi_port,
            l4,
            vlan,
        }
    }

    /// A stable 53-bit id for records (JSON-safe integer). Deterministic, so replaying the same
    /// capture gives the same ids; the table's own hasher is seeded and never leaks out.
    pub fn flow_id(&self, first_seen_ns: u64) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |b: &[u8]| {
            for &x in b {
                h ^= u64::from(x);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        eat(&self.lo);
        eat(&self.hi);
        eat(&self.lo_port.to_be_bytes());
        eat(&self.hi_port.to_be_bytes());
        eat(&[self.l4.ip_number()]);
        for v in self.vlan.as_slice() {
            eat(&v.to_be_bytes());
        }
        eat(&first_seen_ns.to_be_bytes());
        // splitmix64 finaliser spreads FNV's weak low bits.
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z & ((1 << 53) - 1)).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_share_a_key() {
        let a: IpAddr = "192.0.2.5".parse().unwrap();
        let b: IpAddr = "192.0.2.30".parse().unwrap();
        let v = Vlans::default();
        assert_eq!(
            FlowKey::new(L4::Udp, a, 50000, b, 8611, v),
            FlowKey::new(L4::Udp, b, 8611, a, 50000, v)
        );
        assert_ne!(
            FlowKey::new(L4::Udp, a, 50000, b, 8611, v),
            FlowKey::new(L4::Tcp, a, 50000, b, 8611, v)
        );
        let mut tagged = Vlans::default();
        tagged.push(10);
        assert_ne!(
            FlowKey::new(L4::Udp, a, 50000, b, 8611, v),
            FlowKey::new(L4::Udp, a, 50000, b, 8611, tagged)
        );
        let k = FlowKey::new(L4::Udp, a, 50000, b, 8611, v);
        assert_eq!(k.flow_id(1), k.flow_id(1));
        assert_ne!(k.flow_id(1), k.flow_id(2));
        assert!(k.flow_id(1) < 1 << 53);
    }

    /// The key as first defined: the mapped address's octets, ordered as big-endian numbers.
    fn by_octets(l4: L4, src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> FlowKey {
        let bytes = |ip: IpAddr| match ip {
            IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            IpAddr::V6(a) => a.octets(),
        };
        let (s, d) = (bytes(src), bytes(dst));
        let (lo, lo_port, hi, hi_port) = if (s, sport) <= (d, dport) {
            (s, sport, d, dport)
        } else {
            (d, dport, s, sport)
        };
        FlowKey {
            lo,
            hi,
            lo_port,
            hi_port,
            l4,
            vlan: Vlans::default(),
        }
    }

    proptest::proptest! {
        // flow ids hash the key's bytes: the faster construction must give the same bytes
        #[test]
        fn keys_are_the_mapped_octets_in_order(
            a in proptest::prelude::any::<u128>(),
            b in proptest::prelude::any::<u128>(),
            v4 in proptest::prelude::any::<(bool, bool)>(),
            sport in proptest::prelude::any::<u16>(),
            dport in proptest::prelude::any::<u16>(),
        ) {
            let ip = |n: u128, four: bool| -> IpAddr {
                if four {
                    IpAddr::V4(std::net::Ipv4Addr::from(n as u32))
                } else {
                    IpAddr::V6(std::net::Ipv6Addr::from(n))
                }
            };
            let (src, dst) = (ip(a, v4.0), ip(b, v4.1));
            for (s, d) in [(src, dst), (src, src)] {
                proptest::prop_assert_eq!(
                    FlowKey::new(L4::Tcp, s, sport, d, dport, Vlans::default()),
                    by_octets(L4::Tcp, s, sport, d, dport)
                );
            }
        }
    }
}
