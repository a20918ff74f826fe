//! PostScript risk scanning at token level (docs/PROTOCOLS.md §6.4): a streaming tokenizer that
//! knows comments, strings (nested parentheses, escapes), hex and ASCII85 strings,
//! dictionaries and procedures, so a construct split across TCP segments or hidden in a
//! comment or string is judged correctly. Fixed memory: a token, two string heads, a short
//! literal history, a bounded procedure stack.

use super::risk::Risk;

const TOKEN_MAX: usize = 64;
const STR_HEAD: usize = 32;
const LITERALS: usize = 8;
const PROC_DEPTH: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Normal,
    Comment,
    /// `(...)`: nesting depth, escape pending.
    Str(u16, bool),
    /// `<...>`
    Hex,
    /// `<~...~>`
    Ascii85(bool),
    /// Just read `<`: a hex string, `<<` or `<~` follows.
    Angle,
}

#[derive(Clone, Copy)]
struct Head {
    b: [u8; STR_HEAD],
    len: usize,
}

impl Default for Head {
    fn default() -> Self {
        Head {
            b: [0; STR_HEAD],
            len: 0,
        }
    }
}

impl Head {
    fn as_slice(&self) -> &[u8] {
        &self.b[..self.len]
    }
    fn push(&mut self, c: u8) {
        if self.len < STR_HEAD {
            self.b[self.len] = c;
            self.len += 1;
        }
    }
}

pub struct Scanner {
    state: State,
    tok: [u8; TOKEN_MAX],
    tok_len: usize,
    /// The string being read, then the last two complete strings.
    cur_str: Head,
    last_str: Head,
    prev_str: Head,
    /// Recent literal names (`/Password`), newest last.
    lits: [Head; LITERALS],
    lits_len: usize,
    /// The previous executable token (a number, for `1183615869 internaldict`).
    prev_tok: Head,
    /// For each open procedure: whether it (or a procedure inside it) can leave a loop.
    procs: Vec<bool>,
    /// The token just before was a `}` closing a procedure that cannot exit.
    closed_without_exit: bool,
    /// After exitserver/startjob: definitions now outlive the job.
    persistent: bool,
    /// One finding per risk per stream.
    reported: u64,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            state: State::Normal,
            tok: [0; TOKEN_MAX],
            tok_len: 0,
            cur_str: Head::default(),
            last_str: Head::default(),
            prev_str: Head::default(),
            lits: [Head::default(); LITERALS],
            lits_len: 0,
            prev_tok: Head::default(),
            procs: Vec::new(),
            closed_without_exit: false,
            persistent: false,
            reported: 0,
        }
    }
}

/// Leading zero bytes of `b`.
fn zero_run(b: &[u8]) -> usize {
    let mut n = 0;
    for chunk in b.chunks_exact(8) {
        let w = u64::from_ne_bytes(chunk.try_into().unwrap_or([1; 8]));
        if w != 0 {
            break;
        }
        n += 8;
    }
    n + b[n..].iter().take_while(|&&c| c == 0).count()
}

fn is_delim(c: u8) -> bool {
    matches!(
        c,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

impl Scanner {
    /// Feeds PostScript bytes; `out` gets each risk (once per stream) with its evidence.
    pub fn feed(&mut self, data: &[u8], out: &mut dyn FnMut(Risk, String)) {
        let mut i = 0;
        while i < data.len() {
            let c = data[i];
            i += 1;
            // Outside a string a NUL changes nothing the second time (a delimiter after a
            // delimiter; a byte inside a comment or hex string): the rest of a zero run is
            // skipped eight bytes at a time. Page data is often zero-filled.
            if c == 0 && i > 1 && data[i - 2] == 0 && !matches!(self.state, State::Str(..)) {
                i += zero_run(&data[i..]);
                continue;
            }
            match self.state {
                State::Comment => {
                    // PLRM: a comment ends at a newline or a form feed
                    if c == b'\n' || c == b'\r' || c == 0x0c {
                        self.state = State::Normal;
                    }
                }
                State::Str(depth, esc) => {
                    self.state = if esc {
                        self.cur_str.push(c);
                        State::Str(depth, false)
                    } else {
                        match c {
                            b'\\' => State::Str(depth, true),
                            b'(' => {
                                self.cur_str.push(c);
                                State::Str(depth.saturating_add(1), false)
                            }
                            b')' if depth == 0 => {
                                self.prev_str = self.last_str;
                                self.last_str = self.cur_str;
                                State::Normal
                            }
                            b')' => {
                                self.cur_str.push(c);
                                State::Str(depth - 1, false)
                            }
                            _ => {
                                self.cur_str.push(c);
                                State::Str(depth, false)
                            }
                        }
                    };
                }
                State::Hex => {
                    if c == b'>' {
                        self.state = State::Normal;
                    }
                }
                State::Ascii85(tilde) => {
                    self.state = if tilde && c == b'>' {
                        State::Normal
                    } else {
                        State::Ascii85(c == b'~')
                    };
                }
                State::Angle => {
                    self.state = match c {
                        b'<' => State::Normal, // `<<` dictionary start
                        b'~' => State::Ascii85(false),
                        b'>' => State::Normal,
                        _ => State::Hex,
                    };
                }
                State::Normal => {
                    if c == b'/' && self.tok_len == 1 && self.tok[0] == b'/' {
                        // `//name`: an immediately evaluated name
                        self.tok[1] = b'/';
                        self.tok_len = 2;
                    } else if c.is_ascii_whitespace() || is_delim(c) || c == 0 {
                        self.end_token(out);
                        match c {
                            b'%' => self.state = State::Comment,
                            b'(' => {
                                self.cur_str = Head::default();
                                self.state = State::Str(0, false);
                            }
                            b'<' => self.state = State::Angle,
                            b'{' if self.procs.len() < PROC_DEPTH => self.procs.push(false),
                            b'}' => {
                                let had_exit = self.procs.pop().unwrap_or(true);
                                if had_exit {
                                    if let Some(parent) = self.procs.last_mut() {
                                        *parent = true;
                                    }
                                }
                                self.closed_without_exit = !had_exit;
                                continue;
                            }
                            b'/' => {
                                self.tok[0] = b'/';
                                self.tok_len = 1;
                            }
                            _ => {}
                        }
                        if c != b'}' && !c.is_ascii_whitespace() {
                            self.closed_without_exit = false;
                        }
                    } else if self.tok_len < TOKEN_MAX {
                        self.tok[self.tok_len] = c;
                        self.tok_len += 1;
                    }
                }
            }
        }
    }

    fn end_token(&mut self, out: &mut dyn FnMut(Risk, String)) {
        if self.tok_len == 0 {
            return;
        }
        let len = self.tok_len;
        self.tok_len = 0;
        let tok = self.tok;
        let t = &tok[..len];
        if let Some(imm) = t.strip_prefix(b"//") {
            // `//name` is looked up at once: as good as running the operator
            let mut h = Head::default();
            imm.iter().for_each(|&c| h.push(c));
            self.operator(h.as_slice(), false, out);
        }
        if let Some(name) = t.strip_prefix(b"/") {
            let name = name.strip_prefix(b"/").unwrap_or(name); // `//name`
            let mut h = Head::default();
            name.iter().for_each(|&c| h.push(c));
            if self.lits_len == LITERALS {
                self.lits.copy_within(1.., 0);
                self.lits_len -= 1;
            }
            self.lits[self.lits_len] = h;
            self.lits_len += 1;
            if name == b"DoPrintErrors" {
                self.report(Risk::PsFingerprint, "/DoPrintErrors (PRET)".into(), out);
            }
            self.closed_without_exit = false;
            return;
        }
        // `{...} bind loop` and `{...} cvx loop` are still the same bare procedure
        let loop_after_bare_proc = if matches!(t, b"bind" | b"cvx") {
            self.closed_without_exit
        } else {
            std::mem::replace(&mut self.closed_without_exit, false)
        };
        self.operator(t, loop_after_bare_proc, out);
        let mut h = Head::default();
        t.iter().for_each(|&c| h.push(c));
        self.prev_tok = h;
    }

    fn lit(&self, name: &[u8]) -> bool {
        self.lits[..self.lits_len]
            .iter()
            .any(|l| l.as_slice() == name)
    }

    fn operator(
        &mut self,
        t: &[u8],
        loop_after_bare_proc: bool,
        out: &mut dyn FnMut(Risk, String),
    ) {
        match t {
            // Leaving a loop. `quit` alone is common in prologs (Ghostscript's ps2write ends
            // error paths with it); PRET's `systemdict /quit get exec` is caught below.
            b"exit" | b"stop" | b"quit" if !self.procs.is_empty() => {
                if let Some(top) = self.procs.last_mut() {
                    *top = true;
                }
            }
            b"exitserver" | b"startjob" => {
                self.persistent = true;
                let t = String::from_utf8_lossy(t).into_owned();
                self.report(Risk::PsExitServer, t, out);
            }
            b"superexec" => self.report(Risk::PsSuperexec, "superexec".into(), out),
            b"internaldict" if self.prev_tok.as_slice() == b"1183615869" => {
                self.report(Risk::PsSuperexec, "1183615869 internaldict".into(), out)
            }
            b"setsystemparams" => {
                for key in [
                    &b"Password"[..],
                    b"SystemParamsPassword",
                    b"StartJobPassword",
                ] {
                    if self.lit(key) {
                        let ev = format!("/{} setsystemparams", String::from_utf8_lossy(key));
                        self.report(Risk::PsPasswordParams, ev, out);
                    }
                }
                if self.lit(b"FactoryDefaults") {
                    self.report(
                        Risk::PsFactoryDefaults,
                        "/FactoryDefaults setsystemparams".into(),
                        out,
                    );
                }
            }
            b"checkpassword" => self.report(Risk::PsPasswordCheck, "checkpassword".into(), out),
            b"file" => {
                let mode = self.last_str.as_slice();
                let name = self.prev_str.as_slice();
                let std = name.starts_with(b"%stdout") || name.starts_with(b"%stderr");
                if matches!(mode, b"w" | b"a" | b"w+" | b"a+") && !std {
                    let ev = format!(
                        "({}) ({}) file",
                        String::from_utf8_lossy(name),
                        String::from_utf8_lossy(mode)
                    );
                    self.report(Risk::PsFileWrite, ev, out);
                } else if mode == b"r" && name.starts_with(b"%stdin") {
                    self.report(Risk::PsJobCapture, "(%stdin) (r) file".into(), out);
                }
            }
            b"deletefile" | b"renamefile" | b"initializedisk" => {
                let t = String::from_utf8_lossy(t).into_owned();
                self.report(Risk::PsFileWrite, t, out);
            }
            b"filenameforall" | b"devforall" | b"devstatus" => {
                let t = String::from_utf8_lossy(t).into_owned();
                self.report(Risk::PsFsEnum, t, out);
            }
            b"resourceforall" if self.lit(b"IODevice") => {
                self.report(Risk::PsFsEnum, "/IODevice resourceforall".into(), out)
            }
            b"setpagedevice"
                if self.persistent && (self.lit(b"BeginPage") || self.lit(b"EndPage")) =>
            {
                self.report(
                    Risk::PsJobCapture,
                    "/BeginPage or /EndPage setpagedevice after exitserver".into(),
                    out,
                )
            }
            b"def"
                if self.persistent
                    && self.lits_len > 0
                    && matches!(
                        self.lits[self.lits_len - 1].as_slice(),
                        b"showpage" | b"show" | b"ashow" | b"widthshow"
                    ) =>
            {
                let name =
                    String::from_utf8_lossy(self.lits[self.lits_len - 1].as_slice()).into_owned();
                self.report(
                    Risk::PsShowpageRedef,
                    format!("/{name} redefined after exitserver"),
                    out,
                );
            }
            b"loop" if loop_after_bare_proc => self.report(
                Risk::PsInfiniteLoop,
                "{ ... } loop with no exit".into(),
                out,
            ),
            b"get" if self.lits_len > 0 && self.lits[self.lits_len - 1].as_slice() == b"quit" => {
                self.report(Risk::PsInterpreter, "/quit get".into(), out)
            }
            b"executive" => self.report(Risk::PsInterpreter, "executive".into(), out),
            // `serverdict /exitserver get exec`, `/deletefile load exec`: an operator reached by
            // name is run all the same
            b"get" | b"load" if self.lits_len > 0 => {
                let name = self.lits[self.lits_len - 1];
                if matches!(
                    name.as_slice(),
                    b"exitserver"
                        | b"startjob"
                        | b"superexec"
                        | b"deletefile"
                        | b"renamefile"
                        | b"initializedisk"
                        | b"filenameforall"
                        | b"devforall"
                        | b"checkpassword"
                        | b"executive"
                ) {
                    self.operator(name.as_slice(), false, out);
                }
            }
            b"serialnumber" | b"currentsystemparams" => {
                let t = String::from_utf8_lossy(t).into_owned();
                self.report(Risk::PsRecon, t, out);
            }
            _ => {}
        }
    }

    fn report(&mut self, risk: Risk, evidence: String, out: &mut dyn FnMut(Risk, String)) {
        let bit = 1u64 << (risk as u32 % 64);
        if self.reported & bit == 0 {
            self.reported |= bit;
            out(risk, evidence);
        }
    }
}

/// The Document Structuring Convention comments of a PostScript header that say whose job it
/// is and what it is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dsc {
    Title,
    For,
    Creator,
}

/// Reads one header line (without its line break): `%%Title: Quarterly report` gives
/// `(Dsc::Title, b"Quarterly report")`, the value trimmed.
pub fn dsc_comment(line: &[u8]) -> Option<(Dsc, &[u8])> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    [
        (&b"%%Title:"[..], Dsc::Title),
        (b"%%For:", Dsc::For),
        (b"%%Creator:", Dsc::Creator),
    ]
    .into_iter()
    .find_map(|(prefix, which)| line.strip_prefix(prefix).map(|v| (which, v.trim_ascii())))
}

#[cfg(test)]
mod tests {
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
}
