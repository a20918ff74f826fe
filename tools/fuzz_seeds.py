#!/usr/bin/env python3
"""Seed corpora for the cargo-fuzz targets (fuzz/fuzz_targets/), cut from samples/.

Writes fuzz/corpus/<target>/ (not committed; `make fuzz` runs this first):
  capture_file  every sample file under 1 MB as it is
  decode        every frame, prefixed with the target's link-type selector byte
  engine        each sample's frames in the engine target's framing (u16 length, link byte)
  bjnp          UDP/TCP payloads on ports 8610-8614, prefixed with a chunk-size byte
  pjl, pdl      the client-to-printer bytes of each TCP 9100-9102 connection, in order (the
                first 4 KiB; for pjl also each PJL line alone)
  postscript, pcl   the same, prefixed with a chunk-size byte
  eve_records   the golden EVE records of each sample (tests/expected/), the first 64 KiB
  json_writer   each golden EVE record alone (a JSON document), up to 64 of each sample
  defrag        trains of fragments in the target's framing: in order, reversed, with a
                duplicate and with an overlap of other bytes
  stream_overlap  segments and acknowledgements in the target's framing: in order, a resend,
                a resend of other bytes, a hole filled late
"""

import hashlib
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "samples")
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
DECODE_LT = [1, 0, 108, 101, 12, 14, 113, 276, 228, 229]   # fuzz_targets/decode.rs
ENGINE_LT = [1, 101, 113, 276]                              # fuzz_targets/engine.rs


def frames(path):
    with open(path, "rb") as f:
        b = f.read()
    if len(b) < 24:
        return None, []
    magic = b[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return None, []
    lt = struct.unpack(e + "I", b[20:24])[0]
    out, off = [], 24
    while off + 16 <= len(b):
        caplen = struct.unpack(e + "I", b[off + 8:off + 12])[0]
        out.append(b[off + 16:off + 16 + caplen])
        off += 16 + caplen
    return lt, out


def l3(lt, f):
    """(ethertype-ish, ip bytes) or None."""
    if lt == 1:
        et, off = struct.unpack(">H", f[12:14])[0] if len(f) >= 14 else 0, 14
        while et in (0x8100, 0x88A8) and len(f) >= off + 4:
            et, off = struct.unpack(">H", f[off + 2:off + 4])[0], off + 4
        return f[off:]
    if lt == 113:
        return f[16:]
    if lt == 276:
        return f[20:]
    if lt == 101:
        return f
    if lt in (0, 108):
        return f[4:]
    return None


def l4(ip):
    """(proto, sport, dport, payload) of an IPv4/IPv6 packet without extension headers."""
    if not ip:
        return None
    v = ip[0] >> 4
    if v == 4 and len(ip) >= 20:
        ihl = (ip[0] & 15) * 4
        proto, body = ip[9], ip[ihl:]
    elif v == 6 and len(ip) >= 40:
        proto, body = ip[6], ip[40:]
    else:
        return None
    if proto == 17 and len(body) >= 8:
        sp, dp = struct.unpack(">HH", body[:4])
        return proto, sp, dp, body[8:]
    if proto == 6 and len(body) >= 20:
        sp, dp = struct.unpack(">HH", body[:4])
        return proto, sp, dp, body[(body[12] >> 4) * 4:]
    return None


def save(target, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def defrag_seeds():
    # fuzz_targets/defrag.rs: protocol byte, then (offset/8, MF<<7 | length, bytes) each
    def frag(off, more, data):
        return bytes([off, (0x80 if more else 0) | len(data)]) + data
    body = bytes(range(40))
    a, b, c = frag(0, True, body[:16]), frag(2, True, body[16:32]), frag(4, False, body[32:])
    save("defrag", b"\x00" + a + b + c)
    save("defrag", b"\x01" + c + b + a)
    save("defrag", b"\x00" + a + b + b + c)
    save("defrag", b"\x00" + a + frag(1, True, b"X" * 16) + b + c)


def stream_seeds():
    # fuzz_targets/stream_overlap.rs: (length, offset u16, bytes) segments, (0x80, ack u16)
    def seg(at, data):
        return bytes([len(data)]) + struct.pack(">H", at) + data
    def ack(at):
        return b"\x80" + struct.pack(">H", at)
    job = b"@PJL INFO ID\r\n@PJL FSDELETE NAME=\"x\"\r\n"
    save("stream_overlap", seg(0, job[:20]) + seg(20, job[20:]) + ack(len(job)))
    save("stream_overlap", seg(0, job[:20]) + seg(0, job[:20]) + seg(20, job[20:]))
    save("stream_overlap", seg(0, job[:20]) + seg(5, b"FSDELETE") + ack(20) + seg(20, job[20:]))
    save("stream_overlap", seg(20, job[20:]) + seg(20, b"Z" * 10) + seg(0, job[:20]))


def main():
    counts = {}
    for name in sorted(os.listdir(SAMPLES)):
        path = os.path.join(SAMPLES, name)
        if not name.endswith((".pcap", ".pcapng")):
            continue
        if os.path.getsize(path) < 1 << 20:
            save("capture_file", open(path, "rb").read())
        lt, fs = frames(path)
        if lt is None:
            continue
        engine = bytearray()
        streams = {}
        doors = {}
        for f in fs:
            if lt in DECODE_LT:
                save("decode", bytes([DECODE_LT.index(lt)]) + f)
            if lt in ENGINE_LT and len(engine) < 1 << 16:
                engine += struct.pack(">H", len(f)) + bytes([ENGINE_LT.index(lt)]) + f
            t = l4(l3(lt, f))
            if not t or not t[3]:
                continue
            proto, sp, dp, payload = t
            if 8610 <= sp <= 8614 or 8610 <= dp <= 8614:
                save("bjnp", bytes([len(payload) % 32]) + payload)
            if proto == 6 and 9100 <= dp <= 9102:
                streams.setdefault(sp, bytearray()).extend(payload)
            # the other doors: LPD and IPP client streams, IPP answers, browse datagrams
            if proto == 6 and dp in (515, 631):
                doors.setdefault((dp, sp), bytearray()).extend(payload)
            if proto == 6 and sp == 631:
                doors.setdefault((631, -dp), bytearray()).extend(payload)
            if proto == 17 and dp == 631:
                save("doors_datagrams", payload)
        if engine:
            save("engine", bytes(engine))
        for (port, _), data in doors.items():
            data = bytes(data[:1 << 16])
            if port == 515:
                save("lpd", b"\0\0" + data)
            else:
                save("http", b"\0\0" + data)
                body = data.find(b"\r\n\r\n")
                if body >= 0:
                    save("ipp", b"\0\0" + data[body + 4:])
            if data[:1] == b"\x16":
                save("doors_datagrams", data)
        for data in streams.values():
            data = bytes(data[:1 << 16])
            # whole streams, and each PJL line alone (the parser's own unit)
            save("pjl", data[:4096])
            for line in data.split(b"\n"):
                if line.startswith(b"@PJL") and len(line) < 512:
                    save("pjl", line)
            save("pdl", data[:4096])
            save("postscript", b"\x07" + data)
            save("pcl", b"\x05" + data)
    expected = os.path.join(ROOT, "tests", "expected")
    for name in sorted(os.listdir(expected)):
        if name.endswith(".jsonl"):
            data = open(os.path.join(expected, name), "rb").read()
            save("eve_records", data[: 1 << 16])
            for line in data.splitlines()[:64]:
                save("json_writer", line)
    defrag_seeds()
    stream_seeds()
    for t in sorted(os.listdir(CORPUS)):
        counts[t] = len(os.listdir(os.path.join(CORPUS, t)))
    print("seeds:", ", ".join(f"{t} {n}" for t, n in counts.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
