//! PJL lines: parsing, options, the risk assessment, traversal and binary-payload checks.
#![no_main]
use bjnp_watch::proto::pjl::{self, Line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for raw in data.split(|&b| b == b'\n') {
        if let Some(line) = Line::parse(raw) {
            let _ = pjl::assess(&line);
            let _ = pjl::binary_payload(&line);
            let _ = line.option("NAME").map(pjl::is_traversal);
            let _ = line.first_word();
            let _ = line.is("FSDOWNLOAD");
        }
        let _ = pjl::option(raw, "SIZE");
    }
});
