#!/usr/bin/env python3
"""A silent raw-printing (AppSocket/JetDirect, TCP 9100) sink, used only to record samples.

It plays a printer's port 9100 just well enough for the CUPS ``socket`` backend to send a
job: it accepts connections one after another, reads each until the client half-closes
(EOF), throws the bytes away (or, with ``--save-dir DIR``, writes connection N's bytes to
DIR/9100-N.bin, at most ``--max-save`` bytes each) and closes its side.  It never sends a single byte, so the
captures contain only what the real client sent (plus the TCP handshake and FINs).

Safety properties:
  * it binds to one address (127.0.0.1 by default) and never initiates traffic;
  * it handles at most ``--max-connections`` connections, then exits;
  * it exits after ``--timeout`` seconds in all, and drops a connection that stays idle
    for ``--idle`` seconds.

It prints ``READY`` on stdout once listening, and one line per connection on stderr
(peer port and byte count).  Python 3 standard library only.
"""

import argparse
import os
import socket
import sys
import time

from bounded_server import connections, listen


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9100)
    ap.add_argument("--max-connections", type=int, default=16)
    ap.add_argument("--timeout", type=float, default=120.0, help="overall limit (s)")
    ap.add_argument("--idle", type=float, default=10.0, help="per-connection idle limit (s)")
    ap.add_argument("--save-dir", help="write connection N's bytes to SAVE_DIR/9100-N.bin")
    ap.add_argument("--max-save", type=int, default=1 << 20, help="bytes saved per connection")
    args = ap.parse_args()

    deadline = time.monotonic() + args.timeout
    srv = listen(args.addr, args.port)
    for handled, conn, peer in connections(srv, deadline, args.max_connections):
        total = 0
        saved = None
        if args.save_dir:
            saved = open(os.path.join(args.save_dir, f"9100-{handled}.bin"), "wb")
        with conn:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                conn.settimeout(min(args.idle, left))
                try:
                    chunk = conn.recv(65536)
                except (socket.timeout, OSError):
                    break
                if not chunk:
                    break
                if saved and total < args.max_save:
                    saved.write(chunk[:args.max_save - total])
                total += len(chunk)
        if saved:
            saved.close()
        print(f"connection {handled}: port {peer[1]}, {total} bytes", file=sys.stderr, flush=True)
    srv.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
