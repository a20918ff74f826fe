//! Property tests (proptest): random, truncated and mutated frames, built from the samples' real
//! frames, through the whole engine never panic; every record renders as valid EVE and ECS
//! JSON, a CEF line and an RFC 5424 message within the size limit; and the same input twice
//! gives identical records.

#[path = "../common/mod.rs"]
mod common;
use bjnp_watch::capture::Frame;
use bjnp_watch::engine::{Engine, EngineConfig};
use bjnp_watch::event::{Record, Timestamp};
use bjnp_watch::output::format::{syslog_severity, Format, Formatter, Observer, MAX_LINE};
use bjnp_watch::output::sink::rfc5424;
use proptest::prelude::*;
use std::sync::OnceLock;

/// (link type, bytes) of every frame of every sample, read once for every case.
fn sample_frames() -> &'static [(u32, Vec<u8>)] {
    static FRAMES: OnceLock<Vec<(u32, Vec<u8>)>> = OnceLock::new();
    FRAMES.get_or_init(common::sample_frames)
}

/// One input frame: a sample frame (or random bytes), cut, with some bytes overwritten.
#[derive(Clone, Debug)]
struct Input {
    linktype: u32,
    bytes: Vec<u8>,
}

fn input() -> impl Strategy<Value = Input> {
    let n = sample_frames().len();
    prop_oneof![
        // a real frame, truncated and mutated
        (
            0..n,
            any::<prop::sample::Index>(),
            prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6)
        )
            .prop_map(|(i, cut, muts)| {
                let (lt, f) = &sample_frames()[i];
                let mut b = f.clone();
                if !b.is_empty() {
                    for (at, v) in muts {
                        let k = at.index(b.len());
                        b[k] = v;
                    }
                    // keep the whole frame half the time
                    if cut.index(2) == 0 {
                        b.truncate(cut.index(b.len() + 1));
                    }
                }
                Input {
                    linktype: *lt,
                    bytes: b,
                }
            }),
        // random bytes on a random one of the common link types
        (
            prop::sample::select(vec![1u32, 101, 113, 276, 0]),
            prop::collection::vec(any::<u8>(), 0..200)
        )
            .prop_map(|(linktype, bytes)| Input { linktype, bytes }),
    ]
}

fn run(inputs: &[Input]) -> Vec<Record> {
    let mut e = Engine::new(EngineConfig::default());
    let mut out: Vec<Record> = vec![];
    for (i, x) in inputs.iter().enumerate() {
        e.process(
            &Frame {
                ts: Timestamp::from_parts(1_768_471_200 + i as u64, 0),
                linktype: x.linktype,
                data: &x.bytes,
                orig_len: x.bytes.len() as u32,
                cnt: i as u64 + 1,
            },
            &mut out,
        );
    }
    e.finish(&mut out);
    out.push(e.stats_record(e.last_ts(), None));
    out
}

fn check_formats(records: &[Record]) -> Result<(), TestCaseError> {
    let obs = Observer {
        hostname: "sensor-1".into(),
        version: "0",
    };
    let mut line = vec![];
    for f in [Format::Eve, Format::Ecs, Format::Cef] {
        let fmt = Formatter::new(f, obs.clone());
        for r in records {
            fmt.render(r, &mut line);
            prop_assert!(line.len() <= MAX_LINE);
            prop_assert!(!line.iter().any(|&b| b == b'\n' || b == b'\r' || b == 0x1b));
            let text = std::str::from_utf8(&line).expect("UTF-8");
            match f {
                Format::Cef => prop_assert!(text.starts_with("CEF:0|bjnp-watch|")),
                _ => {
                    let v: serde_json::Value = serde_json::from_str(text).expect("valid JSON");
                    prop_assert!(v.is_object());
                }
            }
            // and as a syslog message over TCP: the count is exactly the message length
            let mut msg = vec![];
            let pri = 21 * 8 + u16::from(syslog_severity(r));
            rfc5424(
                &mut msg,
                pri,
                r.timestamp,
                "sensor-1",
                42,
                r.event_type().name(),
                &line,
                true,
            );
            let s = std::str::from_utf8(&msg).unwrap();
            let (count, rest) = s.split_once(' ').unwrap();
            prop_assert_eq!(count.parse::<usize>().unwrap(), rest.len());
            let head = format!("<{}>1 ", pri);
            prop_assert!(rest.starts_with(&head));
            let fields: Vec<&str> = rest.splitn(8, ' ').collect();
            prop_assert_eq!(fields[3], "bjnp-watch");
            prop_assert_eq!(fields[5], r.event_type().name());
            prop_assert_eq!(fields[6], "-");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn hostile_frames_never_panic_and_every_record_renders(inputs in prop::collection::vec(input(), 1..40)) {
        let records = run(&inputs);
        check_formats(&records)?;
    }

    #[test]
    fn the_same_input_twice_gives_the_same_records(inputs in prop::collection::vec(input(), 1..40)) {
        prop_assert_eq!(run(&inputs), run(&inputs));
    }
}
