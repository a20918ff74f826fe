//! ICMP and ICMPv6 destination-unreachable messages, read as far as the packet they quote:
//! when a firewall REJECTs a UDP datagram (or a TCP SYN) with an ICMP error instead of a
//! reset, this is the only trace on the wire that the attempt was refused rather than lost.
//!
//! An error quotes the IP header of the packet that failed and at least the first 8 bytes of
//! its payload (RFC 792; RFC 4443 quotes as much as fits): enough for the two ports. Every
//! read is checked; anything shorter or stranger is not an unreachable.

use super::{Vlans, L4};
use crate::net::Unreach;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A destination-unreachable message and the packet it quotes (sent by `src` to `dst`, the
/// addresses and ports as that packet had them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unreachable {
    pub vlan: Vlans,
    /// Who sent the error: the target itself or a router or firewall on the way.
    pub reporter: IpAddr,
    pub code: Unreach,
    pub l4: L4,
    pub src: IpAddr,
    pub src_port: u16,
    pub dst: IpAddr,
    pub dst_port: u16,
}

/// Reads an ICMP (`v6` false) or ICMPv6 message `msg` (from its type byte on); `None` unless it
/// is a destination unreachable quoting a TCP or UDP packet whose ports are there.
pub fn unreachable(v6: bool, reporter: IpAddr, vlan: Vlans, msg: &[u8]) -> Option<Unreachable> {
    let (&ty, &code) = (msg.first()?, msg.get(1)?);
    if ty != if v6 { 1 } else { 3 } {
        return None;
    }
    let code = Unreach::from_code(v6, code)?;
    let quoted = msg.get(8..)?;
    let (proto, src, dst, l4) = if v6 {
        quoted_v6(quoted)?
    } else {
        quoted_v4(quoted)?
    };
    let l4_kind = match proto {
        6 => L4::Tcp,
        17 => L4::Udp,
        _ => return None,
    };
    let ports = l4.get(..4)?;
    Some(Unreachable {
        vlan,
        reporter,
        code,
        l4: l4_kind,
        src,
        src_port: u16::from_be_bytes([ports[0], ports[1]]),
        dst,
        dst_port: u16::from_be_bytes([ports[2], ports[3]]),
    })
}

/// (protocol, source, destination, transport bytes) of a quoted IPv4 packet; a later fragment
/// carries no ports.
fn quoted_v4(q: &[u8]) -> Option<(u8, IpAddr, IpAddr, &[u8])> {
    let first = *q.first()?;
    let ihl = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || ihl < 20 {
        return None;
    }
    let h = q.get(..ihl)?;
    if u16::from_be_bytes([h[6], h[7]]) & 0x1fff != 0 {
        return None;
    }
    let addr = |at: usize| IpAddr::V4(Ipv4Addr::new(h[at], h[at + 1], h[at + 2], h[at + 3]));
    Some((h[9], addr(12), addr(16), q.get(ihl..)?))
}

/// The same for a quoted IPv6 packet. Extension headers are not walked: a quoted packet with
/// them is so rare on printer ports that its error is let go (counted as other IP).
fn quoted_v6(q: &[u8]) -> Option<(u8, IpAddr, IpAddr, &[u8])> {
    let h = q.get(..40)?;
    if h[0] >> 4 != 6 {
        return None;
    }
    let addr = |at: usize| {
        let mut b = [0u8; 16];
        b.copy_from_slice(&h[at..at + 16]);
        IpAddr::V6(Ipv6Addr::from(b))
    };
    Some((h[6], addr(8), addr(24), q.get(40..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted_udp_v4(sport: u16, dport: u16) -> Vec<u8> {
        let mut m = vec![3, 3, 0, 0, 0, 0, 0, 0];
        m.extend([0x45, 0, 0, 36, 0, 1, 0x40, 0, 64, 17, 0, 0]);
        m.extend([10, 0, 0, 5, 10, 0, 0, 30]);
        m.extend(sport.to_be_bytes());
        m.extend(dport.to_be_bytes());
        m.extend([0, 16, 0, 0]);
        m
    }

    #[test]
    fn port_unreachable_quotes_the_attempt() {
        let from: IpAddr = "10.0.0.1".parse().unwrap();
        let u = unreachable(false, from, Vlans::default(), &quoted_udp_v4(40000, 8611)).unwrap();
        assert_eq!(u.code, Unreach::Port);
        assert_eq!((u.l4, u.src_port, u.dst_port), (L4::Udp, 40000, 8611));
        assert_eq!(u.src.to_string(), "10.0.0.5");
        assert_eq!(u.dst.to_string(), "10.0.0.30");
        assert_eq!(u.reporter, from);
    }

    #[test]
    fn other_messages_and_cuts_are_not_unreachables() {
        let from: IpAddr = "10.0.0.1".parse().unwrap();
        let vl = Vlans::default();
        let m = quoted_udp_v4(40000, 8611);
        // fragmentation needed (code 4) is path MTU discovery, not a refusal
        let mut frag = m.clone();
        frag[1] = 4;
        assert!(unreachable(false, from, vl, &frag).is_none());
        // an echo reply, an ICMPv6 type read as ICMP
        let mut echo = m.clone();
        echo[0] = 0;
        assert!(unreachable(false, from, vl, &echo).is_none());
        assert!(unreachable(true, from, vl, &m).is_none());
        // every cut before the ports ends is no unreachable, and never panics
        for n in 0..m.len() {
            let r = unreachable(false, from, vl, &m[..n]);
            assert_eq!(r.is_some(), n >= m.len() - 4, "cut at {n}");
        }
        // a quoted later fragment has no ports
        let mut later = m.clone();
        later[15] = 0x10;
        assert!(unreachable(false, from, vl, &later).is_none());
    }

    #[test]
    fn icmpv6_admin_prohibited() {
        let mut m = vec![1, 1, 0, 0, 0, 0, 0, 0];
        let mut ip = vec![0x60, 0, 0, 0, 0, 20, 6, 64];
        ip.extend("fd00::5".parse::<Ipv6Addr>().unwrap().octets());
        ip.extend("fd00::30".parse::<Ipv6Addr>().unwrap().octets());
        m.extend(ip);
        m.extend(50000u16.to_be_bytes());
        m.extend(9100u16.to_be_bytes());
        let from: IpAddr = "fd00::1".parse().unwrap();
        let u = unreachable(true, from, Vlans::default(), &m).unwrap();
        assert_eq!(
            (u.code, u.l4, u.dst_port),
            (Unreach::Prohibited, L4::Tcp, 9100)
        );
        assert_eq!(u.dst.to_string(), "fd00::30");
    }

    #[test]
    fn any_bytes_never_panic() {
        let from: IpAddr = "10.0.0.1".parse().unwrap();
        let mut x = 0x2545_f491_u32;
        for len in 0..200 {
            let mut b: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            if let Some(t) = b.first_mut() {
                *t = 3;
            }
            if len > 8 {
                b[8] = 0x45;
            }
            let _ = unreachable(false, from, Vlans::default(), &b);
            let _ = unreachable(true, from, Vlans::default(), &b);
        }
    }
}
