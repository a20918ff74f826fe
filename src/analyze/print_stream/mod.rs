//! One stream of print data as a printer reads it, whatever door it came through (raw printing
//! on 9100, an LPD data file, an IPP document): split into jobs, PJL followed line by line
//! (binary payloads skipped, languages switched on `ENTER LANGUAGE`), page data handed to the
//! PostScript and PCL scanners, and what they find reported as findings for detection. The
//! same bytes give the same findings through every door. Memory is fixed: one line buffer,
//! fixed-size scanners, capped lists.

mod job;

use super::{AppEvent, Finding};
use crate::event::{text, Anomaly, AnomalyEvent, AnomalyType, AppProto};
use crate::proto::pdl::{self, Language, UelFinder};
use crate::proto::pjl::{self, Risk};
use crate::proto::{pcl, postscript};
use job::Job;

/// Longest line kept whole; longer ones are oversized arguments (kept in part as evidence).
const MAX_LINE: usize = 4096;
/// PostScript header bytes scanned for DSC comments.
const DSC_WINDOW: u64 = 64 * 1024;
/// Bytes a classifier waits for before deciding.
const CLASSIFY_AT: usize = 16;

/// What the stream is in the middle of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Start of a job (or after a UEL): waiting for enough bytes to classify.
    Start,
    Pjl,
    /// PDL data until the next UEL.
    Pdl(Language),
    /// The raw bytes of an FSDOWNLOAD/FSAPPEND.
    Binary(u64),
    /// After a gap, until a UEL or a line start makes sense again.
    Lost,
}

/// The print-data scanner of one stream: where it stands (PJL, page data, a binary transfer),
/// the scanners of the current part, and the job it accumulates.
pub struct PrintStream {
    mode: Mode,
    /// A partial line (PJL, or PostScript header) carried across segments.
    line: Vec<u8>,
    line_overflow: bool,
    /// The start of a job, held until it can be classified.
    head: Vec<u8>,
    /// Bytes into the current PostScript part (DSC comments live in its header).
    ps_offset: u64,
    /// Token scanner of the current PostScript part.
    ps: Ps,
    /// Escape-sequence scanner of the current PCL part.
    pcl: Option<Box<pcl::Scanner>>,
    /// Finds the UEL that ends a part of page data, across segment boundaries.
    uel: UelFinder,
    job: Job,
    /// The most recent page-description language (PJL only if there was nothing else).
    last_language: Option<Language>,
    /// Page data: at the start of a line, and the head of a line that starts with `@`.
    data_line_start: bool,
    data_head: Option<Vec<u8>>,
    /// `@PJL` lines found in page data so far (the first few are reported).
    pjl_in_data: u32,
}

enum Ps {
    Off,
    Pending,
    On(Box<postscript::Scanner>),
}

impl Default for PrintStream {
    fn default() -> Self {
        PrintStream {
            mode: Mode::Start,
            line: Vec::new(),
            line_overflow: false,
            head: Vec::new(),
            ps_offset: 0,
            ps: Ps::Off,
            pcl: None,
            uel: UelFinder::default(),
            job: Job::default(),
            last_language: None,
            data_line_start: true,
            data_head: None,
            pjl_in_data: 0,
        }
    }
}

impl PrintStream {
    /// The language of the job in progress.
    pub fn language(&self) -> Option<Language> {
        self.last_language
    }

    /// Bytes of the stream, in order.
    pub fn data(&mut self, b: &[u8], out: &mut Vec<AppEvent>) {
        self.job.bytes += b.len() as u64;
        self.client_bytes(b, out);
    }

    /// `n` bytes of the stream were lost (a hole in the capture).
    pub fn gap(&mut self, n: u32) {
        // a scanner that lost its place (inside a string, a transfer) starts afresh
        if let Ps::On(_) = self.ps {
            self.ps = Ps::Pending;
        }
        if self.pcl.is_some() {
            self.pcl = Some(Box::default());
        }
        // A binary payload just loses bytes; anything else loses its place.
        self.mode = match self.mode {
            Mode::Binary(left) if left > u64::from(n) => Mode::Binary(left - u64::from(n)),
            Mode::Binary(_) => Mode::Start,
            Mode::Pdl(l) => Mode::Pdl(l),
            _ => Mode::Lost,
        };
        self.line.clear();
    }

    /// What the printer sent back during the job (status readback, uploaded files).
    pub fn printer_bytes(&mut self, n: u64) {
        self.job.bytes_toclient += n;
    }

    /// The stream is over: what waits for classification, a last line, and the last job.
    pub fn finish(&mut self, out: &mut Vec<AppEvent>) {
        if !self.head.is_empty() {
            let head = std::mem::take(&mut self.head);
            let lang = pdl::classify(&head).unwrap_or(Language::Unknown);
            self.start_part(lang);
            self.client_bytes(&head, out);
        }
        if !self.line.is_empty() && self.mode == Mode::Pjl {
            let line = std::mem::take(&mut self.line);
            self.pjl_line(&line, out);
        }
        self.end_job(out);
    }

    fn client_bytes(&mut self, mut b: &[u8], out: &mut Vec<AppEvent>) {
        while !b.is_empty() {
            match self.mode {
                Mode::Start => {
                    self.head
                        .extend_from_slice(&b[..b.len().min(CLASSIFY_AT * 4)]);
                    let taken = b.len().min(CLASSIFY_AT * 4);
                    b = &b[taken..];
                    let lang = match pdl::classify(&self.head) {
                        Some(l) => l,
                        None if self.head.len() < CLASSIFY_AT * 4 => return,
                        None => Language::Unknown,
                    };
                    let head = std::mem::take(&mut self.head);
                    self.start_part(lang);
                    let skip = pdl::skip_preamble(&head);
                    self.client_bytes(&head[skip..], out);
                }
                Mode::Binary(left) => {
                    let n = (b.len() as u64).min(left) as usize;
                    b = &b[n..];
                    self.mode = if left == n as u64 {
                        Mode::Pjl
                    } else {
                        Mode::Binary(left - n as u64)
                    };
                }
                Mode::Pjl | Mode::Lost => {
                    // A UEL between lines ends the job's PJL part (and, after PDL, the job).
                    if self.line.is_empty() && b.starts_with(pdl::UEL) {
                        b = &b[pdl::UEL.len()..];
                        self.mode = Mode::Start;
                        continue;
                    }
                    let Some(nl) = b.iter().position(|&c| c == b'\n') else {
                        self.push_line(b);
                        if self.mode == Mode::Pjl && !could_be_pjl(&self.line) {
                            // Page data after PJL without ENTER LANGUAGE (binary, no newline
                            // for kilobytes): hand it to a PDL scanner now, not at a newline.
                            let line = std::mem::take(&mut self.line);
                            self.line_overflow = false;
                            self.leave_pjl(line, out);
                        }
                        return;
                    };
                    self.push_line(&b[..nl]);
                    b = &b[nl + 1..];
                    let line = std::mem::take(&mut self.line);
                    let overflow = std::mem::replace(&mut self.line_overflow, false);
                    if self.mode == Mode::Lost {
                        // Resume at the first line that is PJL again.
                        if pjl::Line::parse(trim_cr(&line)).is_some() {
                            self.mode = Mode::Pjl;
                        } else {
                            continue;
                        }
                    }
                    let is_pjl = line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"@PJL");
                    if is_pjl && (overflow || line.len() >= pjl::OVERSIZED) {
                        oversized(&line, overflow, out);
                    }
                    if pjl::Line::parse(trim_cr(&line)).is_none() && !line.trim_ascii().is_empty() {
                        // Not PJL: PDL data followed PJL without ENTER LANGUAGE.
                        let mut rest = line;
                        rest.push(b'\n');
                        self.leave_pjl(rest, out);
                        continue;
                    }
                    self.pjl_line(&line, out);
                }
                Mode::Pdl(_) => {
                    let n = self.pdl_bytes(b, out);
                    b = &b[n..];
                }
            }
        }
    }

    /// Bytes in PJL mode that are not a PJL line: page data that followed PJL without
    /// ENTER LANGUAGE. Every path consumes input, so this cannot loop.
    fn leave_pjl(&mut self, bytes: Vec<u8>, out: &mut Vec<AppEvent>) {
        match pdl::classify(&bytes).unwrap_or(Language::Unknown) {
            Language::Pjl => {
                // PJL after a preamble (^D, a UEL): parse what follows it; `@pjl` in lower
                // case is not PJL and is dropped.
                let skip = pdl::skip_preamble(&bytes);
                if skip > 0 {
                    self.client_bytes(&bytes[skip..], out);
                }
            }
            lang => {
                self.start_part(lang);
                let used = self.pdl_bytes(&bytes, out);
                if used > 0 && used < bytes.len() {
                    // a UEL inside ended the part: what follows is parsed again
                    self.client_bytes(&bytes[used..], out);
                }
            }
        }
    }

    fn push_line(&mut self, b: &[u8]) {
        let room = MAX_LINE.saturating_sub(self.line.len());
        if b.len() > room {
            self.line_overflow = true;
        }
        self.line.extend_from_slice(&b[..b.len().min(room)]);
    }

    fn start_part(&mut self, lang: Language) {
        self.job.language(lang);
        if lang != Language::Pjl || self.last_language.is_none() {
            self.last_language = Some(lang);
        }
        self.ps_offset = 0;
        self.data_line_start = true;
        self.data_head = None;
        self.uel.reset();
        // A partial line of the previous part (PostScript's DSC scan stops mid-line at its
        // window) must not be glued onto this part's first line.
        self.line.clear();
        self.line_overflow = false;
        // Text and unknown data are scanned as PostScript too: printers auto-sense, and the
        // scanner's tokens (exitserver, deletefile...) do not occur in ordinary text by chance.
        self.ps = if matches!(
            lang,
            Language::PostScript | Language::Text | Language::Unknown
        ) {
            Ps::Pending
        } else {
            Ps::Off
        };
        self.pcl = (lang == Language::Pcl).then(Box::default);
        self.mode = if lang == Language::Pjl {
            Mode::Pjl
        } else {
            Mode::Pdl(lang)
        };
    }

    /// PDL data up to the next UEL; returns how much of `b` it consumed.
    fn pdl_bytes(&mut self, b: &[u8], out: &mut Vec<AppEvent>) -> usize {
        let Mode::Pdl(lang) = self.mode else {
            return 0;
        };
        let found = self.uel.find_end(b);
        let end = found.unwrap_or(b.len());
        let data = &b[..end
            - if found.is_some() {
                pdl::UEL.len().min(end)
            } else {
                0
            }];
        self.job.pdl_bytes += data.len() as u64;
        self.pjl_lines_in_data(data, lang, out);
        if lang == Language::PostScript && self.ps_offset < DSC_WINDOW {
            self.dsc(data);
        }
        let mut finding = |risk, evidence: String| {
            out.push(AppEvent::Finding(Finding {
                risk,
                line: text::cap_str(&evidence, 256).to_owned(),
                reason: None,
            }))
        };
        if let Some(pcl) = self.pcl.as_mut() {
            pcl.feed(data, &mut finding);
        }
        match &mut self.ps {
            Ps::Off => {}
            Ps::On(ps) => ps.feed(data, &mut finding),
            Ps::Pending => {
                // NULs change nothing in a fresh scanner: zero-filled page data never gets one
                if let Some(i) = first_nonzero(data) {
                    let mut ps = Box::<postscript::Scanner>::default();
                    ps.feed(&data[i..], &mut finding);
                    self.ps = Ps::On(ps);
                }
            }
        }
        self.ps_offset += data.len() as u64;
        if found.is_some() {
            self.mode = Mode::Start;
        }
        end
    }

    /// `@PJL` lines inside page data: a printer prints them as data (PJL commands count only
    /// before `ENTER LANGUAGE` or after a UEL), but someone tried. Each of the first few
    /// becomes a low-severity anomaly naming the command; none is treated as a PJL command.
    fn pjl_lines_in_data(&mut self, data: &[u8], lang: Language, out: &mut Vec<AppEvent>) {
        const HEAD: usize = 48;
        const REPORTED: u32 = 4;
        let mut i = 0;
        while i < data.len() {
            if let Some(head) = self.data_head.as_mut() {
                let rest = &data[i..];
                let nl = memchr::memchr(b'\n', rest);
                let take = nl.unwrap_or(rest.len()).min(HEAD - head.len());
                head.extend_from_slice(&rest[..take]);
                i += nl.map_or(take, |n| n + 1);
                if nl.is_some() || head.len() >= HEAD {
                    let line = self.data_head.take().unwrap_or_default();
                    self.data_line_start = nl.is_some_and(|n| n < HEAD);
                    let line = trim_cr(&line);
                    let is_pjl = line.len() >= 4
                        && &line[..4] == b"@PJL"
                        && line.get(4).is_none_or(|c| c.is_ascii_whitespace());
                    if is_pjl {
                        self.pjl_in_data += 1;
                        if self.pjl_in_data <= REPORTED {
                            out.push(AppEvent::Anomaly(Anomaly {
                                kind: AnomalyType::Applayer,
                                event: AnomalyEvent::PjlInPrintData,
                                layer: Some(AppProto::Print(lang)),
                                reason: Some(format!(
                                    "{} inside {} data (printed as data, not run)",
                                    text::capped(line, HEAD),
                                    lang.name()
                                )),
                                bytes: None,
                                preview_hex: None,
                            }));
                        }
                    }
                }
                continue;
            }
            if self.data_line_start {
                self.data_line_start = false;
                if data[i] == b'@' {
                    self.data_head = Some(Vec::with_capacity(HEAD));
                }
                continue;
            }
            match memchr::memchr(b'\n', &data[i..]) {
                Some(n) => {
                    i += n + 1;
                    self.data_line_start = true;
                }
                None => break,
            }
        }
    }

    /// DSC comments of a PostScript header: whole lines are read for `%%Title:` and its kin.
    fn dsc(&mut self, data: &[u8]) {
        for piece in data.split_inclusive(|&c| c == b'\n') {
            let complete = piece.ends_with(b"\n");
            self.push_line(piece.strip_suffix(b"\n").unwrap_or(piece));
            if !complete {
                continue;
            }
            let line = std::mem::take(&mut self.line);
            self.line_overflow = false;
            if let Some((which, value)) = postscript::dsc_comment(&line) {
                self.job.dsc(which, value);
            }
        }
    }

    fn pjl_line(&mut self, raw: &[u8], out: &mut Vec<AppEvent>) {
        let l = trim_cr(raw);
        let Some(line) = pjl::Line::parse(l) else {
            return;
        };
        self.job.pjl_line(&line);
        for risk in pjl::assess(&line) {
            out.push(AppEvent::Finding(Finding {
                risk,
                line: text::capped(l, 256),
                reason: None,
            }));
        }
        if let Some(n) = pjl::binary_payload(&line) {
            self.mode = Mode::Binary(n);
        } else if line.is("ENTER") {
            let lang = line
                .option("LANGUAGE")
                .map_or(Language::Unknown, Language::from_enter);
            if lang == Language::Unknown {
                // printers auto-sense what follows an ENTER they do not know
                self.mode = Mode::Start;
            } else {
                self.start_part(lang);
            }
        } else if line.is("EOJ") && self.job.pdl_bytes > 0 {
            // `@PJL EOJ`: a job that carried page data ends here; a command-only session keeps
            // accumulating into one record (PRET's hundreds of JOB/EOJ pairs are one session).
            self.end_job(out);
        }
    }

    fn end_job(&mut self, out: &mut Vec<AppEvent>) {
        let job = std::mem::take(&mut self.job);
        if !job.is_empty() {
            out.push(AppEvent::Print(Box::new(job.into_record())));
        }
    }
}

/// A PJL line of `MAX_LINE` bytes or more (or at least `pjl::OVERSIZED`): buffer-overflow
/// fuzzing.
fn oversized(line: &[u8], overflow: bool, out: &mut Vec<AppEvent>) {
    let size = if overflow {
        format!("more than {MAX_LINE}")
    } else {
        line.len().to_string()
    };
    out.push(AppEvent::Finding(Finding {
        risk: Risk::Oversized,
        line: text::capped(line, 256),
        reason: Some(format!("a line of {size} bytes (buffer-overflow fuzzing)")),
    }));
}

/// Whether a partial line may still turn out to be PJL (or a UEL before PJL).
fn could_be_pjl(line: &[u8]) -> bool {
    let n = line.len().min(4);
    line[..n].eq_ignore_ascii_case(&b"@PJL"[..n])
        || pdl::UEL.starts_with(&line[..line.len().min(pdl::UEL.len())])
        || line.iter().all(|c| c.is_ascii_whitespace())
}

fn trim_cr(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\r").unwrap_or(l)
}

/// Where the first byte that is not NUL lies. Eight bytes at a time: raster page data is long
/// runs of zeros (white paper), and a byte-by-byte search was the print scanner's largest cost
/// on such streams.
fn first_nonzero(data: &[u8]) -> Option<usize> {
    let mut words = data.chunks_exact(8);
    let mut at = 0;
    for w in words.by_ref() {
        if u64::from_ne_bytes(w.try_into().unwrap_or([0; 8])) != 0 {
            break;
        }
        at += 8;
    }
    data[at..].iter().position(|&c| c != 0).map(|i| at + i)
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        #[test]
        fn the_first_nonzero_byte_is_found_as_a_byte_by_byte_search_finds_it(
            len in 0usize..80,
            at in proptest::option::of(0usize..80),
            v in 1u8..=255,
        ) {
            let mut d = vec![0u8; len];
            if let Some(i) = at.filter(|&i| i < len) {
                d[i] = v;
            }
            proptest::prop_assert_eq!(
                super::first_nonzero(&d),
                d.iter().position(|&c| c != 0)
            );
        }
    }
}
