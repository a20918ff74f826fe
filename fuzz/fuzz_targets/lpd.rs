//! The LPD client side fed in two pieces cut where the fuzzer says, with a hole in the middle
//! when the first byte is odd, and every control file's lines read: file bytes handed out
//! never exceed the input, every file that starts ends once, the risk checks never panic.
#![no_main]
use bjnp_watch::proto::lpd::{self, Event, Parser, Subcommand};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((cut, data)) = data.split_first_chunk::<2>() else {
        return;
    };
    let at = usize::from(u16::from_le_bytes(*cut)) % (data.len() + 1);
    let mut parser = Parser::default();
    let (mut bytes, mut open, mut errors) = (0usize, 0i64, 0);
    let mut on = |e: Event<'_>| match e {
        Event::Command(c) => {
            let _ = lpd::has_shell_metacharacters(c.operands);
        }
        Event::Subcommand(Subcommand::File { name, .. }) => {
            assert_eq!(open, 0, "a file starts inside another");
            open += 1;
            let _ = lpd::is_path(name);
        }
        Event::Subcommand(Subcommand::Abort) => {}
        Event::FileData(d) => {
            bytes += d.len();
            for l in lpd::control_lines(d) {
                let _ = (lpd::Format::of(l.code), lpd::has_shell_metacharacters(l.value));
            }
        }
        Event::FileEnd { .. } => {
            open -= 1;
            assert_eq!(open, 0, "a file ends twice");
        }
        Event::Error(_) => errors += 1,
        Event::Unparsed(_) => {}
    };
    parser.feed(&data[..at], &mut on);
    if cut[0] & 1 == 1 {
        let _ = parser.gap(u64::from(cut[1]));
    }
    parser.feed(&data[at..], &mut on);
    parser.finish(&mut on);
    assert!(bytes <= data.len());
    assert!(errors <= 1);
});
