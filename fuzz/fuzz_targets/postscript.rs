//! The streaming PostScript scanner, fed in arbitrary chunks.
#![no_main]
use bjnp_watch::proto::postscript::Scanner;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, data)) = data.split_first() else {
        return;
    };
    let mut s = Scanner::default();
    let mut findings = 0usize;
    for piece in data.chunks(usize::from(chunk) + 1) {
        s.feed(piece, &mut |_, evidence| {
            assert!(evidence.len() <= 4096, "evidence not capped");
            findings += 1;
        });
    }
    let _ = findings;
});
