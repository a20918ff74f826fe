//! A BJNP message as the record model holds it: the header's numbers, the payload decoded for
//! its command, every wire string capped.

use super::identity::IdentityMemo;
use crate::event::{self, text, Direction, ResponseTo};
use crate::proto::bjnp::{
    self, Anomalies, Command, Discover, JobDetails, Message, ScanPoll, Transport,
};
use std::net::IpAddr;

pub fn message(
    m: &Message<'_>,
    transport: Transport,
    anomalies: Anomalies,
    response_to: Option<ResponseTo>,
    identities: &mut IdentityMemo,
) -> event::Bjnp {
    let h = &m.header;
    let response = h.dev_type().is_response();
    let mut r = event::Bjnp {
        magic: h.magic(),
        direction: if response {
            Direction::Response
        } else {
            Direction::Request
        },
        dev_type: h.dev_type().0,
        command: h.command().0,
        command_name: h.command().name(transport, h.dev_type().stack()),
        seq: h.seq(),
        session_id: h.session_id(),
        payload_len: h.payload_len(),
        response_to,
        anomalies,
        ..Default::default()
    };
    let p = m.payload;
    match (h.command(), response, transport) {
        (Command::GET_ID, true, _) => r.device_id = identities.fields(h.magic(), p),
        (Command::DISCOVER, true, _) => {
            if let Ok(d) = Discover::parse(p) {
                r.mac = Some(text::mac(&d.mac));
                let mut addrs = d.addresses();
                r.ip = addrs.next();
                let more: Vec<IpAddr> = addrs.take(8).collect();
                if !more.is_empty() {
                    r.ips = std::iter::once(r.ip).flatten().chain(more).collect();
                }
            }
        }
        (Command::JOB_DETAILS, false, _) => {
            if let Ok(j) = JobDetails::parse(p) {
                let s =
                    |b: &[u8]| text::cap_str(&bjnp::utf16be_string(b), text::MAX_FIELD).to_owned();
                r.job = Some(event::Job {
                    host: s(j.host),
                    user: s(j.user),
                    title: s(j.title),
                });
            }
        }
        (Command::SCAN_POLL, false, _) => {
            if let Ok(poll) = ScanPoll::parse(p) {
                r.poll = Some(event::Poll {
                    kind: poll.kind,
                    user_host: poll.user_host.map(|b| {
                        text::cap_str(&bjnp::utf16be_string(b), text::MAX_FIELD).to_owned()
                    }),
                });
            }
        }
        (Command::GET_STATUS, true, Transport::Udp) => {
            r.status = bjnp::status_text(p).map(|s| text::capped(s, text::MAX_FIELD));
        }
        (Command::PRINT_DATA, true, Transport::Tcp) => r.accepted = bjnp::accepted_bytes(p),
        _ => {}
    }
    r
}
