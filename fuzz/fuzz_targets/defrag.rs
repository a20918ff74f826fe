//! The defragmenter, fed a train of fragments of one datagram from the input, under every
//! overlap policy. Checked against a byte map: where the policy is "first" or "last", a
//! datagram handed on complete must hold exactly the bytes the map says.
#![no_main]
use bjnp_watch::decode::{Fragment, Vlans};
use bjnp_watch::defrag::{DefragConfig, Defragmenter, Ending, OverlapPolicy};
use bjnp_watch::net::Timestamp;
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};

/// Each fragment: offset in 8-byte units (u8, so the datagram stays small enough to fill),
/// more-fragments flag and length (u8: top bit MF), then that many bytes.
fn fragments(mut data: &[u8]) -> Vec<(u32, bool, &[u8])> {
    let mut out = Vec::new();
    while let [off, flags, rest @ ..] = data {
        let len = usize::from(flags & 0x7f).min(rest.len());
        out.push((u32::from(*off) * 8, flags & 0x80 != 0, &rest[..len]));
        data = &rest[len..];
        if out.len() > 64 {
            break;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&proto, data)) = data.split_first() else {
        return;
    };
    let proto = if proto & 1 == 0 { 17 } else { 6 };
    let train = fragments(data);
    let a = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    for &policy in OverlapPolicy::ALL {
        let mut d = Defragmenter::new(DefragConfig {
            policy,
            max_bytes: 64 * 1024,
            ..DefragConfig::default()
        });
        // the byte map: who holds each byte under "first" and "last"
        let mut first: Vec<Option<u8>> = Vec::new();
        let mut last: Vec<Option<u8>> = Vec::new();
        let mut done = Vec::new();
        for (i, &(offset, more, bytes)) in train.iter().enumerate() {
            let f = Fragment {
                vlan: Vlans::default(),
                src: a,
                dst: a,
                id: 1,
                offset,
                more,
                proto,
                data: bytes,
                announced: bytes.len(),
            };
            // a fragment before the last counts to its last 8-byte boundary (IPv4, as Linux)
            let kept = if more { &bytes[..bytes.len() & !7] } else { bytes };
            let end = offset as usize + kept.len();
            if first.len() < end {
                first.resize(end, None);
                last.resize(end, None);
            }
            for (k, &b) in kept.iter().enumerate() {
                first[offset as usize + k].get_or_insert(b);
                last[offset as usize + k] = Some(b);
            }
            d.fragment(&f, Timestamp(i as u64), i as u64, 60);
            while let Some(x) = d.take_done() {
                done.push(x);
            }
            assert!(d.stats().held <= 1);
        }
        d.drain();
        while let Some(x) = d.take_done() {
            done.push(x);
        }
        assert_eq!(d.stats().held, 0);
        for x in &done {
            let head = x.datagram.head();
            assert!(head.len() <= 65_535);
            if x.ending != Ending::Complete {
                continue;
            }
            let model = match policy {
                OverlapPolicy::First => &first,
                OverlapPolicy::Last => &last,
                _ => continue,
            };
            // a complete datagram came from one train: every byte is the model's
            if done.len() == 1 {
                for (k, &b) in head.iter().enumerate() {
                    assert_eq!(model.get(k).copied().flatten(), Some(b), "byte {k} under {policy}");
                }
            }
        }
    }
});
