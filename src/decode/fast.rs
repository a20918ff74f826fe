//! The common case without the general slicer: Ethernet (no tag), a Linux cooked header or raw
//! IP, then IPv4 without fragmentation, then a complete TCP or UDP header, every length
//! consistent. Anything else returns `None` and goes to the general decoder. The two are proven
//! to give the same packet on every sample frame and on mutations of them (`tests/decoding/decode.rs`)
//! and by the `decode` fuzz target.

use super::{Packet, Tcp, Vlans, L4};
use crate::net::linktype;
use std::net::{IpAddr, Ipv4Addr};

pub(super) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The IPv4 packet a frame carries, when the link layer is one of the plain ones.
pub(super) fn ipv4(linktype: u32, data: &[u8]) -> Option<&[u8]> {
    match linktype {
        linktype::ETHERNET if data.len() >= 14 && data[12..14] == [0x08, 0x00] => Some(&data[14..]),
        linktype::LINUX_SLL if data.len() >= 16 && data[14..16] == [0x08, 0x00] => {
            Some(&data[16..])
        }
        linktype::RAW | linktype::IPV4 => Some(data),
        _ => None,
    }
}

/// The packet, or `None` when the general decoder must look.
pub fn decode(linktype: u32, data: &[u8]) -> Option<Packet<'_>> {
    let d = ipv4(linktype, data)?;
    let (ihl, total) = plain_v4(d)?;
    transport(d, ihl, total)
}

/// (header length, total length) of an IPv4 header this path takes: version 4, a header of at
/// least 20 bytes, no fragment (MF or an offset: those go to the general path).
pub(super) fn plain_v4(d: &[u8]) -> Option<(usize, usize)> {
    if d.len() < 20 || d[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(d[0] & 0x0f) * 4;
    if ihl < 20 || d[6] & 0x3f != 0 || d[7] != 0 {
        return None;
    }
    Some((ihl, usize::from(be16(d, 2))))
}

/// The TCP or UDP packet inside the IPv4 packet `d` of [`plain_v4`]'s lengths, when every
/// length adds up.
pub(super) fn transport(d: &[u8], ihl: usize, total: usize) -> Option<Packet<'_>> {
    if total < ihl || total > d.len() {
        return None;
    }
    let src = IpAddr::V4(Ipv4Addr::from(be32(d, 12)));
    let dst = IpAddr::V4(Ipv4Addr::from(be32(d, 16)));
    let l4 = &d[ihl..total];
    let (proto, tcp, payload, wire) = match d[9] {
        6 => {
            if l4.len() < 20 {
                return None;
            }
            let off = usize::from(l4[12] >> 4) * 4;
            if off < 20 || off > l4.len() {
                return None;
            }
            let tcp = Tcp {
                seq: be32(l4, 4),
                ack: be32(l4, 8),
                flags: l4[13],
            };
            let payload = &l4[off..];
            (L4::Tcp, tcp, payload, payload.len())
        }
        17 => {
            if l4.len() < 8 {
                return None;
            }
            let len = usize::from(be16(l4, 4));
            if len < 8 || len > l4.len() {
                return None;
            }
            let payload = &l4[8..len];
            (L4::Udp, Tcp::default(), payload, payload.len())
        }
        _ => return None,
    };
    Some(Packet {
        vlan: Vlans::default(),
        src,
        dst,
        l4: proto,
        src_port: be16(l4, 0),
        dst_port: be16(l4, 2),
        tcp,
        payload,
        wire_payload_len: wire,
        reassembled: None,
        frame_cut: false,
        link_group: None,
    })
}
