//! BPF filters. The default live filter selects the monitored ports, also inside 802.1Q/QinQ
//! tags, plus later IP fragments (which carry no ports) so fragments of printer traffic are
//! counted.

use super::CaptureError;
use crate::decode::ports::PortSet;
use std::collections::HashMap;

/// A BPF expression selecting `ports` (TCP and UDP) and non-first fragments.
pub fn default_expression(ports: &PortSet) -> String {
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
    // Later fragments have no ports; the engine keeps only those of monitored datagrams.
    parts.push("(ip[6:2] & 0x1fff != 0)".into());
    parts.push("(ip6 and ip6[6] == 44)".into());
    let base = parts.join(" or ");
    // `vlan` shifts the offsets of what follows, so the tagged case repeats the expression;
    // a second `vlan` covers QinQ.
    format!("({base}) or (vlan and ({base})) or (vlan and vlan and ({base}))")
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

/// `-f` on replay: one compiled program per link type met in the files.
pub struct OfflineFilter {
    expr: String,
    programs: HashMap<u32, pcap::BpfProgram>,
}

impl OfflineFilter {
    /// Compiles once for Ethernet to reject a bad expression before any output.
    pub fn new(expr: &str) -> Result<Self, CaptureError> {
        let mut f = OfflineFilter {
            expr: expr.to_owned(),
            programs: HashMap::new(),
        };
        f.program(1)?;
        Ok(f)
    }

    fn program(&mut self, linktype: u32) -> Result<&pcap::BpfProgram, CaptureError> {
        if !self.programs.contains_key(&linktype) {
            let bad = |msg: String| CaptureError::BadFilter {
                expr: self.expr.clone(),
                msg,
            };
            let lt = i32::try_from(linktype).map_err(|_| bad(format!("link type {linktype}")))?;
            let dead = pcap::Capture::dead(pcap::Linktype(lt)).map_err(|e| bad(e.to_string()))?;
            let prog = dead
                .compile(&self.expr, true)
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
        let expr = default_expression(&PortSet::default());
        assert!(expr.contains("tcp portrange 8610-8614 or tcp portrange 9100-9102"));
        assert!(expr.contains("udp portrange 8610-8614"));
        let mut f = OfflineFilter::new(&expr).expect("libpcap compiles the default filter");
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
