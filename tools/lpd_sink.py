#!/usr/bin/env python3
"""A small LPD (RFC 1179, TCP 515) receiver, used only to record samples.

It plays a print server's port 515 just well enough for real LPD clients (CUPS's ``lpd``
backend) and for tools/lpd_send.py's hostile cases:

  * ``\\x02queue\\n`` (receive a printer job): acknowledged with one 0x00 byte, then the
    subcommands ``\\x02size name\\n`` (control file) and ``\\x03size name\\n`` (data file) are
    each acknowledged, their ``size`` bytes plus the trailing 0x00 are read (and thrown away)
    and acknowledged; ``\\x01\\n`` (abort job) is acknowledged.  Any number of jobs may follow
    in one connection.
  * ``\\x03queue list\\n`` / ``\\x04queue list\\n`` (short / long queue state): one line of text,
    then close.
  * ``\\x05queue agent list\\n`` (remove jobs) and ``\\x01queue\\n`` (print waiting jobs): no
    answer, close.
  * anything else: close.

It never writes a received file under a name it was sent: names are only logged (repr) and
bytes counted, so names with ``../`` and contents with shell metacharacters are harmless to it.
With ``--save-dir DIR`` it keeps the files it read in full, under names of its own:
DIR/lpd-N-K.control or DIR/lpd-N-K.data for the K-th file of connection N.

Safety properties:
  * it binds to one address (127.0.0.1 by default) and never initiates traffic;
  * one connection at a time, at most ``--max-connections`` in all, then it exits;
  * it exits after ``--timeout`` seconds in all and drops a connection idle for ``--idle``
    seconds;
  * a command line is at most 1 KiB, a file is read at most to ``--max-file`` bytes (a larger
    announced size is acknowledged, read to the cap or to the connection's end, then the
    connection is closed).

It prints ``READY`` on stdout once listening, and one line per command on stderr.  Python 3
standard library only.
"""

import argparse
import os
import sys
import time

from bounded_server import Closed, Conn, connections, listen

MAX_LINE = 1024


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def receive_job(c, n, max_file, save_dir):
    c.send(b"\x00")
    jobs = 0
    files = 0
    while True:
        try:
            line = c.line(MAX_LINE)
        except Closed as e:
            log(f"  [{n}] end of receive-job ({e}), {jobs} file(s)")
            return
        if not line:
            log(f"  [{n}] empty subcommand, closing")
            return
        code, rest = line[0], line[1:]
        if code == 1:
            log(f"  [{n}] abort job")
            c.send(b"\x00")
            continue
        if code not in (2, 3):
            log(f"  [{n}] unknown subcommand {line[:60]!r}, closing")
            return
        kind = "control" if code == 2 else "data"
        size_s, _, name = rest.partition(b" ")
        try:
            size = int(size_s)
        except ValueError:
            log(f"  [{n}] bad {kind} file size {size_s[:40]!r}, closing")
            c.send(b"\x01")
            return
        log(f"  [{n}] {kind} file {name[:200]!r}, {size} bytes announced")
        c.send(b"\x00")
        want = min(size, max_file)
        files += 1
        kept = bytearray() if save_dir else None
        got = c.skip(want, kept)
        if got < want or size > max_file:
            log(f"  [{n}] {kind} file cut: read {got} of {size} bytes, closing")
            return
        term = c.skip(1)
        if term != 1:
            log(f"  [{n}] no terminating byte after the {kind} file, closing")
            return
        if save_dir:
            with open(os.path.join(save_dir, f"lpd-{n}-{files}.{kind}"), "wb") as f:
                f.write(kept)
        jobs += 1
        c.send(b"\x00")


def handle(c, n, queue_text, max_file, save_dir=None):
    line = c.line(MAX_LINE)
    if not line:
        log(f"[{n}] empty command")
        return
    code, rest = line[0], line[1:]
    log(f"[{n}] command 0x{code:02x} {rest[:200]!r}")
    if code == 2:
        receive_job(c, n, max_file, save_dir)
    elif code in (3, 4):
        queue = rest.split(b" ", 1)[0].decode("latin-1")
        if code == 3:
            text = f"{queue} is ready and printing\nno entries\n"
        else:
            text = (f"{queue} is ready and printing\n"
                    "Rank    Owner   Job     File(s)                         Total Size\n"
                    "no entries\n")
        c.send(text.encode())
    # 0x01 (print waiting jobs), 0x05 (remove jobs) and anything else: no answer.


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=515)
    ap.add_argument("--max-connections", type=int, default=16)
    ap.add_argument("--timeout", type=float, default=120.0, help="overall limit (s)")
    ap.add_argument("--idle", type=float, default=5.0, help="per-connection idle limit (s)")
    ap.add_argument("--max-file", type=int, default=1 << 20, help="bytes read per file at most")
    ap.add_argument("--save-dir", help="keep whole files read as SAVE_DIR/lpd-N-K.control|data")
    args = ap.parse_args()

    deadline = time.monotonic() + args.timeout
    srv = listen(args.addr, args.port)
    handled = 0
    for handled, sock, peer in connections(srv, deadline, args.max_connections):
        log(f"connection {handled} from {peer[0]}:{peer[1]}")
        with sock:
            try:
                handle(Conn(sock, deadline, args.idle), handled, None, args.max_file,
                       args.save_dir)
            except Closed as e:
                log(f"[{handled}] closed: {e}")
    srv.close()
    log(f"lpd_sink: {handled} connection(s), exiting")
    return 0


if __name__ == "__main__":
    sys.exit(main())
