//! Inputs the fuzzers (`make fuzz`) once crashed on, kept so the fix stays fixed. Files in
//! tests/fuzz-regressions/ are named after their target: `capture_file-*` are capture files
//! (both readers, and the binary: a clean error or success, never a panic).

#[path = "../common/mod.rs"]
mod common;
use bjnp_watch::capture::replay::{replay, replay_streaming_only};
use common::*;
use std::sync::atomic::AtomicBool;

#[test]
fn every_kept_crash_input_is_handled() {
    let dir = root().join("tests/fuzz-regressions");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("capture_file-") {
            n += 1;
            let stop = AtomicBool::new(false);
            let (mut fa, mut fb) = (vec![], vec![]);
            let a = replay(&path, None, &stop, &mut |f, _| {
                fa.push((f.ts.0, f.data.to_vec()))
            });
            let b =
                replay_streaming_only(&path, &stop, &mut |f, _| fb.push((f.ts.0, f.data.to_vec())));
            // both readers: the same frames, and the same outcome
            assert!(fa == fb, "{name}: the readers disagree on the frames");
            let show = |r: Result<
                bjnp_watch::capture::Summary,
                bjnp_watch::capture::CaptureError,
            >| { r.map(|s| s.packets).map_err(|e| e.to_string()) };
            assert_eq!(show(a), show(b), "{name}");
            let r = run(&["-q", "-r", path.to_str().unwrap()]);
            assert!(!r.stderr.contains("panicked"), "{name}: {}", r.stderr);
            assert!(r.code == 0 || r.code == 2, "{name}: {}", r.stderr);
            if r.code == 2 {
                r.assert_clean_error(2, &name);
            }
        }
    }
    assert!(n >= 1, "no regression inputs found in {}", dir.display());
}
