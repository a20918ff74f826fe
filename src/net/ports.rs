//! The monitored ports: one bit per port and transport, so the per-packet question "does this
//! touch a printer port?" is two loads and two bit tests.

/// Default monitored ports (docs/PROTOCOLS.md §4): LPD and IPP on TCP, CUPS browsing on UDP
/// 631, MFNP/BJNP on TCP and UDP, raw printing on TCP.
pub const DEFAULT_TCP: &[u16] = &[515, 631, 8610, 8611, 8612, 8613, 8614, 9100, 9101, 9102];
pub const DEFAULT_UDP: &[u16] = &[631, 8610, 8611, 8612, 8613, 8614];
/// LPD, the line printer daemon protocol (RFC 1179).
pub const LPD_PORT: u16 = 515;
/// IPP over HTTP (TCP), and CUPS browse announcements (UDP).
pub const IPP_PORT: u16 = 631;
/// Ports whose traffic is decoded as BJNP/MFNP.
pub const BJNP_PORTS: std::ops::RangeInclusive<u16> = 8610..=8614;

#[derive(Clone)]
pub struct PortSet {
    tcp: Box<[u64; 1024]>,
    udp: Box<[u64; 1024]>,
}

impl std::fmt::Debug for PortSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortSet")
            .field("tcp", &self.tcp_ports())
            .field("udp", &self.udp_ports())
            .finish()
    }
}

impl Default for PortSet {
    fn default() -> Self {
        Self::new(DEFAULT_TCP, DEFAULT_UDP)
    }
}

impl PortSet {
    pub fn new(tcp: &[u16], udp: &[u16]) -> Self {
        let mut s = PortSet {
            tcp: Box::new([0; 1024]),
            udp: Box::new([0; 1024]),
        };
        for &p in tcp {
            s.tcp[usize::from(p >> 6)] |= 1 << (p & 63);
        }
        for &p in udp {
            s.udp[usize::from(p >> 6)] |= 1 << (p & 63);
        }
        s
    }
    #[inline]
    pub fn tcp(&self, port: u16) -> bool {
        self.tcp[usize::from(port >> 6)] & (1 << (port & 63)) != 0
    }
    #[inline]
    pub fn udp(&self, port: u16) -> bool {
        self.udp[usize::from(port >> 6)] & (1 << (port & 63)) != 0
    }
    /// By IP protocol number; anything but TCP/UDP is never monitored.
    #[inline]
    pub fn contains(&self, ip_proto: u8, port: u16) -> bool {
        match ip_proto {
            6 => self.tcp(port),
            17 => self.udp(port),
            _ => false,
        }
    }
    pub fn tcp_ports(&self) -> Vec<u16> {
        (0..=u16::MAX).filter(|&p| self.tcp(p)).collect()
    }
    pub fn udp_ports(&self) -> Vec<u16> {
        (0..=u16::MAX).filter(|&p| self.udp(p)).collect()
    }
}

/// Raw printing (AppSocket/JetDirect) ports.
pub const RAW_PORTS: std::ops::RangeInclusive<u16> = 9100..=9102;

pub fn is_raw_port(port: u16) -> bool {
    RAW_PORTS.contains(&port)
}

pub fn is_bjnp_port(port: u16) -> bool {
    BJNP_PORTS.contains(&port)
}

/// What a monitored port is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// LPD (TCP 515).
    Lpd,
    /// IPP (TCP 631).
    Ipp,
    /// CUPS browse announcements (UDP 631).
    CupsBrowsed,
    /// Canon MFNP (8610).
    Mfnp,
    /// Canon BJNP (8611-8614).
    Bjnp,
    /// Raw printing (9100-9102).
    Raw,
    /// A port the site policy added.
    Other,
}

impl Service {
    pub fn of(l4: crate::net::L4, port: u16) -> Service {
        use crate::net::L4;
        match (l4, port) {
            (L4::Tcp, LPD_PORT) => Service::Lpd,
            (L4::Tcp, IPP_PORT) => Service::Ipp,
            (L4::Udp, IPP_PORT) => Service::CupsBrowsed,
            (_, 8610) => Service::Mfnp,
            (_, 8611..=8614) => Service::Bjnp,
            (L4::Tcp, 9100..=9102) => Service::Raw,
            _ => Service::Other,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Service::Lpd => "lpd",
            Service::Ipp => "ipp",
            Service::CupsBrowsed => "cups_browsed",
            Service::Mfnp => "mfnp",
            Service::Bjnp => "bjnp",
            Service::Raw => "raw",
            Service::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_set() {
        let s = PortSet::default();
        assert!(s.tcp(9100) && s.tcp(8611) && s.udp(8612));
        assert!(s.tcp(515) && s.tcp(631) && s.udp(631) && !s.udp(515));
        assert!(!s.udp(9100) && !s.tcp(80) && !s.tcp(0) && !s.udp(65535));
        assert!(s.contains(6, 9102) && !s.contains(1, 8611));
        assert_eq!(s.udp_ports(), DEFAULT_UDP);
        assert_eq!(s.tcp_ports(), DEFAULT_TCP);
        use crate::net::L4;
        assert_eq!(Service::of(L4::Tcp, 631), Service::Ipp);
        assert_eq!(Service::of(L4::Udp, 631), Service::CupsBrowsed);
        assert_eq!(Service::of(L4::Tcp, 515), Service::Lpd);
        assert_eq!(Service::of(L4::Udp, 9100), Service::Other);
    }
}
