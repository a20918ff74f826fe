use super::*;
use std::net::{IpAddr, Ipv6Addr};

fn hdr(magic: &[u8; 4], dev: u8, code: u8, seq: u32, session: u16, len: u32) -> Vec<u8> {
    let mut v = magic.to_vec();
    v.extend([dev, code]);
    v.extend(seq.to_be_bytes());
    v.extend(session.to_be_bytes());
    v.extend(len.to_be_bytes());
    v
}

const TO_SERVICE: Context = Context {
    transport: Transport::Udp,
    to_service: true,
    from_service: false,
};
const FROM_SERVICE: Context = Context {
    transport: Transport::Udp,
    to_service: false,
    from_service: true,
};

fn collect(f: &mut Framer, chunks: &[&[u8]]) -> Vec<(u8, u32, u32, Vec<u8>)> {
    let mut out = vec![];
    for c in chunks {
        f.feed(c, &mut |ev| match ev {
            Framed::Message(m) => out.push((
                m.header.command().0,
                m.header.seq(),
                m.header.payload_len(),
                m.payload.to_vec(),
            )),
            Framed::NotBjnp(_) => out.push((0xff, 0, 0, vec![])),
            Framed::Payload(..) => {}
        });
    }
    out
}

#[test]
fn tcp_framing_with_split_headers() {
    let mut s = hdr(b"BJNP", 0x01, 0x21, 1, 7, 100);
    s.extend(vec![0xab; 100]);
    s.extend(hdr(b"BJNP", 0x01, 0x21, 2, 7, 3));
    s.extend(b"BJN"); // payload that looks like a magic must not confuse the framer
    s.extend(hdr(b"BJNP", 0x01, 0x21, 3, 7, 0));
    // every split point gives the same messages
    for cut in 0..s.len() {
        let mut f = Framer::default();
        let got = collect(&mut f, &[&s[..cut], &s[cut..]]);
        assert_eq!(got.len(), 3, "cut at {cut}");
        assert_eq!(got[0].0, 0x21);
        assert_eq!((got[0].1, got[0].2, got[0].3.len()), (1, 100, TCP_KEEP));
        assert_eq!((got[1].1, got[1].3.as_slice()), (2, &b"BJN"[..]));
        assert_eq!((got[2].1, got[2].2), (3, 0));
        assert!(f.at_boundary());
    }
    // byte by byte
    let mut f = Framer::default();
    let bytes: Vec<&[u8]> = s.chunks(1).collect();
    assert_eq!(collect(&mut f, &bytes).len(), 3);
}

#[test]
fn tcp_framing_stops_at_garbage() {
    let mut s = hdr(b"BJNP", 0x01, 0x21, 1, 7, 2);
    s.extend([1, 2]);
    s.extend(b"GET / HTTP/1.0\r\n\r\n");
    s.extend(hdr(b"BJNP", 0x01, 0x21, 2, 7, 0));
    let mut f = Framer::default();
    let got = collect(&mut f, &[&s]);
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].0, 0xff);
    assert!(f.failed());
    // nothing more is reported once failed
    assert!(collect(&mut f, &[&hdr(b"BJNP", 1, 0x21, 3, 0, 0)]).is_empty());
}

#[test]
fn parses_the_wire_images_of_protocols_md() {
    // get-id (nmap printer): 42 4A 4E 50 01 30 00 00 00 01 00 00 00 00 00 00
    let b = [
        0x42, 0x4A, 0x4E, 0x50, 0x01, 0x30, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
    ];
    let h = Header::parse(&b, MAX_UDP_PAYLOAD).unwrap();
    assert_eq!(h.magic(), Magic::BJNP);
    assert_eq!(h.dev_type(), DevType::PRINTER_CMD);
    assert_eq!(h.command(), Command::GET_ID);
    assert_eq!(h.seq(), 1);
    assert_eq!(h.session_id(), 0);
    assert_eq!(h.payload_len(), 0);
    // discover (SANE, MFNP)
    let b = hdr(b"MFNP", 2, 1, 0, 0, 0);
    let h = Header::parse(&b, MAX_UDP_PAYLOAD).unwrap();
    assert_eq!(h.magic(), Magic::MFNP);
    assert_eq!(h.command().name(Transport::Udp, 2), CommandName::Discover);
}

#[test]
fn hard_checks_reject_non_bjnp() {
    assert_eq!(
        Header::parse(b"BJNP\x01\x30\0\0", 100),
        Err(HeaderError::TooShort(8))
    );
    assert_eq!(
        Header::parse(b"HELLO WORLD, this is not", 100),
        Err(HeaderError::BadMagic)
    );
    // an unknown dev_type with a known magic is BJNP, flagged (docs/PROTOCOLS.md §2, Wireshark)
    let b = hdr(b"BJNP", 0x03, 0x30, 1, 0, 0);
    let (m, _) = datagram(&b).unwrap();
    assert_eq!(m.header.dev_type(), DevType(3));
    let a = check(&m, TO_SERVICE);
    assert!(a.has(Anomalies::UNKNOWN_DEV_TYPE) && a.is_malformed());
    let b = hdr(b"BJNP", 0x01, 0x21, 1, 0, MAX_TCP_PAYLOAD + 1);
    assert_eq!(
        Header::parse(&b, MAX_TCP_PAYLOAD),
        Err(HeaderError::PayloadTooLong {
            len: MAX_TCP_PAYLOAD + 1,
            max: MAX_TCP_PAYLOAD
        })
    );
    let b = hdr(b"BJNP", 0x01, 0x01, 1, 0, 65_500);
    assert!(matches!(
        Header::parse(&b, MAX_UDP_PAYLOAD),
        Err(HeaderError::PayloadTooLong { .. })
    ));
}

#[test]
fn low_confidence_magic_is_flagged_not_rejected() {
    let b = hdr(b"BNJB", 0x01, 0x30, 1, 0, 0);
    let (m, _) = datagram(&b).unwrap();
    assert!(check(&m, TO_SERVICE).has(Anomalies::LOW_CONFIDENCE_MAGIC));
}

#[test]
fn unknown_codes_survive_as_numbers() {
    let b = hdr(b"BJNP", 0x01, 0x55, 7, 0, 0);
    let (m, _) = datagram(&b).unwrap();
    assert_eq!(m.header.command(), Command(0x55));
    assert_eq!(
        m.header.command().name(Transport::Udp, 1),
        CommandName::Unknown
    );
    let a = check(&m, TO_SERVICE);
    assert!(a.has(Anomalies::UNKNOWN_COMMAND));
    assert!(a.is_malformed());
}

#[test]
fn every_known_command_has_a_name() {
    for code in [0x01, 0x02, 0x10, 0x11, 0x20, 0x21, 0x30, 0x32] {
        assert!(Command(code).is_known());
        for stack in [1, 2] {
            assert_ne!(
                Command(code).name(Transport::Udp, stack),
                CommandName::Unknown
            );
            assert_ne!(
                Command(code).name(Transport::Tcp, stack),
                CommandName::Unknown
            );
        }
    }
    assert_eq!(
        Command::GET_STATUS.name(Transport::Tcp, 2),
        CommandName::ReadData
    );
    assert_eq!(
        Command::PRINT_DATA.name(Transport::Tcp, 1),
        CommandName::PrintData
    );
    assert_eq!(
        Command::PRINT_DATA.name(Transport::Tcp, 2),
        CommandName::ScanCommand
    );
}

#[test]
fn reserved_bytes_change_wiresharks_seq_and_are_flagged() {
    let b = hdr(b"BJNP", 0x01, 0x20, 0x0001_0005, 0, 0);
    let (m, _) = datagram(&b).unwrap();
    assert_eq!(m.header.seq(), 0x0001_0005);
    assert_eq!(m.header.reserved(), 1);
    assert!(check(&m, TO_SERVICE).has(Anomalies::RESERVED_NONZERO));
}

#[test]
fn direction_check() {
    let b = hdr(b"BJNP", 0x01, 0x30, 1, 0, 0);
    let (m, _) = datagram(&b).unwrap();
    assert!(check(&m, FROM_SERVICE).has(Anomalies::WRONG_DIRECTION));
    assert!(!check(&m, TO_SERVICE).has(Anomalies::WRONG_DIRECTION));
    let b = hdr(b"BJNP", 0x81, 0x30, 1, 0, 0);
    let (m, _) = datagram(&b).unwrap();
    assert!(check(&m, TO_SERVICE).has(Anomalies::WRONG_DIRECTION));
}

#[test]
fn payload_longer_than_datagram_is_cut_not_overread() {
    let mut b = hdr(b"BJNP", 0x81, 0x30, 1, 0, 500);
    b.extend([0, 10, b'M', b'F', b'G', b':', b'C', b';']);
    let (m, rest) = datagram(&b).unwrap();
    assert_eq!(m.payload.len(), 8);
    assert!(!m.is_complete());
    assert!(rest.trailing().is_empty());
}

#[test]
fn two_messages_in_one_datagram_and_trailing_bytes() {
    let mut b = hdr(b"BJNP", 0x01, 0x20, 3, 0, 0);
    b.extend(hdr(b"BJNP", 0x01, 0x11, 4, 0, 0));
    b.extend(b"junk");
    let (first, mut rest) = datagram(&b).unwrap();
    assert_eq!(first.header.command(), Command::GET_STATUS);
    let second = rest.next().unwrap();
    assert_eq!(second.header.command(), Command::CLOSE);
    assert_eq!(second.header.seq(), 4);
    assert!(rest.next().is_none());
    assert_eq!(rest.trailing(), b"junk");
}

#[test]
fn discover_response_ipv4_and_ipv6() {
    let p = [0, 1, 8, 0, 6, 4, 2, 0, 0x5e, 0x10, 0, 0x30, 192, 0, 2, 30];
    let d = Discover::parse(&p).unwrap();
    assert_eq!(d.mac, [2, 0, 0x5e, 0x10, 0, 0x30]);
    assert_eq!(
        d.addresses().collect::<Vec<_>>(),
        vec!["192.0.2.30".parse::<IpAddr>().unwrap()]
    );
    let mut p6 = vec![0, 1, 0x86, 0xdd, 6, 16, 2, 0, 0, 0, 0, 1];
    p6.extend("2001:db8::30".parse::<Ipv6Addr>().unwrap().octets());
    let d = Discover::parse(&p6).unwrap();
    assert_eq!(
        d.addresses().collect::<Vec<_>>(),
        vec!["2001:db8::30".parse::<IpAddr>().unwrap()]
    );
    // malformed: bad MAC length, short address field, bad address length
    assert_eq!(
        Discover::parse(&[0, 1, 8, 0, 5, 4, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4]),
        Err(PayloadError::Field("mac_len"))
    );
    assert_eq!(
        Discover::parse(&[0, 1, 8, 0, 6, 4, 1, 2, 3, 4, 5, 6, 1, 2]),
        Err(PayloadError::Field("addr_len"))
    );
    assert_eq!(
        Discover::parse(&[0, 1, 8, 0, 6, 7, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 7]),
        Err(PayloadError::Field("addr_len"))
    );
    assert!(Discover::parse(&[0; 5]).is_err());
    // an IPv4 answer with extra bytes parses but fails the shape check
    let mut long = vec![0, 1, 8, 0, 6, 4, 2, 0, 0x5e, 0x10, 0, 0x30, 192, 0, 2, 30];
    long.extend([0u8; 12]);
    let mut m = hdr(b"BJNP", 0x81, 0x01, 0, 0, long.len() as u32);
    m.extend(&long);
    let (msg, _) = datagram(&m).unwrap();
    assert!(check(&msg, FROM_SERVICE).has(Anomalies::BAD_PAYLOAD));
    let mut m = hdr(b"BJNP", 0x81, 0x01, 0, 0, 16);
    m.extend(&long[..16]);
    let (msg, _) = datagram(&m).unwrap();
    assert!(check(&msg, FROM_SERVICE).is_empty());
}

#[test]
fn device_id_bjnp_counts_its_own_length() {
    let id = b"MFG:Canon;CMD:BJL,BJRaster3;MDL:MG5500 series;DES:Canon MG5500 series;VER:1.050;";
    let mut p = ((id.len() + 2) as u16).to_be_bytes().to_vec();
    p.extend(id);
    let d = DeviceId::parse(Magic::BJNP, &p).unwrap();
    assert_eq!(d.raw, id);
    assert!(d.looks_valid());
    assert_eq!(d.manufacturer(), Some(&b"Canon"[..]));
    assert_eq!(d.model(), Some(&b"MG5500 series"[..]));
    assert_eq!(d.description(), Some(&b"Canon MG5500 series"[..]));
    assert_eq!(d.version(), Some(&b"1.050"[..]));
    assert_eq!(d.command_set(), Some(&b"BJL,BJRaster3"[..]));
    // the full response passes the shape check
    let mut m = hdr(b"BJNP", 0x81, 0x30, 1, 0, p.len() as u32);
    m.extend(&p);
    let (msg, _) = datagram(&m).unwrap();
    assert!(check(&msg, FROM_SERVICE).is_empty());
}

#[test]
fn device_id_long_keys_and_case() {
    let d = DeviceId {
        raw: b"manufacturer:Canon;Model:MX700;command set:BJL;",
    };
    assert_eq!(d.manufacturer(), Some(&b"Canon"[..]));
    assert_eq!(d.model(), Some(&b"MX700"[..]));
    assert_eq!(d.command_set(), Some(&b"BJL"[..]));
}

#[test]
fn device_id_malformed_lengths() {
    assert!(DeviceId::parse(Magic::BJNP, &[0]).is_err());
    assert_eq!(
        DeviceId::parse(Magic::BJNP, &[0, 1, b'x']),
        Err(PayloadError::Field("device_id_len"))
    );
    assert_eq!(
        DeviceId::parse(Magic::BJNP, &[0, 40, b'M', b':']),
        Err(PayloadError::Field("device_id_len"))
    );
    // MFNP has no prefix
    let d = DeviceId::parse(Magic::MFNP, b"MFG:Canon;MDL:MF4400 Series;").unwrap();
    assert_eq!(d.model(), Some(&b"MF4400 Series"[..]));
    // capped
    let big = vec![b'A'; 5000];
    assert_eq!(
        DeviceId::parse(Magic::MFNP, &big).unwrap().raw.len(),
        MAX_DEVICE_ID
    );
    // binary garbage is not a valid ID
    assert!(!DeviceId {
        raw: b"\x01\x02MFG:x;"
    }
    .looks_valid());
}

#[test]
fn job_details_utf16be() {
    let mut p = vec![0u8; JOB_DETAILS_LEN];
    let put = |p: &mut Vec<u8>, at: usize, s: &str| {
        for (i, u) in s.encode_utf16().enumerate() {
            p[at + 2 * i..at + 2 * i + 2].copy_from_slice(&u.to_be_bytes());
        }
    };
    put(&mut p, 8, "wks-05");
    put(&mut p, 72, "alice");
    put(&mut p, 136, "Quarterly report ü");
    let j = JobDetails::parse(&p).unwrap();
    assert_eq!(utf16be_string(j.host), "wks-05");
    assert_eq!(utf16be_string(j.user), "alice");
    assert_eq!(utf16be_string(j.title), "Quarterly report ü");
    assert!(JobDetails::parse(&p[..100]).is_err());
    // a lone surrogate does not panic
    assert_eq!(utf16be_string(&[0xd8, 0x00, 0, 0x41]), "\u{fffd}A");
    // job-details request of the wrong size is a bad payload
    let mut m = hdr(b"BJNP", 0x01, 0x10, 0, 0, 100);
    m.extend([0u8; 100]);
    let (msg, _) = datagram(&m).unwrap();
    assert!(check(&msg, TO_SERVICE).has(Anomalies::BAD_PAYLOAD));
}

#[test]
fn scan_poll_types() {
    let mut p = vec![0u8; 80];
    p[1] = 1;
    p[8] = 0;
    p[9] = b'a';
    let s = ScanPoll::parse(&p).unwrap();
    assert_eq!(s.kind, 1);
    assert_eq!(utf16be_string(s.user_host.unwrap()), "a");
    let mut p = vec![0u8; 80];
    p[1] = 0;
    assert_eq!(ScanPoll::parse(&p).unwrap().user_host, None);
    // type 2 as SANE sends it: dialog 1 at bytes 4-7, name at 8
    let mut p = vec![0u8; 116];
    p[1] = 2;
    p[7] = 1;
    p[9] = b'r';
    let s = ScanPoll::parse(&p).unwrap();
    assert_eq!(s.kind, 2);
    assert_eq!(utf16be_string(s.user_host.unwrap()), "r");
    let mut p = vec![0u8; 100];
    p[1] = 5;
    assert_eq!(ScanPoll::parse(&p).unwrap().kind, 5);
    let mut p = vec![0u8; 80];
    p[1] = 3;
    assert_eq!(ScanPoll::parse(&p), Err(PayloadError::Field("poll_type")));
    p[1] = 2; // type 2 must be 116 bytes
    assert!(ScanPoll::parse(&p).is_err());
}

#[test]
fn status_and_ack_payloads() {
    assert_eq!(
        status_text(b"\x00\x0fBST:00;CIR:Y,K;"),
        Some(&b"BST:00;CIR:Y,K;"[..])
    );
    assert_eq!(status_text(b"<?xml version"), Some(&b"<?xml version"[..]));
    assert_eq!(status_text(b"\x00\xffshort"), Some(&b"short"[..]));
    assert_eq!(status_text(b"\x00"), None);
    assert_eq!(accepted_bytes(&[0, 0, 0x10, 0]), Some(4096));
    assert_eq!(accepted_bytes(&[0, 0]), None);
    // a TCP print-data ack must carry exactly 4 bytes
    let mut m = hdr(b"BJNP", 0x81, 0x21, 1, 1, 2);
    m.extend([0, 0]);
    let (msg, _) = datagram(&m).unwrap();
    let tcp = Context {
        transport: Transport::Tcp,
        ..FROM_SERVICE
    };
    assert!(check(&msg, tcp).has(Anomalies::BAD_PAYLOAD));
}

#[test]
fn shape_checks_for_header_only_commands() {
    let mut m = hdr(b"BJNP", 0x01, 0x01, 0, 0, 4);
    m.extend([1, 2, 3, 4]);
    let (msg, _) = datagram(&m).unwrap();
    assert!(check(&msg, TO_SERVICE).has(Anomalies::BAD_PAYLOAD));
    let mut m = hdr(b"BJNP", 0x01, 0x11, 0, 0, 1);
    m.push(9);
    let (msg, _) = datagram(&m).unwrap();
    assert!(check(&msg, TO_SERVICE).has(Anomalies::BAD_PAYLOAD));
    // nmap's scanner get-id probe is fine
    let mut m = hdr(b"BJNP", 0x02, 0x30, 1, 0, 4);
    m.extend([0, 0, 0, 0]);
    let (msg, _) = datagram(&m).unwrap();
    assert!(check(&msg, TO_SERVICE).is_empty());
}

#[test]
fn anomaly_names_are_stable() {
    let mut a = Anomalies::default();
    a.set(Anomalies::TRAILING_DATA);
    a.set(Anomalies::CAPTURE_TRUNCATED);
    assert_eq!(
        a.names().collect::<Vec<_>>(),
        ["trailing_data", "capture_truncated"]
    );
    let mut info = Anomalies::default();
    info.set(Anomalies::CAPTURE_TRUNCATED);
    assert!(!info.is_malformed());
}
