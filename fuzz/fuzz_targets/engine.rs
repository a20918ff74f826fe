//! The whole engine over arbitrary frames (length-prefixed in the input, link types chosen by
//! the input), then every record in every output format: no panic, every line valid and within
//! the size limit.
#![no_main]
use bjnp_watch::engine::{Engine, EngineConfig};
use bjnp_watch::capture::Frame;
use bjnp_watch::event::{Record, Timestamp};
use bjnp_watch::output::format::{Format, Formatter, Observer, MAX_LINE};
use libfuzzer_sys::fuzz_target;

const LINKTYPES: [u32; 4] = [1, 101, 113, 276];

fuzz_target!(|data: &[u8]| {
    let mut engine = Engine::new(EngineConfig::default());
    let mut out: Vec<Record> = vec![];
    let mut rest = data;
    let mut n = 0u64;
    while rest.len() >= 3 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])) % 2048;
        let lt = LINKTYPES[usize::from(rest[2]) % LINKTYPES.len()];
        rest = &rest[3..];
        let frame = &rest[..len.min(rest.len())];
        rest = &rest[frame.len()..];
        n += 1;
        engine.process(
            &Frame {
                // 0.4 s apart: flows can time out within one input
                ts: Timestamp::from_parts(1_768_471_200 + n * 2 / 5, 0),
                linktype: lt,
                data: frame,
                orig_len: frame.len() as u32,
                cnt: n,
            },
            &mut out,
        );
    }
    engine.finish(&mut out);
    out.push(engine.stats_record(engine.last_ts(), None));
    let obs = Observer {
        hostname: "fuzz".into(),
        version: "0",
    };
    let mut line = vec![];
    for f in [Format::Eve, Format::Ecs, Format::Cef] {
        let fmt = Formatter::new(f, obs.clone());
        for r in &out {
            fmt.render(r, &mut line);
            assert!(line.len() <= MAX_LINE);
            assert!(!line.contains(&b'\n') && !line.contains(&b'\r'));
            if f != Format::Cef {
                serde_json::from_slice::<serde_json::Value>(&line).expect("valid JSON");
            } else {
                assert!(line.starts_with(b"CEF:0|"));
            }
        }
    }
});
