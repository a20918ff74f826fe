use super::*;

/// Builds an IPP message byte by byte.
struct Msg(Vec<u8>);

impl Msg {
    fn new(version: (u8, u8), code: u16, request_id: u32) -> Msg {
        let mut b = vec![version.0, version.1];
        b.extend_from_slice(&code.to_be_bytes());
        b.extend_from_slice(&request_id.to_be_bytes());
        Msg(b)
    }
    fn group(mut self, tag: u8) -> Msg {
        self.0.push(tag);
        self
    }
    fn attr(mut self, tag: u8, name: &[u8], value: &[u8]) -> Msg {
        self.0.push(tag);
        self.0.extend_from_slice(&(name.len() as u16).to_be_bytes());
        self.0.extend_from_slice(name);
        self.0
            .extend_from_slice(&(value.len() as u16).to_be_bytes());
        self.0.extend_from_slice(value);
        self
    }
    /// An additional value of the previous attribute.
    fn more(self, tag: u8, value: &[u8]) -> Msg {
        self.attr(tag, b"", value)
    }
    fn end(self) -> Msg {
        self.group(0x03)
    }
    fn data(mut self, d: &[u8]) -> Msg {
        self.0.extend_from_slice(d);
        self
    }
}

/// An event owned, so runs over different splits can be compared.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Header(Header),
    Group(GroupTag),
    Attr {
        tag: ValueTag,
        name: Vec<u8>,
        additional: bool,
        value: Vec<u8>,
        value_len: u16,
        cut: bool,
    },
    End,
    Data(Vec<u8>),
    Err(IppError),
}

fn attr(tag: ValueTag, name: &str, value: &[u8]) -> Ev {
    Ev::Attr {
        tag,
        name: name.as_bytes().to_vec(),
        additional: false,
        value: value.to_vec(),
        value_len: value.len() as u16,
        cut: false,
    }
}

fn more(tag: ValueTag, name: &str, value: &[u8]) -> Ev {
    match attr(tag, name, value) {
        Ev::Attr {
            tag,
            name,
            value,
            value_len,
            cut,
            ..
        } => Ev::Attr {
            tag,
            name,
            additional: true,
            value,
            value_len,
            cut,
        },
        e => e,
    }
}

fn collect(pieces: &[&[u8]]) -> Vec<Ev> {
    let mut p = Parser::new();
    let mut evs: Vec<Ev> = Vec::new();
    let mut on = |e: IppEvent<'_>| match e {
        IppEvent::Header(h) => evs.push(Ev::Header(h)),
        IppEvent::Group(g) => evs.push(Ev::Group(g)),
        IppEvent::Attribute(a) => evs.push(Ev::Attr {
            tag: a.tag,
            name: a.name.to_vec(),
            additional: a.additional,
            value: a.value.to_vec(),
            value_len: a.value_len,
            cut: a.cut,
        }),
        IppEvent::EndOfAttributes => evs.push(Ev::End),
        IppEvent::Data(d) => {
            assert!(!d.is_empty(), "empty data piece");
            if let Some(Ev::Data(last)) = evs.last_mut() {
                last.extend_from_slice(d);
            } else {
                evs.push(Ev::Data(d.to_vec()));
            }
        }
        IppEvent::Error(e) => evs.push(Ev::Err(e)),
    };
    for piece in pieces {
        p.feed(piece, &mut on);
    }
    p.finish(&mut on);
    evs
}

/// The events of `data` fed whole, after checking that every split point (or a spread of
/// them for long inputs) and every chunking of 1 to 7 bytes gives the same.
fn run(data: &[u8]) -> Vec<Ev> {
    let whole = collect(&[data]);
    let step = (data.len() / 300).max(1);
    for at in (0..=data.len()).step_by(step) {
        let (a, b) = data.split_at(at);
        assert_eq!(collect(&[a, b]), whole, "split at {at}");
    }
    for size in 1..=7 {
        let pieces: Vec<&[u8]> = data.chunks(size).collect();
        assert_eq!(collect(&pieces), whole, "chunks of {size}");
    }
    whole
}

fn get_printer_attributes() -> Msg {
    Msg::new((1, 1), 0x000B, 1)
        .group(0x01)
        .attr(0x47, b"attributes-charset", b"utf-8")
        .attr(0x48, b"attributes-natural-language", b"en")
        .attr(0x45, b"printer-uri", b"ipp://printer.local:631/ipp/print")
        .attr(0x44, b"requested-attributes", b"printer-name")
        .more(0x44, b"printer-state")
        .end()
}

#[test]
fn get_printer_attributes_request() {
    let evs = run(&get_printer_attributes().0);
    let h = Header {
        version: (1, 1),
        code: 0x000B,
        request_id: 1,
    };
    assert_eq!(h.operation(), Operation::GetPrinterAttributes);
    assert_eq!(
        evs,
        [
            Ev::Header(h),
            Ev::Group(GroupTag::Operation),
            attr(ValueTag::Charset, "attributes-charset", b"utf-8"),
            attr(
                ValueTag::NaturalLanguage,
                "attributes-natural-language",
                b"en"
            ),
            attr(
                ValueTag::Uri,
                "printer-uri",
                b"ipp://printer.local:631/ipp/print"
            ),
            attr(ValueTag::Keyword, "requested-attributes", b"printer-name"),
            more(ValueTag::Keyword, "requested-attributes", b"printer-state"),
            Ev::End,
        ]
    );
}

#[test]
fn get_printer_attributes_response() {
    let info = b"\x00\x02en\x00\x0cOffice laser";
    let msg = Msg::new((2, 0), 0x0000, 1)
        .group(0x01)
        .attr(0x47, b"attributes-charset", b"utf-8")
        .attr(0x48, b"attributes-natural-language", b"en")
        .group(0x04)
        .attr(0x42, b"printer-name", b"office")
        .attr(0x23, b"printer-state", &3u32.to_be_bytes())
        .attr(0x35, b"printer-info", info)
        .attr(0x22, b"printer-is-accepting-jobs", b"\x01")
        .attr(
            0x33,
            b"copies-supported",
            b"\x00\x00\x00\x01\x00\x00\x00\x63",
        )
        .attr(0x13, b"printer-alert", b"")
        .group(0x05)
        .attr(0x10, b"bogus-attribute", b"")
        .end();
    let evs = run(&msg.0);
    let Ev::Header(h) = evs[0] else {
        panic!("{evs:?}")
    };
    assert_eq!(h.status_name(), "successful-ok");
    assert_eq!(
        evs[4..],
        [
            Ev::Group(GroupTag::Printer),
            attr(ValueTag::NameWithoutLanguage, "printer-name", b"office"),
            attr(ValueTag::Enum, "printer-state", b"\x00\x00\x00\x03"),
            attr(ValueTag::TextWithLanguage, "printer-info", info),
            attr(ValueTag::Boolean, "printer-is-accepting-jobs", b"\x01"),
            attr(
                ValueTag::RangeOfInteger,
                "copies-supported",
                b"\x00\x00\x00\x01\x00\x00\x00\x63"
            ),
            attr(ValueTag::NoValue, "printer-alert", b""),
            Ev::Group(GroupTag::Unsupported),
            attr(ValueTag::Unsupported, "bogus-attribute", b""),
            Ev::End,
        ]
    );
    assert_eq!(
        text_value(ValueTag::TextWithLanguage, info),
        b"Office laser"
    );
}

#[test]
fn print_job_with_document_data() {
    let doc = b"%!PS-Adobe-3.0\n%%Title: x\n/Helvetica findfont 12 scalefont setfont\nshowpage\n";
    let msg = Msg::new((2, 0), 0x0002, 7)
        .group(0x01)
        .attr(0x47, b"attributes-charset", b"utf-8")
        .attr(0x48, b"attributes-natural-language", b"en")
        .attr(0x45, b"printer-uri", b"ipp://p/ipp/print")
        .attr(0x42, b"requesting-user-name", b"alice")
        .attr(0x42, b"job-name", b"report")
        .attr(0x49, b"document-format", b"application/postscript")
        .group(0x02)
        .attr(0x21, b"copies", &2u32.to_be_bytes())
        .end()
        .data(doc);
    let evs = run(&msg.0);
    assert_eq!(
        evs[0],
        Ev::Header(Header {
            version: (2, 0),
            code: 2,
            request_id: 7
        })
    );
    assert_eq!(
        evs[evs.len() - 3..],
        [
            attr(ValueTag::Integer, "copies", b"\x00\x00\x00\x02"),
            Ev::End,
            Ev::Data(doc.to_vec())
        ]
    );
    // A message whose attributes ended is complete however much data follows.
    assert!(!evs.iter().any(|e| matches!(e, Ev::Err(_))));
}

#[test]
fn data_is_zero_copy() {
    let msg = Msg::new((2, 0), 2, 1).group(1).end().data(b"PDFDATA").0;
    let range = msg.as_ptr_range();
    let mut p = Parser::new();
    let mut seen = 0;
    p.feed(&msg, &mut |e| {
        if let IppEvent::Data(d) = e {
            assert!(range.contains(&d.as_ptr()));
            seen += d.len();
        }
    });
    assert_eq!(seen, 7);
    assert!(p.in_data());
}

#[test]
fn collections_are_flat_additional_values() {
    let msg = Msg::new((2, 0), 2, 1)
        .group(0x02)
        .attr(0x34, b"media-col", b"")
        .more(0x4A, b"media-size")
        .more(0x34, b"")
        .more(0x4A, b"x-dimension")
        .more(0x21, &21000u32.to_be_bytes())
        .more(0x37, b"")
        .more(0x37, b"")
        .end();
    let evs = run(&msg.0);
    assert_eq!(evs[2], attr(ValueTag::BegCollection, "media-col", b""));
    assert_eq!(
        evs[3],
        more(ValueTag::MemberAttrName, "media-col", b"media-size")
    );
    assert_eq!(evs[8], more(ValueTag::EndCollection, "media-col", b""));
    assert_eq!(evs[9], Ev::End);
}

#[test]
fn long_values_are_cut_and_counted() {
    let big = vec![b'x'; 5000];
    let msg = Msg::new((2, 0), 2, 1)
        .group(1)
        .attr(0x30, b"blob", &big)
        .attr(0x41, b"after", b"ok")
        .end();
    let evs = run(&msg.0);
    assert_eq!(
        evs[2],
        Ev::Attr {
            tag: ValueTag::OctetString,
            name: b"blob".to_vec(),
            additional: false,
            value: big[..MAX_VALUE].to_vec(),
            value_len: 5000,
            cut: true,
        }
    );
    assert_eq!(evs[3], attr(ValueTag::TextWithoutLanguage, "after", b"ok"));
    // Exactly MAX_VALUE is kept whole.
    let msg = Msg::new((2, 0), 2, 1)
        .group(1)
        .attr(0x30, b"b", &big[..MAX_VALUE])
        .end();
    assert!(
        matches!(&run(&msg.0)[2], Ev::Attr { cut: false, value, .. } if value.len() == MAX_VALUE)
    );
}

#[test]
fn extension_tags() {
    let msg = Msg::new((2, 0), 2, 1)
        .group(1)
        .attr(0x7F, b"vendor-thing", b"\x00\x00\x12\x34ab")
        .end();
    let evs = run(&msg.0);
    assert_eq!(
        evs[2],
        Ev::Attr {
            tag: ValueTag::Extension(0x1234),
            name: b"vendor-thing".to_vec(),
            additional: false,
            value: b"ab".to_vec(),
            value_len: 2,
            cut: false,
        }
    );
    let short = Msg::new((2, 0), 2, 1)
        .group(1)
        .attr(0x7F, b"v", b"\x00\x00\x12")
        .end();
    assert_eq!(run(&short.0).last(), Some(&Ev::Err(IppError::BadExtension)));
}

#[test]
fn malformed_messages() {
    let base = || Msg::new((2, 0), 2, 1);
    let cases = [
        (base().group(0x00).0, IppError::BadTag),
        (base().attr(0x44, b"x", b"y").0, IppError::NoGroup),
        (base().group(1).more(0x44, b"y").0, IppError::NoName),
        // A new group has no attribute to add to either.
        (
            base()
                .group(1)
                .attr(0x44, b"a", b"b")
                .group(2)
                .more(0x44, b"c")
                .0,
            IppError::NoName,
        ),
    ];
    for (bytes, want) in cases {
        let evs = run(&bytes);
        assert_eq!(evs.last(), Some(&Ev::Err(want)), "{evs:?}");
        assert_eq!(evs.iter().filter(|e| matches!(e, Ev::Err(_))).count(), 1);
    }
    // After an error the rest of the message is ignored.
    let mut bytes = base().group(0x00).0;
    bytes.extend_from_slice(&get_printer_attributes().0);
    assert_eq!(run(&bytes).len(), 2);
    // A longer name keeps its start and the message goes on to its document.
    let long = base()
        .group(1)
        .attr(0x44, &[b'n'; 300], b"v")
        .end()
        .data(b"%!PS");
    let evs = run(&long.0);
    assert!(
        evs.iter().any(|e| matches!(e, Ev::Data(d) if d == b"%!PS")),
        "{evs:?}"
    );
    assert!(!evs.iter().any(|e| matches!(e, Ev::Err(_))), "{evs:?}");
    // A name of exactly MAX_NAME is fine; reserved delimiters are groups.
    let ok = base().group(0x0B).attr(0x44, &[b'n'; MAX_NAME], b"v").end();
    let evs = run(&ok.0);
    assert_eq!(evs[1], Ev::Group(GroupTag::Reserved(0x0B)));
    assert_eq!(evs.last(), Some(&Ev::End));
}

#[test]
fn truncated_messages() {
    let full = get_printer_attributes().0;
    for at in 0..full.len() {
        let evs = run(&full[..at]);
        assert_eq!(
            evs.last(),
            Some(&Ev::Err(IppError::Truncated)),
            "cut at {at}"
        );
        assert_eq!(evs.iter().filter(|e| matches!(e, Ev::Err(_))).count(), 1);
    }
    assert_eq!(run(&full).last(), Some(&Ev::End));
}

#[test]
fn unassigned_value_tags_are_kept() {
    let msg = Msg::new((2, 0), 2, 1)
        .group(1)
        .attr(0x43, b"a", b"b")
        .attr(0x99, b"c", b"d")
        .end();
    let evs = run(&msg.0);
    assert_eq!(evs[2], attr(ValueTag::Other(0x43), "a", b"b"));
    assert_eq!(evs[3], attr(ValueTag::Other(0x99), "c", b"d"));
    assert_eq!(ValueTag::Other(0x43).name(), "unassigned");
}

#[test]
fn operation_table() {
    let mut codes = std::collections::HashSet::new();
    for &(code, op) in OPERATIONS {
        assert!(codes.insert(code), "code {code:#06x} twice");
        assert_eq!(Operation::from_code(code), op);
        assert_eq!(op.code(), Some(code));
        assert_eq!(Operation::from_name(op.name()), Some(op));
    }
    assert_eq!(OPERATIONS.len() + 1, Operation::ALL.len());
    assert_eq!(Operation::from_code(0x0001), Operation::Other);
    assert_eq!(Operation::from_code(0x4010), Operation::Other);
    assert_eq!(Operation::Other.code(), None);
    assert_eq!(Operation::from_code(0x0002).name(), "Print-Job");
    assert_eq!(Operation::from_code(0x003C).name(), "Identify-Printer");
    assert_eq!(
        Operation::from_code(0x4028).name(),
        "CUPS-Create-Local-Printer"
    );
    assert_eq!(Operation::from_code(0x4027), Operation::CupsGetDocument);
    for admin in [
        0x0010, 0x0012, 0x0013, 0x0022, 0x002B, 0x0038, 0x4003, 0x4004, 0x400A, 0x400D,
    ] {
        assert!(Operation::from_code(admin).is_admin(), "{admin:#06x}");
    }
    for user in [
        0x0002, 0x0005, 0x0008, 0x000A, 0x000B, 0x0039, 0x003B, 0x4001, 0x4002, 0x400E,
    ] {
        assert!(!Operation::from_code(user).is_admin(), "{user:#06x}");
    }
    assert!(!Operation::Other.is_admin());
}

#[test]
fn status_names() {
    assert_eq!(status_name(0x0000), "successful-ok");
    assert_eq!(
        status_name(0x0001),
        "successful-ok-ignored-or-substituted-attributes"
    );
    assert_eq!(status_name(0x0404), "client-error-not-possible");
    assert_eq!(status_name(0x0402), "client-error-not-authenticated");
    assert_eq!(status_name(0x0500), "server-error-internal-error");
    assert_eq!(status_name(0x04FF), "client-error");
    assert_eq!(status_name(0x05AA), "server-error");
    assert_eq!(status_name(0x0042), "successful");
    assert_eq!(status_name(0x0300), "unknown");
    assert_eq!(status_name(0xFFFF), "unknown");
}

#[test]
fn value_tag_table() {
    let mut names = std::collections::HashSet::new();
    for &(code, tag, name) in VALUE_TAGS {
        assert_eq!(ValueTag::from_code(code), tag);
        assert_eq!(tag.code(), code);
        assert_eq!(tag.name(), name);
        assert!(names.insert(name));
    }
    assert_eq!(ValueTag::from_code(0x44).name(), "keyword");
    assert_eq!(ValueTag::from_code(0x41).name(), "textWithoutLanguage");
    assert_eq!(ValueTag::from_code(0x7F), ValueTag::Extension(0));
    assert_eq!(ValueTag::Extension(7).code(), 0x7F);
    assert!(ValueTag::Keyword.is_text() && ValueTag::NameWithLanguage.is_text());
    assert!(!ValueTag::Integer.is_text() && !ValueTag::OctetString.is_text());
    assert!(ValueTag::NoValue.is_out_of_band() && !ValueTag::Keyword.is_out_of_band());
    for g in 0..=0xFFu8 {
        if let Some(t) = GroupTag::from_code(g) {
            assert_eq!(t.code(), g);
        }
    }
    assert_eq!(GroupTag::from_code(0x03), None);
    assert_eq!(GroupTag::Job.name(), "job-attributes-tag");
}

#[test]
fn text_values() {
    let v = b"\x00\x05en-us\x00\x05hello";
    assert_eq!(text_value(ValueTag::NameWithLanguage, v), b"hello");
    // Cut after the first text bytes: what was kept.
    assert_eq!(text_value(ValueTag::TextWithLanguage, &v[..11]), b"he");
    // A text length beyond the value, or a language beyond it.
    assert_eq!(
        text_value(ValueTag::TextWithLanguage, b"\x00\x02en\xff\xffab"),
        b"ab"
    );
    assert_eq!(text_value(ValueTag::TextWithLanguage, b"\x00\x09en"), b"");
    assert_eq!(text_value(ValueTag::TextWithLanguage, b"\x00"), b"");
    assert_eq!(text_value(ValueTag::Keyword, b"one-sided"), b"one-sided");
    assert_eq!(text_value(ValueTag::Integer, b"\x00\x00\x00\x01"), b"");
}

#[test]
fn looks_like_ipp_versions() {
    assert!(looks_like_ipp(&get_printer_attributes().0));
    assert!(looks_like_ipp(b"\x02\x02"));
    assert!(looks_like_ipp(b"\x01\x00\x00\x02\x00\x00\x00\x01"));
    assert!(!looks_like_ipp(b"\x02\x03\x00\x02\x00\x00\x00\x01\x01"));
    assert!(!looks_like_ipp(b"\x00\x01"));
    assert!(!looks_like_ipp(b"\x02"));
    assert!(!looks_like_ipp(b"op=add-printer&printer_name=x"));
    assert!(!looks_like_ipp(b"\x02\x00\x00\x02\x00\x00\x00\x01\x44"));
}

#[test]
fn error_names_are_distinct() {
    let all = [
        IppError::Truncated,
        IppError::BadTag,
        IppError::NoGroup,
        IppError::NoName,
        IppError::BadExtension,
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
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let start = get_printer_attributes().0;
    for round in 0..2000 {
        let len = (xorshift(&mut s) % 400) as usize;
        // Half the rounds start valid, so the attribute states see random bytes too.
        let mut data = if round % 2 == 0 {
            start[..HEADER_LEN + 1].to_vec()
        } else {
            Vec::new()
        };
        for _ in 0..len {
            let r = xorshift(&mut s);
            // Small lengths and real tags now and then, so parsing gets somewhere.
            data.push(match r % 6 {
                0 => 0,
                1 => (r >> 8) as u8 % 8,
                2 => [0x01, 0x03, 0x44, 0x7F, 0x34, 0x37][(r >> 8) as usize % 6],
                _ => (r >> 16) as u8,
            });
        }
        let split = (xorshift(&mut s) as usize) % (data.len() + 1);
        let mut p = Parser::new();
        let mut data_len = 0;
        let mut errors = 0;
        let mut on = |e: IppEvent<'_>| match e {
            IppEvent::Data(d) => data_len += d.len(),
            IppEvent::Attribute(a) => {
                assert!(a.value.len() <= MAX_VALUE && a.name.len() <= MAX_NAME);
                assert!(a.value.len() <= usize::from(a.value_len));
            }
            IppEvent::Error(_) => errors += 1,
            _ => {}
        };
        p.feed(&data[..split], &mut on);
        p.feed(&data[split..], &mut on);
        p.finish(&mut on);
        assert!(data_len <= data.len());
        assert!(errors <= 1);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// However a Print-Job is cut, the attributes are the same and the document data handed
    /// out is the document sent.
    #[test]
    fn any_split_gives_the_same_data_bytes(
        doc in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000),
        name in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        cuts in proptest::collection::vec(0usize..4000, 0..12),
    ) {
        let msg = Msg::new((2, 0), 2, 9)
            .group(1)
            .attr(0x42, b"job-name", &name)
            .attr(0x30, b"blob", &doc)
            .end()
            .data(&doc)
            .0;
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (msg.len() + 1)).collect();
        points.sort_unstable();
        let mut pieces = Vec::new();
        let mut at = 0;
        for p in points.into_iter().chain([msg.len()]) {
            pieces.push(&msg[at..p]);
            at = p;
        }
        let split = collect(&pieces);
        proptest::prop_assert_eq!(&split, &collect(&[&msg]));
        let want = if doc.is_empty() { Ev::End } else { Ev::Data(doc.clone()) };
        proptest::prop_assert_eq!(split.last(), Some(&want));
    }
}
