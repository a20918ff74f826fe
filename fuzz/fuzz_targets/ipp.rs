//! IPP messages fed in two pieces cut where the fuzzer says, with every name and value helper
//! on what comes out. Document data handed out never exceeds the input, kept values never exceed
//! their caps, and a message reports at most one error.
#![no_main]
use bjnp_watch::proto::ipp::{self, IppEvent, Parser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((cut, data)) = data.split_first_chunk::<2>() else {
        return;
    };
    let at = usize::from(u16::from_le_bytes(*cut)) % (data.len() + 1);
    let _ = ipp::looks_like_ipp(data);
    let mut parser = Parser::new();
    let mut doc = 0usize;
    let mut errors = 0;
    let mut on = |e: IppEvent<'_>| match e {
        IppEvent::Header(h) => {
            let op = h.operation();
            let _ = (op.name(), op.code(), op.is_admin(), h.status_name());
        }
        IppEvent::Group(g) => {
            let _ = (g.name(), g.code());
        }
        IppEvent::Attribute(a) => {
            assert!(a.value.len() <= ipp::MAX_VALUE);
            assert!(a.value.len() <= usize::from(a.value_len));
            assert!(a.name.len() <= ipp::MAX_NAME);
            assert!(ipp::text_value(a.tag, a.value).len() <= a.value.len());
            let _ = (
                a.tag.name(),
                a.tag.code(),
                a.tag.is_text(),
                a.tag.is_out_of_band(),
            );
        }
        IppEvent::EndOfAttributes => {}
        IppEvent::Data(d) => doc += d.len(),
        IppEvent::Error(e) => {
            errors += 1;
            let _ = e.name();
        }
    };
    parser.feed(&data[..at], &mut on);
    parser.feed(&data[at..], &mut on);
    parser.finish(&mut on);
    assert!(doc <= data.len());
    assert!(errors <= 1);
});
