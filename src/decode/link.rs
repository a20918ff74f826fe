//! Link-layer dispatch: turns (linktype, frame) into the network-layer start that etherparse
//! slices. One small match per DLT.

use crate::net::linktype;

/// Where the network layer starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link<'a> {
    /// An Ethernet II frame (VLAN tags still inside).
    Ethernet(&'a [u8]),
    /// A payload whose EtherType is known (Linux cooked captures).
    EtherType(u16, &'a [u8]),
    /// An IP packet with no link header.
    Ip(&'a [u8]),
    /// The link header says the payload is not IP (ARP, IPX...).
    NotIp,
    /// Shorter than the link header.
    Truncated,
    Unsupported,
}

const AF_INET: u32 = 2;
/// BSD loopback headers carry the *writer's* AF_INET6, which differs per system.
const AF_INET6_VALUES: [u32; 3] = [24, 28, 30];

pub fn split(linktype: u32, data: &[u8]) -> Link<'_> {
    use linktype::*;
    match linktype {
        ETHERNET => Link::Ethernet(data),
        RAW | RAW_BSD | RAW_OPENBSD | IPV4 | IPV6 => Link::Ip(data),
        LINUX_SLL => match data.get(..16) {
            Some(h) => Link::EtherType(u16::from_be_bytes([h[14], h[15]]), &data[16..]),
            None => Link::Truncated,
        },
        LINUX_SLL2 => match data.get(..20) {
            Some(h) => Link::EtherType(u16::from_be_bytes([h[0], h[1]]), &data[20..]),
            None => Link::Truncated,
        },
        NULL | LOOP => {
            let Some(h) = data.get(..4) else {
                return Link::Truncated;
            };
            let h = [h[0], h[1], h[2], h[3]];
            // DLT_NULL is in the capturing host's byte order, which the file does not record:
            // accept either order, as libpcap's own filter code does.
            let family = if linktype == LOOP {
                u32::from_be_bytes(h)
            } else {
                let le = u32::from_le_bytes(h);
                if le < 256 {
                    le
                } else {
                    u32::from_be_bytes(h)
                }
            };
            if family == AF_INET || AF_INET6_VALUES.contains(&family) {
                Link::Ip(&data[4..])
            } else {
                Link::NotIp
            }
        }
        _ => Link::Unsupported,
    }
}

/// Whether the link layer addressed the frame to a group: the I/G bit of an Ethernet
/// destination, or a cooked capture's packet type (1 broadcast, 2 multicast). `None` when the
/// link layer says nothing.
pub fn group(linktype: u32, data: &[u8]) -> Option<bool> {
    match linktype {
        linktype::ETHERNET => data.first().map(|b| b & 1 == 1),
        linktype::LINUX_SLL => data.get(..2).map(|t| matches!(t, [0, 1] | [0, 2])),
        linktype::LINUX_SLL2 => data.get(10).map(|t| matches!(t, 1 | 2)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cooked_and_loopback_headers() {
        let mut sll = vec![0u8; 16];
        sll[14] = 0x08;
        sll.push(0x45);
        assert_eq!(
            split(linktype::LINUX_SLL, &sll),
            Link::EtherType(0x0800, &[0x45])
        );
        let mut sll2 = vec![0x86, 0xdd];
        sll2.extend([0u8; 18]);
        sll2.push(0x60);
        assert_eq!(
            split(linktype::LINUX_SLL2, &sll2),
            Link::EtherType(0x86dd, &[0x60])
        );
        assert_eq!(split(linktype::LINUX_SLL2, &[0; 19]), Link::Truncated);
        assert_eq!(
            split(linktype::NULL, &[2, 0, 0, 0, 0x45]),
            Link::Ip(&[0x45])
        );
        assert_eq!(
            split(linktype::NULL, &[0, 0, 0, 30, 0x60]),
            Link::Ip(&[0x60])
        );
        assert_eq!(split(linktype::NULL, &[24, 0, 0, 0]), Link::Ip(&[]));
        assert_eq!(
            split(linktype::LOOP, &[0, 0, 0, 28, 0x60]),
            Link::Ip(&[0x60])
        );
        assert_eq!(split(linktype::NULL, &[7, 0, 0, 0]), Link::NotIp);
        assert_eq!(split(linktype::NULL, &[2, 0]), Link::Truncated);
        assert_eq!(split(9999, &[1, 2, 3]), Link::Unsupported);
    }

    #[test]
    fn group_addresses_from_the_link_layer() {
        assert_eq!(group(linktype::ETHERNET, &[0xff; 14]), Some(true));
        assert_eq!(
            group(linktype::ETHERNET, &[0x01, 0, 0x5e, 0, 0, 1]),
            Some(true)
        );
        assert_eq!(
            group(linktype::ETHERNET, &[0x02, 0, 0x5e, 0x10, 0, 0x30]),
            Some(false)
        );
        assert_eq!(group(linktype::LINUX_SLL, &[0, 1, 0, 1]), Some(true));
        assert_eq!(group(linktype::LINUX_SLL, &[0, 0, 0, 1]), Some(false));
        let mut sll2 = [0u8; 20];
        sll2[10] = 2;
        assert_eq!(group(linktype::LINUX_SLL2, &sll2), Some(true));
        assert_eq!(group(linktype::RAW, &[0x45]), None);
        assert_eq!(group(linktype::ETHERNET, &[]), None);
    }
}
