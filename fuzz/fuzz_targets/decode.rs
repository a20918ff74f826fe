//! Link, IP and L4 decoding of one frame, and the fixed-offset pre-check beside it: neither may
//! panic, the pre-check may only reject what the decoder also finds unmonitored, and the fast
//! decoder must give exactly what the general one gives; the screen (both in one reading) must
//! answer as they do one after the other.
#![no_main]
use bjnp_watch::net::linktype as lt;
use bjnp_watch::net::PortSet;
use bjnp_watch::decode::{decode, decode_general, prefilter, screen, Decoded, Screened};
use libfuzzer_sys::fuzz_target;

const LINKTYPES: [u32; 10] = [
    lt::ETHERNET,
    lt::NULL,
    lt::LOOP,
    lt::RAW,
    lt::RAW_BSD,
    lt::RAW_OPENBSD,
    lt::LINUX_SLL,
    lt::LINUX_SLL2,
    lt::IPV4,
    lt::IPV6,
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let linktype = LINKTYPES[usize::from(sel) % LINKTYPES.len()];
    let ports = PortSet::default();
    let verdict = prefilter::check(linktype, frame, &ports);
    let decoded = decode(linktype, frame);
    assert_eq!(decoded, decode_general(linktype, frame), "fast and general decoders differ");
    // the screen reads the headers once for both: it must answer as they do, one after the other
    match screen(linktype, frame, &ports) {
        Screened::Ignored => assert_eq!(verdict, prefilter::Verdict::IgnoreIp, "screen ignored"),
        Screened::Packet(p) => {
            assert_eq!(verdict, prefilter::Verdict::Decode, "screen kept");
            assert_eq!(Decoded::Packet(p), decoded, "screen decoded otherwise");
        }
        Screened::Other => {}
    }
    if verdict == prefilter::Verdict::IgnoreIp {
        match decoded {
            Decoded::Packet(p) => {
                let n = p.l4.ip_number();
                assert!(
                    !ports.contains(n, p.src_port) && !ports.contains(n, p.dst_port),
                    "pre-check dropped a monitored packet"
                );
            }
            Decoded::Unreachable(u) => {
                assert!(
                    !ports.contains(u.l4.ip_number(), u.dst_port),
                    "pre-check dropped an unreachable refusing a monitored port"
                );
            }
            _ => {}
        }
    }
});
