#!/usr/bin/env python3
"""`make bench`, part 4: the Kafka sink's throughput against the file sink, on the same replay.

Starts a tansu broker (tools/install-kafka-test.sh builds it) on 127.0.0.1, creates a topic of
3 partitions, and replays the printer workload (gen_bench.py printer, 100 k flows: the same
file as part 2) in interleaved rounds:

    bjnp-watch -r FILE -o OUT.json                     (the file sink)
    bjnp-watch -r FILE --kafka kafka://127.0.0.1:P/T   (every record acknowledged by the
                                                        broker before the process exits)

and prints the median seconds, records per second and CPU seconds of each (the sensor's
threads, and the broker's during the Kafka run), and the per-round ratio. A run whose summary
line names records not delivered ends the benchmark (a Kafka replay must deliver them all: it
waits for room in librdkafka's queue). The broker keeps the topic in memory; each round writes
a new topic.
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
    """Wall seconds and CPU seconds (user + system, every thread) of one run."""
    t = time.monotonic()
    p = subprocess.Popen([BIN] + args, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    took = time.monotonic() - t
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench_kafka: {' '.join(args)} failed: {err.strip()}")
    # the summary line names the records the sink never got
    summary = [l for l in err.splitlines() if l.startswith("bjnp-watch: ")]
    if not summary or "not delivered" in summary[-1]:
        sys.exit(f"bench_kafka: {' '.join(args)}: {err.strip()}")
    return took, usage.ru_utime + usage.ru_stime


def cpu_of(pid):
    """CPU seconds (user + system) a running process has used, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def final_output(path):
    """The output counters of the last stats record in `path`."""
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
        file_cpu, kafka_cpu, broker_cpu = [], [], []
        subprocess.run(["cat", capture], stdout=subprocess.DEVNULL, check=True)
        for i in range(a.rounds):
            if os.path.exists(out):
                os.remove(out)
            f, fc = run(["-r", capture, "-o", out])
            records = final_output(out)["records"]
            topic = f"bench-{i}"
            create_topic(tansu, port, topic)
            before = cpu_of(broker.pid)
            k, kc = run(["-r", capture, "--kafka", f"kafka://127.0.0.1:{port}/{topic}",
                         "--sensor-name", "bench"] + extra)
            broker_cpu.append(cpu_of(broker.pid) - before)
            file_s.append(f)
            kafka_s.append(k)
            file_cpu.append(fc)
            kafka_cpu.append(kc)
            ratios.append(k / f)
        ks = statistics.median(kafka_s)
        fs = statistics.median(file_s)
        print(f"Kafka sink vs file sink, {records} records of {os.path.basename(capture)}, "
              f"{a.rounds} interleaved rounds (medians):")
        print("| sink | seconds | records/s | CPU seconds |")
        print("|---|---:|---:|---:|")
        print(f"| file (`-o`) | {fs:.2f} | {records / fs:,.0f} | "
              f"{statistics.median(file_cpu):.2f} |")
        settings = ", ".join(a.kafka_option) or "lz4, acks=all"
        print(f"| Kafka (tansu on 127.0.0.1, {settings}) | {ks:.2f} | {records / ks:,.0f} | "
              f"{statistics.median(kafka_cpu):.2f} + broker "
              f"{statistics.median(broker_cpu):.2f} |")
        print(f"Kafka/file time ratio (median of per-round ratios): "
              f"{statistics.median(ratios):.2f}")
    finally:
        broker.kill()
        broker.wait()


if __name__ == "__main__":
    main()
