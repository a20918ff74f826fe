//! Why a router or host said a packet could not be delivered (ICMP destination unreachable,
//! ICMPv6 type 1): the answer a firewall's REJECT gives instead of a TCP reset.

use super::named_enum;

named_enum! {
    /// The refusal an ICMP destination-unreachable message carries (`flow.unreachable`).
    pub enum Unreach {
        /// No route to the network (ICMP codes 0 and 6; ICMPv6 code 0).
        Net = "net",
        /// The host is down or unknown (ICMP codes 1 and 7; ICMPv6 code 3).
        Host = "host",
        /// The host does not speak the transport (ICMP code 2).
        Protocol = "protocol",
        /// Nothing listens on the port (ICMP code 3; ICMPv6 code 4): what iptables' REJECT
        /// sends by default.
        Port = "port",
        /// A filter said no (ICMP codes 9, 10 and 13; ICMPv6 codes 1, 5 and 6).
        Prohibited = "prohibited",
    }
}

impl Unreach {
    /// The refusal an ICMP (`v6` false) or ICMPv6 destination-unreachable code stands for;
    /// `None` for codes that are no refusal (fragmentation needed, source route failed,
    /// precedence cut-offs).
    pub fn from_code(v6: bool, code: u8) -> Option<Self> {
        Some(match (v6, code) {
            (false, 0 | 6) | (true, 0) => Unreach::Net,
            (false, 1 | 7) | (true, 3) => Unreach::Host,
            (false, 2) => Unreach::Protocol,
            (false, 3) | (true, 4) => Unreach::Port,
            (false, 9 | 10 | 13) | (true, 1 | 5 | 6) => Unreach::Prohibited,
            _ => return None,
        })
    }
}
