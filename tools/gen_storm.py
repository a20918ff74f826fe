#!/usr/bin/env python3
"""Write a TCP SYN-storm capture for load tests of bjnp-watch.

Packet i (from 0) is a SYN from 10.0.0.1 + i (every source address differs,
walking 10.0.0.0/8) to one of K printers 192.0.2.30, .31, ... on TCP 9100;
every 5th SYN (i % 5 == 4) goes to BJNP on 8611 instead. Each port's SYNs
take the printers in turn, so every printer gets the same share of both
ports whatever K is. Timestamps are 1 us apart from 2026-01-15T10:00:00Z,
Ethernet, microsecond pcap, 60-byte frames.

The output is deterministic, and the script streams: memory use does not
grow with --count. Do not commit its output; regenerate it where needed.

    python3 tools/gen_storm.py --count 1000000 --out /tmp/storm.pcap [--printers 4]
"""

import argparse
import os
import struct
import sys
from typing import Optional, Sequence

# The frame helpers live in gen_samples.py next to this file; the storm's
# packets must look exactly like the ones it builds.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_samples as gs  # noqa: E402

FIRST_SOURCE = 0x0A000001              # 10.0.0.1
LAST_SOURCE = 0x0AFFFFFE               # 10.255.255.254, before the /8 broadcast
MAX_COUNT = LAST_SOURCE - FIRST_SOURCE + 1
FIRST_PRINTER = 30                     # 192.0.2.30, the MG5500 of the samples
MAX_PRINTERS = 255 - FIRST_PRINTER     # up to 192.0.2.254
PORTS = (gs.PORT_RAW, gs.PORT_PRINT)   # index 1 is every 5th SYN
CHUNK = 8192                           # packets per write()
VERIFY = 64                            # first packets rebuilt the slow way

# Offsets in one record (16-byte pcap header, then the Ethernet frame).
REC = 16
IP = REC + 14
IP_CSUM, IP_SRC = IP + 10, IP + 12
TCP = IP + 20
TCP_PORTS_SEQ, TCP_CSUM = TCP, TCP + 16


def source_port(i: int) -> int:
    return 1024 + i % 64512


def isn(i: int) -> int:
    # Knuth's multiplicative hash: distinct, scattered ISNs without random numbers.
    return (i * 0x9E3779B1 + 0x5EED) & 0xFFFFFFFF


def dst_port_index(i: int) -> int:
    return 1 if i % 5 == 4 else 0


def build_frame(src: int, sport: int, seq: int, printer: gs.Host, dport: int) -> bytes:
    """One SYN built by gen_samples' own helpers (slow, used for templates and checks)."""
    src_ip = ".".join(str(b) for b in src.to_bytes(4, "big"))
    seg = gs.tcp(src_ip, printer.ip, sport, dport, gs.TCP_SYN, seq, 0, options=gs.MSS_1460)
    return gs.ether_link(gs.remote(src_ip), printer,
                         gs.ipv4(src_ip, printer.ip, gs.PROTO_TCP, seg))


def template(printer: gs.Host, dport: int):
    """A record whose variable fields (source address, source port, ISN,
    timestamps) are zero, and the one's-complement sums of everything else,
    from which each packet's checksums follow by adding its own fields."""
    frame = build_frame(0, 0, 0, printer, dport)
    assert len(frame) == 60
    record = struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame
    ip_sum = ~struct.unpack_from(">H", record, IP_CSUM)[0] & 0xFFFF
    tcp_sum = ~struct.unpack_from(">H", record, TCP_CSUM)[0] & 0xFFFF
    return record, ip_sum, tcp_sum


def fold(total: int) -> int:
    # Two rounds cover any sum of a handful of 16-bit words.
    total = (total & 0xFFFF) + (total >> 16)
    return (total & 0xFFFF) + (total >> 16)


def write_storm(path: str, count: int, printers: int) -> None:
    hosts = [gs.lan_host(FIRST_PRINTER + p) for p in range(printers)]
    templates = [[template(h, port) for h in hosts] for port in PORTS]
    base_sec = gs.BASE_NS // 1_000_000_000
    header = struct.pack("<IHHiIII", gs.PCAP_MAGIC_MICRO, 2, 4, 0, 0, gs.DEFAULT_SNAPLEN,
                         gs.LINKTYPE_ETHERNET)
    rec_len = len(templates[0][0][0])
    pack_ts = struct.Struct("<II").pack_into
    pack_ip = struct.Struct(">HI").pack_into        # checksum, then source address
    pack_tcp = struct.Struct(">HHI").pack_into      # source port, dest port, seq
    pack_csum = struct.Struct(">H").pack_into
    sent = [0, 0]                                   # SYNs so far per port

    buf = bytearray(CHUNK * rec_len)
    with open(path, "wb") as out:
        out.write(header)
        for start in range(0, count, CHUNK):
            n = min(CHUNK, count - start)
            for k in range(n):
                i = start + k
                port_idx = dst_port_index(i)
                record, ip_sum, tcp_sum = templates[port_idx][sent[port_idx] % printers]
                sent[port_idx] += 1
                o = k * rec_len
                buf[o:o + rec_len] = record
                sec, usec = divmod(i, 1_000_000)
                pack_ts(buf, o, base_sec + sec, usec)
                src = FIRST_SOURCE + i
                src_words = (src >> 16) + (src & 0xFFFF)
                sport, seq = source_port(i), isn(i)
                pack_ip(buf, o + IP_CSUM, ~fold(ip_sum + src_words) & 0xFFFF, src)
                pack_tcp(buf, o + TCP_PORTS_SEQ, sport, PORTS[port_idx], seq)
                # The TCP checksum covers the source address through the
                # pseudo-header, plus the port and ISN in the header itself.
                tcp_total = tcp_sum + src_words + sport + (seq >> 16) + (seq & 0xFFFF)
                pack_csum(buf, o + TCP_CSUM, ~fold(tcp_total) & 0xFFFF)
                if i < VERIFY:
                    # A patching slip would give plausible-looking garbage:
                    # compare the first packets with a full rebuild.
                    printer = hosts[(sent[port_idx] - 1) % printers]
                    expected = build_frame(src, sport, seq, printer, PORTS[port_idx])
                    assert buf[o + REC:o + rec_len] == expected, f"packet {i} differs"
            out.write(memoryview(buf)[:n * rec_len])


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, required=True, help="number of SYNs")
    parser.add_argument("--out", required=True, help="pcap file to write")
    parser.add_argument("--printers", type=int, default=4,
                        help="printers 192.0.2.30 onwards to target (default: %(default)s)")
    args = parser.parse_args(argv)
    if not 0 <= args.count <= MAX_COUNT:
        parser.error(f"--count must be 0..{MAX_COUNT} (one source address per SYN in 10/8)")
    if not 1 <= args.printers <= MAX_PRINTERS:
        parser.error(f"--printers must be 1..{MAX_PRINTERS}")
    write_storm(args.out, args.count, args.printers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
