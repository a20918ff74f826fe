#!/usr/bin/env python3
"""Storm captures for bjnp-watch: the shapes of scans and floods a sensor on an exposed
printer network meets, each with needles buried in the middle that must still be found.

Shapes (the printer network is 10.20.0.0/16; printers 10.20.1.30 .. .33):

  vertical     one source, every TCP port (1-65535) and the five BJNP UDP ports of one
               printer; closed ports reset, 9100 and 8611 answer (the scanner resets them)
  horizontal   one source, every host of the /16 on TCP 9100; 5 % reset, the four printers
               answer (the scanner resets them)
  distributed  --count SYNs (default 1,000,000) from 50,000 sources to the 65,534 hosts of the
               /16 on TCP 9100; 5 % answered by a reset, nothing else answers
  spoofed      --count SYNs (default 1,000,000) from distinct random sources to printer
               10.20.1.30, TCP 8611, in about a second; nothing answers
  spoofed-live the same against a live port: the printer answers every SYN with a SYN-ACK
               (to the spoofed address, so no handshake completes)
  slow         one source, one SYN a minute for a day to the hosts of 10.20.5.0/24 on 9100
  recon        --count BJNP get-identity requests (UDP 8611) from as many distinct sources to
               10.20.1.30 in about a minute; nothing answers

Needles, in the middle of every storm (the test finds each on an alert line of its own):

  a  198.51.100.200 opens TCP 9100 of 10.20.1.30, completes the handshake and sends
     `@PJL FSUPLOAD NAME="0:/saveDevice/SavedJobs/KeepJob/job1.pcl" OFFSET=0 SIZE=4096`; the
     printer sends 4 KiB back
  b  198.51.100.201 asks 10.20.1.30 for its identity over UDP 8611 near the start (answered),
     then prints over TCP 8611 directly (BJNP print data, acknowledged) in the middle
  c  198.51.100.202 asks 10.20.1.30 for its identity over UDP 8611 in the middle

Ethernet, microsecond pcap, written as a stream (memory does not grow with --count), and
deterministic: the same arguments give the same bytes. Do not commit the output; the tests
and `make bench` regenerate it.

    python3 tools/gen_storms.py distributed --out /tmp/distributed.pcap [--count N]
"""

import argparse
import heapq
import os
import random
import struct
import sys
from typing import Iterator, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_samples as gs  # noqa: E402

BASE_US = gs.BASE_NS // 1000           # 2026-01-15T10:00:00Z
NET = 0x0A140000                       # 10.20.0.0/16
PRINTERS = [NET | 0x0100 | p for p in (30, 31, 32, 33)]
P0 = PRINTERS[0]
SCANNER = 0xCB007142                   # 203.0.113.66
HSCANNER = 0xCB00714D                  # 203.0.113.77
SLOW = 0xC6336463                      # 198.51.100.99
NEEDLE_A, NEEDLE_B, NEEDLE_C = "198.51.100.200", "198.51.100.201", "198.51.100.202"
OPEN_PORTS = (9100, 8611)              # what the printers offer
UDP_PORTS = (8610, 8611, 8612, 8613, 8614)

MAC_ROUTER = gs.mac("02:00:5e:10:00:01")
MAC_HOSTS = gs.mac("02:00:5e:10:14:00")
PCAP_HEADER = struct.pack("<IHHiIII", gs.PCAP_MAGIC_MICRO, 2, 4, 0, 0, gs.DEFAULT_SNAPLEN,
                          gs.LINKTYPE_ETHERNET)
ETH_IN = MAC_HOSTS + MAC_ROUTER + b"\x08\x00"    # router -> LAN host
ETH_OUT = MAC_ROUTER + MAC_HOSTS + b"\x08\x00"   # LAN host -> router

SYN, RST, ACK = gs.TCP_SYN, gs.TCP_RST, gs.TCP_ACK

Record = Tuple[int, bytes]             # (microseconds since BASE_US, frame)


def csum(data: bytes) -> int:
    """Internet checksum: the sum of native-order 16-bit words, folded, then put in network
    order (the one's-complement sum is byte-order independent)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(memoryview(data).cast("H"))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    s = ~s & 0xFFFF
    return ((s & 0xFF) << 8) | (s >> 8) if sys.byteorder == "little" else s


def tcp_frame(src: int, dst: int, sport: int, dport: int, flags: int, seq: int, ack: int = 0,
              inbound: bool = True) -> bytes:
    """A bare TCP segment (no payload) from src to dst, checksums right."""
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 64240, 0, 0)
    pseudo = struct.pack(">IIBBH", src, dst, 0, 6, 20)
    tcp = tcp[:16] + struct.pack(">H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack(">BBHHHBBHII", 0x45, 0, 40, seq & 0xFFFF, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack(">H", csum(ip)) + ip[12:]
    return (ETH_IN if inbound else ETH_OUT) + ip + tcp


def udp_probe(src: int, dst: int, sport: int, dport: int) -> bytes:
    """An empty UDP datagram (what nmap -sU sends to a port it has no probe for)."""
    udp = struct.pack(">HHHH", sport, dport, 8, 0)
    pseudo = struct.pack(">IIBBH", src, dst, 0, 17, 8)
    udp = udp[:6] + struct.pack(">H", csum(pseudo + udp))
    ip = struct.pack(">BBHHHBBHII", 0x45, 0, 28, sport, 0x4000, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack(">H", csum(ip)) + ip[12:]
    return ETH_IN + ip + udp


def isn(i: int) -> int:
    return (i * 0x9E3779B1 + 0x5EED) & 0xFFFFFFFF


def answered_by_reset(i: int, host: int) -> bool:
    """Which targets reset (closed ports on live hosts): 5 %, fixed by the host address."""
    return (host * 2654435761 >> 7) % 20 == 0


# ---------------------------------------------------------------------------------------------
# Shapes: each yields (time, frame) in time order, and says how long it lasts.


def vertical() -> Tuple[Iterator[Record], int]:
    def gen() -> Iterator[Record]:
        t = 0
        for port in range(1, 65536):
            sport = 40000 + port % 20000
            yield t, tcp_frame(SCANNER, P0, sport, port, SYN, isn(port))
            if port in OPEN_PORTS:
                yield t + 300, tcp_frame(P0, SCANNER, port, sport, SYN | ACK, isn(port + 7),
                                         isn(port) + 1, inbound=False)
                yield t + 600, tcp_frame(SCANNER, P0, sport, port, RST, isn(port) + 1)
            else:
                yield t + 300, tcp_frame(P0, SCANNER, port, sport, RST | ACK, 0, isn(port) + 1,
                                         inbound=False)
            t += 20
            if port in UDP_PORTS:
                yield t, udp_probe(SCANNER, P0, 50000 + port % 1000, port)
                t += 20
    return gen(), 65535 * 20 + 200


def horizontal() -> Tuple[Iterator[Record], int]:
    def gen() -> Iterator[Record]:
        t = 0
        for h in range(1, 65535):
            host = NET | h
            sport = 40000 + h % 20000
            yield t, tcp_frame(HSCANNER, host, sport, 9100, SYN, isn(h))
            if host in PRINTERS:
                yield t + 300, tcp_frame(host, HSCANNER, 9100, sport, SYN | ACK, isn(h + 7),
                                         isn(h) + 1, inbound=False)
                yield t + 600, tcp_frame(HSCANNER, host, sport, 9100, RST, isn(h) + 1)
            elif answered_by_reset(0, host):
                yield t + 300, tcp_frame(host, HSCANNER, 9100, sport, RST | ACK, 0, isn(h) + 1,
                                         inbound=False)
            t += 20
    return gen(), 65534 * 20


def distributed(count: int) -> Tuple[Iterator[Record], int]:
    sources = 50_000
    step = 100  # 10,000 SYNs a second

    def gen() -> Iterator[Record]:
        pending: List[Record] = []  # resets, 300 us after their SYN
        for i in range(count):
            t = i * step
            while pending and pending[0][0] <= t:
                yield heapq.heappop(pending)
            src = 0x2D000000 + (i * 7919) % sources * 257  # 45.x.x.x, spread out
            host = NET | (1 + (i * 40503) % 65534)
            sport = 1024 + (i * 31) % 60000
            yield t, tcp_frame(src, host, sport, 9100, SYN, isn(i))
            if host not in PRINTERS and answered_by_reset(i, host):
                heapq.heappush(pending, (t + 300, tcp_frame(host, src, 9100, sport, RST | ACK, 0,
                                                            isn(i) + 1, inbound=False)))
        while pending:
            yield heapq.heappop(pending)
    return gen(), count * step + 300


def spoofed_sources() -> Iterator[int]:
    """Distinct pseudo-random unicast sources, 1.0.0.0 to 222.255.255.255 outside the printer
    network: an odd multiplier coprime to the range's size walks it as a permutation, so no
    memory of earlier sources is needed."""
    size = 0xDF000000 - 0x01000000  # 2^25 * 111
    mult = 2654435761               # odd, and neither 3 nor 37 divides it
    j = 0
    while True:
        src = 0x01000000 + (j * mult + 0x5900F) % size
        j += 1
        if (src >> 16) != (NET >> 16):
            yield src


def spoofed(count: int, live: bool = False) -> Tuple[Iterator[Record], int]:
    step = 1  # a million SYNs in a second

    def gen() -> Iterator[Record]:
        rng = random.Random(0x5900F)
        pending: List[Record] = []  # the live printer's SYN-ACKs, 50 us after their SYN
        for i, src in zip(range(count), spoofed_sources()):
            t = i * step
            while pending and pending[0][0] <= t:
                yield heapq.heappop(pending)
            sport = rng.randrange(1024, 65536)
            yield t, tcp_frame(src, P0, sport, 8611, SYN, isn(i))
            if live:
                heapq.heappush(pending, (t + 50, tcp_frame(P0, src, 8611, sport, SYN | ACK,
                                                           isn(i) ^ 0x5A5A, isn(i) + 1,
                                                           inbound=False)))
        while pending:
            yield heapq.heappop(pending)
    return gen(), count * step + 50


def recon(count: int) -> Tuple[Iterator[Record], int]:
    step = max(1, 60_000_000 // count)  # a minute
    printer = lan(P0)
    req = gs.build_bjnp(gs.MAGIC_BJNP, gs.PRINTER_CMD, gs.CODE_GET_ID, 1, 0, b"")

    def gen() -> Iterator[Record]:
        for i in range(count):
            src = gs.remote(".".join(str(b) for b in (0x5A000001 + i * 7).to_bytes(4, "big")))
            yield i * step, gs.udp_frame(src, printer, 40000 + i % 20000, gs.PORT_PRINT, req)
    return gen(), count * step


def slow() -> Tuple[Iterator[Record], int]:
    minute = 60_000_000

    def gen() -> Iterator[Record]:
        for m in range(1440):
            host = NET | 0x0500 | (1 + m % 254)
            yield m * minute, tcp_frame(SLOW, host, 50000 + m, 9100, SYN, isn(m))
    return gen(), 1440 * minute


# ---------------------------------------------------------------------------------------------
# Needles


def lan(addr: int) -> gs.Host:
    return gs.Host("02:00:5e:10:14:%02x" % (addr & 0xFF), ".".join(str(b) for b in
                                                                   addr.to_bytes(4, "big")))


def needles(duration: int) -> List[Record]:
    """The needles' packets, timed: b's UDP probe near the start, the rest in the middle."""
    printer = lan(P0)
    mid = duration // 2
    out: List[Record] = []

    def add(t: int, frames: Sequence[bytes], gap: int = 200) -> int:
        for f in frames:
            out.append((t, f))
            t += gap
        return t

    def get_identity(client: str, sport: int, seq: int) -> List[bytes]:
        c = gs.remote(client)
        req = gs.build_bjnp(gs.MAGIC_BJNP, gs.PRINTER_CMD, gs.CODE_GET_ID, seq, 0, b"")
        ans = gs.build_bjnp(gs.MAGIC_BJNP, gs.PRINTER_RESP, gs.CODE_GET_ID, seq, 0,
                            gs.device_id(gs.MG5500_ID))
        return [gs.udp_frame(c, printer, sport, gs.PORT_PRINT, req),
                gs.udp_frame(printer, c, gs.PORT_PRINT, sport, ans)]

    # b, early: the probe
    add(min(1_000_000, duration // 10), get_identity(NEEDLE_B, 51201, 1))
    # a: an established raw-printing session carrying FSUPLOAD
    a = gs.TcpFlow(gs.ether_link, gs.remote(NEEDLE_A), printer, 51200, gs.PORT_RAW,
                   0x0A000001, 0x8A000001)
    frames = a.handshake()
    frames.append(a.send(True, b'@PJL FSUPLOAD NAME="0:/saveDevice/SavedJobs/KeepJob/job1.pcl"'
                               b' OFFSET=0 SIZE=4096\r\n'))
    for k in range(3):
        frames.append(a.send(False, bytes((k * 37 + j) & 0xFF for j in range(1366))))
    frames.append(a.ack(True))
    frames += a.close()
    t = add(mid, frames)
    # b, middle: BJNP printing over TCP 8611, bypassing the print server
    b = gs.TcpFlow(gs.ether_link, gs.remote(NEEDLE_B), printer, 51202, gs.PORT_PRINT,
                   0x0B000001, 0x8B000001)
    frames = b.handshake()
    data = gs.bjl_job_header(64) if hasattr(gs, "bjl_job_header") else b"\x1b[K\x02\x00\x00\x1f"
    frames.append(b.send(True, gs.build_bjnp(gs.MAGIC_BJNP, gs.PRINTER_CMD, gs.CODE_PRINT, 2,
                                             0x1234, data)))
    frames.append(b.send(False, gs.build_bjnp(gs.MAGIC_BJNP, gs.PRINTER_RESP, gs.CODE_PRINT, 2,
                                              0x1234, gs.accepted(len(data)))))
    frames += b.close()
    t = add(t + 1000, frames)
    # c: one identity probe from a new client
    add(t + 1000, get_identity(NEEDLE_C, 51203, 1))
    return sorted(out, key=lambda r: r[0])


# ---------------------------------------------------------------------------------------------


def write(path: str, storm: Iterator[Record], extra: List[Record]) -> int:
    n = 0
    rec = struct.Struct("<IIII")
    with open(path, "wb") as f:
        f.write(PCAP_HEADER)
        buf = []
        for t, frame in heapq.merge(storm, extra, key=lambda r: r[0]):
            sec, usec = divmod(BASE_US + t, 1_000_000)
            buf.append(rec.pack(sec, usec, len(frame), len(frame)))
            buf.append(frame)
            n += 1
            if len(buf) >= 16384:
                f.write(b"".join(buf))
                buf.clear()
        f.write(b"".join(buf))
    return n


SHAPES = ("vertical", "horizontal", "distributed", "spoofed", "spoofed-live", "slow", "recon")


def build(shape: str, count: int) -> Tuple[Iterator[Record], int]:
    if shape == "vertical":
        return vertical()
    if shape == "horizontal":
        return horizontal()
    if shape == "distributed":
        return distributed(count)
    if shape == "spoofed":
        return spoofed(count)
    if shape == "spoofed-live":
        return spoofed(count, live=True)
    if shape == "recon":
        return recon(count)
    return slow()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shape", choices=SHAPES)
    parser.add_argument("--out", required=True, help="pcap file to write")
    parser.add_argument("--count", type=int, default=1_000_000,
                        help="SYNs or requests of the distributed, spoofed and recon storms "
                             "(default %(default)s)")
    parser.add_argument("--no-needles", action="store_true", help="the storm alone")
    args = parser.parse_args(argv)
    if not 1 <= args.count <= 50_000_000:
        parser.error("--count must be 1..50000000")
    storm, duration = build(args.shape, args.count)
    extra = [] if args.no_needles else needles(duration)
    n = write(args.out, storm, extra)
    print(f"{args.out}: {n} packets", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
