//! The page-description-language classifier and its helpers.
#![no_main]
use bjnp_watch::proto::pdl::{classify, skip_preamble, Language};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let skip = skip_preamble(data);
    assert!(skip <= data.len());
    let _ = classify(data).map(Language::name);
    let _ = Language::from_enter(data).name();
});
