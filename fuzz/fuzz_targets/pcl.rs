//! The PCL escape-sequence scanner, fed in arbitrary chunks.
#![no_main]
use bjnp_watch::proto::pcl::Scanner;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, data)) = data.split_first() else {
        return;
    };
    let mut s = Scanner::default();
    for piece in data.chunks(usize::from(chunk) + 1) {
        s.feed(piece, &mut |_, evidence| {
            assert!(evidence.len() <= 4096, "evidence not capped");
        });
    }
});
