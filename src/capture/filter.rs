//! BPF filters. The default live filter selects the monitored ports, also inside 802.1Q/QinQ
//! tags, plus IP fragments (later ones carry no ports) so datagrams to printers can be put
//! together.

use super::CaptureError;
use crate::net::PortSet;
use std::collections::HashMap;

/// A BPF expression selecting `ports` (TCP and UDP), IPv4 fragments and IPv6 packets with
/// extension headers; on Ethernet also inside one or two VLAN tags.
pub fn default_expression(ports: &PortSet, linktype: u32) -> String {
    let part = |proto: &str, list: Vec<u16>| -> Option<String> {
        if list.is_empty() {
            return None;
        }
        let items: Vec<String> = ranges(&list)
            .into_iter()
            .map(|(a, b)| {
                if a == b {
                    format!("{proto} port {a}")
                } else {
                    format!("{proto} portrange {a}-{b}")
                }
            })
            .collect();
        Some(items.join(" or "))
    };
    let mut parts: Vec<String> = [
        part("tcp", ports.tcp_ports()),
        part("udp", ports.udp_ports()),
    ]
    .into_iter()
    .flatten()
    .collect();
    // Every IPv4 fragment (more-fragments set or an offset): later ones carry no ports, and a
    // first fragment cut inside the transport header fails the port tests. The engine puts
    // each datagram together and only then knows whether it is monitored.
    parts.push("(ip[6:2] & 0x3fff != 0)".into());
    // Destination unreachables that refuse an attempt on a monitored port (a firewall's
    // REJECT): the quoted packet's protocol and destination port decide, so a UDP scan of
    // other ports does not wake the sensor for every error it draws.
    if let Some(q) = unreachable_clause(ports) {
        parts.push(q);
    }
    // libpcap's `port` tests do not walk IPv6 extension headers (hop-by-hop, routing, fragment,
    // destination options, AH): such packets go to the engine, whose decoder does. They are
    // rare on a LAN (MLD reports, mostly).
    parts.push(
        "(ip6 and (ip6[6] == 0 or ip6[6] == 43 or ip6[6] == 44 or ip6[6] == 51 or ip6[6] == 60))"
            .into(),
    );
    let base = parts.join(" or ");
    if linktype != crate::net::linktype::ETHERNET {
        // Only Ethernet carries tags libpcap can match (cooked and raw captures have none).
        return base;
    }
    // Each `vlan` keyword shifts the offsets of everything after it in the expression, so the
    // tagged cases nest: one tag, then (inside it) a second tag for QinQ.
    format!("({base}) or (vlan and (({base}) or (vlan and ({base}))))")
}

/// ICMP (type 3) and ICMPv6 (type 1) errors quoting a TCP or UDP packet to a monitored port,
/// at fixed offsets: IPv4, a quoted header of 20 bytes (`icmp[8] == 0x45`: one with options
/// is left out); IPv6, an IPv6 header, 8 bytes of ICMPv6, the quoted IPv6 header without
/// extension headers (which the decoder would not follow either). Not the quoted header's own
/// length as an index: libpcap 1.10's Linux code for `vlan` (the kernel's VLAN-tag extension)
/// then lets every unreachable through, which a live test on a veth pair showed.
fn unreachable_clause(ports: &PortSet) -> Option<String> {
    let within = |port: &str, list: Vec<u16>| -> Option<String> {
        if list.is_empty() {
            return None;
        }
        let tests: Vec<String> = ranges(&list)
            .into_iter()
            .map(|(a, b)| {
                if a == b {
                    format!("{port} == {a}")
                } else {
                    format!("({port} >= {a} and {port} <= {b})")
                }
            })
            .collect();
        Some(tests.join(" or "))
    };
    let quoted = |proto_at: &str, port: &str| -> Option<String> {
        let by_proto: Vec<String> = [(6, ports.tcp_ports()), (17, ports.udp_ports())]
            .into_iter()
            .filter_map(|(n, list)| {
                Some(format!("({proto_at} == {n} and ({}))", within(port, list)?))
            })
            .collect();
        (!by_proto.is_empty()).then(|| by_proto.join(" or "))
    };
    let v4 = quoted("icmp[17]", "icmp[30:2]")?;
    let v6 = quoted("ip6[54]", "ip6[90:2]")?;
    Some(format!(
        "(icmp and icmp[0] == 3 and icmp[8] == 0x45 and ({v4})) or (ip6 and ip6[6] == 58 and ip6[40] == 1 and ({v6}))"
    ))
}

/// Files record LINKTYPE_ values; libpcap's compiler wants the platform's DLT_ values, which
/// differ for a few old types (tcpdump.org/linktypes.html).
fn dlt_of(linktype: u32) -> u32 {
    match linktype {
        100 => 11, // ATM_RFC1483
        101 => 12, // RAW (DLT_RAW on Linux and most BSDs)
        102 => 15, // SLIP_BSDOS
        103 => 16, // PPP_BSDOS
        other => other,
    }
}

fn ranges(sorted: &[u16]) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = vec![];
    for &p in sorted {
        match out.last_mut() {
            Some((_, b)) if b.checked_add(1) == Some(p) => *b = p,
            _ => out.push((p, p)),
        }
    }
    out
}

enum Expr {
    User(String),
    Default(PortSet),
}

/// A filter applied in user space (`-f` on replay), with libpcap's own compiler and
/// interpreter: one compiled program per link type met in the files.
pub struct OfflineFilter {
    expr: Expr,
    programs: HashMap<u32, pcap::BpfProgram>,
}

impl OfflineFilter {
    /// Compiles once for Ethernet to reject a bad expression before any output.
    pub fn new(expr: &str) -> Result<Self, CaptureError> {
        let mut f = OfflineFilter {
            expr: Expr::User(expr.to_owned()),
            programs: HashMap::new(),
        };
        f.program(1)?;
        Ok(f)
    }

    /// The default live filter, run offline (tests prove it keeps every printer packet).
    pub fn default_for(ports: &PortSet) -> Self {
        OfflineFilter {
            expr: Expr::Default(ports.clone()),
            programs: HashMap::new(),
        }
    }

    fn program(&mut self, linktype: u32) -> Result<&pcap::BpfProgram, CaptureError> {
        if !self.programs.contains_key(&linktype) {
            let text = match &self.expr {
                Expr::User(s) => s.clone(),
                Expr::Default(p) => default_expression(p, linktype),
            };
            let bad = |msg: String| CaptureError::BadFilter {
                expr: text.clone(),
                msg,
            };
            let lt = i32::try_from(dlt_of(linktype))
                .map_err(|_| bad(format!("link type {linktype}")))?;
            let dead = pcap::Capture::dead(pcap::Linktype(lt)).map_err(|e| bad(e.to_string()))?;
            let prog = dead
                .compile(&text, true)
                .map_err(|e| bad(format!("{e} (link type {linktype})")))?;
            self.programs.insert(linktype, prog);
        }
        Ok(&self.programs[&linktype])
    }

    pub fn matches(&mut self, linktype: u32, data: &[u8]) -> Result<bool, CaptureError> {
        Ok(self.program(linktype)?.filter(data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_expression_compiles_and_selects() {
        let expr = default_expression(&PortSet::default(), 1);
        assert!(expr.contains("tcp portrange 8610-8614 or tcp portrange 9100-9102"));
        assert!(expr.contains("udp portrange 8610-8614"));
        // the other doors: LPD, IPP, CUPS browsing
        assert!(expr.contains("tcp port 515") && expr.contains("tcp port 631"));
        assert!(expr.contains("udp port 631"));
        assert!(expr.contains("vlan and"));
        assert!(!default_expression(&PortSet::default(), 276).contains("vlan"));
        let mut f = OfflineFilter::new(&expr).expect("libpcap compiles the default filter");
        for lt in [0, 1, 101, 113, 276] {
            OfflineFilter::default_for(&PortSet::default())
                .matches(lt, &[0u8; 64])
                .unwrap_or_else(|e| panic!("default filter for link type {lt}: {e}"));
        }
        // Ethernet/IPv4/UDP 50000 -> 8611, and the same to port 53
        let mut frame = vec![0u8; 12];
        frame.extend([0x08, 0x00, 0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0]);
        frame.extend([
            192, 0, 2, 5, 192, 0, 2, 30, 0xc3, 0x50, 0x21, 0xa3, 0, 8, 0, 0,
        ]);
        assert!(f.matches(1, &frame).unwrap());
        frame[36] = 0;
        frame[37] = 53;
        assert!(!f.matches(1, &frame).unwrap());
        // an ICMP port unreachable quoting a datagram to 8611 passes; one quoting port 53 not
        let mut icmp = vec![0u8; 12];
        icmp.extend([0x08, 0x00, 0x45, 0, 0, 56, 0, 0, 0x40, 0, 64, 1, 0, 0]);
        icmp.extend([192, 0, 2, 1, 192, 0, 2, 5, 3, 3, 0, 0, 0, 0, 0, 0]);
        icmp.extend([0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0]);
        icmp.extend([
            192, 0, 2, 5, 192, 0, 2, 30, 0xc3, 0x50, 0x21, 0xa3, 0, 8, 0, 0,
        ]);
        assert!(f.matches(1, &icmp).unwrap());
        let n = icmp.len();
        icmp[n - 6] = 0;
        icmp[n - 5] = 53;
        assert!(!f.matches(1, &icmp).unwrap());
        // and so for ICMPv6 quoting TCP 9100
        let mut v6 = vec![0u8; 12];
        v6.extend([0x86, 0xdd, 0x60, 0, 0, 0, 0, 68, 58, 64]);
        v6.extend([0u8; 32]);
        v6.extend([1, 4, 0, 0, 0, 0, 0, 0]);
        v6.extend([0x60, 0, 0, 0, 0, 20, 6, 64]);
        v6.extend([0u8; 32]);
        v6.extend([0xc3, 0x50, 0x23, 0x8c]);
        v6.extend([0u8; 16]);
        assert!(f.matches(1, &v6).unwrap());
    }

    #[test]
    fn bad_expression_is_an_error() {
        assert!(matches!(
            OfflineFilter::new("tcp port nonsense and"),
            Err(CaptureError::BadFilter { .. })
        ));
    }

    #[test]
    fn port_ranges() {
        assert_eq!(
            ranges(&[1, 2, 3, 5, 65535]),
            vec![(1, 3), (5, 5), (65535, 65535)]
        );
    }
}
