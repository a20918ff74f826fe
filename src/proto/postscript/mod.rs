//! PostScript risk scanning at token level (docs/PROTOCOLS.md §6.4): a streaming tokenizer that
//! knows comments, strings (nested parentheses, escapes), hex and ASCII85 strings,
//! dictionaries and procedures, so a construct split across TCP segments or hidden in a
//! comment or string is judged correctly. The head of every string is decoded (escapes, hex,
//! ASCII85) as the interpreter would, so `(\167)` is the mode `w`; procedures defined by name
//! with an exit are remembered, so calling one leaves a loop; an operator name assembled from
//! strings (`cvn`) is obfuscation. Fixed memory: a token, two string heads, a short literal
//! history, a bounded procedure stack, 16 named procedures.

use super::risk::Risk;

const TOKEN_MAX: usize = 64;
const STR_HEAD: usize = 32;
const LITERALS: usize = 8;
const PROC_DEPTH: usize = 64;
const EXIT_PROCS: usize = 16;

/// Operators whose name assembled from pieces (`(exit) (server) ... cvn`) is obfuscation.
const RISKY_NAMES: &[&[u8]] = &[
    b"exitserver",
    b"startjob",
    b"superexec",
    b"deletefile",
    b"renamefile",
    b"initializedisk",
    b"filenameforall",
    b"devforall",
    b"checkpassword",
    b"setsystemparams",
    b"executive",
    b"file",
];

fn hex_value(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Normal,
    Comment,
    /// `(...)`: nesting depth and where an escape stands.
    Str(u16, Esc),
    /// `<...>`: a high nibble waiting for its low one.
    Hex(Option<u8>),
    /// `<~...~>`: a `~` just read, the group so far and its length.
    Ascii85(bool, u32, u8),
    /// Just read `<`: a hex string, `<<` or `<~` follows.
    Angle,
}

/// Inside a `(...)` string: a backslash read, or the octal digits of `\ddd` so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Esc {
    None,
    Pending,
    Octal(u8, u8),
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
    /// Procedures defined by name that can leave a loop (`/p { exit } def`), newest last.
    exit_procs: [Head; EXIT_PROCS],
    exit_procs_len: usize,
    /// The literal name just before a top-level `{` (the name it may be defined under), and
    /// the last top-level procedure closed: its name and whether it can leave a loop.
    proc_name: Option<Head>,
    closed_proc: Option<(Head, bool)>,
    /// The previous token was a literal name.
    after_lit: bool,
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
            exit_procs: [Head::default(); EXIT_PROCS],
            exit_procs_len: 0,
            proc_name: None,
            closed_proc: None,
            after_lit: false,
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
                    self.state = match esc {
                        // PLRM escapes: \n \r \t \b \f \\ \( \) \ddd, and a backslash
                        // before a line break continues the line
                        Esc::Pending => match c {
                            b'0'..=b'7' => State::Str(depth, Esc::Octal(c - b'0', 1)),
                            b'\n' | b'\r' => State::Str(depth, Esc::None),
                            _ => {
                                self.cur_str.push(match c {
                                    b'n' => b'\n',
                                    b'r' => b'\r',
                                    b't' => b'\t',
                                    b'b' => 0x08,
                                    b'f' => 0x0c,
                                    other => other,
                                });
                                State::Str(depth, Esc::None)
                            }
                        },
                        Esc::Octal(v, n) if n < 3 && (b'0'..=b'7').contains(&c) => {
                            let v = v.wrapping_mul(8).wrapping_add(c - b'0');
                            if n + 1 == 3 {
                                self.cur_str.push(v);
                                State::Str(depth, Esc::None)
                            } else {
                                State::Str(depth, Esc::Octal(v, n + 1))
                            }
                        }
                        Esc::Octal(v, _) => {
                            // fewer than three digits: the value so far, then this byte as usual
                            self.cur_str.push(v);
                            i -= 1;
                            State::Str(depth, Esc::None)
                        }
                        Esc::None => match c {
                            b'\\' => State::Str(depth, Esc::Pending),
                            b'(' => {
                                self.cur_str.push(c);
                                State::Str(depth.saturating_add(1), Esc::None)
                            }
                            b')' if depth == 0 => {
                                self.end_string();
                                State::Normal
                            }
                            b')' => {
                                self.cur_str.push(c);
                                State::Str(depth - 1, Esc::None)
                            }
                            _ => {
                                self.cur_str.push(c);
                                State::Str(depth, Esc::None)
                            }
                        },
                    };
                }
                State::Hex(high) => {
                    self.state = match (c, high, hex_value(c)) {
                        (b'>', Some(h), _) => {
                            // an odd digit count: the last digit is followed by a 0
                            self.cur_str.push(h << 4);
                            self.end_string();
                            State::Normal
                        }
                        (b'>', None, _) => {
                            self.end_string();
                            State::Normal
                        }
                        (_, None, Some(d)) => State::Hex(Some(d)),
                        (_, Some(h), Some(d)) => {
                            self.cur_str.push(h << 4 | d);
                            State::Hex(None)
                        }
                        // white space (and junk, which the interpreter would refuse) is skipped
                        _ => State::Hex(high),
                    };
                }
                State::Ascii85(tilde, group, n) => {
                    self.state = match c {
                        b'>' if tilde => {
                            // a final partial group of n > 1 characters gives n - 1 bytes
                            if n > 1 {
                                let mut g = group;
                                for _ in n..5 {
                                    g = g.wrapping_mul(85).wrapping_add(84);
                                }
                                for k in 0..n - 1 {
                                    self.cur_str.push((g >> (24 - 8 * u32::from(k))) as u8);
                                }
                            }
                            self.end_string();
                            State::Normal
                        }
                        b'~' => State::Ascii85(true, group, n),
                        b'z' if n == 0 => {
                            (0..4).for_each(|_| self.cur_str.push(0));
                            State::Ascii85(false, 0, 0)
                        }
                        b'!'..=b'u' => {
                            let g = group.wrapping_mul(85).wrapping_add(u32::from(c - b'!'));
                            if n + 1 == 5 {
                                g.to_be_bytes().iter().for_each(|&b| self.cur_str.push(b));
                                State::Ascii85(false, 0, 0)
                            } else {
                                State::Ascii85(false, g, n + 1)
                            }
                        }
                        _ => State::Ascii85(false, group, n),
                    };
                }
                State::Angle => {
                    self.cur_str = Head::default();
                    self.state = match c {
                        b'<' => State::Normal, // `<<` dictionary start
                        b'~' => State::Ascii85(false, 0, 0),
                        b'>' => {
                            self.end_string();
                            State::Normal
                        }
                        _ => {
                            i -= 1; // the first digit is read in the hex state
                            State::Hex(None)
                        }
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
                                self.state = State::Str(0, Esc::None);
                            }
                            b'<' => self.state = State::Angle,
                            b'{' if self.procs.len() < PROC_DEPTH => {
                                if self.procs.is_empty() {
                                    // `/name { ... } def`: the name it may be stored under
                                    self.proc_name =
                                        self.after_lit.then(|| self.lits[self.lits_len - 1]);
                                }
                                self.procs.push(false);
                            }
                            b'}' => {
                                let had_exit = self.procs.pop().unwrap_or(true);
                                if had_exit {
                                    if let Some(parent) = self.procs.last_mut() {
                                        *parent = true;
                                    }
                                }
                                if self.procs.is_empty() {
                                    self.closed_proc = self.proc_name.take().map(|n| (n, had_exit));
                                }
                                self.closed_without_exit = !had_exit;
                                self.after_lit = false;
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
            self.after_lit = true;
            return;
        }
        self.after_lit = false;
        // `{...} bind loop` and `{...} cvx loop` are still the same bare procedure
        let loop_after_bare_proc = if matches!(t, b"bind" | b"cvx") {
            self.closed_without_exit
        } else {
            std::mem::replace(&mut self.closed_without_exit, false)
        };
        match t {
            b"def" => {
                if let Some((name, true)) = self.closed_proc.take() {
                    self.remember_exit_proc(name);
                }
            }
            b"bind" | b"cvx" | b"readonly" | b"executeonly" => {}
            _ => self.closed_proc = None,
        }
        self.operator(t, loop_after_bare_proc, out);
        let mut h = Head::default();
        t.iter().for_each(|&c| h.push(c));
        self.prev_tok = h;
    }

    /// A string ended: it becomes the last one read, the one before it the previous.
    fn end_string(&mut self) {
        self.prev_str = self.last_str;
        self.last_str = self.cur_str;
    }

    fn remember_exit_proc(&mut self, name: Head) {
        if self.exit_procs[..self.exit_procs_len]
            .iter()
            .any(|p| p.as_slice() == name.as_slice())
        {
            return;
        }
        if self.exit_procs_len == EXIT_PROCS {
            self.exit_procs.copy_within(1.., 0);
            self.exit_procs_len -= 1;
        }
        self.exit_procs[self.exit_procs_len] = name;
        self.exit_procs_len += 1;
    }

    fn is_exit_proc(&self, name: &[u8]) -> bool {
        self.exit_procs[..self.exit_procs_len]
            .iter()
            .any(|p| p.as_slice() == name)
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
            // a procedure defined with an exit leaves the loop as well: `/p {exit} def {p} loop`
            name if !self.procs.is_empty() && self.is_exit_proc(name) => {
                if let Some(top) = self.procs.last_mut() {
                    *top = true;
                }
            }
            // a name built from strings: `(exit) (server) ... cvn`, `<6578697473...> cvn`
            b"cvn" => {
                let last = self.last_str;
                let mut joined = self.prev_str;
                last.as_slice().iter().for_each(|&c| joined.push(c));
                for (candidate, pieces) in [(last, 1), (joined, 2)] {
                    let name = candidate.as_slice();
                    if RISKY_NAMES.contains(&name) {
                        let ev = if pieces == 1 {
                            format!(
                                "a string that spells {} made a name (cvn)",
                                String::from_utf8_lossy(name)
                            )
                        } else {
                            format!(
                                "({}) and ({}) spell {} as a name (cvn)",
                                String::from_utf8_lossy(self.prev_str.as_slice()),
                                String::from_utf8_lossy(last.as_slice()),
                                String::from_utf8_lossy(name)
                            )
                        };
                        self.report(Risk::PsObfuscation, ev, out);
                        break;
                    }
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
mod tests;
