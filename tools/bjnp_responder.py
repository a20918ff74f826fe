#!/usr/bin/env python3
"""Minimal Canon BJNP/MFNP device emulator, used only to record sample captures.

Real BJNP clients (nmap's bjnp scripts, the CUPS ``bjnp`` backend, SANE's
pixma backend) refuse to say much unless a device answers them, and no real
Canon printer is reachable from the recording machine.  This program plays
the device side just well enough for those clients to run their normal
exchange, so that tcpdump records genuine *client* packets next to plausible
device answers.

Safety properties (the reason this file exists in this shape):
  * it only ever answers: every datagram it sends goes to the source address
    of a datagram it received, and TCP replies go down the connection the
    client opened.  It never initiates traffic and never broadcasts;
  * it binds to one address (loopback by default);
  * it stops by itself after ``--timeout`` seconds or ``--max-messages``
    handled requests, whichever comes first.

Wire format reminders (docs/PROTOCOLS.md §1-3): a 16-byte
big-endian header ``magic[4] dev_type u8, code u8, unknown u16, seq u16,
session u16, payload_len u32`` followed by ``payload_len`` bytes.

Python 3 standard library only, so it runs on any machine with python3.
"""

import argparse
import ipaddress
import selectors
import signal
import socket
import struct
import sys
import time

HEADER = struct.Struct(">4sBBHHHI")
HEADER_LEN = HEADER.size  # 16

MAGICS = (b"BJNP", b"MFNP")

CMD_DISCOVER = 0x01
CMD_JOB_DETAILS = 0x10
CMD_CLOSE = 0x11
CMD_STATUS = 0x20  # UDP: printer status; TCP: scanner data read
CMD_DATA = 0x21  # TCP: print data (8611) or scanner command (8612)
CMD_GET_ID = 0x30
CMD_POLL = 0x32

RESPONSE_BIT = 0x80

DEFAULT_PRINTER_ID = (
    "MFG:Canon;CMD:BJL,BJRaster3,BSCCe,NCCe,IVEC,IVECPLI;"
    "MDL:MG5500 series;CLS:PRINTER;DES:Canon MG5500 series;VER:1.050;"
)
DEFAULT_SCANNER_ID = (
    "MFG:Canon;CMD:MultiPass 2.1,IVEC;MDL:MG5500 series;"
    "CLS:IMAGE;DES:Canon MG5500 series;VER:1.050;"
)
# cups-bjnp only prints when BST has neither the "printing" (0x80) nor the
# "busy" (0x20) bit; CTK entries are "cartridge,state" separated by ",/,"
# and must list the same cartridges as CIR, or it logs a mismatch; a DJS
# value other than "ID" means paper is present.  It also rejects a status
# payload shorter than 16 bytes.  Ink levels are made up but plausible.
DEFAULT_STATUS = (
    "BST:00;CIR:BK=80,C=70,M=60,Y=50;"
    "CTK:BK,SET,/,C,SET,/,M,SET,/,Y,SET;DJS:NO;"
)

# Caps that keep a misbehaving or hostile peer from growing our memory.
MAX_TCP_BUFFER = 1 << 20
MAX_TCP_CONNECTIONS = 8


def log(args, msg):
    if not args.quiet:
        print(f"[bjnp-responder {time.strftime('%H:%M:%S')}] {msg}",
              file=sys.stderr, flush=True)


def make_header(magic, dev_type, code, seq, session, payload_len):
    # Bytes 6-7 ("unknown1") are zero in every real capture and client, so we
    # always send zero rather than echoing whatever the client put there.
    return HEADER.pack(magic, dev_type, code, 0, seq, session, payload_len)


class Device:
    """State shared by all listeners: identity strings, session id, counters."""

    def __init__(self, args):
        self.args = args
        self.mac = bytes.fromhex(args.mac.replace(":", ""))
        if len(self.mac) != 6:
            raise SystemExit("--mac must be 6 bytes")
        self.device_ip = ipaddress.IPv4Address(args.device_ip or args.addr).packed
        self.handled = 0

    def identity_for(self, port, dev_type):
        # The printer and scanner halves of a Canon multifunction device give
        # different CMD sets; the port says which half the client asked for,
        # and dev_type is the fallback for any other port (e.g. MFNP 8610).
        if port == 8611:
            return self.args.printer_id
        if port in (8610, 8612):
            return self.args.scanner_id
        return self.args.scanner_id if dev_type == 2 else self.args.printer_id

    def udp_payload(self, magic, dev_type, code, port):
        """Return the response payload for a UDP request, or None to stay silent."""
        if code == CMD_DISCOVER:
            # hardware type Ethernet, protocol IPv4, MAC length, address length
            return b"\x00\x01\x08\x00\x06\x04" + self.mac + self.device_ip
        if code == CMD_GET_ID:
            ident = self.identity_for(port, dev_type).encode("ascii")
            if magic == b"MFNP":
                # MFNP devices send the bare ID; only BJNP prefixes a length.
                return ident
            # The BJNP length prefix counts its own two bytes (IEEE 1284 style);
            # cups and nmap subtract 2, so a missing +2 would truncate the ID.
            return struct.pack(">H", len(ident) + 2) + ident
        if code == CMD_JOB_DETAILS or code == CMD_CLOSE:
            return b""
        if code == CMD_STATUS:
            status = self.args.status.encode("ascii")
            return struct.pack(">H", len(status) + 2) + status
        if code == CMD_POLL:
            # result[4]: all zero = "no button pressed, no dialog restart";
            # then dialog, the 0x14 the client sends, the key SANE echoes in a
            # later reset poll, and 20 bytes of (empty) button status.
            return struct.pack(">4sIII20s", b"\x00" * 4, 1, 0x14, 0, b"\x00" * 20)
        return None

    def session_for(self, code, req_session):
        # The device hands out the session id in the job-details answer; later
        # commands carry it back, and we simply echo what they carry.  The
        # scanner poll is defined to use session 0, so we keep 0 there.
        if code == CMD_JOB_DETAILS:
            return self.args.session_id
        if code == CMD_POLL:
            return 0
        return req_session

    def count(self):
        self.handled += 1
        return self.handled >= self.args.max_messages


def parse_header(data):
    magic, dev_type, code, unknown1, seq, session, plen = HEADER.unpack_from(data)
    return magic, dev_type, code, unknown1, seq, session, plen


def handle_udp(dev, sock, port):
    args = dev.args
    try:
        data, src = sock.recvfrom(65535)
    except (BlockingIOError, InterruptedError):
        return False
    except OSError as exc:  # e.g. ICMP error reported on the socket
        log(args, f"udp/{port}: recv error {exc}")
        return False
    if len(data) < HEADER_LEN:
        log(args, f"udp/{port}: {len(data)}-byte datagram from {src}, too short, ignored")
        return dev.count()
    magic, dev_type, code, _u, seq, session, plen = parse_header(data)
    if magic not in MAGICS:
        log(args, f"udp/{port}: bad magic {magic!r} from {src}, ignored")
        return dev.count()
    if dev_type & RESPONSE_BIT:
        # A response (ours looped back, or another device's): answering would
        # start a ping-pong between two responders.
        log(args, f"udp/{port}: response-type datagram from {src}, ignored")
        return dev.count()
    payload = dev.udp_payload(magic, dev_type, code, port)
    log(args, f"udp/{port}: {magic.decode()} type={dev_type} code=0x{code:02x} "
              f"seq={seq} session={session} len={plen} from {src[0]}:{src[1]}"
              + ("" if payload is not None else " -> no answer"))
    if payload is not None:
        reply = make_header(magic, dev_type | RESPONSE_BIT, code, seq,
                            dev.session_for(code, session), len(payload)) + payload
        try:
            sock.sendto(reply, src)
        except OSError as exc:
            log(args, f"udp/{port}: send to {src} failed: {exc}")
    return dev.count()


class TcpConn:
    """One client stream; BJNP messages can straddle TCP segment boundaries."""

    def __init__(self, sock, peer, port):
        self.sock = sock
        self.peer = peer
        self.port = port
        self.buf = bytearray()


def tcp_reply(code, payload):
    if code == CMD_DATA:
        # Print data (8611) and scanner commands (8612) are both acknowledged
        # with "bytes accepted"; accepting everything keeps clients from
        # entering their busy/throttle retry loops.  A zero-length message is
        # a keep-alive and is acked with 0, which cups expects.
        return struct.pack(">I", len(payload))
    if code == CMD_STATUS:
        # Scanner data read: answer with a short block.  0x0606 is the pixma
        # "command OK" status word, so a client parsing it sees success.
        return b"\x06\x06" + b"\x00" * 6
    return None


def handle_tcp_data(dev, conn):
    """Read from a client stream; return (stop_everything, close_this_conn)."""
    args = dev.args
    try:
        chunk = conn.sock.recv(65536)
    except (BlockingIOError, InterruptedError):
        return False, False
    except OSError as exc:
        log(args, f"tcp/{conn.port}: recv error from {conn.peer}: {exc}")
        return False, True
    if not chunk:
        log(args, f"tcp/{conn.port}: {conn.peer[0]}:{conn.peer[1]} closed")
        return False, True
    conn.buf += chunk
    if len(conn.buf) > MAX_TCP_BUFFER:
        log(args, f"tcp/{conn.port}: buffer cap exceeded, dropping {conn.peer}")
        return False, True
    while len(conn.buf) >= HEADER_LEN:
        magic, dev_type, code, _u, seq, session, plen = parse_header(conn.buf)
        if magic not in MAGICS:
            # Once framing is lost there is no way to resynchronise reliably.
            log(args, f"tcp/{conn.port}: bad magic {bytes(conn.buf[:4])!r}, closing")
            return dev.count(), True
        if plen > MAX_TCP_BUFFER:
            log(args, f"tcp/{conn.port}: payload_len {plen} too large, closing")
            return dev.count(), True
        if len(conn.buf) < HEADER_LEN + plen:
            break  # wait for the rest of this message
        payload = bytes(conn.buf[HEADER_LEN:HEADER_LEN + plen])
        del conn.buf[:HEADER_LEN + plen]
        body = tcp_reply(code, payload)
        log(args, f"tcp/{conn.port}: {magic.decode()} type={dev_type} code=0x{code:02x} "
                  f"seq={seq} session={session} len={plen}"
                  + ("" if body is not None else " -> no answer"))
        if body is not None:
            reply = make_header(magic, (dev_type | RESPONSE_BIT) & 0xFF, code, seq,
                                session, len(body)) + body
            try:
                conn.sock.sendall(reply)
            except OSError as exc:
                log(args, f"tcp/{conn.port}: send failed: {exc}")
                return dev.count(), True
        if dev.count():
            return True, True
    return False, False


def parse_ports(text):
    ports = []
    for part in text.split(","):
        part = part.strip()
        if part:
            p = int(part, 0)
            if not 1 <= p <= 65535:
                raise argparse.ArgumentTypeError(f"bad port {p}")
            ports.append(p)
    return ports


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--addr", default="127.0.0.1",
                    help="address to bind (default 127.0.0.1)")
    ap.add_argument("--udp-ports", type=parse_ports, default=[8611, 8612],
                    help="comma-separated UDP ports (default 8611,8612; add 8610 for MFNP)")
    ap.add_argument("--tcp-ports", type=parse_ports, default=[8611, 8612],
                    help="comma-separated TCP ports (default 8611,8612; empty string = none)")
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="exit after this many seconds (default 30)")
    ap.add_argument("--max-messages", type=int, default=500,
                    help="exit after handling this many requests (default 500)")
    ap.add_argument("--mac", default="00:1e:8f:12:34:56",
                    help="MAC reported in discover answers (00:1e:8f is a Canon OUI)")
    ap.add_argument("--device-ip", default=None,
                    help="IPv4 reported in discover answers (default: --addr)")
    ap.add_argument("--session-id", type=lambda s: int(s, 0), default=0x1234,
                    help="session id handed out in job-details answers (default 0x1234)")
    ap.add_argument("--printer-id", default=DEFAULT_PRINTER_ID,
                    help="IEEE 1284 device ID returned on 8611")
    ap.add_argument("--scanner-id", default=DEFAULT_SCANNER_ID,
                    help="IEEE 1284 device ID returned on 8612/8610")
    ap.add_argument("--status", default=DEFAULT_STATUS,
                    help="printer status string returned for UDP 0x20")
    ap.add_argument("--quiet", action="store_true", help="no log lines on stderr")
    args = ap.parse_args()

    if args.timeout <= 0 or args.max_messages <= 0:
        ap.error("--timeout and --max-messages must be positive")
    ipaddress.IPv4Address(args.addr)  # IPv4 only: the discover answer is IPv4-shaped

    dev = Device(args)
    sel = selectors.DefaultSelector()
    owned = []

    for port in args.udp_ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((args.addr, port))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, ("udp", port))
        owned.append(s)
    for port in args.tcp_ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((args.addr, port))
        s.listen(4)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, ("listen", port))
        owned.append(s)

    log(args, f"listening on {args.addr} udp={args.udp_ports} tcp={args.tcp_ports} "
              f"for {args.timeout:g}s / {args.max_messages} messages")
    # Callers (the recording script) wait for this line before starting a client.
    print("READY", flush=True)

    # The recording script stops us with SIGINT/SIGTERM once the client is
    # done; treat that as a normal end (log line, sockets closed, exit 0)
    # rather than a traceback in the log.
    signalled = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda n, _f: signalled.append(n))

    deadline = time.monotonic() + args.timeout
    conns = {}
    stop = False
    while not stop:
        if signalled:
            log(args, f"stopped by signal {signalled[0]}")
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            log(args, "timeout reached")
            break
        for key, _ev in sel.select(timeout=min(remaining, 1.0)):
            kind = key.data[0] if isinstance(key.data, tuple) else "conn"
            if kind == "udp":
                stop = handle_udp(dev, key.fileobj, key.data[1])
            elif kind == "listen":
                try:
                    csock, peer = key.fileobj.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                if len(conns) >= MAX_TCP_CONNECTIONS:
                    csock.close()
                    continue
                csock.setblocking(False)
                conn = TcpConn(csock, peer, key.data[1])
                conns[csock] = conn
                sel.register(csock, selectors.EVENT_READ, conn)
                log(args, f"tcp/{conn.port}: connection from {peer[0]}:{peer[1]}")
            else:
                conn = key.data
                stop, close_it = handle_tcp_data(dev, conn)
                if close_it:
                    sel.unregister(conn.sock)
                    conn.sock.close()
                    del conns[conn.sock]
            if stop:
                log(args, f"message cap ({args.max_messages}) reached")
                break

    for c in list(conns.values()):
        c.sock.close()
    for s in owned:
        s.close()
    log(args, f"exiting after {dev.handled} messages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
