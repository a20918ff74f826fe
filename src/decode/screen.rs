//! The pre-check and the fast decoder in one reading of the headers, for the frame they both
//! take: plain IPv4 TCP or UDP. The pre-check reads the ports to drop what is not monitored;
//! for a frame it keeps, the decoder used to read the same headers again (on printer-heavy
//! traffic, where nearly every frame is kept, that second reading was 4 % of a replay). Every
//! other frame goes the usual way: the pre-check, then the decoder. Proven to give what the two
//! give one after the other (`tests/decoding/decode.rs`, the `decode` fuzz target).

use super::{fast, link, Packet};
use crate::net::PortSet;

/// What [`screen`] made of a frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Screened<'a> {
    /// Plain IPv4 TCP or UDP between unmonitored ports: the pre-check's certain "ignore" (an
    /// IP frame, counted as ignored).
    Ignored,
    /// Plain IPv4 TCP or UDP to or from a monitored port, decoded as the decoder decodes it.
    Packet(Packet<'a>),
    /// Anything else: for the pre-check and then the decoder.
    Other,
}

pub fn screen<'a>(linktype: u32, data: &'a [u8], ports: &PortSet) -> Screened<'a> {
    let Some(d) = fast::ipv4(linktype, data) else {
        return Screened::Other;
    };
    let Some((ihl, total)) = fast::plain_v4(d) else {
        return Screened::Other;
    };
    let proto = d[9];
    // The pre-check reads the ports only where the header and the total length leave room for
    // them; elsewhere it sends the frame to the decoder, and so does this.
    if (proto != 6 && proto != 17) || d.len() < ihl + 4 || total < ihl + 4 {
        return Screened::Other;
    }
    let (sport, dport) = (fast::be16(d, ihl), fast::be16(d, ihl + 2));
    if !ports.contains(proto, sport) && !ports.contains(proto, dport) {
        return Screened::Ignored;
    }
    match fast::transport(d, ihl, total) {
        Some(mut p) => {
            p.link_group = link::group(linktype, data);
            Screened::Packet(p)
        }
        None => Screened::Other,
    }
}
