//! BJNP/MFNP: datagram parsing with every payload decoder, and the TCP framer fed the same
//! bytes in arbitrary chunks.
#![no_main]
use bjnp_watch::proto::bjnp::{self, Context, Framer, Transport};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, data)) = data.split_first() else {
        return;
    };
    if let Ok((first, rest)) = bjnp::datagram(data) {
        for m in std::iter::once(first).chain(rest) {
            let ctx = Context {
                transport: Transport::Udp,
                to_service: chunk & 1 == 0,
                from_service: chunk & 2 == 0,
            };
            let _ = bjnp::check(&m, ctx);
            let p = m.payload;
            if let Ok(id) = bjnp::DeviceId::parse(m.header.magic(), p) {
                let _ = (
                    id.model(),
                    id.manufacturer(),
                    id.looks_valid(),
                    id.fields().count(),
                );
            }
            let _ = bjnp::Discover::parse(p).map(|d| d.addresses().count());
            let _ = bjnp::JobDetails::parse(p);
            let _ = bjnp::ScanPoll::parse(p);
            let _ = bjnp::status_text(p);
            let _ = bjnp::accepted_bytes(p);
            let _ = bjnp::utf16be_string(p);
        }
    }
    let mut framer = Framer::default();
    let step = usize::from(chunk % 32) + 1;
    for piece in data.chunks(step) {
        framer.feed(piece, &mut |f| {
            let _ = f;
        });
    }
});
