//! IPP (TCP 631): both directions through the HTTP/1.1 framer, each POST body and each answer
//! through the IPP parser. A request's operation attributes and its answer's status and
//! printer attributes become one `ipp` record, written when the answer has come (or the
//! connection ends without one); document data after a request's attributes goes through the
//! same print-stream scanner as 9100. A stream that starts with a TLS handshake is IPPS: named
//! by its ClientHello's server name in a `tls` record, and not read further. Memory per flow is
//! fixed: the reassemblers' caps, two framers' head buffers, two IPP parsers' value buffers,
//! one print stream, at most `MAX_PENDING` operations waiting for their answers.

use super::print_stream::PrintStream;
use super::streams::{overlap_conflict, Streams};
use super::{Analyzer, AppEvent, PacketCx, Shared};
use crate::event::{
    text, tls_version_name, Anomaly, AnomalyEvent, AnomalyType, AppProto, DoorStats, Ipp, IppHttp,
    IppPrinter, PpdInjection, Tls,
};
use crate::flow::stream::Delivery;
use crate::flow::Dir;
use crate::proto::http::{Framer, HttpEvent};
use crate::proto::ipp::{self, Attribute, GroupTag, IppEvent};
use crate::proto::tls;
use std::collections::VecDeque;

/// Operations waiting for their answers (pipelined requests); past it the oldest is written
/// unanswered and counted (`stats.doors.ipp_pending_evicted`).
pub const MAX_PENDING: usize = 16;
/// Bytes shown of an injected attribute value.
const INJECTION_SHOWN: usize = 512;

#[derive(Default)]
pub struct IppFlow {
    streams: Streams,
    st: State,
}

#[derive(Default)]
struct State {
    mode: Mode,
    client: Client,
    server: Server,
    pending: VecDeque<Ipp>,
    malformed_reported: bool,
}

#[derive(Default)]
enum Mode {
    /// Nothing from the client yet.
    #[default]
    Start,
    Http,
    /// The first record of a TLS client, until its ClientHello is read; then nothing more.
    Tls {
        hello: Vec<u8>,
        done: bool,
    },
}

/// The client's side: requests.
struct Client {
    framer: Framer,
    ipp: Option<ipp::Parser>,
    /// The operation whose request is being read.
    cur: Option<Ipp>,
    group: Option<GroupTag>,
    print: Option<PrintStream>,
    /// The IPP message being read broke: the rest of its body is scanned as print data.
    ipp_failed: bool,
    /// The operation being read was answered before its request ended (an early error, a
    /// printer answering once it has the attributes): it is written when the request ends.
    cur_answered: bool,
    /// What the client sent after HTTP or IPP framing broke: still scanned as print data, since
    /// a server that frames it otherwise may print it.
    unparsed: Option<PrintStream>,
}

impl Default for Client {
    fn default() -> Self {
        Client {
            framer: Framer::requests(),
            ipp: None,
            cur: None,
            group: None,
            print: None,
            ipp_failed: false,
            cur_answered: false,
            unparsed: None,
        }
    }
}

/// The server's side: answers.
struct Server {
    framer: Framer,
    ipp: Option<ipp::Parser>,
    /// The answer being read: its HTTP status and server, its IPP header, what it says.
    cur: Option<Answer>,
    group: Option<GroupTag>,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            framer: Framer::responses(),
            ipp: None,
            cur: None,
            group: None,
        }
    }
}

#[derive(Default)]
struct Answer {
    http_status: u16,
    server: Option<String>,
    status_code: Option<u16>,
    request_id: Option<u32>,
    job_id: Option<i32>,
    printer: IppPrinter,
    injection: Option<PpdInjection>,
    attributes: u32,
}

impl IppFlow {
    pub fn with_isns(isns: [Option<u32>; 2]) -> Self {
        IppFlow {
            streams: Streams::with_isns(isns),
            st: State::default(),
        }
    }

    /// The connection speaks TLS (IPPS).
    pub fn is_tls(&self) -> bool {
        matches!(self.st.mode, Mode::Tls { .. })
    }
}

impl Analyzer for IppFlow {
    fn on_packet(&mut self, shared: &mut Shared, cx: &PacketCx<'_, '_>, out: &mut Vec<AppEvent>) {
        let (st, stats) = (&mut self.st, &mut shared.doors);
        let conflict = self
            .streams
            .segment(cx.dir, cx.p.tcp, cx.p.payload, &mut |d| {
                st.deliver(stats, cx.dir, d, out)
            });
        if let Some(at) = conflict {
            let layer = Some(if self.is_tls() {
                AppProto::Tls
            } else {
                AppProto::Ipp
            });
            out.push(AppEvent::Anomaly(overlap_conflict(at, layer)));
        }
    }

    fn on_end(&mut self, shared: &mut Shared, out: &mut Vec<AppEvent>) {
        let (st, stats) = (&mut self.st, &mut shared.doors);
        self.streams
            .finish(&mut |dir, d| st.deliver(stats, dir, d, out));
        st.finish(stats, out);
    }
}

impl State {
    fn deliver(
        &mut self,
        stats: &mut DoorStats,
        dir: Dir,
        d: Delivery<'_>,
        out: &mut Vec<AppEvent>,
    ) {
        let Delivery::Data(b) = d else {
            // a hole: HTTP framing cannot resume inside a body it lost bytes of
            if matches!(self.mode, Mode::Http) {
                self.malformed(
                    stats,
                    "bytes lost in the capture: the rest of the connection is not read".into(),
                    None,
                    out,
                );
                self.mode = Mode::Tls {
                    hello: Vec::new(),
                    done: true,
                };
            }
            return;
        };
        if matches!(self.mode, Mode::Start) && dir == Dir::ToServer {
            self.mode = if tls::looks_like_tls(b) || b == [0x16] || b == [0x16, 0x03] {
                Mode::Tls {
                    hello: Vec::new(),
                    done: false,
                }
            } else {
                Mode::Http
            };
        }
        match (&mut self.mode, dir) {
            (Mode::Start, _) => {}
            (Mode::Tls { hello, done }, Dir::ToServer) if !*done => {
                let room = tls::MAX_RECORD.saturating_sub(hello.len());
                hello.extend_from_slice(&b[..b.len().min(room)]);
                match tls::client_hello(hello) {
                    tls::Hello::Incomplete => {}
                    h => {
                        *done = true;
                        stats.tls_sessions += 1;
                        let (version, sni) = match h {
                            tls::Hello::ClientHello { version, sni } => (
                                tls_version_name(version),
                                sni.map(|s| text::capped(s, text::MAX_FIELD)),
                            ),
                            _ => ("unknown".into(), None),
                        };
                        *hello = Vec::new();
                        out.push(AppEvent::Tls(Box::new(Tls { sni, version })));
                    }
                }
            }
            (Mode::Tls { .. }, _) => {}
            (Mode::Http, Dir::ToServer) => {
                if self.client.framer.failed() {
                    self.client.unparsed(b, out);
                    return;
                }
                let mut framer = std::mem::replace(&mut self.client.framer, Framer::requests());
                framer.feed(b, &mut |e| self.request_event(stats, e, out));
                if framer.failed() {
                    // the segment that broke the framing, whole: its body part is lost else
                    self.client.unparsed(b, out);
                }
                self.client.framer = framer;
            }
            (Mode::Http, Dir::ToClient) => {
                let mut framer = std::mem::replace(&mut self.server.framer, Framer::responses());
                framer.feed(b, &mut |e| self.response_event(stats, e, out));
                self.server.framer = framer;
            }
        }
    }

    fn finish(&mut self, stats: &mut DoorStats, out: &mut Vec<AppEvent>) {
        if let Mode::Tls { done: false, hello } = &self.mode {
            if !hello.is_empty() {
                stats.tls_sessions += 1;
                out.push(AppEvent::Tls(Box::new(Tls {
                    sni: None,
                    version: "unknown".into(),
                })));
            }
        }
        if matches!(self.mode, Mode::Http) {
            let mut framer = std::mem::replace(&mut self.client.framer, Framer::requests());
            framer.finish(&mut |e| self.request_event(stats, e, out));
            let mut framer = std::mem::replace(&mut self.server.framer, Framer::responses());
            framer.finish(&mut |e| self.response_event(stats, e, out));
        }
        // a request cut short still names its operation
        self.end_request(stats, out);
        if let Some(mut p) = self.client.unparsed.take() {
            p.finish(out);
        }
        for mut r in std::mem::take(&mut self.pending) {
            stats.ipp_unanswered += 1;
            r.status = None;
            out.push(AppEvent::Ipp(Box::new(r)));
        }
    }

    fn malformed(
        &mut self,
        stats: &mut DoorStats,
        reason: String,
        head: Option<&[u8]>,
        out: &mut Vec<AppEvent>,
    ) {
        stats.ipp_malformed += 1;
        if std::mem::replace(&mut self.malformed_reported, true) {
            return;
        }
        out.push(AppEvent::Anomaly(Anomaly {
            kind: AnomalyType::Applayer,
            event: AnomalyEvent::IppMalformed,
            layer: Some(AppProto::Ipp),
            reason: Some(reason),
            bytes: None,
            preview_hex: head.map(|h| text::hex_preview(h, 32)),
        }));
    }

    fn request_event(&mut self, stats: &mut DoorStats, e: HttpEvent<'_>, out: &mut Vec<AppEvent>) {
        match e {
            HttpEvent::Request(h) => {
                self.end_request(stats, out);
                stats.ipp_requests += 1;
                let s = |v: &str| text::capped(v.as_bytes(), text::MAX_FIELD);
                // IPP is POSTed; anything else (the web interface's GET) is counted only
                self.client.ipp = (h.method == "POST").then(ipp::Parser::new);
                self.client.group = None;
                self.client.cur = Some(Ipp::new(IppHttp {
                    method: s(h.method),
                    uri: s(h.target),
                    user_agent: h.user_agent.map(s),
                    chunked: h.chunked,
                    expect_continue: h.expect_continue,
                    ..IppHttp::default()
                }));
            }
            HttpEvent::Body(b) => {
                if self.client.ipp_failed {
                    self.client.unparsed(b, out);
                    return;
                }
                let Some(mut p) = self.client.ipp.take() else {
                    return;
                };
                p.feed(b, &mut |e| self.request_ipp(stats, e, out));
                self.client.ipp = Some(p);
                if self.client.ipp_failed {
                    // the piece that broke the message, whole: its document part is lost else
                    self.client.unparsed(b, out);
                }
            }
            HttpEvent::End { complete } => {
                if let Some(mut p) = self.client.ipp.take() {
                    if complete {
                        p.finish(&mut |e| self.request_ipp(stats, e, out));
                    }
                }
                self.end_request(stats, out);
            }
            HttpEvent::Error(e) => {
                self.malformed(stats, format!("HTTP request: {}", e.name()), None, out);
            }
            HttpEvent::Response(_) => {}
        }
    }

    /// The request read so far waits for its answer; its document's last job is written.
    fn end_request(&mut self, stats: &mut DoorStats, out: &mut Vec<AppEvent>) {
        if let Some(mut p) = self.client.print.take() {
            p.finish(out);
        }
        self.client.ipp = None;
        self.client.ipp_failed = false;
        let answered = std::mem::take(&mut self.client.cur_answered);
        let Some(r) = self.client.cur.take() else {
            return;
        };
        if r.version.is_empty() {
            // no IPP message in it (a GET of the web interface, an empty POST)
            return;
        }
        if answered {
            out.push(AppEvent::Ipp(Box::new(r)));
            return;
        }
        if self.pending.len() == MAX_PENDING {
            if let Some(old) = self.pending.pop_front() {
                stats.ipp_pending_evicted += 1;
                out.push(AppEvent::Ipp(Box::new(old)));
            }
        }
        self.pending.push_back(r);
    }

    fn request_ipp(&mut self, stats: &mut DoorStats, e: IppEvent<'_>, out: &mut Vec<AppEvent>) {
        let c = &mut self.client;
        let Some(r) = c.cur.as_mut() else {
            return;
        };
        match e {
            IppEvent::Header(h) => {
                r.version = format!("{}.{}", h.version.0, h.version.1);
                r.request_id = h.request_id;
                r.operation = h.operation();
                r.operation_id = h.code;
            }
            IppEvent::Group(g) => c.group = Some(g),
            IppEvent::Attribute(a) => {
                r.attributes_toserver += 1;
                if c.group == Some(GroupTag::Operation) && !a.additional {
                    let v = || {
                        Some(text::capped(
                            ipp::text_value(a.tag, a.value),
                            text::MAX_FIELD,
                        ))
                    };
                    match a.name {
                        b"printer-uri" | b"job-uri" if r.printer_uri.is_none() => {
                            r.printer_uri = v()
                        }
                        b"requesting-user-name" => r.requesting_user_name = v(),
                        b"job-name" => r.job_name = v(),
                        b"document-format" => r.document_format = v(),
                        b"job-id" => r.job_id = integer(&a),
                        _ => {}
                    }
                }
            }
            IppEvent::EndOfAttributes => {}
            IppEvent::Data(d) => {
                *r.document_bytes.get_or_insert(0) += d.len() as u64;
                c.print
                    .get_or_insert_with(PrintStream::default)
                    .data(d, out);
            }
            IppEvent::Error(e) => {
                c.ipp_failed = true;
                self.malformed(stats, format!("IPP request: {e}"), None, out);
            }
        }
    }

    fn response_event(&mut self, stats: &mut DoorStats, e: HttpEvent<'_>, out: &mut Vec<AppEvent>) {
        match e {
            HttpEvent::Response(h) => {
                self.end_response(stats, out);
                if (100..200).contains(&h.code) {
                    // 100 Continue: the body of the request comes now
                    return;
                }
                self.server.ipp = Some(ipp::Parser::new());
                self.server.group = None;
                self.server.cur = Some(Answer {
                    http_status: h.code,
                    server: h
                        .server
                        .map(|s| text::capped(s.as_bytes(), text::MAX_FIELD)),
                    ..Answer::default()
                });
            }
            HttpEvent::Body(b) => {
                let Some(mut p) = self.server.ipp.take() else {
                    return;
                };
                // what follows an answer's attributes (a PPD, a document) is not read
                if !p.in_data() {
                    p.feed(b, &mut |e| self.response_ipp(stats, e, out));
                }
                self.server.ipp = Some(p);
            }
            HttpEvent::End { .. } => self.end_response(stats, out),
            HttpEvent::Error(e) => {
                self.malformed(stats, format!("HTTP response: {}", e.name()), None, out);
            }
            HttpEvent::Request(_) => {}
        }
    }

    fn response_ipp(&mut self, stats: &mut DoorStats, e: IppEvent<'_>, out: &mut Vec<AppEvent>) {
        let s = &mut self.server;
        let Some(a) = s.cur.as_mut() else {
            return;
        };
        match e {
            IppEvent::Header(h) => {
                a.status_code = Some(h.code);
                a.request_id = Some(h.request_id);
            }
            IppEvent::Group(g) => s.group = Some(g),
            IppEvent::Attribute(attr) => {
                a.attributes += 1;
                let value = ipp::text_value(attr.tag, attr.value);
                if attr.tag.is_text() && a.injection.is_none() && is_ppd_injection(value) {
                    a.injection = Some(PpdInjection {
                        attribute: text::capped(attr.name, text::MAX_FIELD),
                        value: text::capped(value, INJECTION_SHOWN),
                    });
                }
                if attr.additional {
                    return;
                }
                let v = || Some(text::capped(value, text::MAX_FIELD));
                let p = &mut a.printer;
                match (s.group, attr.name) {
                    (Some(GroupTag::Printer), b"printer-make-and-model") => p.make_and_model = v(),
                    (Some(GroupTag::Printer), b"printer-device-id") => p.device_id = v(),
                    (Some(GroupTag::Printer), b"printer-firmware-string-version") => {
                        p.firmware = v()
                    }
                    (Some(GroupTag::Printer), b"printer-name") => p.name = v(),
                    (Some(GroupTag::Printer), b"printer-info") => p.info = v(),
                    (Some(GroupTag::Printer), b"printer-state") => p.state = integer(&attr),
                    (Some(GroupTag::Job), b"job-id") => a.job_id = integer(&attr),
                    _ => {}
                }
            }
            IppEvent::EndOfAttributes | IppEvent::Data(_) => {}
            IppEvent::Error(e) => {
                self.malformed(stats, format!("IPP response: {e}"), None, out);
            }
        }
    }

    /// An answer ended: it completes the oldest operation waiting (HTTP/1.1 answers in order).
    fn end_response(&mut self, stats: &mut DoorStats, out: &mut Vec<AppEvent>) {
        self.server.ipp = None;
        let Some(a) = self.server.cur.take() else {
            return;
        };
        stats.ipp_responses += 1;
        // Nothing waiting, but a request is still being read: the server answered before its
        // end (an early error); the answer is that request's, written when it ends.
        let early = self.pending.is_empty()
            && !self.client.cur_answered
            && self
                .client
                .cur
                .as_ref()
                .is_some_and(|r| !r.version.is_empty());
        if early {
            if let Some(r) = self.client.cur.as_mut() {
                answer(r, a);
                self.client.cur_answered = true;
            }
            return;
        }
        // an answer whose request was not seen (picked up mid-stream) stands alone
        let mut r = self.pending.pop_front().unwrap_or_else(|| Ipp {
            request_id: a.request_id.unwrap_or(0),
            ..Ipp::new(IppHttp::default())
        });
        answer(&mut r, a);
        out.push(AppEvent::Ipp(Box::new(r)));
    }
}

impl Client {
    fn unparsed(&mut self, b: &[u8], out: &mut Vec<AppEvent>) {
        self.unparsed
            .get_or_insert_with(PrintStream::default)
            .data(b, out);
    }
}

/// An answer into the operation it completes.
fn answer(r: &mut Ipp, a: Answer) {
    r.http.status = Some(a.http_status);
    r.http.server = a.server;
    r.status_code = a.status_code;
    r.status = a.status_code.map(|c| ipp::status_name(c).to_owned());
    r.job_id = r.job_id.or(a.job_id);
    r.printer = (!a.printer.is_empty()).then_some(a.printer);
    r.ppd_injection = a.injection;
    r.attributes_toclient = Some(a.attributes);
}

/// A 4-byte integer or enum value.
fn integer(a: &Attribute<'_>) -> Option<i32> {
    let b: [u8; 4] = a.value.try_into().ok()?;
    Some(i32::from_be_bytes(b))
}

/// A text value that would add lines to a PPD built from it: a line break, or the PPD
/// keywords that make CUPS run a command.
pub fn is_ppd_injection(value: &[u8]) -> bool {
    value.iter().any(|&c| c == b'\n' || c == b'\r')
        || memchr::memmem::find(value, b"*FoomaticRIPCommandLine").is_some()
        || memchr::memmem::find(value, b"*cupsFilter2").is_some()
}

#[cfg(test)]
mod tests;
