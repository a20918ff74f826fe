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
            let mut m = f.clone();
            for _ in 0..3 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // the headers: link, IP and L4 sit in the first 60 bytes
                let at = (x as usize) % m.len().clamp(1, 60);
                if let Some(b) = m.get_mut(at) {
                    *b ^= (x >> 32) as u8 | 1;
                }
            }
            assert_eq!(decode(*lt, &m), decode_general(*lt, &m), "{m:02x?}");
            checked += 1;
        }
    }
    assert!(checked > 50_000);
}
