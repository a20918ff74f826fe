//! The fast decoder (plain Ethernet/cooked/raw IPv4, TCP or UDP) gives exactly the packet the
//! general decoder gives: on every sample frame, every truncation of it, and many mutations of
//! its header bytes (a deterministic xorshift, so a failure reproduces).

#[path = "../common/mod.rs"]
mod common;
use bjnp_watch::decode::{decode, decode_general};

#[test]
fn fast_decoding_equals_general_decoding() {
    let frames = common::sample_frames();
    assert!(frames.len() > 1000, "{} frames", frames.len());
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut checked = 0u64;
    for (lt, f) in &frames {
        for cut in 0..=f.len().min(120) {
            assert_eq!(
                decode(*lt, &f[..cut]),
                decode_general(*lt, &f[..cut]),
                "cut {cut}"
            );
            checked += 1;
        }
        for _ in 0..40 {
            let m = mutated(f, &mut x);
            assert_eq!(decode(*lt, &m), decode_general(*lt, &m), "{m:02x?}");
            checked += 1;
        }
    }
    assert!(checked > 50_000);
}

/// `f` with three header bytes flipped, where the xorshift state `x` says (so a failure
/// reproduces): link, IP and L4 headers sit in the first 60 bytes.
fn mutated(f: &[u8], x: &mut u64) -> Vec<u8> {
    let mut m = f.to_vec();
    for _ in 0..3 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        let at = (*x as usize) % m.len().clamp(1, 60);
        if let Some(b) = m.get_mut(at) {
            *b ^= (*x >> 32) as u8 | 1;
        }
    }
    m
}

/// The screen (the pre-check and the fast decoder in one reading) gives what the pre-check and
/// then the decoder give: an "ignored" only where the pre-check ignores an IP frame, a packet
/// only where the pre-check keeps the frame and the decoder makes that very packet; on every
/// sample frame, its truncations and mutations, with the default ports and with a set of
/// ports that makes most sample frames unmonitored.
#[test]
fn screening_equals_the_pre_check_then_the_decoder() {
    use bjnp_watch::decode::{prefilter, screen, Decoded, Screened};
    use bjnp_watch::net::PortSet;
    let frames = common::sample_frames();
    let narrow = PortSet::new(&[9100], &[]);
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let (mut ignored, mut packets) = (0u64, 0u64);
    for ports in [PortSet::default(), narrow] {
        let mut check = |lt: u32, f: &[u8]| match screen(lt, f, &ports) {
            Screened::Ignored => {
                assert_eq!(
                    prefilter::check(lt, f, &ports),
                    prefilter::Verdict::IgnoreIp,
                    "{f:02x?}"
                );
                ignored += 1;
            }
            Screened::Packet(p) => {
                assert_eq!(
                    prefilter::check(lt, f, &ports),
                    prefilter::Verdict::Decode,
                    "{f:02x?}"
                );
                assert_eq!(Decoded::Packet(p), decode(lt, f), "{f:02x?}");
                packets += 1;
            }
            Screened::Other => {}
        };
        for (lt, f) in &frames {
            for cut in 0..=f.len().min(80) {
                check(*lt, &f[..cut]);
            }
            for _ in 0..40 {
                check(*lt, &mutated(f, &mut x));
            }
        }
    }
    // both answers are exercised, not only the fallback
    assert!(
        ignored > 1000 && packets > 1000,
        "{ignored} ignored, {packets} packets"
    );
}
