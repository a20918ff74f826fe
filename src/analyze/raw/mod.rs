//! Raw printing (TCP 9100-9102): reassembles both directions, splits the client's stream into
//! jobs, follows PJL line by line (binary payloads skipped, languages switched on
//! `ENTER LANGUAGE`), hands page data to the PostScript and PCL scanners, and reports what they
//! find as findings for detection. Memory per flow is fixed: the reassembler's cap, one line
//! buffer, fixed-size scanners, capped lists.

mod job;

use super::{Analyzer, AppEvent, Finding, PacketCx, Shared};
use crate::decode::Tcp;
use crate::event::{text, Anomaly, AnomalyEvent, AnomalyType, AppProto};
use crate::flow::stream::{Delivery, Reassembler};
use crate::flow::Dir;
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

/// What the client side is in the middle of.
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

pub struct RawFlow {
    streams: [Reassembler; 2],
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
    /// Printer-to-client stream bytes in this connection.
    toclient_total: u64,
    /// Page data: at the start of a line, and the head of a line that starts with `@`.
    data_line_start: bool,
    data_head: Option<Vec<u8>>,
    /// `@PJL` lines found in page data so far (the first few are reported).
    pjl_in_data: u32,
    /// An overlap with other bytes in the client's stream was reported.
    overlap_reported: bool,
}

/// The PostScript scanner of a part: none (another language), wanted but not yet needed (only
/// NULs so far: a fresh scanner ignores them), or running.
enum Ps {
    Off,
    Pending,
    On(Box<postscript::Scanner>),
}

impl Default for RawFlow {
    fn default() -> Self {
        RawFlow {
            // the client's side is what the printer runs: its overlaps are compared
            streams: [Reassembler::verifying(), Reassembler::default()],
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
            toclient_total: 0,
            data_line_start: true,
            data_head: None,
            pjl_in_data: 0,
            overlap_reported: false,
        }
    }
}

impl Analyzer for RawFlow {
    fn on_packet(&mut self, _: &mut Shared, cx: &PacketCx<'_, '_>, out: &mut Vec<AppEvent>) {
        self.on_segment(cx.dir, cx.p.tcp, cx.p.payload, out);
    }

    fn on_end(&mut self, _: &mut Shared, out: &mut Vec<AppEvent>) {
        self.finish(out);
    }
}

impl RawFlow {
    /// The language of the job in progress, for the flow's `app_proto`.
    pub fn language(&self) -> Option<Language> {
        self.last_language
    }

    /// Starts from the ISNs seen before the first payload.
    pub fn with_isns(isns: [Option<u32>; 2]) -> Self {
        let mut f = RawFlow::default();
        for (stream, isn) in f.streams.iter_mut().zip(isns) {
            if let Some(isn) = isn {
                stream.syn(isn);
            }
        }
        f
    }

    pub fn gaps(&self) -> u64 {
        self.streams[0].gaps + self.streams[1].gaps
    }

    pub fn on_segment(&mut self, dir: Dir, tcp: Tcp, payload: &[u8], out: &mut Vec<AppEvent>) {
        let di = dir.index();
        if tcp.has(Tcp::SYN) {
            self.streams[di].syn(tcp.seq);
        }
        if tcp.has(Tcp::ACK) {
            // what this side acknowledges, the other side may no longer change
            self.streams[1 - di].acked(tcp.ack);
        }
        if payload.is_empty() {
            return;
        }
        let mut stream = std::mem::take(&mut self.streams[di]);
        // data on a SYN starts after the SYN's own sequence number
        let seq = tcp.seq.wrapping_add(u32::from(tcp.has(Tcp::SYN)));
        stream.segment(seq, payload, &mut |d| self.deliver(dir, d, out));
        if let (false, Some(at)) = (self.overlap_reported, stream.first_conflict) {
            self.overlap_reported = true;
            out.push(AppEvent::Anomaly(Anomaly {
                kind: AnomalyType::Stream,
                event: AnomalyEvent::TcpOverlapConflict,
                layer: self.last_language.map(AppProto::Print),
                reason: Some(format!(
                    "a segment at seq {at} overlaps bytes already received with other bytes; the first copy was kept"
                )),
                bytes: None,
                preview_hex: None,
            }));
        }
        self.streams[di] = stream;
    }

    /// The connection is over: flush what waits behind holes and write the last job.
    pub fn finish(&mut self, out: &mut Vec<AppEvent>) {
        for dir in [Dir::ToServer, Dir::ToClient] {
            let mut stream = std::mem::take(&mut self.streams[dir.index()]);
            stream.finish(&mut |d| self.deliver(dir, d, out));
            self.streams[dir.index()] = stream;
        }
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

    fn deliver(&mut self, dir: Dir, d: Delivery<'_>, out: &mut Vec<AppEvent>) {
        match (dir, d) {
            (Dir::ToClient, Delivery::Data(b)) => {
                // What the printer sends back: status readback, or uploaded files.
                let n = b.len() as u64;
                self.job.bytes_toclient += n;
                self.toclient_total += n;
                out.push(AppEvent::PrinterData {
                    total: self.toclient_total,
                });
            }
            // a gap says nothing about volume (one stray segment can claim 2 GB): not counted
            (Dir::ToClient, Delivery::Gap(_)) => {}
            (Dir::ToServer, Delivery::Data(b)) => {
                self.job.bytes += b.len() as u64;
                self.client_bytes(b, out)
            }
            (Dir::ToServer, Delivery::Gap(n)) => {
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
        }
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
                if let Some(i) = data.iter().position(|&c| c != 0) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(chunks: &[&[u8]]) -> (Vec<Finding>, Vec<crate::event::Print>) {
        let (f, p, _) = feed_all(chunks);
        (f, p)
    }

    /// The same, with the anomalies.
    fn feed_all(chunks: &[&[u8]]) -> (Vec<Finding>, Vec<crate::event::Print>, Vec<Anomaly>) {
        let mut f = RawFlow::default();
        let mut outs = vec![];
        let mut seq = 1000u32;
        f.on_segment(
            Dir::ToServer,
            Tcp {
                seq: seq - 1,
                ack: 0,
                flags: Tcp::SYN,
            },
            &[],
            &mut outs,
        );
        for c in chunks {
            f.on_segment(
                Dir::ToServer,
                Tcp {
                    seq,
                    ack: 0,
                    flags: Tcp::ACK,
                },
                c,
                &mut outs,
            );
            seq = seq.wrapping_add(c.len() as u32);
        }
        f.finish(&mut outs);
        let mut finds = vec![];
        let mut prints = vec![];
        let mut anomalies = vec![];
        for o in outs {
            match o {
                AppEvent::Finding(x) => finds.push(x),
                AppEvent::Print(p) => prints.push(*p),
                AppEvent::Anomaly(a) => anomalies.push(a),
                _ => {}
            }
        }
        (finds, prints, anomalies)
    }

    #[test]
    fn pjl_lines_inside_page_data_are_an_anomaly_not_a_command() {
        let job = b"\x1b%-12345X@PJL ENTER LANGUAGE=POSTSCRIPT\r\n%!PS\n(hi) show\n@PJL FSDELETE NAME=\"0:\\x\"\r\nshowpage\n";
        // whole, and split at every byte
        for cut in 0..job.len() {
            let (finds, _, anomalies) = feed_all(&[&job[..cut], &job[cut..]]);
            assert!(
                finds.iter().all(|f| f.risk != Risk::FsDelete),
                "cut {cut}: not run as a PJL command"
            );
            assert_eq!(anomalies.len(), 1, "cut {cut}");
            let a = &anomalies[0];
            assert_eq!(a.event, AnomalyEvent::PjlInPrintData);
            assert_eq!(a.layer, Some(AppProto::Print(Language::PostScript)));
            let reason = a.reason.as_deref().unwrap();
            assert!(reason.starts_with("@PJL FSDELETE NAME="), "{reason}");
        }
        // the first four are reported, the rest not; a line merely containing @PJL is data
        let mut many = b"%!PS\n".to_vec();
        for _ in 0..10 {
            many.extend_from_slice(b"@PJL INFO ID\n");
        }
        many.extend_from_slice(b"(x @PJL INFO ID) show\n@PJLX\n");
        let (_, _, anomalies) = feed_all(&[&many]);
        assert_eq!(anomalies.len(), 4);
    }

    #[test]
    fn a_megabyte_line_is_one_finding_and_bounded_memory() {
        let mut line = b"@PJL SET X=".to_vec();
        line.extend(vec![b'A'; 1 << 20]);
        line.extend(b"\r\n@PJL FSDELETE NAME=\"0:/a\"\r\n");
        let chunks: Vec<&[u8]> = line.chunks(1460).collect();
        let (finds, prints) = feed(&chunks);
        let risks: Vec<Risk> = finds.iter().map(|f| f.risk).collect();
        assert_eq!(
            risks,
            [Risk::Oversized, Risk::FsDelete],
            "parsing resumes after the long line"
        );
        assert!(finds[0].line.len() <= 256);
        assert_eq!(prints.len(), 1);
        assert_eq!(prints[0].bytes_toserver, line.len() as u64);
    }

    #[test]
    fn zero_filled_data_then_postscript_is_still_scanned() {
        // page data of NULs gets no scanner until something else comes; what comes is judged
        let mut job = vec![0u8; 20_000];
        job.extend_from_slice(b"serverdict begin 0 exitserver\n");
        job.extend(vec![0u8; 3_000]);
        job.extend_from_slice(b"/x (w) file\n");
        for size in [1, 7, 1460, 65_536] {
            let chunks: Vec<&[u8]> = job.chunks(size).collect();
            let (finds, prints) = feed(&chunks);
            let risks: Vec<Risk> = finds.iter().map(|f| f.risk).collect();
            assert_eq!(
                risks,
                [Risk::PsExitServer, Risk::PsFileWrite],
                "segments of {size}"
            );
            assert_eq!(prints[0].bytes_toserver, job.len() as u64);
        }
        let (finds, _) = feed(&[&[0u8; 50_000]]);
        assert!(finds.is_empty());
    }

    #[test]
    fn binary_garbage_and_a_job_that_never_ends() {
        let junk: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let chunks: Vec<&[u8]> = junk.chunks(1000).collect();
        let (finds, prints) = feed(&chunks);
        assert!(finds.is_empty(), "{finds:?}");
        assert_eq!(prints[0].bytes_toserver, 200_000);
    }

    #[test]
    fn language_switches_mid_stream_and_uel_split_across_segments() {
        let mut s =
            b"\x1b%-12345X@PJL JOB NAME=\"a\"\r\n@PJL ENTER LANGUAGE=PCL\r\n\x1bE page \x1b%-123"
                .to_vec();
        let second = b"45X@PJL ENTER LANGUAGE=POSTSCRIPT\r\n%!PS\n%%Title: b\n showpage\n\x1b%-12345X@PJL EOJ\r\n";
        let (finds, prints) = feed(&[&s.clone(), second]);
        assert!(finds.is_empty(), "{finds:?}");
        assert_eq!(prints.len(), 1);
        assert_eq!(
            prints[0].languages,
            [Language::Pjl, Language::Pcl, Language::PostScript]
        );
        assert_eq!(prints[0].language, Language::PostScript);
        assert_eq!(prints[0].title.as_deref(), Some("b"));
        s.clear();
    }

    #[test]
    fn evasions_found_in_review() {
        // a UEL in the middle of a non-PJL line: the command after it is still parsed
        let (f, _) = feed(&[b"x\x1b%-12345X@PJL FSINIT VOLUME=\"0:\"\r\n"]);
        assert_eq!(
            f.iter().map(|x| x.risk).collect::<Vec<_>>(),
            [Risk::FsFormat]
        );
        // an unknown ENTER LANGUAGE: printers auto-sense the PostScript that follows
        let (f, _) = feed(&[b"@PJL ENTER LANGUAGE=FOO\r\n%!\nserverdict begin 0 exitserver\n"]);
        assert_eq!(
            f.iter().map(|x| x.risk).collect::<Vec<_>>(),
            [Risk::PsExitServer]
        );
        // bare PostScript operators with no header at all
        let (f, _) = feed(&[b"serverdict begin 0 exitserver\n"]);
        assert_eq!(
            f.iter().map(|x| x.risk).collect::<Vec<_>>(),
            [Risk::PsExitServer]
        );
        // binary PCL after PJL without ENTER and without a newline for 5 KB: not "oversized"
        let mut job = b"@PJL JOB\r\n\x1bE\x1b*b5000W".to_vec();
        job.extend(vec![0x41u8; 5000]);
        let (f, p) = feed(&[&job]);
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(p[0].language, Language::Pcl);
    }

    #[test]
    fn pjl_trailer_after_a_long_postscript_part() {
        // CUPS: PJL header, >64 KiB of PostScript (past the DSC window, mid-line), then a PJL
        // trailer after the UEL.
        let mut job =
            b"\x1b%-12345X@PJL JOB NAME=\"j\"\r\n@PJL ENTER LANGUAGE = POSTSCRIPT\r\n%!PS\n"
                .to_vec();
        while job.len() < 70_000 {
            job.extend(b"0 0 moveto (some page content) show\n");
        }
        job.extend(b"%%EOF\n\x1b%-12345X@PJL\n@PJL RDYMSG DISPLAY = \"\"\n@PJL EOJ \n\x1b%-12345X");
        let chunks: Vec<&[u8]> = job.chunks(1448).collect();
        let (finds, prints) = feed(&chunks);
        assert!(finds.is_empty(), "{finds:?}");
        assert_eq!(prints.len(), 1);
        assert_eq!(prints[0].languages, [Language::Pjl, Language::PostScript]);
        assert!(
            prints[0].commands.iter().any(|c| c == "RDYMSG")
                && prints[0].commands.iter().any(|c| c == "EOJ")
        );
    }

    #[test]
    fn the_printer_side_volume_is_reported_as_it_grows() {
        let mut f = RawFlow::default();
        let mut outs = vec![];
        f.on_segment(
            Dir::ToServer,
            Tcp {
                seq: 1,
                ack: 0,
                flags: Tcp::ACK,
            },
            b"@PJL FSUPLOAD NAME=\"0:/x\" OFFSET=0 SIZE=2000000\r\n",
            &mut outs,
        );
        let chunk = vec![7u8; 1460];
        for i in 0..3u32 {
            f.on_segment(
                Dir::ToClient,
                Tcp {
                    seq: 5000 + i * 1460,
                    ack: 0,
                    flags: Tcp::ACK,
                },
                &chunk,
                &mut outs,
            );
        }
        let seen: Vec<String> = outs
            .iter()
            .map(|o| match o {
                AppEvent::Finding(x) => format!("{:?}", x.risk),
                AppEvent::PrinterData { total } => total.to_string(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(seen, ["FsRead", "1460", "2920", "4380"]);
    }
}
