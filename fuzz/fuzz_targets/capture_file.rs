//! A capture file of arbitrary bytes through both readers (the classic-pcap fast path and the
//! general streaming one): no panic, no hang, bounded memory, and the same frames and errors.
#![no_main]
use bjnp_watch::capture::replay::{replay, replay_streaming_only};
use libfuzzer_sys::fuzz_target;
use std::io::Write;
use std::sync::atomic::AtomicBool;

fuzz_target!(|data: &[u8]| {
    let mut f = tempfile::NamedTempFile::new_in("/dev/shm")
        .or_else(|_| tempfile::NamedTempFile::new())
        .unwrap();
    f.write_all(data).unwrap();
    f.flush().unwrap();
    let stop = AtomicBool::new(false);
    let mut fast = vec![];
    let a = replay(f.path(), None, &stop, &mut |fr, _| {
        fast.push((fr.ts.0, fr.data.to_vec()))
    });
    let mut slow = vec![];
    let b = replay_streaming_only(f.path(), &stop, &mut |fr, _| {
        slow.push((fr.ts.0, fr.data.to_vec()))
    });
    assert_eq!(fast, slow, "readers disagree on the frames");
    assert_eq!(a.is_ok(), b.is_ok(), "readers disagree: {a:?} vs {b:?}");
});
