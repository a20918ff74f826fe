"""What the recording servers share (lpd_sink.py, ipp_responder.py, sink9100.py): one listening
socket on one address, connections accepted until a count or an overall deadline, and a
connection read through a buffer where every wait is bounded by an idle limit and by that
deadline. Python 3 standard library only; used only to record samples.
"""

import socket
import time


class Closed(Exception):
    """The connection ended, timed out or broke a limit: the reason is the message."""


class Conn:
    """A client connection read through a buffer."""

    def __init__(self, sock, deadline, idle):
        self.sock, self.deadline, self.idle = sock, deadline, idle
        self.buf = b""

    def fill(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Closed("time limit")
        self.sock.settimeout(min(self.idle, left))
        try:
            chunk = self.sock.recv(65536)
        except (socket.timeout, OSError) as e:
            raise Closed(f"recv: {e}")
        if not chunk:
            raise Closed("eof")
        self.buf += chunk

    def until(self, sep, cap, what="header block"):
        """The bytes before the next `sep` (consumed with it); gives up when `cap` bytes came
        without one."""
        while sep not in self.buf:
            if len(self.buf) > cap:
                raise Closed(f"{what} too long")
            self.fill()
        head, _, self.buf = self.buf.partition(sep)
        return head

    def line(self, cap):
        """The next line ending in LF, at most `cap` bytes."""
        head = self.until(b"\n", cap, "line")
        if len(head) > cap:
            raise Closed("line too long")
        return head

    def take(self, n):
        """Exactly `n` bytes."""
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def skip(self, n, keep=None):
        """Reads and discards `n` bytes (appending them to the bytearray `keep`, if given);
        returns how many were read before the connection ended."""
        got = 0
        while got < n:
            if not self.buf:
                try:
                    self.fill()
                except Closed:
                    return got
            take = min(n - got, len(self.buf))
            if keep is not None:
                keep += self.buf[:take]
            self.buf = self.buf[take:]
            got += take
        return got

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Closed(f"send: {e}")


def listen(addr, port, backlog=1):
    """A socket listening on `addr`:`port`; says READY on stdout once it is."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(backlog)
    print("READY", flush=True)
    return srv


def connections(srv, deadline, max_connections, keep_waiting=False):
    """Yields (n, socket, peer) for each accepted connection, numbered from 1, until
    `max_connections` or the deadline. Without `keep_waiting` the first wait that reaches the
    deadline ends it; with it, the wait is cut into 1-second slices (a server whose threads
    finish meanwhile)."""
    n = 0
    while n < max_connections:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        srv.settimeout(min(left, 1.0) if keep_waiting else left)
        try:
            sock, peer = srv.accept()
        except socket.timeout:
            if keep_waiting:
                continue
            return
        n += 1
        yield n, sock, peer
