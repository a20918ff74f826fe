//! No bytes may make the engine panic or write an invalid record: every sample frame is
//! truncated at every length and mutated many times over (a deterministic xorshift, so a
//! failure reproduces), then fed through the full engine with its JSON writer.

#[path = "../common/mod.rs"]
mod common;
use bjnp_watch::capture::Frame;
use bjnp_watch::engine::{Engine, EngineConfig};
use bjnp_watch::event::Timestamp;
use bjnp_watch::output::json::JsonLines;

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn truncated_and_mutated_frames_never_panic_and_stay_valid_json() {
    let frames = common::sample_frames();
    assert!(frames.len() > 100);
    let mut engine = Engine::new(EngineConfig::default());
    let mut sink = JsonLines::new(Vec::new());
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut n = 0u64;
    let mut feed = |engine: &mut Engine, sink: &mut JsonLines<Vec<u8>>, lt: u32, d: &[u8]| {
        n += 1;
        let f = Frame {
            ts: Timestamp(n * 1_000_000),
            linktype: lt,
            data: d,
            orig_len: d.len() as u32,
            cnt: n,
        };
        engine.process(&f, sink);
    };
    for (lt, data) in &frames {
        for cut in 0..=data.len() {
            feed(&mut engine, &mut sink, *lt, &data[..cut]);
        }
        for _ in 0..200 {
            let mut m = data.clone();
            for _ in 0..1 + rng.next() % 6 {
                if m.is_empty() {
                    break;
                }
                let i = (rng.next() as usize) % m.len();
                m[i] = rng.next() as u8;
            }
            // sometimes aim at the BJNP header's length and code fields
            if m.len() > 60 && rng.next() % 4 == 0 {
                let i = m.len() - 1 - (rng.next() as usize % 40);
                m[i] = 0xff;
            }
            feed(&mut engine, &mut sink, *lt, &m);
        }
    }
    engine.finish(&mut sink);
    let out = String::from_utf8(sink.into_inner()).expect("records are UTF-8");
    let mut lines = 0;
    for line in out.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["event_type"].is_string() && v["timestamp"].is_string());
        lines += 1;
    }
    assert!(
        lines > 100,
        "the mutated traffic still produced records ({lines})"
    );
}
