//! Decode: link layer, IP (v4/v6 with extension headers), TCP/UDP, into a small borrowed
//! [`Packet`] view. Never fails a packet: whatever cannot be decoded becomes a counted verdict.

mod fast;
pub mod icmp;
pub mod link;

pub mod prefilter;
mod screen;

use etherparse::{
    ip_number, EtherType, LaxLinkExtSlice, LaxNetSlice, LaxSlicedPacket, TransportSlice,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use crate::net::L4;

pub use icmp::Unreachable;
use link::Link;
pub use screen::{screen, Screened};

/// Up to two VLAN ids, outer first (802.1ad QinQ, then 802.1Q).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Vlans {
    ids: [u16; 2],
    len: u8,
}

impl Vlans {
    pub fn push(&mut self, id: u16) {
        if usize::from(self.len) < self.ids.len() {
            self.ids[usize::from(self.len)] = id;
            self.len += 1;
        }
    }
    pub fn as_slice(&self) -> &[u16] {
        &self.ids[..usize::from(self.len)]
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// TCP header facts the flow and stream layers need.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tcp {
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
}

impl Tcp {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// One IP fragment of a TCP or UDP datagram: the datagram it belongs to, where its bytes go,
/// and the bytes as captured. Put together by the defragmenter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    pub vlan: Vlans,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 identification (16 bits) or IPv6 fragment identification (32 bits).
    pub id: u32,
    /// Offset in bytes.
    pub offset: u32,
    pub more: bool,
    /// IP protocol number of the fragmented payload (6 or 17).
    pub proto: u8,
    /// The fragment's bytes as captured (shorter than `announced` when snaplen cut it).
    pub data: &'a [u8],
    /// The fragment's length the IP header announces.
    pub announced: usize,
}

/// How a packet was put together from IP fragments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reassembled {
    pub id: u32,
    /// Fragments that went into it.
    pub fragments: u16,
    /// Every byte up to the last fragment arrived; `false` for the head of a datagram whose
    /// other fragments never came (analysed as far as it goes).
    pub complete: bool,
}

/// A decoded TCP or UDP packet. Borrowed: nothing is copied out of the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    pub vlan: Vlans,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub l4: L4,
    pub src_port: u16,
    pub dst_port: u16,
    /// Zeroed for UDP.
    pub tcp: Tcp,
    /// The captured transport payload.
    pub payload: &'a [u8],
    /// The payload length the headers announce (UDP length, IP total length); larger than
    /// `payload.len()` when snaplen cut the frame or the datagram is a first fragment.
    pub wire_payload_len: usize,
    /// Set when the packet was put together from IP fragments.
    pub reassembled: Option<Reassembled>,
    /// The capture kept fewer bytes than were on the wire (snaplen). Set by the engine from
    /// the frame's lengths: a header that merely *claims* more data than the frame holds is
    /// a lie to report, not a capture artefact.
    pub frame_cut: bool,
    /// The link layer addressed the frame to a group (Ethernet broadcast or multicast MAC, a
    /// cooked capture's broadcast/multicast packet type); `None` where the link says nothing
    /// (raw IP, loopback). An IPv4 address cannot say whether it is a subnet's broadcast.
    pub link_group: Option<bool>,
}

impl Packet<'_> {
    /// The payload is shorter than announced because snaplen cut the frame.
    pub fn capture_truncated(&self) -> bool {
        self.frame_cut && self.payload.len() < self.wire_payload_len && !self.fragments_missing()
    }

    /// The payload is shorter than announced because fragments of its datagram never came.
    pub fn fragments_missing(&self) -> bool {
        self.reassembled.is_some_and(|r| !r.complete)
    }

    /// Sequence space this segment's payload occupies: the announced length when snaplen cut
    /// it, else what is there (a lying IP length must not move the stream forward).
    pub fn stream_len(&self) -> usize {
        if self.frame_cut {
            self.wire_payload_len
        } else {
            self.payload.len()
        }
    }
}

/// What a frame turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    Packet(Packet<'a>),
    /// An IP fragment of a TCP or UDP datagram (the first one too: its ports are only certain
    /// once the datagram is whole).
    Fragment(Fragment<'a>),
    /// An ICMP or ICMPv6 destination unreachable that quotes a TCP or UDP packet.
    Unreachable(Unreachable),
    /// IP, but neither TCP nor UDP.
    OtherIp,
    NotIp,
    /// Cut before the ports could be read.
    Truncated,
    /// Headers that do not parse.
    Invalid,
    UnsupportedLinktype,
}

/// Decodes one frame. Allocation-free.
pub fn decode(linktype: u32, data: &[u8]) -> Decoded<'_> {
    let decoded = match fast::decode(linktype, data) {
        Some(p) => Decoded::Packet(p),
        None => decode_ip(linktype, data),
    };
    with_link(linktype, data, decoded)
}

/// The general decoder alone (tests prove the fast path gives the same packets).
pub fn decode_general(linktype: u32, data: &[u8]) -> Decoded<'_> {
    with_link(linktype, data, decode_ip(linktype, data))
}

fn with_link<'a>(linktype: u32, data: &[u8], decoded: Decoded<'a>) -> Decoded<'a> {
    match decoded {
        Decoded::Packet(mut p) => {
            p.link_group = link::group(linktype, data);
            Decoded::Packet(p)
        }
        other => other,
    }
}

fn decode_ip(linktype: u32, data: &[u8]) -> Decoded<'_> {
    let sliced = match link::split(linktype, data) {
        Link::Ethernet(d) => match LaxSlicedPacket::from_ethernet(d) {
            Ok(p) => p,
            Err(_) => return Decoded::Truncated,
        },
        Link::EtherType(t, d) => LaxSlicedPacket::from_ether_type(EtherType(t), d),
        Link::Ip(d) => match LaxSlicedPacket::from_ip(d) {
            Ok(p) => p,
            Err(e) => return ip_error(d, &e),
        },
        Link::NotIp => return Decoded::NotIp,
        Link::Truncated => return Decoded::Truncated,
        Link::Unsupported => return Decoded::UnsupportedLinktype,
    };
    from_sliced(&sliced)
}

fn ip_error(d: &[u8], _e: &etherparse::err::ip::LaxHeaderSliceError) -> Decoded<'static> {
    // A zero-length or cut IP header is a capture problem; anything else a bad header.
    match d.first().map(|b| b >> 4) {
        None => Decoded::Truncated,
        Some(4) if d.len() < 20 => Decoded::Truncated,
        Some(6) if d.len() < 40 => Decoded::Truncated,
        _ => Decoded::Invalid,
    }
}

fn from_sliced<'a>(p: &LaxSlicedPacket<'a>) -> Decoded<'a> {
    let mut vlan = Vlans::default();
    for ext in &p.link_exts {
        if let LaxLinkExtSlice::Vlan(v) = ext {
            vlan.push(v.vlan_identifier().value());
        }
    }
    let Some(net) = &p.net else {
        return match &p.stop_err {
            Some((etherparse::err::packet::SliceError::Len(_), _)) => Decoded::Truncated,
            Some(_) => Decoded::Invalid,
            None => Decoded::NotIp,
        };
    };
    let (src, dst, ip_payload, frag) = match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            let src = IpAddr::V4(Ipv4Addr::from(h.source()));
            let dst = IpAddr::V4(Ipv4Addr::from(h.destination()));
            let frag = v4.is_payload_fragmented().then(|| {
                (
                    u32::from(h.identification()),
                    u32::from(h.fragments_offset().value()) * 8,
                    h.more_fragments(),
                )
            });
            (src, dst, v4.payload(), frag)
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            let src = IpAddr::V6(Ipv6Addr::from(h.source()));
            let dst = IpAddr::V6(Ipv6Addr::from(h.destination()));
            let frag = ipv6_fragment(h.next_header().0, v6.extensions().slice());
            // A fragment header that says "offset 0, no more" is an atomic fragment: not one.
            let frag = frag.filter(|&(_, offset, more)| offset != 0 || more);
            (src, dst, v6.payload(), frag)
        }
        LaxNetSlice::Arp(_) => return Decoded::NotIp,
    };
    if let Some((id, offset, more)) = frag {
        // Only TCP and UDP datagrams are put together. An IPv4 fragment's header names the
        // datagram's protocol; an IPv6 datagram's is the one its first fragment names (a later
        // fragment's next header counts for nothing), so those are all taken.
        let later_v6 = offset != 0 && src.is_ipv6();
        let n = ip_payload.ip_number;
        if !(later_v6 || n == ip_number::TCP || n == ip_number::UDP) {
            return Decoded::OtherIp;
        }
        return Decoded::Fragment(Fragment {
            vlan,
            src,
            dst,
            id,
            offset,
            more,
            proto: n.0,
            data: ip_payload.payload,
            announced: ip_payload_announced(net),
        });
    }
    let l4 = match ip_payload.ip_number {
        ip_number::TCP => L4::Tcp,
        ip_number::UDP => L4::Udp,
        n @ (ip_number::ICMP | ip_number::IPV6_ICMP) => {
            let v6 = n == ip_number::IPV6_ICMP;
            return match icmp::unreachable(v6, src, vlan, ip_payload.payload) {
                Some(u) => Decoded::Unreachable(u),
                None => Decoded::OtherIp,
            };
        }
        _ => return Decoded::OtherIp,
    };
    match &p.transport {
        Some(TransportSlice::Udp(u)) => {
            let announced = usize::from(u.length()).saturating_sub(8);
            Decoded::Packet(Packet {
                vlan,
                src,
                dst,
                l4,
                src_port: u.source_port(),
                dst_port: u.destination_port(),
                tcp: Tcp::default(),
                payload: u.payload(),
                wire_payload_len: announced.max(u.payload().len()),
                reassembled: None,
                frame_cut: false,
                link_group: None,
            })
        }
        Some(TransportSlice::Tcp(t)) => {
            let hdr_len = usize::from(t.data_offset()) * 4;
            let announced = if ip_payload.incomplete {
                ip_payload_announced(net).saturating_sub(hdr_len)
            } else {
                t.payload().len()
            };
            Decoded::Packet(Packet {
                vlan,
                src,
                dst,
                l4,
                src_port: t.source_port(),
                dst_port: t.destination_port(),
                tcp: Tcp {
                    seq: t.sequence_number(),
                    ack: t.acknowledgment_number(),
                    flags: t.header_slice()[13],
                },
                payload: t.payload(),
                wire_payload_len: announced.max(t.payload().len()),
                reassembled: None,
                frame_cut: false,
                link_group: None,
            })
        }
        // The transport header was cut by snaplen: keep the ports if they are there.
        _ => match ip_payload.payload.get(..4) {
            Some(b) => Decoded::Packet(Packet {
                vlan,
                src,
                dst,
                l4,
                src_port: u16::from_be_bytes([b[0], b[1]]),
                dst_port: u16::from_be_bytes([b[2], b[3]]),
                tcp: Tcp::default(),
                payload: &[],
                wire_payload_len: 1,
                reassembled: None,
                frame_cut: false,
                link_group: None,
            }),
            None => Decoded::Truncated,
        },
    }
}

/// The IP payload length the header announces (IPv4 total length minus header, IPv6 payload
/// length minus extension headers), for telling a snaplen cut from a short datagram.
fn ip_payload_announced(net: &LaxNetSlice<'_>) -> usize {
    match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            usize::from(h.total_len()).saturating_sub(usize::from(h.ihl()) * 4)
        }
        LaxNetSlice::Ipv6(v6) => {
            usize::from(v6.header().payload_length()).saturating_sub(v6.extensions().slice().len())
        }
        LaxNetSlice::Arp(_) => 0,
    }
}

/// Finds the Fragment header among IPv6 extension headers: (identification, offset in bytes,
/// more fragments). Walked by hand with checked indexing: etherparse's extension iterator
/// trusts lengths that lax slicing has not validated (an out-of-bounds read on hostile input).
fn ipv6_fragment(mut next: u8, mut ext: &[u8]) -> Option<(u32, u32, bool)> {
    for _ in 0..8 {
        let len = match next {
            // hop-by-hop, routing, destination options: (len + 1) * 8
            0 | 43 | 60 => (usize::from(*ext.get(1)?) + 1) * 8,
            44 => {
                let f = ext.get(..8)?;
                let off = u16::from_be_bytes([f[2], f[3]]);
                let id = u32::from_be_bytes([f[4], f[5], f[6], f[7]]);
                return Some((id, u32::from(off >> 3) * 8, off & 1 != 0));
            }
            // authentication header: (len + 2) * 4
            51 => (usize::from(*ext.get(1)?) + 2) * 4,
            _ => return None,
        };
        next = *ext.first()?;
        ext = ext.get(len..)?;
    }
    None
}

/// The transport header and payload of a datagram put together from fragments: a packet like
/// any other, borrowed from the defragmenter's buffer. `None` when the bytes cannot hold the
/// ports (the head of the datagram never came).
pub fn reassembled<'a>(
    vlan: Vlans,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    bytes: &'a [u8],
    how: Reassembled,
) -> Option<Packet<'a>> {
    let ports = bytes.get(..4)?;
    let (src_port, dst_port) = (
        u16::from_be_bytes([ports[0], ports[1]]),
        u16::from_be_bytes([ports[2], ports[3]]),
    );
    let (l4, tcp, payload, announced) = match proto {
        6 => {
            let tcp = match bytes.get(4..14) {
                Some(t) => Tcp {
                    seq: u32::from_be_bytes([t[0], t[1], t[2], t[3]]),
                    ack: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
                    flags: t[9],
                },
                None => Tcp::default(),
            };
            let hdr = bytes
                .get(12)
                .map_or(20, |o| usize::from(o >> 4) * 4)
                .max(20);
            let payload = bytes.get(hdr..).unwrap_or(&[]);
            (L4::Tcp, tcp, payload, payload.len())
        }
        17 => {
            let len = bytes
                .get(4..6)
                .map_or(0, |l| usize::from(u16::from_be_bytes([l[0], l[1]])));
            let payload = bytes.get(8..).unwrap_or(&[]);
            // The UDP length bounds the payload; a datagram longer than it carries padding.
            let payload = &payload[..payload.len().min(len.saturating_sub(8))];
            (L4::Udp, Tcp::default(), payload, len.saturating_sub(8))
        }
        _ => return None,
    };
    Some(Packet {
        vlan,
        src,
        dst,
        l4,
        src_port,
        dst_port,
        tcp,
        payload,
        wire_payload_len: announced.max(payload.len()),
        reassembled: Some(how),
        frame_cut: false,
        link_group: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::linktype;

    fn udp_v4(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend([0x08, 0x00]);
        let total = 20 + 8 + payload.len();
        f.extend([
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0,
            0,
            64,
            17,
            0,
            0,
        ]);
        f.extend([192, 0, 2, 5, 192, 0, 2, 30]);
        let ul = 8 + payload.len();
        f.extend(sport.to_be_bytes());
        f.extend(dport.to_be_bytes());
        f.extend([(ul >> 8) as u8, ul as u8, 0, 0]);
        f.extend(payload);
        f
    }

    #[test]
    fn ethernet_ipv4_udp() {
        let f = udp_v4(50000, 8611, b"BJNP");
        let Decoded::Packet(p) = decode(linktype::ETHERNET, &f) else {
            panic!()
        };
        assert_eq!(p.src, "192.0.2.5".parse::<IpAddr>().unwrap());
        assert_eq!(p.dst_port, 8611);
        assert_eq!(p.l4, L4::Udp);
        assert_eq!(p.payload, b"BJNP");
        assert!(!p.capture_truncated());
        assert!(p.vlan.is_empty());
    }

    #[test]
    fn vlan_and_qinq() {
        let inner = udp_v4(50000, 8611, b"x");
        let mut f = inner[..12].to_vec();
        f.extend([0x88, 0xa8, 0x00, 100, 0x81, 0x00, 0x00, 20]);
        f.extend(&inner[12..]);
        let Decoded::Packet(p) = decode(linktype::ETHERNET, &f) else {
            panic!()
        };
        assert_eq!(p.vlan.as_slice(), &[100, 20]);
        assert_eq!(p.dst_port, 8611);
    }

    #[test]
    fn snaplen_cut_is_decoded_as_far_as_it_goes() {
        let f = udp_v4(50000, 8611, &[7u8; 100]);
        let Decoded::Packet(mut p) = decode(linktype::ETHERNET, &f[..60]) else {
            panic!()
        };
        assert!(
            !p.capture_truncated(),
            "a short payload alone is a lie, not a cut"
        );
        p.frame_cut = true;
        assert_eq!(p.payload.len(), 60 - 42);
        assert_eq!(p.wire_payload_len, 100);
        assert!(p.capture_truncated());
        // cut inside the UDP header: the ports are still there
        let Decoded::Packet(mut p) = decode(linktype::ETHERNET, &f[..38]) else {
            panic!()
        };
        p.frame_cut = true;
        assert_eq!((p.src_port, p.dst_port), (50000, 8611));
        assert!(p.capture_truncated());
        // cut inside the IP header
        assert!(matches!(
            decode(linktype::ETHERNET, &f[..20]),
            Decoded::Truncated
        ));
        assert!(matches!(
            decode(linktype::ETHERNET, &f[..5]),
            Decoded::Truncated
        ));
    }

    #[test]
    fn ipv4_fragments() {
        let mut f = udp_v4(50000, 8611, &[1u8; 24]);
        f[20] = 0x20; // MF, offset 0
        let Decoded::Fragment(fr) = decode(linktype::ETHERNET, &f) else {
            panic!()
        };
        assert!(fr.more && fr.offset == 0 && fr.proto == 17);
        assert_eq!(
            fr.data.len(),
            32,
            "the UDP header is data of the first fragment"
        );
        let mut f2 = f.clone();
        f2[20] = 0x00;
        f2[21] = 0x04; // offset 32 bytes
        let Decoded::Fragment(fr) = decode(linktype::ETHERNET, &f2) else {
            panic!()
        };
        assert_eq!((fr.offset, fr.more, fr.proto), (32, false, 17));
        // the whole datagram, put together, is a packet with its ports
        let how = Reassembled {
            id: 1,
            fragments: 2,
            complete: true,
        };
        let p = reassembled(fr.vlan, fr.src, fr.dst, 17, &f[34..], how).unwrap();
        assert_eq!((p.src_port, p.dst_port, p.payload.len()), (50000, 8611, 24));
        assert!(!p.fragments_missing() && !p.capture_truncated());
        assert!(reassembled(fr.vlan, fr.src, fr.dst, 17, &f[34..37], how).is_none());
    }

    #[test]
    fn ipv6_later_fragments_count_whatever_their_next_header() {
        // Ethernet, IPv6 (next header 44), fragment header (next header 59, offset 8, MF)
        let mut f = vec![0u8; 12];
        f.extend([0x86, 0xdd, 0x60, 0, 0, 0, 0, 16, 44, 64]);
        f.extend([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]);
        f.extend([
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x30,
        ]);
        f.extend([59, 0, 0, 8 | 1, 0, 0, 0, 7]);
        f.extend([0xab; 8]);
        let Decoded::Fragment(fr) = decode(linktype::ETHERNET, &f) else {
            panic!("{:?}", decode(linktype::ETHERNET, &f))
        };
        assert_eq!((fr.offset, fr.more, fr.id, fr.data.len()), (8, true, 7, 8));
        // the first fragment must name TCP or UDP
        f[54 + 3] = 1; // offset 0, MF
        assert!(matches!(decode(linktype::ETHERNET, &f), Decoded::OtherIp));
    }

    #[test]
    fn ipv6_fragment_header_walk() {
        // hop-by-hop (8 bytes) then a fragment header: offset 26*8, MF, id 0x42
        let mut ext = vec![44, 0, 0, 0, 0, 0, 0, 0];
        ext.extend([17, 0, 0, (26 * 8) | 1, 0, 0, 0, 0x42]);
        assert_eq!(ipv6_fragment(0, &ext), Some((0x42, 208, true)));
        // cut short, a lying length, or no fragment header at all: no answer, no panic
        assert_eq!(ipv6_fragment(0, &ext[..10]), None);
        assert_eq!(ipv6_fragment(0, &[44, 200]), None);
        assert_eq!(ipv6_fragment(0, &[]), None);
        assert_eq!(ipv6_fragment(17, &ext), None);
    }

    #[test]
    fn garbage_never_panics() {
        for lt in [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 42] {
            for len in 0..80 {
                let d: Vec<u8> = (0..len).map(|i| (i * 37 + lt as usize) as u8).collect();
                let _ = decode(lt, &d);
                let mut d2 = d.clone();
                if len > 0 {
                    d2[0] = 0x45;
                }
                let _ = decode(lt, &d2);
            }
        }
    }
}
