#!/usr/bin/env python3
"""Write the large captures `make bench` compares bjnp-watch with tcpdump on.

  lan      a busy office LAN: web (HTTP 80, TLS 443), DNS, SMB 445, NTP/mDNS, and about 1 % of
           the packets printer traffic (BJNP get-identity over UDP 8611, print jobs on TCP
           9100, scanner polls on 8612). Thousands of flows at once, each with a handshake,
           data in realistic segment sizes, and a close.
  printer  only printer traffic in small packets across 100 000 flows: short TCP 9100 and
           BJNP TCP 8611 sessions with 64-300 byte segments, and BJNP UDP exchanges.

Deterministic (a seeded PRNG): the same arguments give the same bytes. Ethernet, microsecond
pcap. Checksums are left zero: neither tool verifies them. Do not commit the output.

    python3 tools/gen_bench.py lan --packets 2000000 --out /tmp/lan.pcap
    python3 tools/gen_bench.py printer --flows 100000 --out /tmp/printer.pcap
"""

import argparse
import random
import struct
import sys

BASE_US = 1_768_471_200 * 1_000_000          # 2026-01-15T10:00:00Z
ZEROS = bytes(1500)


class Writer:
    def __init__(self, path: str):
        self.f = open(path, "wb", buffering=1 << 22)
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        self.t = BASE_US
        self.count = 0

    def frame(self, data: bytes, gap_us: int = 3) -> None:
        self.t += gap_us
        self.f.write(struct.pack("<IIII", self.t // 1_000_000, self.t % 1_000_000,
                                 len(data), len(data)))
        self.f.write(data)
        self.count += 1

    def close(self) -> None:
        self.f.close()


def mac(n: int) -> bytes:
    return b"\x02\x00" + struct.pack(">I", n)


def ipv4(src: int, dst: int, proto: int, payload_len: int) -> bytes:
    return struct.pack(">BBHHHBBHII", 0x45, 0, 20 + payload_len, 0, 0x4000, 64, proto, 0,
                       src, dst)


def eth(src: int, dst: int) -> bytes:
    return mac(dst) + mac(src) + b"\x08\x00"


def udp(src, dst, sport, dport, payload: bytes) -> bytes:
    return (eth(src, dst) + ipv4(src, dst, 17, 8 + len(payload))
            + struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload)


SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


class Tcp:
    """One connection; segment() keeps both sides' sequence numbers consistent."""

    def __init__(self, c, s, cport, sport, rng):
        self.ends = {True: (c, cport), False: (s, sport)}
        self.seq = {True: rng.getrandbits(32), False: rng.getrandbits(32)}

    def segment(self, from_client: bool, flags: int, size: int = 0) -> bytes:
        (src, sp), (dst, dp) = self.ends[from_client], self.ends[not from_client]
        seq = self.seq[from_client]
        ack = self.seq[not from_client] if flags & ACK else 0
        self.seq[from_client] = (seq + size + (1 if flags & (SYN | FIN) else 0)) & 0xFFFFFFFF
        hdr = struct.pack(">HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, 64240, 0, 0)
        return eth(src, dst) + ipv4(src, dst, 6, 20 + size) + hdr + ZEROS[:size]


def tcp_session(conn: Tcp, exchanges, close=True):
    """Handshake, then (from_client, size) data segments each answered by an ACK, then FIN."""
    yield conn.segment(True, SYN)
    yield conn.segment(False, SYN | ACK)
    yield conn.segment(True, ACK)
    for from_client, size in exchanges:
        yield conn.segment(from_client, PSH | ACK, size)
        yield conn.segment(not from_client, ACK)
    if close:
        yield conn.segment(True, FIN | ACK)
        yield conn.segment(False, FIN | ACK)
        yield conn.segment(True, ACK)


def bjnp(dev: int, code: int, seq: int, payload: bytes = b"") -> bytes:
    return b"BJNP" + struct.pack(">BBHHHI", dev, code, 0, seq, 0, len(payload)) + payload


DEVICE_ID = b"MFG:Canon;CMD:BJL,BJRaster3;MDL:MG5500 series;DES:Canon MG5500 series;VER:1.050;"
GET_ID_ANSWER = struct.pack(">H", len(DEVICE_ID) + 2) + DEVICE_ID

CLIENTS = 0x0A010000      # 10.1.0.0/16: workstations
SERVERS = 0x0A020000      # 10.2.0.0/16: servers, and the internet behind the router
PRINTERS = 0x0A030000     # 10.3.0.0/24: printers


def lan_flow(rng: random.Random, n: int):
    """The packets of one ordinary LAN flow, as a generator."""
    c = CLIENTS + 1 + rng.randrange(4000)
    s = SERVERS + 1 + rng.randrange(3000)
    cport = 1024 + rng.randrange(60000)
    kind = rng.random()
    if kind < 0.35:       # TLS: small requests, mid-size answers
        ex = [(True, rng.randrange(80, 600))] + [
            (False, rng.choice((1448, 1448, 900, 300))) for _ in range(rng.randrange(2, 30))]
        return tcp_session(Tcp(c, s, cport, 443, rng), ex)
    if kind < 0.55:       # HTTP downloads
        ex = [(True, rng.randrange(200, 500))] + [
            (False, 1448) for _ in range(rng.randrange(4, 60))]
        return tcp_session(Tcp(c, s, cport, 80, rng), ex)
    if kind < 0.70:       # SMB: reads and writes in both directions
        ex = [(rng.random() < 0.3, rng.choice((1448, 1448, 120))) for _ in range(rng.randrange(5, 80))]
        return tcp_session(Tcp(c, s, cport, 445, rng), ex)
    if kind < 0.92:       # DNS query and answer
        q = ZEROS[:rng.randrange(30, 60)]
        a = ZEROS[:rng.randrange(60, 220)]
        return iter((udp(c, s, cport, 53, q), udp(s, c, 53, cport, a)))
    port = rng.choice((123, 5353, 1900))
    return iter([udp(c, s, cport, port, ZEROS[:rng.randrange(48, 300)])
                 for _ in range(rng.randrange(1, 4))])


def printer_flow(rng: random.Random, small: bool):
    """One printer conversation."""
    c = CLIENTS + 1 + rng.randrange(4000)
    p = PRINTERS + 1 + rng.randrange(40)
    cport = 1024 + rng.randrange(60000)
    kind = rng.random()
    if kind < 0.4:        # BJNP get-identity over UDP
        seq = rng.randrange(1, 1000)
        return iter((udp(c, p, cport, 8611, bjnp(1, 0x30, seq)),
                     udp(p, c, 8611, cport, bjnp(0x81, 0x30, seq, GET_ID_ANSWER))))
    if kind < 0.8:        # a raw print job on 9100
        sizes = (64, 300) if small else (600, 1449)
        ex = [(True, rng.randrange(*sizes)) for _ in range(rng.randrange(3, 12))]
        return tcp_session(Tcp(c, p, cport, 9100, rng), ex)
    # BJNP print data over TCP 8611: 16-byte headers and small payloads, acknowledged
    conn = Tcp(c, p, cport, 8611, rng)
    return tcp_session(conn, [(True, rng.randrange(16, 200)) for _ in range(rng.randrange(2, 8))])




def gen_lan(out: str, packets: int, seed: int, printer_share: float) -> int:
    rng = random.Random(seed)
    w = Writer(out)
    active = []
    printer_packets = 0
    target_active = 3000
    while w.count < packets:
        while len(active) < target_active:
            active.append(lan_flow(rng, w.count))
        # keep printer traffic at its share of all packets
        if printer_packets < printer_share * w.count:
            for pkt in printer_flow(rng, small=False):
                w.frame(pkt, 5)
                printer_packets += 1
            continue
        i = rng.randrange(len(active))
        pkt = next(active[i], None)
        if pkt is None:
            active[i] = active[-1]
            active.pop()
            continue
        w.frame(pkt, 2)
    w.close()
    return w.count


def gen_printer(out: str, flows: int, seed: int) -> int:
    rng = random.Random(seed)
    w = Writer(out)
    active = []
    made = 0
    while made < flows or active:
        while made < flows and len(active) < 2000:
            active.append(printer_flow(rng, small=True))
            made += 1
        i = rng.randrange(len(active))
        pkt = next(active[i], None)
        if pkt is None:
            active[i] = active[-1]
            active.pop()
            continue
        w.frame(pkt, 1)
    w.close()
    return w.count


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload", choices=("lan", "printer"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--packets", type=int, default=2_000_000, help="lan: packets to write")
    ap.add_argument("--flows", type=int, default=100_000, help="printer: flows to write")
    ap.add_argument("--printer-share", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    if a.workload == "lan":
        n = gen_lan(a.out, a.packets, a.seed, a.printer_share)
    else:
        n = gen_printer(a.out, a.flows, a.seed)
    print(f"{a.out}: {n} packets", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
