//! LPD (TCP 515): the client's stream through the LPD parser into one `lpd` record per daemon
//! command or per job, each data file through the same print-stream scanner as 9100 (so the
//! same bytes raise the same content alerts), the control file's lines read into the record,
//! and the risky usage PRET's LPD tests exercise reported for detection. Memory per flow is
//! fixed: the reassemblers' caps, one control-file buffer, one print stream, capped lists.

use super::print_stream::PrintStream;
use super::streams::{overlap_conflict, Streams};
use super::{Analyzer, AppEvent, PacketCx, Shared};
use crate::event::{
    text, Anomaly, AnomalyEvent, AnomalyType, AppProto, DoorStats, Lpd, LpdControl, LpdFile,
    LpdPrint,
};
use crate::flow::stream::Delivery;
use crate::flow::Dir;
use crate::proto::lpd::{self, Command, Event, FileKind, Format, Risk, Subcommand};

/// Bytes of one control-file line kept for its record fields and checks (daemons read lines
/// of a few hundred bytes; the rest of a longer one is skipped, and said so in `cut`).
const MAX_CONTROL_LINE: usize = 4096;
/// Files listed per job record, print and unlink lines per control file.
const MAX_LISTED: usize = 16;
/// Job records per connection; later jobs are counted (`lpd.too_many_jobs`), their content
/// still scanned and their risky usage still reported.
pub const MAX_JOBS: u32 = 64;

/// What an LPD connection hands detection: a record (absent past `MAX_JOBS`) and the risky
/// usage in it, each with the line that shows it.
#[derive(Debug)]
pub struct LpdEvent {
    pub record: Option<Lpd>,
    pub findings: Vec<(Risk, String)>,
}

#[derive(Default)]
pub struct LpdFlow {
    streams: Streams,
    parser: lpd::Parser,
    st: State,
}

/// What the parser's events build up.
#[derive(Default)]
struct State {
    queue: String,
    job: Option<Job>,
    jobs: u32,
    /// The data file in progress, through the print-stream scanner.
    print: Option<PrintStream>,
    /// The control file in progress: the line being read, whatever the file's size.
    control: Option<Vec<u8>>,
    /// The client's bytes after the parser lost its place, still scanned as print data (a
    /// daemon that reads them otherwise may print them).
    unparsed: Option<PrintStream>,
    receiving: bool,
}

/// One job of a receive-job connection as it accumulates.
struct Job {
    /// What the file names share after `cfA`/`dfA` (job number and host): a file with another
    /// key starts the next job.
    key: Vec<u8>,
    record: Lpd,
    findings: Vec<(Risk, String)>,
    /// Files of the job, listed or not.
    files: u64,
}

impl LpdFlow {
    pub fn with_isns(isns: [Option<u32>; 2]) -> Self {
        LpdFlow {
            streams: Streams::with_isns(isns),
            ..LpdFlow::default()
        }
    }
}

impl Analyzer for LpdFlow {
    fn on_packet(&mut self, shared: &mut Shared, cx: &PacketCx<'_, '_>, out: &mut Vec<AppEvent>) {
        let (parser, st, stats) = (&mut self.parser, &mut self.st, &mut shared.doors);
        let conflict = self
            .streams
            .segment(cx.dir, cx.p.tcp, cx.p.payload, &mut |d| {
                deliver(parser, st, stats, cx.dir, d, out)
            });
        if let Some(at) = conflict {
            out.push(AppEvent::Anomaly(overlap_conflict(at, Some(AppProto::Lpd))));
        }
    }

    fn on_end(&mut self, shared: &mut Shared, out: &mut Vec<AppEvent>) {
        let (parser, st, stats) = (&mut self.parser, &mut self.st, &mut shared.doors);
        self.streams
            .finish(&mut |dir, d| deliver(parser, st, stats, dir, d, out));
        let st = &mut self.st;
        self.parser
            .finish(&mut |e| st.event(e, &mut shared.doors, out));
        st.close_job(&mut shared.doors, out);
        if let Some(mut p) = st.unparsed.take() {
            p.finish(out);
        }
        if st.receiving && st.jobs == 0 {
            // a receive-job command that sent no file is still a record
            st.jobs = 1;
            shared.doors.lpd_jobs += 1;
            out.push(lpd_event(
                Some(Lpd {
                    command: Command::ReceiveJob,
                    ..empty(&st.queue)
                }),
                vec![],
            ));
        }
    }
}

fn deliver(
    parser: &mut lpd::Parser,
    st: &mut State,
    stats: &mut DoorStats,
    dir: Dir,
    d: Delivery<'_>,
    out: &mut Vec<AppEvent>,
) {
    match (dir, d) {
        // the daemon's side is one-byte acknowledgements and queue listings
        (Dir::ToClient, _) => {}
        (Dir::ToServer, Delivery::Data(b)) => parser.feed(b, &mut |e| st.event(e, stats, out)),
        (Dir::ToServer, Delivery::Gap(n)) => {
            if let Some(p) = st.print.as_mut() {
                p.gap(n);
            }
            if let Some(p) = st.unparsed.as_mut() {
                p.gap(n);
            }
            if !parser.gap(u64::from(n)) {
                out.push(malformed(format!(
                    "{n} bytes lost outside a file: the rest of the client's side is scanned as print data only"
                )));
            }
        }
    }
}

fn empty(queue: &str) -> Lpd {
    Lpd {
        command: Command::ReceiveJob,
        queue: queue.to_owned(),
        operands: None,
        files: Vec::new(),
        files_total: None,
        control: None,
        aborted: false,
        risks: Vec::new(),
    }
}

fn lpd_event(record: Option<Lpd>, findings: Vec<(Risk, String)>) -> AppEvent {
    AppEvent::Lpd(Box::new(LpdEvent { record, findings }))
}

fn malformed(reason: String) -> AppEvent {
    AppEvent::Anomaly(Anomaly {
        kind: AnomalyType::Applayer,
        event: AnomalyEvent::LpdMalformed,
        layer: Some(AppProto::Lpd),
        reason: Some(reason),
        bytes: None,
        preview_hex: None,
    })
}

/// A finding once per record.
fn add(findings: &mut Vec<(Risk, String)>, risk: Risk, line: &[u8]) {
    if !findings.iter().any(|(r, _)| *r == risk) {
        findings.push((risk, text::capped(line, 256)));
    }
}

impl State {
    fn event(&mut self, e: Event<'_>, stats: &mut DoorStats, out: &mut Vec<AppEvent>) {
        match e {
            Event::Command(c) => {
                stats.lpd_commands += 1;
                self.queue = text::capped(c.queue, text::MAX_FIELD);
                let mut findings = vec![];
                if lpd::has_shell_metacharacters(c.queue)
                    || lpd::has_shell_metacharacters(c.operands)
                {
                    let mut line = c.queue.to_vec();
                    line.push(b' ');
                    line.extend_from_slice(c.operands);
                    add(&mut findings, Risk::ShellMetacharacters, &line);
                }
                if c.command == Command::ReceiveJob {
                    self.receiving = true;
                    // reported with the first job
                    self.job = (!findings.is_empty()).then(|| Job {
                        key: Vec::new(),
                        record: empty(&self.queue),
                        findings,
                        files: 0,
                    });
                    return;
                }
                if c.command == Command::RemoveJobs {
                    add(&mut findings, Risk::RemoveJobs, c.operands);
                }
                let record = Lpd {
                    command: c.command,
                    operands: (!c.operands.is_empty())
                        .then(|| text::capped(c.operands, text::MAX_FIELD)),
                    risks: findings.iter().map(|(r, _)| *r).collect(),
                    ..empty(&self.queue)
                };
                out.push(lpd_event(Some(record), findings));
            }
            Event::Subcommand(Subcommand::Abort) => {
                if let Some(j) = self.job.as_mut() {
                    j.record.aborted = true;
                }
                self.close_job(stats, out);
            }
            Event::Subcommand(Subcommand::File { kind, size, name }) => {
                let key = job_key(name);
                if self
                    .job
                    .as_ref()
                    .is_some_and(|j| !j.key.is_empty() && j.key != key)
                {
                    self.close_job(stats, out);
                }
                let job = self.job.get_or_insert_with(|| Job {
                    key: Vec::new(),
                    record: empty(&self.queue),
                    findings: vec![],
                    files: 0,
                });
                if job.key.is_empty() {
                    job.key = key.to_vec();
                }
                if lpd::is_path(name) {
                    add(&mut job.findings, Risk::PathInFileName, name);
                }
                job.files += 1;
                if job.record.files.len() < MAX_LISTED {
                    job.record.files.push(LpdFile {
                        kind,
                        name: text::capped(name, text::MAX_FIELD),
                        size,
                        received: 0,
                        complete: false,
                    });
                } else {
                    job.record.files_total = Some(job.files);
                }
                match kind {
                    FileKind::Data => self.print = Some(PrintStream::default()),
                    FileKind::Control => {
                        self.control = Some(Vec::new());
                        job.record.control.get_or_insert_with(LpdControl::default);
                    }
                }
            }
            Event::FileData(d) => {
                if let Some(f) = self.current_file() {
                    f.received += d.len() as u64;
                }
                if let Some(p) = self.print.as_mut() {
                    p.data(d, out);
                } else if let (Some(line), Some(job)) = (self.control.as_mut(), self.job.as_mut()) {
                    control_bytes(line, d, job);
                }
            }
            Event::FileEnd { complete } => {
                if let Some(f) = self.current_file() {
                    f.complete = complete;
                }
                if let Some(mut p) = self.print.take() {
                    p.finish(out);
                }
                if let (Some(mut line), Some(job)) = (self.control.take(), self.job.as_mut()) {
                    control_end(&mut line, job);
                }
            }
            Event::Error(e) => {
                out.push(malformed(format!(
                    "{e}: the rest of the client's side is scanned as print data only"
                )));
                stats.lpd_malformed += 1;
            }
            Event::Unparsed(d) => self
                .unparsed
                .get_or_insert_with(PrintStream::default)
                .data(d, out),
        }
    }

    /// The file in progress is the last one listed, while the list is not full.
    fn current_file(&mut self) -> Option<&mut LpdFile> {
        let job = self.job.as_mut()?;
        if job.record.files_total.is_some() {
            return None;
        }
        job.record.files.last_mut()
    }

    fn close_job(&mut self, stats: &mut DoorStats, out: &mut Vec<AppEvent>) {
        if let Some(mut p) = self.print.take() {
            p.finish(out);
        }
        if let (Some(mut line), Some(job)) = (self.control.take(), self.job.as_mut()) {
            control_end(&mut line, job);
        }
        let Some(mut job) = self.job.take() else {
            return;
        };
        self.jobs += 1;
        job.record.risks = job.findings.iter().map(|(r, _)| *r).collect();
        let record = if self.jobs <= MAX_JOBS {
            stats.lpd_jobs += 1;
            Some(job.record)
        } else {
            stats.lpd_jobs_unlogged += 1;
            if self.jobs == MAX_JOBS + 1 {
                out.push(AppEvent::Anomaly(Anomaly {
                    kind: AnomalyType::Applayer,
                    event: AnomalyEvent::LpdTooManyJobs,
                    layer: Some(AppProto::Lpd),
                    reason: Some(format!(
                        "more than {MAX_JOBS} jobs in one connection: the rest are counted (stats.doors.lpd_jobs_unlogged), their content still scanned"
                    )),
                    bytes: None,
                    preview_hex: None,
                }));
            }
            None
        };
        if record.is_some() || !job.findings.is_empty() {
            out.push(lpd_event(record, job.findings));
        }
    }
}

/// What the names of one job's files share: `cfA123host` and `dfA123host` give `123host`.
fn job_key(name: &[u8]) -> &[u8] {
    match name {
        [b'c' | b'd', b'f', _, rest @ ..] if !rest.is_empty() => rest,
        _ => name,
    }
}

/// Control-file bytes: whole lines go to `control_line`; a line longer than
/// `MAX_CONTROL_LINE` keeps its start (and sets `cut`).
fn control_bytes(line: &mut Vec<u8>, mut d: &[u8], job: &mut Job) {
    while !d.is_empty() {
        let nl = memchr::memchr(b'\n', d);
        let take = nl.unwrap_or(d.len());
        let room = (MAX_CONTROL_LINE + 1).saturating_sub(line.len());
        line.extend_from_slice(&d[..take.min(room)]);
        let Some(nl) = nl else { return };
        d = &d[nl + 1..];
        control_line(line, job);
        line.clear();
    }
}

/// The last line of a control file, when it has no newline.
fn control_end(line: &mut Vec<u8>, job: &mut Job) {
    if !line.is_empty() {
        control_line(line, job);
        line.clear();
    }
}

/// One control-file line into the job's record, and its risky shapes into its findings.
fn control_line(raw: &[u8], job: &mut Job) {
    let cut = raw.len() > MAX_CONTROL_LINE;
    let raw = &raw[..raw.len().min(MAX_CONTROL_LINE)];
    let Some(line) = lpd::control_lines(raw).next() else {
        return;
    };
    let c = job.record.control.get_or_insert_with(LpdControl::default);
    c.lines += 1;
    c.cut |= cut;
    let set = |slot: &mut Option<String>| {
        slot.get_or_insert_with(|| text::capped(line.value, text::MAX_FIELD));
    };
    match line.code {
        b'H' => set(&mut c.host),
        b'P' => set(&mut c.user),
        b'J' => set(&mut c.job_name),
        b'N' => set(&mut c.source_name),
        b'T' => set(&mut c.title),
        b'C' => set(&mut c.class),
        b'L' => set(&mut c.banner),
        b'M' => {
            set(&mut c.mail);
            add(
                &mut job.findings,
                Risk::MailRequest,
                &whole(line.code, line.value),
            );
        }
        b'U' => {
            if c.unlink.len() < MAX_LISTED {
                c.unlink.push(text::capped(line.value, text::MAX_FIELD));
            }
        }
        code => {
            if let (Some(format), true) = (Format::of(code), c.prints.len() < MAX_LISTED) {
                c.prints.push(LpdPrint {
                    format,
                    file: text::capped(line.value, text::MAX_FIELD),
                });
            }
        }
    }
    // a file a print or unlink line names leaves the spool directory
    let names_file = line.code == b'U' || Format::of(line.code).is_some();
    if names_file && lpd::is_path(line.value) {
        add(
            &mut job.findings,
            Risk::PathInFileName,
            &whole(line.code, line.value),
        );
    }
    if lpd::has_shell_metacharacters(line.value) {
        add(
            &mut job.findings,
            Risk::ShellMetacharacters,
            &whole(line.code, line.value),
        );
    }
}

fn whole(code: u8, value: &[u8]) -> Vec<u8> {
    let mut l = Vec::with_capacity(value.len() + 1);
    l.push(code);
    l.extend_from_slice(value);
    l
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Tcp;

    fn run(client: &[u8], chunk: usize) -> Vec<AppEvent> {
        let mut f = LpdFlow::default();
        let mut shared = Shared::default();
        let mut out = vec![];
        let (parser, st, stats) = (&mut f.parser, &mut f.st, &mut shared.doors);
        let mut seq = 1000u32;
        for c in client.chunks(chunk) {
            let tcp = Tcp {
                seq,
                ack: 0,
                flags: Tcp::ACK,
            };
            f.streams.segment(Dir::ToServer, tcp, c, &mut |d| {
                deliver(parser, st, stats, Dir::ToServer, d, &mut out)
            });
            seq = seq.wrapping_add(c.len() as u32);
        }
        f.on_end(&mut shared, &mut out);
        out
    }

    fn records(evs: &[AppEvent]) -> Vec<&LpdEvent> {
        evs.iter()
            .filter_map(|e| match e {
                AppEvent::Lpd(l) => Some(&**l),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_job_its_control_file_and_its_data_scanned_like_9100() {
        let pjl = b"\x1b%-12345X@PJL FSDELETE NAME=\"0:/x\"\r\n\x1b%-12345X";
        let control = b"Hws1\nPalice\nJreport\nldfA001ws1\nUdfA001ws1\nNreport.pjl\n";
        let mut job = b"\x02lp\n".to_vec();
        job.extend(format!("\x02{} cfA001ws1\n", control.len()).as_bytes());
        job.extend(control);
        job.push(0);
        job.extend(format!("\x03{} dfA001ws1\n", pjl.len()).as_bytes());
        job.extend(pjl);
        job.push(0);
        for chunk in [1, 7, 1460] {
            let evs = run(&job, chunk);
            let recs = records(&evs);
            assert_eq!(recs.len(), 1, "chunk {chunk}");
            let r = recs[0].record.as_ref().unwrap();
            assert_eq!((r.command, r.queue.as_str()), (Command::ReceiveJob, "lp"));
            assert_eq!(r.files.len(), 2);
            assert!(r.files.iter().all(|f| f.complete));
            let c = r.control.as_ref().unwrap();
            assert_eq!(c.user.as_deref(), Some("alice"));
            assert_eq!(c.job_name.as_deref(), Some("report"));
            assert_eq!(c.prints[0].format, Format::Literal);
            assert_eq!(c.unlink, ["dfA001ws1"]);
            assert!(recs[0].findings.is_empty());
            // the data file went through the print-stream scanner
            let risks: Vec<_> = evs
                .iter()
                .filter_map(|e| match e {
                    AppEvent::Finding(f) => Some(f.risk),
                    _ => None,
                })
                .collect();
            assert_eq!(risks, [crate::proto::risk::Risk::FsDelete]);
            assert_eq!(
                evs.iter()
                    .filter(|e| matches!(e, AppEvent::Print(_)))
                    .count(),
                1
            );
        }
    }

    #[test]
    fn pret_style_hostile_usage() {
        let control = b"H$(reboot)\nProot\nMroot\nl../../etc/cron.d/x\n";
        let mut job = b"\x02lp\n".to_vec();
        job.extend(format!("\x02{} cfA001../../x\n", control.len()).as_bytes());
        job.extend(control);
        job.push(0);
        let evs = run(&job, 1460);
        let recs = records(&evs);
        let mut risks: Vec<Risk> = recs[0].findings.iter().map(|(r, _)| *r).collect();
        risks.sort();
        assert_eq!(
            risks,
            [
                Risk::PathInFileName,
                Risk::ShellMetacharacters,
                Risk::MailRequest
            ]
        );
        assert_eq!(recs[0].record.as_ref().unwrap().risks.len(), 3);
        // remove jobs: a record of its own
        let evs = run(b"\x05lp root 12\n", 100);
        let r = records(&evs);
        assert_eq!(r[0].findings[0].0, Risk::RemoveJobs);
        assert_eq!(
            r[0].record.as_ref().unwrap().operands.as_deref(),
            Some("root 12")
        );
    }

    #[test]
    fn review_evasions_are_still_seen() {
        let fsdelete = |evs: &[AppEvent]| {
            evs.iter().any(|e| {
                matches!(e, AppEvent::Finding(f) if f.risk == crate::proto::risk::Risk::FsDelete)
            })
        };
        let pjl = b"\x1b%-12345X@PJL FSDELETE NAME=\"0:/x\"\r\n";
        // a bare-CR client (cups-lpd reads CR as a line end)
        let mut job = b"\x02lp\r".to_vec();
        job.extend(format!("\x03{} dfA1h\r", pjl.len()).as_bytes());
        job.extend(pjl);
        job.push(0);
        assert!(fsdelete(&run(&job, 7)));
        // bytes the parser cannot place (size 0 then its NUL, then no subcommand) are still
        // scanned as print data
        let mut job = b"\x02lp\n\x030 dfA1h\n\0".to_vec();
        job.extend(pjl);
        let evs = run(&job, 1460);
        assert!(fsdelete(&evs));
        assert!(evs
            .iter()
            .any(|e| matches!(e, AppEvent::Anomaly(a) if a.event == AnomalyEvent::LpdMalformed)));
        // a risky line after 20 KiB of harmless control lines
        let mut control = Vec::new();
        while control.len() < 20_000 {
            control.extend(b"Nharmless\n");
        }
        control.extend(b"Mroot\n");
        let mut job = b"\x02lp\n".to_vec();
        job.extend(format!("\x02{} cfA1h\n", control.len()).as_bytes());
        job.extend(&control);
        job.push(0);
        let evs = run(&job, 1460);
        let r = records(&evs);
        assert_eq!(r[0].findings[0].0, Risk::MailRequest);
        assert_eq!(
            r[0].record
                .as_ref()
                .unwrap()
                .control
                .as_ref()
                .unwrap()
                .lines,
            2001
        );
        // 20 files: 16 listed, the total given
        let mut job = b"\x02lp\n".to_vec();
        for i in 0..20 {
            job.extend(format!("\x031 df{}001h\nX\0", (b'A' + i) as char).as_bytes());
        }
        let evs = run(&job, 1460);
        let rec = records(&evs)[0].record.clone().unwrap();
        assert_eq!((rec.files.len(), rec.files_total), (16, Some(20)));
    }

    #[test]
    fn many_jobs_in_one_connection_are_bounded() {
        let mut job = b"\x02lp\n".to_vec();
        for i in 0..(MAX_JOBS + 10) {
            job.extend(format!("\x031 dfA{i:03}h\nX\0").as_bytes());
        }
        let evs = run(&job, 1460);
        let recs = records(&evs);
        assert_eq!(recs.len(), MAX_JOBS as usize);
        assert_eq!(
            evs.iter()
                .filter(
                    |e| matches!(e, AppEvent::Anomaly(a) if a.event == AnomalyEvent::LpdTooManyJobs)
                )
                .count(),
            1
        );
        // a size of 0 and an absurd size, cut by the end
        let evs = run(b"\x02lp\n\x030 dfA1h\n%!PS\n", 100);
        let f = &records(&evs)[0].record.as_ref().unwrap().files[0];
        assert_eq!((f.size, f.received, f.complete), (None, 5, true));
        let evs = run(b"\x02lp\n\x0399999999999 dfA1h\n%!PS\n", 100);
        let f = &records(&evs)[0].record.as_ref().unwrap().files[0];
        assert_eq!(
            (f.size, f.received, f.complete),
            (Some(99_999_999_999), 5, false)
        );
    }
}
