//! The hot-path pre-check (docs/ARCHITECTURE.md, "Invariants"): decide from a few fixed-offset reads that a frame
//! cannot touch a monitored port, before any slicing. It only ever answers "ignore" when that
//! is certain; every unusual frame (tags, options it does not follow, fragments, truncation)
//! goes to the full decoder, so the fast path and the slow path produce the same records.

use super::link::{self, Link};
use crate::net::PortSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Certainly IP traffic that does not touch a monitored port.
    IgnoreIp,
    /// Certainly not IP (ARP, LLDP...).
    IgnoreNotIp,
    /// Needs the full decoder.
    Decode,
}

#[inline]
pub fn check(lt: u32, data: &[u8], ports: &PortSet) -> Verdict {
    // The link split is the decoder's own (a match and a few reads), so both paths agree on
    // what the link layer holds.
    match link::split(lt, data) {
        Link::Ethernet(d) => match d.get(12..14) {
            Some(&[hi, lo]) => by_ethertype(u16::from_be_bytes([hi, lo]), &d[14..], ports),
            _ => Verdict::Decode,
        },
        Link::EtherType(t, d) => by_ethertype(t, d, ports),
        Link::Ip(d) => ip(d, ports),
        Link::NotIp => Verdict::IgnoreNotIp,
        Link::Truncated | Link::Unsupported => Verdict::Decode,
    }
}

#[inline]
fn by_ethertype(ethertype: u16, d: &[u8], ports: &PortSet) -> Verdict {
    match ethertype {
        0x0800 | 0x86dd => ip(d, ports),
        // VLAN/QinQ, MACsec and everything else the decoder knows stays on the slow path.
        0x8100 | 0x88a8 | 0x9100 | 0x88e5 => Verdict::Decode,
        // ARP, LLDP, and 802.3 length fields: no IP inside that the decoder would read.
        0x0806 | 0x88cc | 0x8035 => Verdict::IgnoreNotIp,
        _ => Verdict::Decode,
    }
}

#[inline]
fn ip(d: &[u8], ports: &PortSet) -> Verdict {
    let Some(&first) = d.first() else {
        return Verdict::Decode;
    };
    let (proto, l4) = match first >> 4 {
        4 => {
            let ihl = usize::from(first & 0x0f) * 4;
            if ihl < 20 || d.len() < ihl + 4 {
                return Verdict::Decode;
            }
            // Any fragment (MF set or offset non-zero) is counted by the decoder.
            if d[6] & 0x3f != 0 || d[7] != 0 {
                return Verdict::Decode;
            }
            let total = usize::from(u16::from_be_bytes([d[2], d[3]]));
            if total < ihl + 4 {
                return Verdict::Decode;
            }
            (d[9], &d[ihl..])
        }
        6 => {
            if d.len() < 44 {
                return Verdict::Decode;
            }
            // Extension headers (and fragment headers among them) go the slow way.
            (d[6], &d[40..])
        }
        _ => return Verdict::Decode,
    };
    if proto != 6 && proto != 17 {
        return match proto {
            // A destination unreachable may refuse an attempt on a monitored port: the decoder
            // reads the packet it quotes.
            1 if l4[0] == 3 => Verdict::Decode,
            58 if l4[0] == 1 => Verdict::Decode,
            // Other ICMP, IGMP, GRE, ESP, AH-less protocols: never monitored, no ports.
            1 | 2 | 47 | 50 | 58 | 89 | 132 => Verdict::IgnoreIp,
            _ => Verdict::Decode,
        };
    }
    let sport = u16::from_be_bytes([l4[0], l4[1]]);
    let dport = u16::from_be_bytes([l4[2], l4[3]]);
    if ports.contains(proto, sport) || ports.contains(proto, dport) {
        Verdict::Decode
    } else {
        Verdict::IgnoreIp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth_v4(proto: u8, sport: u16, dport: u16) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend([0x08, 0x00, 0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, proto, 0, 0]);
        f.extend([192, 0, 2, 5, 192, 0, 2, 30]);
        f.extend(sport.to_be_bytes());
        f.extend(dport.to_be_bytes());
        f.extend([0u8; 16]);
        f
    }

    #[test]
    fn ignores_only_what_is_certain() {
        let p = PortSet::default();
        assert_eq!(check(1, &eth_v4(6, 40000, 443), &p), Verdict::IgnoreIp);
        assert_eq!(check(1, &eth_v4(6, 40000, 9100), &p), Verdict::Decode);
        assert_eq!(check(1, &eth_v4(17, 8611, 50000), &p), Verdict::Decode);
        // UDP 9100 is not monitored
        assert_eq!(check(1, &eth_v4(17, 40000, 9100), &p), Verdict::IgnoreIp);
        // fragments always decode
        let mut f = eth_v4(17, 40000, 53);
        f[20] = 0x20;
        assert_eq!(check(1, &f, &p), Verdict::Decode);
        // VLAN tags and short frames decode
        let mut v = eth_v4(6, 1, 2);
        v[12] = 0x81;
        assert_eq!(check(1, &v, &p), Verdict::Decode);
        assert_eq!(check(1, &[0; 10], &p), Verdict::Decode);
        // Linux cooked v1/v2 and BSD loopback take the fast path too
        let mut sll = vec![0u8; 14];
        sll.extend([0x08, 0x00]);
        sll.extend(&eth_v4(6, 40000, 443)[14..]);
        assert_eq!(check(113, &sll, &p), Verdict::IgnoreIp);
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend([0u8; 18]);
        sll2.extend(&eth_v4(17, 40000, 8612)[14..]);
        assert_eq!(check(276, &sll2, &p), Verdict::Decode);
        let mut null = vec![2, 0, 0, 0];
        null.extend(&eth_v4(6, 40000, 443)[14..]);
        assert_eq!(check(0, &null, &p), Verdict::IgnoreIp);
        // destination unreachables decode (they may refuse a printer port); echo does not
        let mut unreach = eth_v4(1, 0, 0);
        unreach[34] = 3;
        assert_eq!(check(1, &unreach, &p), Verdict::Decode);
        unreach[34] = 8;
        assert_eq!(check(1, &unreach, &p), Verdict::IgnoreIp);
        let mut arp = vec![0u8; 12];
        arp.extend([0x08, 0x06]);
        assert_eq!(check(1, &arp, &p), Verdict::IgnoreNotIp);
    }
}
