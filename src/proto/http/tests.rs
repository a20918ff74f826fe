use super::*;

/// An event owned, so runs over different splits can be compared.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Head(String),
    Body(Vec<u8>),
    End(bool),
    Err(HttpError),
}

fn collect(side: Side, pieces: &[&[u8]], finish: bool) -> Vec<Ev> {
    let mut f = Framer::new(side);
    let mut evs: Vec<Ev> = Vec::new();
    let mut on = |e: HttpEvent<'_>| match e {
        HttpEvent::Request(h) => evs.push(Ev::Head(format!("{h:?}"))),
        HttpEvent::Response(h) => evs.push(Ev::Head(format!("{h:?}"))),
        HttpEvent::Body(b) => {
            assert!(!b.is_empty(), "empty body piece");
            // Pieces depend on the split; the bytes do not.
            if let Some(Ev::Body(last)) = evs.last_mut() {
                last.extend_from_slice(b);
            } else {
                evs.push(Ev::Body(b.to_vec()));
            }
        }
        HttpEvent::End { complete } => evs.push(Ev::End(complete)),
        HttpEvent::Error(e) => evs.push(Ev::Err(e)),
    };
    for p in pieces {
        f.feed(p, &mut on);
    }
    if finish {
        f.finish(&mut on);
    }
    evs
}

/// The events of `data` fed whole, after checking that every split point (or, for long
/// inputs, a spread of them) and every chunking of 1 to 7 bytes gives the same.
fn run_with(side: Side, data: &[u8], finish: bool) -> Vec<Ev> {
    let whole = collect(side, &[data], finish);
    let step = (data.len() / 300).max(1);
    for at in (0..=data.len()).step_by(step) {
        let (a, b) = data.split_at(at);
        assert_eq!(collect(side, &[a, b], finish), whole, "split at {at}");
    }
    for size in 1..=7 {
        let pieces: Vec<&[u8]> = data.chunks(size).collect();
        assert_eq!(collect(side, &pieces, finish), whole, "chunks of {size}");
    }
    whole
}

fn req(data: &[u8]) -> Vec<Ev> {
    run_with(Side::Requests, data, true)
}

fn resp(data: &[u8]) -> Vec<Ev> {
    run_with(Side::Responses, data, true)
}

fn head_of(side: Side, data: &[u8]) -> String {
    match collect(side, &[data], false).first() {
        Some(Ev::Head(h)) => h.clone(),
        other => panic!("no head: {other:?}"),
    }
}

const IPP_POST: &[u8] = b"POST /ipp/print HTTP/1.1\r\n\
    Host: printer.local:631\r\n\
    Content-Type: application/ipp\r\n\
    User-Agent: CUPS/2.4.2 (Linux 6.1; x86_64) IPP/2.0\r\n\
    Content-Length: 9\r\n\
    \r\n\
    \x02\x00\x00\x0b\x00\x00\x00\x01\x03";

#[test]
fn ipp_request_head_fields_and_body() {
    let mut heads = Vec::new();
    let mut f = Framer::requests();
    f.feed(IPP_POST, &mut |e| {
        if let HttpEvent::Request(h) = e {
            heads.push((
                h.method.to_string(),
                h.target.to_string(),
                h.minor_version,
                h.content_length,
                h.chunked,
                h.expect_continue,
                h.content_type.map(str::to_string),
                h.host.map(str::to_string),
                h.user_agent.map(str::to_string),
            ));
        }
    });
    assert_eq!(
        heads,
        [(
            "POST".to_string(),
            "/ipp/print".to_string(),
            1,
            Some(9),
            false,
            false,
            Some("application/ipp".to_string()),
            Some("printer.local:631".to_string()),
            Some("CUPS/2.4.2 (Linux 6.1; x86_64) IPP/2.0".to_string()),
        )]
    );
    let evs = req(IPP_POST);
    assert_eq!(evs.len(), 3, "{evs:?}");
    assert_eq!(
        evs[1],
        Ev::Body(b"\x02\x00\x00\x0b\x00\x00\x00\x01\x03".to_vec())
    );
    assert_eq!(evs[2], Ev::End(true));
    assert!(f.at_boundary());
    f.finish(&mut |_| {});
    assert!(!f.failed());
}

#[test]
fn body_is_zero_copy_from_the_fed_bytes() {
    let mut f = Framer::requests();
    let range = IPP_POST.as_ptr_range();
    let mut seen = 0;
    f.feed(IPP_POST, &mut |e| {
        if let HttpEvent::Body(b) = e {
            assert!(range.contains(&b.as_ptr()));
            seen += b.len();
        }
    });
    assert_eq!(seen, 9);
}

#[test]
fn two_pipelined_requests_in_one_feed() {
    let mut two = IPP_POST.to_vec();
    two.extend_from_slice(b"\r\n"); // a stray CRLF between messages is skipped
    two.extend_from_slice(
        b"GET /ipp/print/jobs HTTP/1.1\r\nHost: p\r\n\r\nPOST /x HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
    );
    let evs = req(&two);
    let shape: Vec<&str> = evs
        .iter()
        .map(|e| match e {
            Ev::Head(_) => "head",
            Ev::Body(_) => "body",
            Ev::End(true) => "end",
            Ev::End(false) => "cut",
            Ev::Err(_) => "error",
        })
        .collect();
    assert_eq!(
        shape,
        ["head", "body", "end", "head", "end", "head", "body", "end"]
    );
    assert!(matches!(&evs[3], Ev::Head(h) if h.contains("method: \"GET\"")));
    assert!(matches!(&evs[5], Ev::Head(h) if h.contains("minor_version: 0")));
    assert_eq!(evs[6], Ev::Body(b"abc".to_vec()));
}

#[test]
fn chunked_body_with_extensions_and_trailers() {
    let msg = b"POST /ipp/print HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\
        Content-Type: application/ipp\r\n\r\n\
        5;name=value;x=\"q;d\"\r\nhello\r\n\
        6 ; ext\r\n world\r\n\
        A\r\n0123456789\r\n\
        0;last\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n\
        GET / HTTP/1.1\r\n\r\n";
    let evs = req(msg);
    assert_eq!(evs.len(), 5, "{evs:?}");
    assert!(matches!(&evs[0], Ev::Head(h) if h.contains("chunked: true")));
    assert_eq!(evs[1], Ev::Body(b"hello world0123456789".to_vec()));
    assert_eq!(evs[2], Ev::End(true));
    assert!(matches!(&evs[3], Ev::Head(h) if h.contains("GET")));
    assert_eq!(evs[4], Ev::End(true));
}

#[test]
fn chunked_without_trailers_and_a_chunked_response() {
    let msg = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    assert_eq!(resp(msg)[1..], [Ev::Body(b"abc".to_vec()), Ev::End(true)]);
}

#[test]
fn broken_chunk_framing() {
    let base = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for (tail, want) in [
        (&b"zz\r\n"[..], HttpError::BadChunk),
        (b"5\nhello\r\n", HttpError::BadChunk),
        (b"5;ext\nhello", HttpError::BadChunk),
        (b"3\r\nabcX\r\n", HttpError::BadChunk),
        (b"11111111111111111\r\n", HttpError::BadChunk),
    ] {
        let mut m = base.clone();
        m.extend_from_slice(tail);
        let evs = req(&m);
        assert_eq!(evs.last(), Some(&Ev::Err(want)), "{tail:?}: {evs:?}");
        assert_eq!(evs.iter().filter(|e| matches!(e, Ev::Err(_))).count(), 1);
    }
    let mut long = base.clone();
    long.extend_from_slice(b"1;");
    long.extend(std::iter::repeat_n(b'x', MAX_CHUNK_LINE));
    long.extend_from_slice(b"\r\na\r\n0\r\n\r\n");
    assert_eq!(
        req(&long).last(),
        Some(&Ev::Err(HttpError::ChunkLineTooLong))
    );
    let mut trailers = base;
    trailers.extend_from_slice(b"0\r\n");
    for _ in 0..MAX_TRAILERS / 10 + 1 {
        trailers.extend_from_slice(b"X-A: 1234\r\n");
    }
    assert_eq!(
        req(&trailers).last(),
        Some(&Ev::Err(HttpError::TrailersTooLong))
    );
}

#[test]
fn expect_100_continue_flow() {
    let head = b"POST /ipp/print HTTP/1.1\r\nHost: p\r\nExpect: 100-continue\r\n\
        Content-Type: application/ipp\r\nContent-Length: 4\r\n\r\n";
    // The client waits after its head: nothing of the body yet, the message still open.
    let mut client = Framer::requests();
    let mut got = Vec::new();
    client.feed(head, &mut |e| {
        if let HttpEvent::Request(h) = e {
            got.push(h.expect_continue);
        } else {
            got.push(false);
        }
    });
    assert_eq!(got, [true]);
    assert!(!client.at_boundary());
    let mut body_done = false;
    client.feed(b"\x01\x01\x00\x02", &mut |e| {
        body_done |= e == HttpEvent::End { complete: true };
    });
    assert!(body_done);

    let server = b"HTTP/1.1 100 Continue\r\n\r\n\
        HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\nServer: CUPS/2.4 IPP/2.1\r\n\
        Content-Length: 3\r\n\r\nxyz";
    let evs = resp(server);
    assert_eq!(evs.len(), 5, "{evs:?}");
    assert!(matches!(&evs[0], Ev::Head(h) if h.contains("code: 100")));
    assert_eq!(evs[1], Ev::End(true));
    assert!(matches!(&evs[2], Ev::Head(h) if h.contains("code: 200")
        && h.contains("Some(\"CUPS/2.4 IPP/2.1\")")));
    assert_eq!(evs[3], Ev::Body(b"xyz".to_vec()));
    assert_eq!(evs[4], Ev::End(true));
}

#[test]
fn response_body_framing() {
    // No framing: the body runs to the connection's end, which completes it.
    let evs = resp(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>");
    assert_eq!(evs[1..], [Ev::Body(b"<html>".to_vec()), Ev::End(true)]);
    // A coding other than chunked also runs to the end.
    let evs = resp(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz");
    assert_eq!(evs[1..], [Ev::Body(b"zz".to_vec()), Ev::End(true)]);
    // 204 and 304 have no body whatever they say.
    let evs = resp(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nHTTP/1.1 304 x\r\n\r\n");
    assert_eq!(evs.len(), 4, "{evs:?}");
    assert_eq!((&evs[1], &evs[3]), (&Ev::End(true), &Ev::End(true)));
    // After 101 the direction is not HTTP any more: quiet, not an error.
    let evs = resp(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello");
    assert_eq!(evs.len(), 2, "{evs:?}");
    assert_eq!(evs[1], Ev::End(true));
}

#[test]
fn truncated_messages() {
    let cut = &IPP_POST[..IPP_POST.len() - 4];
    let evs = req(cut);
    assert_eq!(evs.last(), Some(&Ev::End(false)), "{evs:?}");
    assert_eq!(evs.iter().filter(|e| matches!(e, Ev::Body(_))).count(), 1);
    // Every cut inside the head is a truncated head, reported once.
    let head_len = IPP_POST.len() - 9;
    for at in 1..head_len {
        let evs = req(&IPP_POST[..at]);
        assert_eq!(evs, [Ev::Err(HttpError::TruncatedHead)], "cut at {at}");
    }
    // Chunked bodies cut anywhere end incomplete.
    let chunked =
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: y\r\n\r\n";
    let start = chunked.len() - 19;
    for at in start..chunked.len() {
        let evs = req(&chunked[..at]);
        assert_eq!(evs.last(), Some(&Ev::End(false)), "cut at {at}: {evs:?}");
    }
    assert_eq!(req(chunked).last(), Some(&Ev::End(true)));
    // Only line ends before: a clean close, nothing to report.
    assert_eq!(req(b"\r\n\r\n"), []);
}

#[test]
fn head_caps() {
    let mut long = b"POST / HTTP/1.1\r\nX-Pad: ".to_vec();
    long.extend(std::iter::repeat_n(b'a', MAX_HEAD));
    long.extend_from_slice(b"\r\n\r\n");
    assert_eq!(req(&long), [Ev::Err(HttpError::HeadTooLong)]);
    // Just under the cap is fine.
    let mut fits = b"POST / HTTP/1.1\r\nX-Pad: ".to_vec();
    fits.extend(std::iter::repeat_n(b'a', MAX_HEAD - fits.len() - 4));
    fits.extend_from_slice(b"\r\n\r\n");
    assert_eq!(fits.len(), MAX_HEAD);
    assert_eq!(req(&fits).last(), Some(&Ev::End(true)));
    let mut many = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..=MAX_HEADERS {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(req(&many), [Ev::Err(HttpError::TooManyHeaders)]);
}

#[test]
fn content_length_rules() {
    let with = |cl: &str| format!("POST / HTTP/1.1\r\n{cl}\r\n\r\nabc").into_bytes();
    for absurd in [
        "Content-Length: 99999999999999999999999",
        "Content-Length: 18446744073709551616",
        "Content-Length: -1",
        "Content-Length: 1e3",
        "Content-Length: ",
        "Content-Length: 3\r\nContent-Length: 4",
        "Content-Length: 3, 4",
    ] {
        assert_eq!(
            req(&with(absurd)),
            [Ev::Err(HttpError::BadContentLength)],
            "{absurd}"
        );
    }
    // The largest u64 is a length; the body is just never complete.
    let evs = req(&with("Content-Length: 18446744073709551615"));
    assert_eq!(evs.last(), Some(&Ev::End(false)));
    // Repeats of one value are that value.
    let evs = req(&with("Content-Length: 3\r\ncontent-length: 3, 3"));
    assert_eq!(evs[1..], [Ev::Body(b"abc".to_vec()), Ev::End(true)]);
    // Chunked wins over any Content-Length, valid or not; a valid one is still reported.
    let smuggle = b"POST / HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n\
        1\r\nz\r\n0\r\n\r\n";
    let evs = req(smuggle);
    assert!(
        matches!(&evs[0], Ev::Head(h) if h.contains("content_length: Some(100)")
        && h.contains("chunked: true"))
    );
    assert_eq!(evs[1..], [Ev::Body(b"z".to_vec()), Ev::End(true)]);
    let bad_cl =
        b"POST / HTTP/1.1\r\nContent-Length: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(req(bad_cl).last(), Some(&Ev::End(true)));
    // A request whose last coding is not chunked has no findable end.
    let te = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n";
    assert_eq!(req(te), [Ev::Err(HttpError::BadTransferEncoding)]);
}

#[test]
fn bad_heads_and_reporting_once() {
    for bad in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n"[..],
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"POST / HTTP/1.1\r\nBad Header: x\r\n\r\n",
        b"GET /\r\n\r\n",
    ] {
        assert_eq!(req(bad), [Ev::Err(HttpError::BadHead)], "{bad:?}");
    }
    assert_eq!(
        resp(b"HTTP/1.1 2000 OK\r\n\r\n"),
        [Ev::Err(HttpError::BadHead)]
    );
    // A bad byte after the last line end is found at the connection's end.
    assert_eq!(
        req(b"POST / HTTP/1.1\r\nHost: a\r\nBad Header"),
        [Ev::Err(HttpError::BadHead)]
    );
    let mut f = Framer::requests();
    let mut n = 0;
    f.feed(b"garbage here\r\n", &mut |_| n += 1);
    assert!(f.failed());
    let mut cut = Framer::requests();
    cut.feed(b"POST / HT", &mut |_| {});
    cut.finish(&mut |e| assert_eq!(e, HttpEvent::Error(HttpError::TruncatedHead)));
    assert!(cut.failed());
    f.feed(IPP_POST, &mut |_| n += 1);
    f.finish(&mut |_| n += 1);
    assert_eq!(n, 1);
}

#[test]
fn head_fields_first_wins_and_non_utf8_is_none() {
    let h = head_of(
        Side::Requests,
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nUser-Agent: \xff\xfe\r\n\
          EXPECT: 100-Continue\r\n\r\n",
    );
    assert!(h.contains("host: Some(\"a\")"), "{h}");
    assert!(h.contains("user_agent: None"), "{h}");
    assert!(h.contains("expect_continue: true"), "{h}");
    let h = head_of(Side::Responses, b"HTTP/1.1 401\r\n\r\n");
    assert!(h.contains("code: 401") && h.contains("reason: \"\""), "{h}");
}

#[test]
fn error_names_are_distinct() {
    let all = [
        HttpError::HeadTooLong,
        HttpError::TooManyHeaders,
        HttpError::BadHead,
        HttpError::BadContentLength,
        HttpError::BadTransferEncoding,
        HttpError::BadChunk,
        HttpError::ChunkLineTooLong,
        HttpError::TrailersTooLong,
        HttpError::TruncatedHead,
    ];
    let names: std::collections::HashSet<_> = all.iter().map(|e| e.name()).collect();
    assert_eq!(names.len(), all.len());
}

/// A fixed-seed xorshift64: reproducible "random" bytes without a dependency.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn random_bytes_never_panic_and_never_grow() {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let prefixes: [&[u8]; 4] = [
        b"",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
    ];
    for round in 0..1500 {
        let len = (xorshift(&mut s) % 300) as usize;
        let mut data = prefixes[round % prefixes.len()].to_vec();
        for _ in 0..len {
            // Bias towards bytes that matter to the grammar.
            let r = xorshift(&mut s);
            data.push(match r % 8 {
                0 => b'\r',
                1 => b'\n',
                2 => b"0123456789abcdef;: "[(r >> 8) as usize % 19],
                _ => (r >> 16) as u8,
            });
        }
        let split = (xorshift(&mut s) as usize) % (data.len() + 1);
        for side in [Side::Requests, Side::Responses] {
            let mut f = Framer::new(side);
            let mut body = 0;
            let mut errors = 0;
            let mut on = |e: HttpEvent<'_>| match e {
                HttpEvent::Body(b) => body += b.len(),
                HttpEvent::Error(_) => errors += 1,
                _ => {}
            };
            f.feed(&data[..split], &mut on);
            f.feed(&data[split..], &mut on);
            f.finish(&mut on);
            assert!(body <= data.len());
            assert!(errors <= 1);
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// However a stream of chunked and sized messages is cut, the body bytes handed out
    /// are the bodies sent, in order.
    #[test]
    fn any_split_gives_the_same_body_bytes(
        bodies in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), 1..4),
        cuts in proptest::collection::vec(0usize..2000, 0..12),
        chunk in 1usize..50,
    ) {
        let mut stream = Vec::new();
        let mut want = Vec::new();
        for (i, b) in bodies.iter().enumerate() {
            want.extend_from_slice(b);
            if i % 2 == 0 {
                stream.extend_from_slice(
                    format!("POST /ipp/print HTTP/1.1\r\nContent-Length: {}\r\n\r\n", b.len()).as_bytes(),
                );
                stream.extend_from_slice(b);
            } else {
                stream.extend_from_slice(b"POST /ipp/print HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
                for c in b.chunks(chunk) {
                    stream.extend_from_slice(format!("{:x};e=1\r\n", c.len()).as_bytes());
                    stream.extend_from_slice(c);
                    stream.extend_from_slice(b"\r\n");
                }
                stream.extend_from_slice(b"0\r\nT: 1\r\n\r\n");
            }
        }
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        points.sort_unstable();
        let mut f = Framer::requests();
        let mut got = Vec::new();
        let mut ends = 0;
        let mut at = 0;
        for p in points.into_iter().chain([stream.len()]) {
            f.feed(&stream[at..p], &mut |e| match e {
                HttpEvent::Body(b) => got.extend_from_slice(b),
                HttpEvent::End { complete: true } => ends += 1,
                HttpEvent::Error(e) => panic!("{e}"),
                _ => {}
            });
            at = p;
        }
        proptest::prop_assert_eq!(got, want);
        proptest::prop_assert_eq!(ends, bodies.len());
    }
}
