//! The classic-pcap fast reader gives exactly what the general streaming reader gives: the same
//! frames on every sample, and the same error after the same number of packets on every
//! truncation and on absurd record lengths.

#[path = "../common/mod.rs"]
mod common;
use bjnp_watch::capture::replay::{is_fast_path, replay, replay_streaming_only};
use bjnp_watch::capture::CaptureError;
use common::*;
use std::path::Path;
use std::sync::atomic::AtomicBool;

type Frames = Vec<(u64, u32, Vec<u8>, u32, u64)>;
/// What one reader gave: its frames, then the packet count or the error.
type Outcome = (Frames, Result<u64, String>);

fn both(path: &Path) -> (Outcome, Outcome) {
    let stop = AtomicBool::new(false);
    let collect = |fast: bool| {
        let mut v: Frames = vec![];
        let mut push = |f: &bjnp_watch::capture::Frame<'_>, _: bool| {
            v.push((f.ts.0, f.linktype, f.data.to_vec(), f.orig_len, f.cnt))
        };
        let r = if fast {
            replay(path, None, &stop, &mut push)
        } else {
            replay_streaming_only(path, &stop, &mut push)
        };
        let r = r.map(|s| s.packets).map_err(|e| kind(&e));
        (v, r)
    };
    (collect(true), collect(false))
}

fn kind(e: &CaptureError) -> String {
    match e {
        CaptureError::Truncated { packets, .. } => format!("truncated after {packets}"),
        CaptureError::RecordTooLarge { packets, .. } => format!("too large after {packets}"),
        other => format!("{other}"),
    }
}

#[test]
fn fast_reader_equals_streaming_reader() {
    let dir = tempfile::tempdir().unwrap();
    let mut classic = 0;
    for name in samples() {
        let path = root().join("samples").join(&name);
        if !is_fast_path(&path) {
            continue;
        }
        classic += 1;
        let (fast, slow) = both(&path);
        assert_eq!(fast.0.len(), slow.0.len(), "{name}");
        assert!(fast == slow, "{name}: readers differ");
        // every cut: inside the global header, a record header and record data
        let bytes = std::fs::read(&path).unwrap();
        let cut = dir.path().join("cut.pcap");
        let step = (bytes.len() / 40).max(1);
        for at in (25..bytes.len())
            .step_by(step)
            .chain([bytes.len() - 1, 30, 39])
        {
            std::fs::write(&cut, &bytes[..at]).unwrap();
            let (f, s) = both(&cut);
            assert!(f == s, "{name} cut at {at}: {:?} vs {:?}", f.1, s.1);
        }
    }
    assert!(classic >= 15, "only {classic} classic samples");
}

#[test]
fn absurd_record_length_is_an_error_not_an_allocation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.pcap");
    let mut b = std::fs::read(root().join("samples/gen-vlan.pcap")).unwrap();
    // the first record claims 4 GiB - 1 of data
    b[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(&path, &b).unwrap();
    let stop = AtomicBool::new(false);
    let e = replay(&path, None, &stop, &mut |_, _| {}).unwrap_err();
    assert!(
        matches!(e, CaptureError::RecordTooLarge { packets: 0, .. }),
        "{e}"
    );
    let r = run(&["-r", path.to_str().unwrap(), "-q"]);
    r.assert_clean_error(2, "record of 4294967295 bytes");
}

/// The fast reader reads ahead in 256 KiB chunks: records that straddle chunks anywhere (their
/// header split, their data split, a record bigger than several chunks) come out whole and equal
/// to the streaming reader's, and a cut anywhere gives the same error after the same count.
#[test]
fn records_straddling_read_chunks_come_out_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.pcap");
    let mut b = vec![];
    b.extend_from_slice(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]);
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&(1u32 << 21).to_le_bytes()); // snaplen
    b.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    let mut x: u32 = 12345;
    for i in 0..400u32 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        // mostly small, some odd sizes, and one larger than four chunks
        let len = if i == 200 {
            1_100_000
        } else {
            14 + (x % 3000) as usize
        };
        b.extend_from_slice(&(1_768_471_200 + i).to_le_bytes());
        b.extend_from_slice(&i.to_le_bytes());
        b.extend_from_slice(&(len as u32).to_le_bytes());
        b.extend_from_slice(&(len as u32).to_le_bytes());
        b.extend((0..len).map(|k| (k as u32 ^ i) as u8));
    }
    std::fs::write(&path, &b).unwrap();
    let (fast, slow) = both(&path);
    assert_eq!(fast.1, Ok(400));
    assert!(fast == slow, "readers differ");
    for at in [131_072, 262_144 + 7, 524_288 + 15, 1_200_000, b.len() - 3] {
        std::fs::write(&path, &b[..at]).unwrap();
        let (f, s) = both(&path);
        assert!(f == s, "cut at {at}: {:?} vs {:?}", f.1, s.1);
        assert!(f.1.is_err(), "cut at {at}");
    }
}
