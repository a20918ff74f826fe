//! The records' JSON writer against serde_json: for any string, and any JSON document the
//! bytes happen to be, the fast writer's bytes equal serde_json's (with the extra escapes) and
//! are JSON; a string reads back as itself. (A document's numbers are not compared after a
//! round trip: serde_json's default float parsing is not exact, whoever wrote the digits.)
#![no_main]
use bjnp_watch::output::format::json::{write, write_reference};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let (mut fast, mut reference) = (Vec::new(), Vec::new());
    write(&mut fast, s.as_ref());
    write_reference(&mut reference, s.as_ref());
    assert_eq!(fast, reference, "string {s:?}");
    let back: String = serde_json::from_slice(&fast).expect("valid JSON");
    assert_eq!(back, s);
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let (mut fast, mut reference) = (Vec::new(), Vec::new());
        write(&mut fast, &v);
        write_reference(&mut reference, &v);
        assert_eq!(fast, reference, "value {v}");
        serde_json::from_slice::<serde_json::Value>(&fast).expect("valid JSON");
    }
});
