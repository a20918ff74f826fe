#!/usr/bin/env python3
"""`make bench`, part 4: the Kafka sink's throughput against the file sink, on the same replay.

Starts a tansu broker (tools/install-kafka-test.sh builds it) on 127.0.0.1, creates a topic of
3 partitions, and replays the printer workload (gen_bench.py printer, 100 k flows: the same
file as part 2) in interleaved rounds:

    bjnp-watch -q -r FILE -o OUT.json                     (the file sink)
    bjnp-watch -q -r FILE --kafka kafka://127.0.0.1:P/T   (every record acknowledged by the
                                                           broker before the process exits)

and prints the median seconds and records per second of each, the per-round ratio, and the
records each run accounted for (a Kafka run must deliver them all: replay waits for room in
librdkafka's queue). The broker keeps the topic in memory; each round writes a new topic.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.path.join(ROOT, "target", "release", "bjnp-watch")


def tansu_path():
    cache = os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))
    p = os.path.join(cache, "bjnp-watch", "tansu", "bin", "tansu")
    return p if os.path.exists(p) else None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def create_topic(tansu, port, topic):
    for _ in range(100):
        r = subprocess.run([tansu, "topic", "create", topic, "--broker",
                            f"tcp://127.0.0.1:{port}"], capture_output=True)
        if r.returncode == 0:
            return
        time.sleep(0.2)
    sys.exit(f"bench_kafka: tansu did not answer on port {port}")


def run(args):
    """Seconds, and the output counters of the final stats record (from stderr or the file)."""
    t = time.monotonic()
    r = subprocess.run([BIN, "-q"] + args, capture_output=True, text=True)
    took = time.monotonic() - t
    if r.returncode != 0:
        sys.exit(f"bench_kafka: {' '.join(args)} failed: {r.stderr.strip()}")
    return took


def final_output(path):
    last = None
    with open(path) as f:
        for line in f:
            if '"event_type":"stats"' in line:
                last = json.loads(line)
    return last["stats"]["output"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=os.environ.get("BENCH_DIR", "/tmp/bjnp-watch-bench"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--kafka-option", action="append", default=[], metavar="KEY=VALUE",
                    help="passed on to bjnp-watch (librdkafka settings to compare)")
    a = ap.parse_args()
    extra = [x for kv in a.kafka_option for x in ("--kafka-option", kv)]
    tansu = tansu_path()
    if tansu is None:
        sys.exit("bench_kafka: no tansu broker (run tools/install-kafka-test.sh)")
    os.makedirs(a.dir, exist_ok=True)
    capture = os.path.join(a.dir, "printer.pcap")
    if not os.path.exists(capture):
        subprocess.run([sys.executable, os.path.join(HERE, "gen_bench.py"), "printer",
                        "--out", capture], check=True)
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    broker = subprocess.Popen([tansu, "broker", "--listener-url", url,
                               "--advertised-listener-url", url,
                               "--storage-engine", "memory://tansu/"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        out = os.path.join(a.dir, "kafka-bench-file.json")
        file_s, kafka_s, ratios, records = [], [], [], None
        subprocess.run(["cat", capture], stdout=subprocess.DEVNULL, check=True)
        for i in range(a.rounds):
            if os.path.exists(out):
                os.remove(out)
            f = run(["-r", capture, "-o", out])
            o = final_output(out)
            records = o["records"]
            topic = f"bench-{i}"
            create_topic(tansu, port, topic)
            k = run(["-r", capture, "--kafka", f"kafka://127.0.0.1:{port}/{topic}",
                     "--sensor-name", "bench"] + extra)
            file_s.append(f)
            kafka_s.append(k)
            ratios.append(k / f)
        ks = statistics.median(kafka_s)
        fs = statistics.median(file_s)
        print(f"Kafka sink vs file sink, {records} records of {os.path.basename(capture)}, "
              f"{a.rounds} interleaved rounds (medians):")
        print("| sink | seconds | records/s |")
        print("|---|---:|---:|")
        print(f"| file (`-o`) | {fs:.2f} | {records / fs:,.0f} |")
        settings = ", ".join(a.kafka_option) or "lz4, acks=all"
        print(f"| Kafka (tansu on 127.0.0.1, {settings}) | {ks:.2f} | {records / ks:,.0f} |")
        print(f"Kafka/file time ratio (median of per-round ratios): "
              f"{statistics.median(ratios):.2f}")
    finally:
        broker.kill()
        broker.wait()


if __name__ == "__main__":
    main()
