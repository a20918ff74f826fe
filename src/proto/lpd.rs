//! LPD, the line printer daemon protocol (TCP 515), client side, as a push parser: the daemon
//! command that opens a connection, the receive-job subcommands, and the bytes of each control
//! or data file, handed out as they arrive (zero-copy) so a data file of any size is scanned in
//! fixed memory. Plus the control file's lines and the risky shapes PRET's LPD tests use.
//!
//! The exchange: the client sends one daemon command line (`\x02queue\n` to send a job); for a
//! job it then sends subcommand lines (`\x02size cfA123host\n` a control file, `\x03size
//! dfA123host\n` a data file, `\x01\n` abort), each followed by `size` bytes and one NUL. The
//! server answers each line and each file with one byte (0 accepted). A size of 0 is read two
//! ways by daemons: an empty file (RFC 1179 taken literally: no bytes, then the NUL) or "until the
//! connection ends" (LPRng, and printers that follow it). The byte after the line decides here:
//! a NUL is an empty file, anything else runs to the end.

use crate::net::named_enum;

/// Longest command or subcommand line kept; the rest of a longer one is skipped, as cups-lpd
/// does.
pub const MAX_LINE: usize = 1024;

named_enum! {
    /// The daemon command that opens an LPD connection.
    pub enum Command {
        /// `\x01queue`: print any waiting jobs.
        PrintWaiting = "print_waiting",
        /// `\x02queue`: receive a job (subcommands follow).
        ReceiveJob = "receive_job",
        /// `\x03queue list`: send queue state, short.
        QueueShort = "queue_short",
        /// `\x04queue list`: send queue state, long.
        QueueLong = "queue_long",
        /// `\x05queue agent list`: remove jobs.
        RemoveJobs = "remove_jobs",
    }
}

impl Command {
    fn from_code(c: u8) -> Option<Command> {
        Some(match c {
            1 => Command::PrintWaiting,
            2 => Command::ReceiveJob,
            3 => Command::QueueShort,
            4 => Command::QueueLong,
            5 => Command::RemoveJobs,
            _ => return None,
        })
    }
}

named_enum! {
    /// The two kinds of file a job carries.
    pub enum FileKind {
        Control = "control",
        Data = "data",
    }
}

named_enum! {
    /// Why the client's side stopped making sense; the rest of it is ignored.
    pub enum Error {
        /// A first byte that is no daemon command.
        BadCommand = "bad_command",
        /// A receive-job subcommand that is none of abort, control file, data file.
        BadSubcommand = "bad_subcommand",
        /// A file size that is not a decimal number.
        BadSize = "bad_size",
        /// A file's bytes were not followed by the NUL that ends them.
        MissingTerminator = "missing_terminator",
    }
}

/// The daemon command line: its command, the queue, and the rest of the line (the agent and
/// job list of a remove, the list of a queue-state request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DaemonCommand<'a> {
    pub command: Command,
    pub queue: &'a [u8],
    pub operands: &'a [u8],
}

/// A receive-job subcommand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subcommand<'a> {
    Abort,
    /// A file follows: `size` bytes (`None`: size 0, until the connection ends).
    File {
        kind: FileKind,
        size: Option<u64>,
        name: &'a [u8],
    },
}

/// What the client's side says, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    Command(DaemonCommand<'a>),
    Subcommand(Subcommand<'a>),
    /// Bytes of the file in progress.
    FileData(&'a [u8]),
    /// The file's bytes ended: `complete` when every announced byte and its NUL came.
    FileEnd {
        complete: bool,
    },
    /// The stream stopped making sense; what follows comes as `Unparsed`.
    Error(Error),
    /// Bytes after the parser lost its place (the line that failed included): a daemon that
    /// reads them differently may still print them, so they are still worth scanning.
    Unparsed(&'a [u8]),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for the daemon command line.
    Command,
    /// Receive job: waiting for a subcommand line.
    Subcommand,
    /// Inside a file: bytes left (`None`: until the end).
    File(Option<u64>),
    /// A file announced with size 0: the next byte says empty (a NUL) or until the end.
    ZeroSize,
    /// A file's bytes came; its NUL is next.
    Terminator,
    /// Anything after a daemon command that takes no more input.
    Done,
    Failed,
}

/// The client's side of one LPD connection.
pub struct Parser {
    state: State,
    line: Vec<u8>,
    /// The line being read passed `MAX_LINE`: the rest of it is skipped.
    line_cut: bool,
    /// The last line ended with a CR: an LF right after it belongs to it (CR, LF and CRLF all
    /// end a line, as cups-lpd reads them).
    skip_lf: bool,
}

impl Default for Parser {
    fn default() -> Self {
        Parser {
            state: State::Command,
            line: Vec::new(),
            line_cut: false,
            skip_lf: false,
        }
    }
}

impl Parser {
    /// Bytes after a command that takes no more input (counted by the caller, not parsed).
    pub fn done(&self) -> bool {
        self.state == State::Done
    }

    pub fn feed(&mut self, mut data: &[u8], out: &mut impl FnMut(Event<'_>)) {
        while !data.is_empty() {
            if std::mem::take(&mut self.skip_lf) && data[0] == b'\n' {
                data = &data[1..];
                continue;
            }
            match self.state {
                State::Done => return,
                State::Failed => {
                    out(Event::Unparsed(data));
                    return;
                }
                State::Command | State::Subcommand => {
                    let end = memchr::memchr2(b'\n', b'\r', data);
                    let take = end.unwrap_or(data.len());
                    let room = MAX_LINE.saturating_sub(self.line.len());
                    self.line_cut |= take > room;
                    self.line.extend_from_slice(&data[..take.min(room)]);
                    let Some(end) = end else { return };
                    self.skip_lf = data[end] == b'\r';
                    data = &data[end + 1..];
                    let line = std::mem::take(&mut self.line);
                    self.line_cut = false;
                    let parsed = if self.state == State::Command {
                        self.command(&line, out)
                    } else {
                        self.subcommand(&line, out)
                    };
                    if let Err(e) = parsed {
                        self.state = State::Failed;
                        out(Event::Error(e));
                        let mut whole = line;
                        whole.push(b'\n');
                        out(Event::Unparsed(&whole));
                        continue;
                    }
                    self.line = line;
                    self.line.clear();
                }
                State::File(left) => {
                    let n = left.map_or(data.len(), |l| data.len().min(clamp(l)));
                    out(Event::FileData(&data[..n]));
                    data = &data[n..];
                    match left {
                        Some(l) if l == n as u64 => self.state = State::Terminator,
                        Some(l) => self.state = State::File(Some(l - n as u64)),
                        None => {}
                    }
                }
                State::ZeroSize => {
                    if data[0] == 0 {
                        data = &data[1..];
                        out(Event::FileEnd { complete: true });
                        self.state = State::Subcommand;
                    } else {
                        self.state = State::File(None);
                    }
                }
                State::Terminator => {
                    if data[0] != 0 {
                        out(Event::FileEnd { complete: false });
                        self.state = State::Failed;
                        out(Event::Error(Error::MissingTerminator));
                        continue;
                    }
                    data = &data[1..];
                    out(Event::FileEnd { complete: true });
                    self.state = State::Subcommand;
                }
            }
        }
    }

    /// `n` bytes of the stream were lost (a hole in the capture). Inside a file they are
    /// skipped; anywhere else the parser has lost its place, stops, and says so (false).
    pub fn gap(&mut self, n: u64) -> bool {
        match self.state {
            State::File(Some(l)) if l > n => self.state = State::File(Some(l - n)),
            State::File(Some(l)) if l == n => self.state = State::Terminator,
            State::File(None) | State::Done | State::Failed => {}
            State::ZeroSize => self.state = State::File(None),
            _ => {
                self.state = State::Failed;
                return false;
            }
        }
        true
    }

    /// The connection ended: a file in progress ends here (complete only when it was to run
    /// until the end, or only its NUL was missing).
    pub fn finish(&mut self, out: &mut impl FnMut(Event<'_>)) {
        match self.state {
            State::File(None) | State::Terminator | State::ZeroSize => {
                out(Event::FileEnd { complete: true })
            }
            State::File(Some(_)) => out(Event::FileEnd { complete: false }),
            _ => {}
        }
        self.state = State::Done;
    }

    fn command(&mut self, line: &[u8], out: &mut impl FnMut(Event<'_>)) -> Result<(), Error> {
        let Some((&code, rest)) = line.split_first() else {
            return Err(Error::BadCommand);
        };
        let Some(command) = Command::from_code(code) else {
            return Err(Error::BadCommand);
        };
        let (queue, operands) = match rest.iter().position(|c| c.is_ascii_whitespace()) {
            Some(i) => (&rest[..i], rest[i + 1..].trim_ascii()),
            None => (rest, &[][..]),
        };
        self.state = if command == Command::ReceiveJob {
            State::Subcommand
        } else {
            State::Done
        };
        out(Event::Command(DaemonCommand {
            command,
            queue,
            operands,
        }));
        Ok(())
    }

    fn subcommand(&mut self, line: &[u8], out: &mut impl FnMut(Event<'_>)) -> Result<(), Error> {
        let Some((&code, rest)) = line.split_first() else {
            return Err(Error::BadSubcommand);
        };
        let kind = match code {
            1 => {
                out(Event::Subcommand(Subcommand::Abort));
                return Ok(());
            }
            2 => FileKind::Control,
            3 => FileKind::Data,
            _ => return Err(Error::BadSubcommand),
        };
        let (size, name) = parse_size(rest).ok_or(Error::BadSize)?;
        let size = (size > 0).then_some(size);
        self.state = match size {
            Some(n) => State::File(Some(n)),
            None => State::ZeroSize,
        };
        out(Event::Subcommand(Subcommand::File { kind, size, name }));
        Ok(())
    }
}

/// The count and name of a file subcommand, read as cups-lpd reads them (`atoi`, then the
/// name after any white space): leading blanks and a `+` allowed, digits up to the first
/// non-digit, no digits at all a count of 0. A minus sign or a count past u64 is refused.
fn parse_size(s: &[u8]) -> Option<(u64, &[u8])> {
    let s = s.trim_ascii_start();
    let s = s.strip_prefix(b"+").unwrap_or(s);
    let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    if s.first() == Some(&b'-') {
        return None;
    }
    let n = s[..digits].iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })?;
    let rest = &s[digits..];
    // the name starts after the white space that ends the count (anything else glued to the
    // count is skipped, as atoi stops there)
    let name = match rest.iter().position(|c| c.is_ascii_whitespace()) {
        Some(i) => rest[i..].trim_ascii_start(),
        None => &[][..],
    };
    Some((n, name))
}

fn clamp(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// One line of a control file: its command letter and the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlLine<'a> {
    pub code: u8,
    pub value: &'a [u8],
}

/// The lines of a control file (empty lines skipped).
pub fn control_lines(file: &[u8]) -> impl Iterator<Item = ControlLine<'_>> {
    file.split(|&c| c == b'\n').filter_map(|l| {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        let (&code, value) = l.split_first()?;
        Some(ControlLine { code, value })
    })
}

named_enum! {
    /// What a print line of a control file asks the daemon to do with a data file.
    pub enum Format {
        /// `f`: print as text, formatted.
        Formatted = "formatted",
        /// `l`: print as is, control characters included (how print servers send PDL).
        Literal = "literal",
        /// `o`: PostScript.
        PostScript = "postscript",
        /// `p`: through pr.
        Pr = "pr",
        /// `v`: raster.
        Raster = "raster",
        /// `c`, `d`, `g`, `n`, `r`, `t`: cifplot, DVI, plot, ditroff, FORTRAN, troff.
        Legacy = "legacy",
        /// `k`: Kerberos-authenticated (LPRng).
        Kerberized = "kerberized",
    }
}

impl Format {
    /// The format of a print line's command letter.
    pub fn of(code: u8) -> Option<Format> {
        Some(match code {
            b'f' => Format::Formatted,
            b'l' => Format::Literal,
            b'o' => Format::PostScript,
            b'p' => Format::Pr,
            b'v' => Format::Raster,
            b'c' | b'd' | b'g' | b'n' | b'r' | b't' => Format::Legacy,
            b'k' => Format::Kerberized,
            _ => return None,
        })
    }
}

named_enum! {
    /// LPD usage a printer or print server should never see from a well-behaved client
    /// (alerts 1601-1604).
    pub enum Risk {
        /// A control or data file name, or a file a control line names, with a path separator
        /// or `..`: daemons that write spool files under that name write elsewhere.
        PathInFileName = "path_in_file_name",
        /// Shell metacharacters in a control line: daemons that pass host, user or job names
        /// to a filter's command line run them.
        ShellMetacharacters = "shell_metacharacters",
        /// An `M` line: the daemon mails the named user when the job ends (a spam and
        /// injection vector on old daemons).
        MailRequest = "mail_request",
        /// A remove-jobs daemon command.
        RemoveJobs = "remove_jobs",
    }
}

/// A file name that leaves the spool directory.
pub fn is_path(name: &[u8]) -> bool {
    name.iter().any(|&c| c == b'/' || c == b'\\') || memchr::memmem::find(name, b"..").is_some()
}

/// Shell syntax that runs a command: command substitution, separators, pipes, redirections,
/// and control characters. Quotes and a lone `&` or `$` are left alone: "Q&A" and "$5 menu"
/// are ordinary job names.
pub fn has_shell_metacharacters(value: &[u8]) -> bool {
    let find = |n: &[u8]| memchr::memmem::find(value, n).is_some();
    value
        .iter()
        .any(|&c| matches!(c, b'`' | b';' | b'|' | b'<' | b'>') || (c < 0x20 && c != b'\t'))
        || find(b"$(")
        || find(b"${")
        || find(b"&&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    enum E {
        Cmd(Command, Vec<u8>, Vec<u8>),
        Abort,
        File(FileKind, Option<u64>, Vec<u8>),
        Data(Vec<u8>),
        End(bool),
        Err(Error),
        Unparsed(Vec<u8>),
    }

    fn run(chunks: &[&[u8]]) -> Vec<E> {
        let mut p = Parser::default();
        let mut evs: Vec<E> = vec![];
        let mut push = |e: Event<'_>| {
            let e = match e {
                Event::Command(c) => E::Cmd(c.command, c.queue.to_vec(), c.operands.to_vec()),
                Event::Subcommand(Subcommand::Abort) => E::Abort,
                Event::Subcommand(Subcommand::File { kind, size, name }) => {
                    E::File(kind, size, name.to_vec())
                }
                Event::FileData(d) => E::Data(d.to_vec()),
                Event::FileEnd { complete } => E::End(complete),
                Event::Error(e) => E::Err(e),
                Event::Unparsed(d) => E::Unparsed(d.to_vec()),
            };
            // adjacent data pieces are one for comparison
            match (evs.last_mut(), e) {
                (Some(E::Data(a)), E::Data(b)) => a.extend(b),
                (Some(E::Unparsed(a)), E::Unparsed(b)) => a.extend(b),
                (_, e) => evs.push(e),
            }
        };
        for c in chunks {
            p.feed(c, &mut push);
        }
        p.finish(&mut push);
        evs
    }

    const JOB: &[u8] = b"\x02lp\n\x0233 cfA001host\nHhost\nPalice\nJreport\nldfA001host\n\0\x035 dfA001host\n%!PS\n\0";

    #[test]
    fn a_job_whole_and_split_anywhere() {
        let want = vec![
            E::Cmd(Command::ReceiveJob, b"lp".to_vec(), vec![]),
            E::File(FileKind::Control, Some(33), b"cfA001host".to_vec()),
            E::Data(b"Hhost\nPalice\nJreport\nldfA001host\n".to_vec()),
            E::End(true),
            E::File(FileKind::Data, Some(5), b"dfA001host".to_vec()),
            E::Data(b"%!PS\n".to_vec()),
            E::End(true),
        ];
        assert_eq!(run(&[JOB]), want);
        for cut in 0..JOB.len() {
            assert_eq!(run(&[&JOB[..cut], &JOB[cut..]]), want, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = JOB.chunks(1).collect();
        assert_eq!(run(&bytes), want);
    }

    #[test]
    fn other_daemon_commands_and_what_follows_them() {
        assert_eq!(
            run(&[b"\x05lp root 12 13\n"]),
            [E::Cmd(
                Command::RemoveJobs,
                b"lp".to_vec(),
                b"root 12 13".to_vec()
            )]
        );
        assert_eq!(
            run(&[b"\x04lp\r\nanything after"]),
            [E::Cmd(Command::QueueLong, b"lp".to_vec(), vec![])]
        );
        assert_eq!(
            run(&[b"GET / HTTP/1.1\r\n"]),
            [
                E::Err(Error::BadCommand),
                E::Unparsed(b"GET / HTTP/1.1\n".to_vec())
            ]
        );
        // an over-long line is cut and read, as cups-lpd does
        let mut long = b"\x02lp".to_vec();
        long.extend([b' '; 1100]);
        long.extend(b"\n\x031 dfA1h\nX\0");
        assert_eq!(
            run(&[&long])[1],
            E::File(FileKind::Data, Some(1), b"dfA1h".to_vec())
        );
        // CR, LF and CRLF all end lines, also split between segments
        for cuts in [&b"\x02lp\r\x031 d\rX\0"[..], b"\x02lp\r\n\x031 d\r\nX\0"] {
            for at in 0..cuts.len() {
                let evs = run(&[&cuts[..at], &cuts[at..]]);
                assert_eq!(
                    evs[1],
                    E::File(FileKind::Data, Some(1), b"d".to_vec()),
                    "{cuts:?} {at}"
                );
                assert_eq!(evs[2], E::Data(b"X".to_vec()), "{cuts:?} {at}");
            }
        }
        // counts as atoi reads them
        for line in [
            &b"\x035\tdfA"[..],
            b"\x03+5 dfA",
            b"\x03 5 dfA",
            b"\x035x dfA",
        ] {
            let mut job = b"\x02q\n".to_vec();
            job.extend(line);
            job.extend(b"\nABCDE\0");
            assert_eq!(
                run(&[&job])[1],
                E::File(FileKind::Data, Some(5), b"dfA".to_vec()),
                "{line:?}"
            );
        }
    }

    #[test]
    fn sizes_zero_absurd_and_cut() {
        // size 0: until the connection ends
        assert_eq!(
            run(&[b"\x02q\n\x030 dfA1h\nabc", b"def"]),
            [
                E::Cmd(Command::ReceiveJob, b"q".to_vec(), vec![]),
                E::File(FileKind::Data, None, b"dfA1h".to_vec()),
                E::Data(b"abcdef".to_vec()),
                E::End(true),
            ]
        );
        // size 0 then its NUL: an empty file, and the job goes on
        let evs = run(&[b"\x02q\n\x030 dfA1h\n", b"\0\x021 cfA1h\nX\0"]);
        assert_eq!(
            evs[1..],
            [
                E::File(FileKind::Data, None, b"dfA1h".to_vec()),
                E::End(true),
                E::File(FileKind::Control, Some(1), b"cfA1h".to_vec()),
                E::Data(b"X".to_vec()),
                E::End(true),
            ]
        );
        // an absurd size: streamed, and cut by the end
        let evs = run(&[b"\x02q\n\x03999999999999999 dfA1h\nxyz"]);
        assert_eq!(
            evs[1],
            E::File(FileKind::Data, Some(999_999_999_999_999), b"dfA1h".to_vec())
        );
        assert_eq!(evs[3], E::End(false));
        // past u64, or not a number
        assert_eq!(
            run(&[b"\x02q\n\x0399999999999999999999999 d\n"])[1],
            E::Err(Error::BadSize)
        );
        assert_eq!(run(&[b"\x02q\n\x03-1 d\n"])[1], E::Err(Error::BadSize));
        // a missing NUL after the bytes: what follows is still handed out
        let evs = run(&[b"\x02q\n\x032 d\nabX@PJL"]);
        assert_eq!(
            evs[3..],
            [
                E::End(false),
                E::Err(Error::MissingTerminator),
                E::Unparsed(b"X@PJL".to_vec())
            ]
        );
        // abort, then a second job in the same connection
        let evs = run(&[b"\x02q\n\x01\n\x021 cfA2h\nX\0\x021 cfA3h\nY\0"]);
        assert_eq!(evs[1], E::Abort);
        assert_eq!(evs.iter().filter(|e| matches!(e, E::End(true))).count(), 2);
    }

    #[test]
    fn control_lines_and_risky_shapes() {
        let lines: Vec<(u8, &[u8])> = control_lines(b"Hh\r\nP$(reboot)\n\nMroot\nldfA1h\n")
            .map(|l| (l.code, l.value))
            .collect();
        assert_eq!(
            lines,
            [
                (b'H', &b"h"[..]),
                (b'P', b"$(reboot)"),
                (b'M', b"root"),
                (b'l', b"dfA1h")
            ]
        );
        assert!(is_path(b"../../etc/passwd") && is_path(b"dfA/x") && is_path(b"a\\b"));
        assert!(!is_path(b"dfA001host.example"));
        for bad in [
            &b"$(id)"[..],
            b"`id`",
            b"a;b",
            b"a|b",
            b"x>y",
            b"a\nb",
            b"a&&b",
            b"${IFS}",
        ] {
            assert!(has_shell_metacharacters(bad), "{bad:?}");
        }
        for ok in [
            &b"Q&A report"[..],
            b"John's $5 menu",
            b"a\tb",
            b"report (final)",
        ] {
            assert!(!has_shell_metacharacters(ok), "{ok:?}");
        }
        assert_eq!(Format::of(b'l'), Some(Format::Literal));
        assert_eq!(Format::of(b'H'), None);
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let mut buf = vec![];
            for _ in 0..(x % 97) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf.push(if x % 5 == 0 {
                    (x % 6) as u8
                } else {
                    (x >> 8) as u8
                });
            }
            let mut p = Parser::default();
            let mut n = 0usize;
            let mut count = |e: Event<'_>| {
                if let Event::FileData(d) = e {
                    n += d.len()
                }
            };
            p.feed(&buf, &mut count);
            p.finish(&mut count);
            assert!(n <= buf.len());
        }
    }
}
