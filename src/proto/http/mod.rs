//! HTTP/1.1 message framing (RFC 9112) for IPP, which travels in HTTP POSTs on TCP 631. One push
//! parser per direction turns in-order stream bytes, cut anywhere, into message heads, body bytes
//! with the chunk framing removed, and message ends. `httparse` reads the heads; the framer adds
//! what it leaves to its caller: where a body ends (RFC 9112 §6.3), chunked coding, keep-alive and
//! pipelining, and caps that keep memory fixed whatever the peer sends.
//!
//! What every message gives, in order: its head (`Request` or `Response`), its body as zero or
//! more `Body` pieces, then exactly one `End` (interim 1xx responses included, with no body).
//! Bodies are delimited as RFC 9112 §6.3 says: Transfer-Encoding ending in chunked wins over any
//! Content-Length, which is then only reported; otherwise a Content-Length that is not a decimal
//! number, overflows 64 bits or is given twice with different values is `BadContentLength`, not
//! a guess. An `Error` replaces whatever was still to come:
//! the framer stops there for good, because after broken framing nothing says where the next
//! message starts, and guessing would invent messages out of body bytes.

use httparse::Status;
use memchr::memchr;

/// The most bytes a message head may take (request or status line, header fields and the empty
/// line). Real IPP heads are a few hundred bytes; servers refuse far less than this already.
pub const MAX_HEAD: usize = 16 * 1024;
/// The most header fields a head may carry.
pub const MAX_HEADERS: usize = 64;
/// The longest chunk-size line, extensions and CRLF included. Senders put nothing in extensions;
/// a long one is only ever an attempt to make a parser buffer without end.
pub const MAX_CHUNK_LINE: usize = 1024;
/// The longest trailer section after the last chunk, its empty line included.
pub const MAX_TRAILERS: usize = MAX_HEAD;

/// Why a direction's framing broke (`name()` is what records carry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum HttpError {
    #[error("message head longer than {} bytes", MAX_HEAD)]
    HeadTooLong,
    #[error("more than {} header fields", MAX_HEADERS)]
    TooManyHeaders,
    #[error("malformed request line, status line or header field")]
    BadHead,
    #[error(
        "Content-Length not a decimal number, larger than 64 bits, or given twice differently"
    )]
    BadContentLength,
    #[error("request Transfer-Encoding whose last coding is not chunked")]
    BadTransferEncoding,
    #[error("malformed chunk-size line or chunk terminator")]
    BadChunk,
    #[error("chunk-size line longer than {} bytes", MAX_CHUNK_LINE)]
    ChunkLineTooLong,
    #[error("trailer section longer than {} bytes", MAX_TRAILERS)]
    TrailersTooLong,
    #[error("the connection ended inside a message head")]
    TruncatedHead,
}

impl HttpError {
    /// Stable machine-readable name for records and counters.
    pub fn name(self) -> &'static str {
        match self {
            HttpError::HeadTooLong => "head_too_long",
            HttpError::TooManyHeaders => "too_many_headers",
            HttpError::BadHead => "bad_head",
            HttpError::BadContentLength => "bad_content_length",
            HttpError::BadTransferEncoding => "bad_transfer_encoding",
            HttpError::BadChunk => "bad_chunk",
            HttpError::ChunkLineTooLong => "chunk_line_too_long",
            HttpError::TrailersTooLong => "trailers_too_long",
            HttpError::TruncatedHead => "truncated_head",
        }
    }
}

/// A request's head. Header values that are not UTF-8 are given as `None`; of a field sent more
/// than once, the first is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestHead<'a> {
    pub method: &'a str,
    pub target: &'a str,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor_version: u8,
    /// The Content-Length when one was sent and is valid. Alongside `chunked` it is only
    /// reported, never used for framing (chunked wins, RFC 9112 §6.3); both set is the shape of a
    /// request-smuggling attempt.
    pub content_length: Option<u64>,
    /// The last transfer coding is chunked: the body is framed by chunks.
    pub chunked: bool,
    /// `Expect: 100-continue`: the client may wait for an interim response before the body.
    pub expect_continue: bool,
    pub content_type: Option<&'a str>,
    pub host: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// A response's head, interim (1xx) ones included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseHead<'a> {
    pub code: u16,
    /// Empty when absent or not valid text.
    pub reason: &'a str,
    pub minor_version: u8,
    /// As for requests: reported, and used for framing only without chunked coding.
    pub content_length: Option<u64>,
    pub chunked: bool,
    pub content_type: Option<&'a str>,
    pub server: Option<&'a str>,
}

/// What the framer found. Heads and bodies borrow from the bytes fed (a head that straddled
/// `feed` calls borrows from the framer's buffer); body bytes are always the caller's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpEvent<'a> {
    Request(RequestHead<'a>),
    Response(ResponseHead<'a>),
    /// Decoded body bytes, chunk framing removed; a body arrives in as many pieces as it was fed.
    Body(&'a [u8]),
    /// The message's body ended: `complete` is false when the connection ended first.
    End {
        complete: bool,
    },
    /// The framing broke; nothing more is reported for this direction.
    Error(HttpError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Requests,
    Responses,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Between messages or inside a head (its bytes so far in `buf`).
    Head,
    /// This many body bytes still to come.
    Length(u64),
    /// Inside a chunk-size line (its bytes so far in `buf`).
    ChunkSize,
    /// This many bytes of the current chunk still to come.
    ChunkData(u64),
    /// The CRLF after a chunk's data; `cr` once the CR was seen.
    ChunkEnd { cr: bool },
    /// The trailer section after the last chunk: `len` bytes so far, and whether the next byte
    /// starts a line (an empty line ends the message).
    Trailers { at_line_start: bool, len: usize },
    /// A response body delimited by the connection's end.
    UntilClose,
    /// After 101 Switching Protocols the direction no longer speaks HTTP/1.1.
    Upgraded,
    /// After an error.
    Stopped,
    /// After `finish`.
    Finished,
}

/// How a message's body is delimited, decided from its head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    NoBody,
    Length(u64),
    Chunked,
    UntilClose,
    Upgrade,
}

/// One direction of an HTTP/1.x connection, framed into messages. Memory is fixed: a buffer of
/// at most `MAX_HEAD` bytes for a head (or `MAX_CHUNK_LINE` for a chunk-size line) that
/// straddles `feed` calls; body bytes are handed on, never buffered.
///
/// The response side cannot know the request a response answers, so a response to HEAD (which
/// has no body whatever its Content-Length says) is misframed; IPP never sends HEAD.
#[derive(Clone, Debug)]
pub struct Framer {
    side: Side,
    state: State,
    buf: Vec<u8>,
}

impl Framer {
    /// The client's side: requests.
    pub fn requests() -> Framer {
        Framer::new(Side::Requests)
    }

    /// The server's side: responses.
    pub fn responses() -> Framer {
        Framer::new(Side::Responses)
    }

    fn new(side: Side) -> Framer {
        Framer {
            side,
            state: State::Head,
            buf: Vec::new(),
        }
    }

    /// True once an error was reported: the rest of the direction is ignored.
    pub fn failed(&self) -> bool {
        self.state == State::Stopped
    }

    /// True between messages with nothing of the next one seen yet.
    pub fn at_boundary(&self) -> bool {
        self.state == State::Head && self.buf.is_empty()
    }

    /// Feeds in-order stream bytes, split anywhere; `out` gets what they complete.
    pub fn feed(&mut self, mut data: &[u8], out: &mut impl FnMut(HttpEvent<'_>)) {
        while !data.is_empty() {
            let before = self.state;
            let used = match self.state {
                State::Head => self.head(data, out),
                State::Length(rest) => {
                    let n = body_piece(rest, data.len());
                    out(HttpEvent::Body(&data[..n]));
                    if rest == n as u64 {
                        out(HttpEvent::End { complete: true });
                        self.state = State::Head;
                    } else {
                        self.state = State::Length(rest - n as u64);
                    }
                    n
                }
                State::ChunkSize => self.chunk_size(data, out),
                State::ChunkData(rest) => {
                    let n = body_piece(rest, data.len());
                    out(HttpEvent::Body(&data[..n]));
                    self.state = if rest == n as u64 {
                        State::ChunkEnd { cr: false }
                    } else {
                        State::ChunkData(rest - n as u64)
                    };
                    n
                }
                State::ChunkEnd { cr } => {
                    match (cr, data[0]) {
                        (false, b'\r') => self.state = State::ChunkEnd { cr: true },
                        (true, b'\n') => self.state = State::ChunkSize,
                        _ => self.stop(HttpError::BadChunk, out),
                    }
                    1
                }
                State::Trailers { at_line_start, len } => {
                    self.trailers(data, at_line_start, len, out)
                }
                State::UntilClose => {
                    out(HttpEvent::Body(data));
                    data.len()
                }
                State::Upgraded | State::Stopped | State::Finished => return,
            };
            // Every state consumes a byte or changes; the check keeps a slip in that argument
            // from becoming an endless loop.
            if used == 0 && self.state == before {
                return;
            }
            data = &data[used.min(data.len())..];
        }
    }

    /// The connection's end: a body delimited by it ends complete, one cut short ends
    /// incomplete, a head cut short is an error. Later feeds are ignored.
    pub fn finish(&mut self, out: &mut impl FnMut(HttpEvent<'_>)) {
        match self.state {
            State::Head if !self.buf.is_empty() => {
                // The head was only parsed at line ends and at the cap; a bad byte since the last
                // line end is still a bad head, not a short one.
                let e = match parse_head(self.side, &self.buf) {
                    Err(e) => e,
                    Ok(_) => HttpError::TruncatedHead,
                };
                return self.stop(e, out);
            }
            State::Head | State::Upgraded | State::Stopped | State::Finished => {}
            State::UntilClose => out(HttpEvent::End { complete: true }),
            State::Length(_)
            | State::ChunkSize
            | State::ChunkData(_)
            | State::ChunkEnd { .. }
            | State::Trailers { .. } => out(HttpEvent::End { complete: false }),
        }
        if self.state != State::Stopped {
            self.state = State::Finished;
        }
        self.buf = Vec::new();
    }

    fn stop(&mut self, e: HttpError, out: &mut impl FnMut(HttpEvent<'_>)) {
        out(HttpEvent::Error(e));
        self.state = State::Stopped;
        self.buf = Vec::new();
    }

    /// Reads head bytes; returns how many of `data` it used. The head is parsed only when bytes
    /// with a line feed arrive (a head can only end at one) or the cap is reached, so a head fed
    /// a byte at a time costs a parse per line, not per byte.
    fn head(&mut self, data: &[u8], out: &mut impl FnMut(HttpEvent<'_>)) -> usize {
        if self.buf.is_empty() {
            // Empty lines before a message are skipped: RFC 9112 §2.2 asks servers to, because old
            // clients send a CRLF after a POST body.
            let skipped = data
                .iter()
                .position(|b| !matches!(b, b'\r' | b'\n'))
                .unwrap_or(data.len());
            let window = &data[skipped..];
            let window = &window[..window.len().min(MAX_HEAD)];
            if window.is_empty() {
                return skipped;
            }
            let full = window.len() == MAX_HEAD;
            if full || memchr(b'\n', window).is_some() {
                // Zero-copy: the whole head is usually in one segment.
                match parse_head(self.side, window) {
                    Ok(Some((event, framing, n))) => {
                        self.start(event, framing, out);
                        return skipped + n;
                    }
                    Ok(None) if !full => {}
                    Ok(None) => {
                        self.stop(HttpError::HeadTooLong, out);
                        return data.len();
                    }
                    Err(e) => {
                        self.stop(e, out);
                        return data.len();
                    }
                }
            }
            self.buf.extend_from_slice(window);
            return skipped + window.len();
        }
        let old = self.buf.len();
        let take = data.len().min(MAX_HEAD - old);
        self.buf.extend_from_slice(&data[..take]);
        let full = self.buf.len() == MAX_HEAD;
        if !full && memchr(b'\n', &data[..take]).is_none() {
            return take;
        }
        match parse_head(self.side, &self.buf) {
            Ok(Some((event, framing, n))) => {
                // The head ends in the bytes just added: every earlier line end was parsed
                // already and found the head unfinished.
                let used = n.saturating_sub(old);
                out(event);
                self.buf.clear();
                self.after_head(framing, out);
                used
            }
            Ok(None) if !full => take,
            Ok(None) => {
                self.stop(HttpError::HeadTooLong, out);
                data.len()
            }
            Err(e) => {
                self.stop(e, out);
                data.len()
            }
        }
    }

    fn start(
        &mut self,
        head: HttpEvent<'_>,
        framing: Framing,
        out: &mut impl FnMut(HttpEvent<'_>),
    ) {
        out(head);
        self.after_head(framing, out);
    }

    fn after_head(&mut self, framing: Framing, out: &mut impl FnMut(HttpEvent<'_>)) {
        self.state = match framing {
            Framing::NoBody | Framing::Length(0) => {
                out(HttpEvent::End { complete: true });
                State::Head
            }
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::ChunkSize,
            Framing::UntilClose => State::UntilClose,
            Framing::Upgrade => {
                out(HttpEvent::End { complete: true });
                self.buf = Vec::new();
                State::Upgraded
            }
        };
    }

    /// Reads a chunk-size line (httparse checks it: hex size, optional extensions, CRLF).
    fn chunk_size(&mut self, data: &[u8], out: &mut impl FnMut(HttpEvent<'_>)) -> usize {
        let room = MAX_CHUNK_LINE - self.buf.len().min(MAX_CHUNK_LINE);
        let scan = &data[..data.len().min(room)];
        let Some(lf) = memchr(b'\n', scan) else {
            if scan.len() == room {
                self.stop(HttpError::ChunkLineTooLong, out);
                return data.len();
            }
            self.buf.extend_from_slice(scan);
            return scan.len();
        };
        let line: &[u8] = if self.buf.is_empty() {
            &data[..=lf]
        } else {
            self.buf.extend_from_slice(&data[..=lf]);
            &self.buf
        };
        let len = line.len();
        // The line is cut at its LF before parsing: httparse takes any byte in an extension,
        // a bare LF included, and would otherwise read on into the chunk's data.
        let parsed = httparse::parse_chunk_size(line);
        self.buf.clear();
        match parsed {
            Ok(Status::Complete((n, 0))) if n == len => {
                self.state = State::Trailers {
                    at_line_start: true,
                    len: 0,
                }
            }
            Ok(Status::Complete((n, size))) if n == len => self.state = State::ChunkData(size),
            _ => {
                self.stop(HttpError::BadChunk, out);
                return data.len();
            }
        }
        lf + 1
    }

    /// Skips the trailer fields up to the empty line that ends the message. Trailers are not
    /// reported: nothing in IPP sends them, and their only use here would be smuggling headers
    /// past a monitor that read heads alone.
    fn trailers(
        &mut self,
        data: &[u8],
        mut at_line_start: bool,
        mut len: usize,
        out: &mut impl FnMut(HttpEvent<'_>),
    ) -> usize {
        for (i, &b) in data.iter().enumerate() {
            len += 1;
            if len > MAX_TRAILERS {
                self.stop(HttpError::TrailersTooLong, out);
                return data.len();
            }
            match b {
                b'\n' if at_line_start => {
                    out(HttpEvent::End { complete: true });
                    self.state = State::Head;
                    return i + 1;
                }
                b'\n' => at_line_start = true,
                b'\r' => {}
                _ => at_line_start = false,
            }
        }
        self.state = State::Trailers { at_line_start, len };
        data.len()
    }
}

/// How much of `avail` fed bytes belong to a body with `rest` bytes to come (at least one of
/// each).
fn body_piece(rest: u64, avail: usize) -> usize {
    usize::try_from(rest).map_or(avail, |r| r.min(avail))
}

/// Parses a head out of `buf`: `None` while unfinished, else the event, how the body is framed
/// and the head's length.
fn parse_head(
    side: Side,
    buf: &[u8],
) -> Result<Option<(HttpEvent<'_>, Framing, usize)>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let bad = |e: httparse::Error| match e {
        httparse::Error::TooManyHeaders => HttpError::TooManyHeaders,
        _ => HttpError::BadHead,
    };
    match side {
        Side::Requests => {
            let mut req = httparse::Request::new(&mut headers);
            let Status::Complete(n) = req.parse(buf).map_err(bad)? else {
                return Ok(None);
            };
            let f = Fields::read(req.headers);
            // A request without framing has no body (RFC 9112 §6.3 item 7); one whose coding
            // the server cannot find the end of is an error (item 4).
            let framing = if f.chunked {
                Framing::Chunked
            } else if f.transfer_encoding {
                return Err(HttpError::BadTransferEncoding);
            } else {
                match f.content_length {
                    Ok(Some(len)) => Framing::Length(len),
                    Ok(None) => Framing::NoBody,
                    Err(()) => return Err(HttpError::BadContentLength),
                }
            };
            let head = RequestHead {
                method: req.method.unwrap_or(""),
                target: req.path.unwrap_or(""),
                minor_version: req.version.unwrap_or(1),
                content_length: f.content_length.ok().flatten(),
                chunked: f.chunked,
                expect_continue: f.expect_continue,
                content_type: f.content_type,
                host: f.host,
                user_agent: f.user_agent,
            };
            Ok(Some((HttpEvent::Request(head), framing, n)))
        }
        Side::Responses => {
            let mut resp = httparse::Response::new(&mut headers);
            let Status::Complete(n) = resp.parse(buf).map_err(bad)? else {
                return Ok(None);
            };
            let f = Fields::read(resp.headers);
            let code = resp.code.unwrap_or(0);
            // RFC 9112 §6.3: 1xx, 204 and 304 have no body whatever their fields say; after 101
            // the connection speaks another protocol; a coding other than chunked, or no
            // framing at all, runs to the connection's end.
            let framing = if code == 101 {
                Framing::Upgrade
            } else if (100..200).contains(&code) || code == 204 || code == 304 {
                Framing::NoBody
            } else if f.chunked {
                Framing::Chunked
            } else if f.transfer_encoding {
                Framing::UntilClose
            } else {
                match f.content_length {
                    Ok(Some(len)) => Framing::Length(len),
                    Ok(None) => Framing::UntilClose,
                    Err(()) => return Err(HttpError::BadContentLength),
                }
            };
            let head = ResponseHead {
                code,
                reason: resp.reason.unwrap_or(""),
                minor_version: resp.version.unwrap_or(1),
                content_length: f.content_length.ok().flatten(),
                chunked: f.chunked,
                content_type: f.content_type,
                server: f.server,
            };
            Ok(Some((HttpEvent::Response(head), framing, n)))
        }
    }
}

/// The header fields the framer reads.
struct Fields<'a> {
    /// `Err` when a value is not a decimal number, overflows 64 bits, or differs from another.
    content_length: Result<Option<u64>, ()>,
    transfer_encoding: bool,
    chunked: bool,
    expect_continue: bool,
    content_type: Option<&'a str>,
    host: Option<&'a str>,
    user_agent: Option<&'a str>,
    server: Option<&'a str>,
}

impl<'a> Fields<'a> {
    fn read(headers: &[httparse::Header<'a>]) -> Fields<'a> {
        let mut f = Fields {
            content_length: Ok(None),
            transfer_encoding: false,
            chunked: false,
            expect_continue: false,
            content_type: None,
            host: None,
            user_agent: None,
            server: None,
        };
        let mut last_coding: &[u8] = b"";
        for h in headers {
            let name = h.name;
            let value = h.value.trim_ascii();
            let text = || std::str::from_utf8(value).ok();
            if name.eq_ignore_ascii_case("content-length") {
                // RFC 9110 §8.6: a list of one repeated value (or the field repeated) may be
                // taken as that value; anything else is an unrecoverable framing error.
                for part in value.split(|&b| b == b',') {
                    f.content_length = match (f.content_length, decimal(part.trim_ascii())) {
                        (Ok(None), Some(v)) => Ok(Some(v)),
                        (Ok(Some(a)), Some(b)) if a == b => Ok(Some(a)),
                        _ => Err(()),
                    };
                }
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                f.transfer_encoding = true;
                if let Some(last) = value
                    .split(|&b| b == b',')
                    .map(<[u8]>::trim_ascii)
                    .rfind(|c| !c.is_empty())
                {
                    last_coding = last;
                }
            } else if name.eq_ignore_ascii_case("expect") {
                f.expect_continue |= value.eq_ignore_ascii_case(b"100-continue");
            } else if name.eq_ignore_ascii_case("content-type") {
                f.content_type = f.content_type.or_else(text);
            } else if name.eq_ignore_ascii_case("host") {
                f.host = f.host.or_else(text);
            } else if name.eq_ignore_ascii_case("user-agent") {
                f.user_agent = f.user_agent.or_else(text);
            } else if name.eq_ignore_ascii_case("server") {
                f.server = f.server.or_else(text);
            }
        }
        f.chunked = f.transfer_encoding && last_coding.eq_ignore_ascii_case(b"chunked");
        f
    }
}

/// A non-empty run of ASCII digits as a u64; `None` on anything else or on overflow.
fn decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests;
