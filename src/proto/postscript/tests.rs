use super::*;

fn scan(s: &str) -> Vec<(Risk, String)> {
    let mut sc = Scanner::default();
    let mut v = vec![];
    sc.feed(s.as_bytes(), &mut |r, e| v.push((r, e)));
    sc.feed(b"\n", &mut |r, e| v.push((r, e)));
    v
}

#[test]
fn zero_runs_skipped_equal_every_byte_seen() {
    // the same bytes fed whole (zero runs skipped) and one byte a call (nothing skipped)
    let pieces: [&[u8]; 14] = [
        b"\0\0\0\0\0\0\0\0\0\0\0",
        b"\0",
        b" ",
        b"/exitserver",
        b"serverdict begin 0 exitserver ",
        b"(a\0\0\0b)",
        b"<\0\0\0>",
        b"<~\0\0~>",
        b"%\0\0\0\n",
        b"{ }",
        b" loop ",
        b"//startjob",
        b"/deletefile load exec",
        b"(x\0\0\0y) (w) file ",
    ];
    let mut x: u32 = 0x1234_5678;
    for _ in 0..400 {
        let mut data = vec![];
        for _ in 0..40 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            data.extend_from_slice(pieces[(x % 14) as usize]);
        }
        let (mut whole, mut bytewise) = (vec![], vec![]);
        let mut a = Scanner::default();
        a.feed(&data, &mut |r, e| whole.push((r, e)));
        a.feed(b"\n", &mut |r, e| whole.push((r, e)));
        let mut b = Scanner::default();
        for c in &data {
            b.feed(std::slice::from_ref(c), &mut |r, e| bytewise.push((r, e)));
        }
        b.feed(b"\n", &mut |r, e| bytewise.push((r, e)));
        assert_eq!(whole, bytewise, "{:?}", String::from_utf8_lossy(&data));
    }
}

fn risks(s: &str) -> Vec<Risk> {
    scan(s).into_iter().map(|x| x.0).collect()
}

#[test]
fn operators_reached_indirectly() {
    assert_eq!(
        risks("serverdict /exitserver get exec"),
        [Risk::PsExitServer]
    );
    assert_eq!(risks("/deletefile load exec"), [Risk::PsFileWrite]);
    assert_eq!(risks("//startjob"), [Risk::PsExitServer]);
    assert_eq!(
        risks("%\x0c0 serverdict begin 0 exitserver"),
        [Risk::PsExitServer]
    );
    assert_eq!(risks("{} bind loop"), [Risk::PsInfiniteLoop]);
}

#[test]
fn pret_constructs() {
    assert_eq!(risks("serverdict begin 0 exitserver"), [Risk::PsExitServer]);
    assert_eq!(risks("true 0 startjob pop"), [Risk::PsExitServer]);
    assert_eq!(
        risks("1183615869 internaldict /superexec get exec"),
        [Risk::PsSuperexec]
    );
    assert_eq!(
        risks("<< /Password (0) /SystemParamsPassword (1) >> setsystemparams"),
        [Risk::PsPasswordParams]
    );
    assert_eq!(
        risks("<< /FactoryDefaults true >> setsystemparams"),
        [Risk::PsFactoryDefaults]
    );
    assert_eq!(
        risks("0 1 1000 { 16 string cvs checkpassword { exit } if } for"),
        [Risk::PsPasswordCheck]
    );
    let w = scan("/f (../../etc/passwd) (w) file def");
    assert_eq!(w[0].0, Risk::PsFileWrite);
    assert_eq!(w[0].1, "(../../etc/passwd) (w) file");
    assert_eq!(risks("(x) deletefile"), [Risk::PsFileWrite]);
    assert_eq!(
        risks("(*) { = } 100 string filenameforall"),
        [Risk::PsFsEnum]
    );
    assert_eq!(
        risks("(*) { } 100 string /IODevice resourceforall"),
        [Risk::PsFsEnum]
    );
    assert_eq!(risks("/in (%stdin) (r) file def"), [Risk::PsJobCapture]);
    assert_eq!(risks("{} loop"), [Risk::PsInfiniteLoop]);
    assert_eq!(risks("{ 1 pop } loop"), [Risk::PsInfiniteLoop]);
    assert_eq!(risks("systemdict /quit get exec"), [Risk::PsInterpreter]);
    assert_eq!(
        risks("<< /DoPrintErrors false >> setsystemparams"),
        [Risk::PsFingerprint]
    );
    assert_eq!(risks("serialnumber =="), [Risk::PsRecon]);
    let r = risks(
        "true 0 startjob pop /showpage {} def << /EndPage { pop pop false } >> setpagedevice",
    );
    assert_eq!(
        r,
        [
            Risk::PsExitServer,
            Risk::PsShowpageRedef,
            Risk::PsJobCapture
        ]
    );
}

#[test]
fn escaped_strings_are_decoded_before_the_checks() {
    // octal, named escapes and hex strings spelling the file name and mode
    let w = scan("/f (../../etc/pass\\167d) (\\167) file def");
    assert_eq!(
        w[0],
        (Risk::PsFileWrite, "(../../etc/passwd) (w) file".into())
    );
    let w = scan("/f <2e2e2f7379732f78> <77> file def");
    assert_eq!(w[0], (Risk::PsFileWrite, "(../sys/x) (w) file".into()));
    // ASCII85 of "w" is `<~G5~>` (base64.a85encode)
    assert_eq!(risks("(x) <~G5~> file"), [Risk::PsFileWrite]);
    // a line continuation inside a string, and \n stays a newline
    assert_eq!(risks("(%std\\\nin) (r) file"), [Risk::PsJobCapture]);
    // split anywhere, escapes included
    let text = b"/f (a\\142c) <77> file ";
    for cut in 0..text.len() {
        let mut sc = Scanner::default();
        let mut got = vec![];
        sc.feed(&text[..cut], &mut |r, e| got.push((r, e)));
        sc.feed(&text[cut..], &mut |r, e| got.push((r, e)));
        assert_eq!(
            got,
            [(Risk::PsFileWrite, "(abc) (w) file".into())],
            "cut at {cut}"
        );
    }
}

#[test]
fn loop_exits_through_named_procedures() {
    assert!(scan("/p { exit } def { p } loop").is_empty());
    assert!(scan("/leave { count 0 eq { exit } if } bind def { 1 pop leave } loop").is_empty());
    // a named procedure without an exit leaves nothing
    assert_eq!(risks("/p { 1 pop } def { p } loop"), [Risk::PsInfiniteLoop]);
    // the name alone, not a procedure of that name, counts
    assert_eq!(risks("/p 5 def { p pop } loop"), [Risk::PsInfiniteLoop]);
}

#[test]
fn names_built_from_strings_are_obfuscation() {
    let o = scan("(exit) (server) cvn cvx exec");
    assert_eq!(o[0].0, Risk::PsObfuscation);
    assert!(o[0].1.contains("spell exitserver"), "{}", o[0].1);
    assert_eq!(
        risks("<64656c65746566696c65> cvn load exec"),
        [Risk::PsObfuscation]
    );
    assert_eq!(risks("(super\\145xec) cvn"), [Risk::PsObfuscation]);
    // harmless names built the same way are not
    assert!(scan("(Helvetica) cvn findfont (show) cvn pop").is_empty());
}

#[test]
fn what_drivers_and_documents_do_is_not_risky() {
    for s in [
        // loops that can leave
        "{ currentfile 1 string readstring { pop } { exit } ifelse } loop",
        "{ dup 0 eq { pop exit } if 1 sub } loop",
        "{ { exit } if } loop",
        // Ghostscript's ps2write prolog leaves through quit on errors
        "{ (error) print flush quit } if",
        // a document redefining showpage inside its own job (EPS wrappers do)
        "/showpage {} def",
        "<< /EndPage { pop pop true } >> setpagedevice",
        // writing to %stdout is how a job reports back
        "(%stdout) (w) file (done) writestring",
        // operator names in strings and comments are text
        "(exitserver startjob deletefile) show % 0 exitserver\n",
        "/Helvetica findfont 12 scalefont setfont 72 720 moveto (Hello) show showpage",
        "<< /PageSize [595 842] >> setpagedevice product version revision pop pop pop",
        "<48656c6c6f> show <~87cURD]i,\"Ebo80~> pop << /Duplex true >> setpagedevice",
    ] {
        assert!(scan(s).is_empty(), "{s}: {:?}", scan(s));
    }
}

#[test]
fn split_anywhere_gives_the_same_answer() {
    let s = b"%!PS\n(abc) pop serverdict begin 0 exitserver\n/x (y) (w) file def\n";
    for cut in 0..s.len() {
        let mut sc = Scanner::default();
        let mut v = vec![];
        sc.feed(&s[..cut], &mut |r, _| v.push(r));
        sc.feed(&s[cut..], &mut |r, _| v.push(r));
        assert_eq!(v, [Risk::PsExitServer, Risk::PsFileWrite], "cut {cut}");
    }
}

#[test]
fn garbage_and_deep_nesting_stay_bounded() {
    let mut sc = Scanner::default();
    let junk: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    sc.feed(&junk, &mut |_, _| {});
    sc.feed(&[b'{'; 10_000], &mut |_, _| {});
    assert!(sc.procs.len() <= PROC_DEPTH);
    sc.feed(&[b'('; 70_000], &mut |_, _| {});
}

#[test]
fn dsc_comments_name_the_job() {
    assert_eq!(
        dsc_comment(b"%%Title: Quarterly report \r"),
        Some((Dsc::Title, &b"Quarterly report"[..]))
    );
    assert_eq!(dsc_comment(b"%%For:alice"), Some((Dsc::For, &b"alice"[..])));
    assert_eq!(dsc_comment(b"%%Pages: 3"), None);
    assert_eq!(dsc_comment(b"x %%Title: no"), None);
}
