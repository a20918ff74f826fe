//! `verify --records`: EVE lines read back from a file anyone may have edited. Reading them
//! must never panic, and whatever was read must still make a report in every format.
#![no_main]
use bjnp_watch::config::Policy;
use bjnp_watch::verify::render::{render, Format};
use bjnp_watch::verify::{judge, Collector, Inputs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut c = Collector::default();
    for line in String::from_utf8_lossy(data).lines() {
        let _ = c.eve_line(line);
    }
    let policy = Policy::default();
    let report = judge(&Inputs {
        policy: &policy,
        before: None,
        after: &c,
        change_at: None,
    });
    for f in [Format::Table, Format::Json, Format::Markdown, Format::Html] {
        let _ = render(&report, f);
    }
});
