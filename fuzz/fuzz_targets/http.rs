//! HTTP/1.1 framing, both directions, fed the input in two pieces cut where the fuzzer says; each
//! request body is parsed as IPP on the way. Body bytes handed out never exceed the input, and a
//! direction reports at most one error.
#![no_main]
use bjnp_watch::proto::http::{Framer, HttpEvent};
use bjnp_watch::proto::ipp::{self, IppEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((cut, data)) = data.split_first_chunk::<2>() else {
        return;
    };
    let at = usize::from(u16::from_le_bytes(*cut)) % (data.len() + 1);
    for mut framer in [Framer::requests(), Framer::responses()] {
        let mut body = 0usize;
        let mut errors = 0;
        let mut ipp_data = 0usize;
        let mut parser = ipp::Parser::new();
        let mut on_ipp = |e: IppEvent<'_>| {
            if let IppEvent::Data(d) = e {
                ipp_data += d.len();
            }
        };
        let mut on = |e: HttpEvent<'_>| match e {
            HttpEvent::Request(h) => {
                let _ = (
                    h.method.len(),
                    h.target.len(),
                    h.content_type,
                    h.host,
                    h.user_agent,
                );
                parser = ipp::Parser::new();
            }
            HttpEvent::Response(h) => {
                let _ = (h.code, h.reason.len(), h.server);
                parser = ipp::Parser::new();
            }
            HttpEvent::Body(b) => {
                body += b.len();
                parser.feed(b, &mut on_ipp);
            }
            HttpEvent::End { .. } => parser.finish(&mut on_ipp),
            HttpEvent::Error(e) => {
                errors += 1;
                let _ = e.name();
            }
        };
        framer.feed(&data[..at], &mut on);
        framer.feed(&data[at..], &mut on);
        framer.finish(&mut on);
        assert!(body <= data.len());
        assert!(errors <= 1);
        assert!(ipp_data <= body);
    }
});
