//! CUPS browsing (UDP 631): each datagram read as a browse announcement into a `cups_browsed`
//! record (whether its URI names another host than its sender is decided here, from the
//! packet), or an anomaly when it is none. A flow's first few announcements are records; the
//! rest are counted, so a flood from one sender is a few lines.

use super::{Analyzer, AppEvent, PacketCx, Shared};
use crate::event::{text, Anomaly, AnomalyEvent, AnomalyType, AppProto, CupsBrowsed};
use crate::net::L4;
use crate::proto::cups_browse;

/// Announcements written per flow; later ones are counted (`stats.doors.cups_browsed_unlogged`)
/// and still judged.
pub const LOGGED_PER_FLOW: u32 = 4;

/// An announcement for detection, and whether it is written as a record.
#[derive(Debug)]
pub struct BrowseEvent {
    pub record: CupsBrowsed,
    pub logged: bool,
}

#[derive(Default)]
pub struct BrowseFlow {
    seen: u32,
    malformed_reported: bool,
}

impl Analyzer for BrowseFlow {
    fn on_packet(&mut self, shared: &mut Shared, cx: &PacketCx<'_, '_>, out: &mut Vec<AppEvent>) {
        let p = cx.p;
        if p.l4 != L4::Udp || p.payload.is_empty() {
            return;
        }
        match cups_browse::parse(p.payload) {
            Ok(a) => {
                self.seen += 1;
                let stats = &mut shared.doors;
                stats.cups_browsed += 1;
                let logged = self.seen <= LOGGED_PER_FLOW;
                stats.cups_browsed_unlogged += u64::from(!logged);
                let s = |b: &[u8]| text::capped(b, text::MAX_FIELD);
                let uri_host = s(a.uri_host);
                // a host name cannot be compared with the sender without a resolver: unknown
                let redirect = uri_host
                    .parse::<std::net::IpAddr>()
                    .ok()
                    .map(|ip| ip != p.src);
                let record = CupsBrowsed {
                    printer_type: a.printer_type,
                    printer_state: a.state,
                    uri: text::capped(a.uri, text::MAX_RAW),
                    uri_host,
                    redirect,
                    location: a.location.map(s),
                    info: a.info.map(s),
                    make_and_model: a.make_model.map(s),
                    options: (!a.options.is_empty()).then(|| s(a.options)),
                };
                out.push(AppEvent::CupsBrowsed(Box::new(BrowseEvent {
                    record,
                    logged,
                })));
            }
            Err(e) => {
                shared.doors.cups_browsed_malformed += 1;
                if !std::mem::replace(&mut self.malformed_reported, true) {
                    out.push(AppEvent::Anomaly(Anomaly {
                        kind: AnomalyType::Applayer,
                        event: AnomalyEvent::CupsBrowsedMalformed,
                        layer: Some(AppProto::CupsBrowsed),
                        reason: Some(format!("not a browse announcement: {e}")),
                        bytes: Some(p.payload.len() as u64),
                        preview_hex: Some(text::hex_preview(p.payload, 32)),
                    }));
                }
            }
        }
    }

    fn on_end(&mut self, _: &mut Shared, _: &mut Vec<AppEvent>) {}
}
