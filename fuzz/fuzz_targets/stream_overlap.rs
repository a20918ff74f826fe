//! One direction of a TCP stream with overlap verification, fed segments and acknowledgements
//! from the input. Checked: every byte delivered is a copy the stream received for its place
//! (nothing invented), a stream whose overlapping copies all agree reports no conflict (no
//! false alarm), and memory stays within its bounds.
#![no_main]
use bjnp_watch::flow::stream::{Delivery, Reassembler, MAX_BUFFERED, UNACKED};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut r = Reassembler::verifying();
    r.syn(0);
    // the distinct copies received of each byte, by stream offset (from sequence number 1)
    let mut copies: Vec<Vec<u8>> = Vec::new();
    let mut delivered: Vec<u8> = Vec::new();
    let mut gaps = false;
    let mut rest = data;
    let mut segments = 0;
    while let [kind, a, b, tail @ ..] = rest {
        let at = u32::from(u16::from_be_bytes([*a, *b]) % 2048);
        if kind & 0x80 != 0 {
            r.acked(at + 1);
            rest = tail;
            continue;
        }
        let len = usize::from(kind & 0x7f).min(tail.len());
        let (bytes, after) = tail.split_at(len);
        rest = after;
        segments += 1;
        if segments > 60 {
            break;
        }
        r.segment(at + 1, bytes, &mut |d| match d {
            Delivery::Data(x) => delivered.extend_from_slice(x),
            Delivery::Gap(n) => {
                gaps = true;
                delivered.extend(std::iter::repeat_n(0, n as usize));
            }
        });
        let end = at as usize + len;
        if copies.len() < end {
            copies.resize(end, Vec::new());
        }
        for (k, &x) in bytes.iter().enumerate() {
            let c = &mut copies[at as usize + k];
            if !c.contains(&x) {
                c.push(x);
            }
        }
        assert!(r.unacked() <= UNACKED);
        assert!(r.buffered() <= MAX_BUFFERED);
    }
    if !gaps {
        for (k, &x) in delivered.iter().enumerate() {
            assert!(copies[k].contains(&x), "byte {k}: never received");
        }
    }
    if copies.iter().all(|c| c.len() <= 1) {
        assert_eq!(r.conflicts, 0, "a conflict where every copy agreed");
    }
});
