//! What the other doors read from one piece of bytes: a CUPS browse announcement and a TLS
//! ClientHello's server name. Borrowed fields stay inside the input.
#![no_main]
use bjnp_watch::proto::{cups_browse, tls};
use libfuzzer_sys::fuzz_target;

fn inside(part: &[u8], whole: &[u8]) -> bool {
    let (p, w) = (part.as_ptr() as usize, whole.as_ptr() as usize);
    part.is_empty() || (p >= w && p + part.len() <= w + whole.len())
}

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = cups_browse::parse(data) {
        assert!(inside(a.uri, data) && inside(a.uri_host, a.uri));
        for s in [a.location, a.info, a.make_model].into_iter().flatten() {
            assert!(inside(s, data));
        }
        assert!(inside(a.options, data));
    }
    let _ = tls::looks_like_tls(data);
    if let tls::Hello::ClientHello { sni: Some(s), .. } = tls::client_hello(data) {
        assert!(inside(s, data));
    }
});
