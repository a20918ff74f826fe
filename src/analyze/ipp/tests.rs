use super::*;
use crate::decode::Tcp;
use crate::proto::ipp::Operation;

fn attr(out: &mut Vec<u8>, tag: u8, name: &str, value: &[u8]) {
    out.push(tag);
    out.extend((name.len() as u16).to_be_bytes());
    out.extend(name.as_bytes());
    out.extend((value.len() as u16).to_be_bytes());
    out.extend(value);
}

fn request(op: u16, id: u32, doc: &[u8]) -> Vec<u8> {
    let mut m = vec![2, 0];
    m.extend(op.to_be_bytes());
    m.extend(id.to_be_bytes());
    m.push(1);
    attr(&mut m, 0x47, "attributes-charset", b"utf-8");
    attr(&mut m, 0x48, "attributes-natural-language", b"en");
    attr(&mut m, 0x45, "printer-uri", b"ipp://10.0.0.30/ipp/print");
    attr(&mut m, 0x42, "requesting-user-name", b"alice");
    attr(&mut m, 0x42, "job-name", b"report");
    attr(&mut m, 0x49, "document-format", b"application/postscript");
    m.push(3);
    m.extend(doc);
    m
}

fn response(id: u32, model: &[u8]) -> Vec<u8> {
    let mut m = vec![2, 0, 0, 0];
    m.extend(id.to_be_bytes());
    m.push(1);
    attr(&mut m, 0x47, "attributes-charset", b"utf-8");
    m.push(4);
    attr(&mut m, 0x41, "printer-make-and-model", model);
    attr(
        &mut m,
        0x41,
        "printer-device-id",
        b"MFG:Canon;MDL:MG5500 series;",
    );
    attr(&mut m, 0x23, "printer-state", &3i32.to_be_bytes());
    m.push(3);
    m
}

fn http_post(body: &[u8], chunked: bool) -> Vec<u8> {
    let mut h =
        b"POST /ipp/print HTTP/1.1\r\nHost: p\r\nContent-Type: application/ipp\r\n".to_vec();
    if chunked {
        h.extend(b"Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n");
        for c in body.chunks(100) {
            h.extend(format!("{:x}\r\n", c.len()).as_bytes());
            h.extend(c);
            h.extend(b"\r\n");
        }
        h.extend(b"0\r\n\r\n");
    } else {
        h.extend(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        h.extend(body);
    }
    h
}

fn http_ok(body: &[u8]) -> Vec<u8> {
    let mut h = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    h.extend(body);
    h
}

/// Client bytes, then server bytes, each cut into `chunk`-byte segments.
fn run(exchanges: &[(Vec<u8>, Vec<u8>)], chunk: usize) -> Vec<AppEvent> {
    let mut f = IppFlow::default();
    let mut shared = Shared::default();
    let mut out = vec![];
    let mut seq = [1000u32, 5000u32];
    for (c, s) in exchanges {
        for (dir, bytes) in [(Dir::ToServer, c), (Dir::ToClient, s)] {
            for piece in bytes.chunks(chunk) {
                let di = dir.index();
                let tcp = Tcp {
                    seq: seq[di],
                    ack: 0,
                    flags: Tcp::ACK,
                };
                let (st, stats) = (&mut f.st, &mut shared.doors);
                f.streams.segment(dir, tcp, piece, &mut |d| {
                    st.deliver(stats, dir, d, &mut out)
                });
                seq[di] = seq[di].wrapping_add(piece.len() as u32);
            }
        }
    }
    f.on_end(&mut shared, &mut out);
    out
}

fn ipps(evs: &[AppEvent]) -> Vec<&Ipp> {
    evs.iter()
        .filter_map(|e| match e {
            AppEvent::Ipp(i) => Some(&**i),
            _ => None,
        })
        .collect()
}

#[test]
fn a_print_job_and_its_answer_keep_alive_chunked_or_not() {
    let doc = b"%!PS\n/x (/etc/passwd) (w) file def\nshowpage\n";
    for chunked in [false, true] {
        for chunk in [1, 13, 1460] {
            let mut cont = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
            cont.extend(http_ok(&response(7, b"Canon MG5500 series")));
            let ex = vec![
                (
                    http_post(&request(0x000B, 6, b""), chunked),
                    http_ok(&response(6, b"Canon MG5500 series")),
                ),
                (http_post(&request(0x0002, 7, doc), chunked), cont),
            ];
            let evs = run(&ex, chunk);
            let r = ipps(&evs);
            assert_eq!(r.len(), 2, "chunked {chunked}, chunk {chunk}");
            assert_eq!(r[0].operation, Operation::GetPrinterAttributes);
            assert_eq!(r[1].operation, Operation::PrintJob);
            assert_eq!(r[1].status.as_deref(), Some("successful-ok"));
            assert_eq!(r[1].requesting_user_name.as_deref(), Some("alice"));
            assert_eq!(r[1].document_bytes, Some(doc.len() as u64));
            assert_eq!(r[1].http.chunked, chunked);
            let p = r[0].printer.as_ref().unwrap();
            assert_eq!(p.make_and_model.as_deref(), Some("Canon MG5500 series"));
            assert_eq!(p.state, Some(3));
            assert!(r[0].ppd_injection.is_none());
            // the document went through the print-stream scanner
            let risks: Vec<_> = evs
                .iter()
                .filter_map(|e| match e {
                    AppEvent::Finding(f) => Some(f.risk),
                    _ => None,
                })
                .collect();
            assert_eq!(
                risks,
                [crate::proto::risk::Risk::PsFileWrite],
                "chunk {chunk}"
            );
        }
    }
}

#[test]
fn ppd_injection_in_an_answer_and_unanswered_requests() {
    let evil = b"HP LaserJet\n*FoomaticRIPCommandLine: \"echo pwned > /tmp/x\"";
    let ex = vec![(
        http_post(&request(0x000B, 1, b""), false),
        http_ok(&response(1, evil)),
    )];
    let evs = run(&ex, 1460);
    let inj = ipps(&evs)[0].ppd_injection.clone().unwrap();
    assert_eq!(inj.attribute, "printer-make-and-model");
    assert!(inj.value.contains("FoomaticRIPCommandLine"));
    // a request without an answer is still written, once
    let ex = vec![(http_post(&request(0x4003, 9, b""), false), vec![])];
    let evs = run(&ex, 1460);
    assert_eq!(ipps(&evs).len(), 1);
    assert!(ipps(&evs)[0].operation.is_admin());
    assert!(is_ppd_injection(b"a\rb") && !is_ppd_injection(b"Canon *cups"));
}

#[test]
fn review_evasions_are_still_seen() {
    let doc = b"%!PS\n/x (/etc/passwd) (w) file def\n";
    let file_write = |evs: &[AppEvent]| {
        evs.iter().any(|e| {
            matches!(e, AppEvent::Finding(f) if f.risk == crate::proto::risk::Risk::PsFileWrite)
        })
    };
    // a request line httparse refuses: the rest is still scanned as print data
    let mut bad = http_post(&request(0x0002, 1, doc), false);
    bad.splice(4..5, *b"  ");
    for chunk in [1, 100, 1460] {
        let evs = run(&[(bad.clone(), vec![])], chunk);
        assert!(file_write(&evs), "chunk {chunk}");
    }
    // an IPP message that breaks before its document: its body is still scanned
    let mut broken = vec![2, 0, 0, 2, 0, 0, 0, 1, 0x00];
    broken.extend(doc);
    let evs = run(&[(http_post(&broken, false), vec![])], 1460);
    assert!(file_write(&evs));
    // an answer before the request's end pairs with that request; the next answer with
    // the next request
    let print = http_post(&request(0x0002, 7, doc), true);
    let (head, rest) = print.split_at(print.len() / 2);
    let mut f = IppFlow::default();
    let mut shared = Shared::default();
    let mut out = vec![];
    let mut seq = [1000u32, 5000u32];
    let mut send = |f: &mut IppFlow, dir: Dir, b: &[u8], out: &mut Vec<AppEvent>| {
        let di = dir.index();
        let tcp = Tcp {
            seq: seq[di],
            ack: 0,
            flags: Tcp::ACK,
        };
        let (st, stats) = (&mut f.st, &mut shared.doors);
        f.streams
            .segment(dir, tcp, b, &mut |d| st.deliver(stats, dir, d, out));
        seq[di] = seq[di].wrapping_add(b.len() as u32);
    };
    send(&mut f, Dir::ToServer, head, &mut out);
    send(
        &mut f,
        Dir::ToClient,
        &http_ok(&response(7, b"x")),
        &mut out,
    );
    send(&mut f, Dir::ToServer, rest, &mut out);
    send(
        &mut f,
        Dir::ToServer,
        &http_post(&request(0x000B, 8, b""), false),
        &mut out,
    );
    send(
        &mut f,
        Dir::ToClient,
        &http_ok(&response(8, b"y")),
        &mut out,
    );
    let r = ipps(&out);
    assert_eq!(r.len(), 2);
    assert_eq!((r[0].request_id, r[0].status_code), (7, Some(0)));
    assert_eq!(
        r[1].printer.as_ref().unwrap().make_and_model.as_deref(),
        Some("y")
    );
}

#[test]
fn tls_is_named_not_malformed() {
    // a ClientHello with a server name (tls.rs builds the same shape)
    let mut ext = vec![0, 0, 0, 20, 0, 18, 0, 0, 15];
    ext.extend(b"printer.example");
    let mut body = vec![3, 3];
    body.extend([7u8; 32]);
    body.extend([0, 0, 2, 0x13, 0x01, 1, 0]);
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut hs = vec![1, 0];
    hs.extend((body.len() as u16).to_be_bytes());
    hs.extend(body);
    let mut rec = vec![0x16, 3, 1];
    rec.extend((hs.len() as u16).to_be_bytes());
    rec.extend(hs);
    for chunk in [1, 2, 5, 1460] {
        let evs = run(&[(rec.clone(), vec![0x16, 3, 3, 0, 0])], chunk);
        let tls: Vec<_> = evs
            .iter()
            .filter_map(|e| match e {
                AppEvent::Tls(t) => Some(&**t),
                _ => None,
            })
            .collect();
        assert_eq!(tls.len(), 1, "chunk {chunk}");
        assert_eq!(tls[0].sni.as_deref(), Some("printer.example"));
        assert!(!evs.iter().any(|e| matches!(e, AppEvent::Anomaly(_))));
    }
    // neither HTTP nor TLS: one anomaly
    let evs = run(&[(b"\x00\x01garbage\r\n\r\n".to_vec(), vec![])], 1460);
    assert_eq!(
        evs.iter()
            .filter(|e| matches!(e, AppEvent::Anomaly(a) if a.event == AnomalyEvent::IppMalformed))
            .count(),
        1
    );
}
