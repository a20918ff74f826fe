#!/usr/bin/env bash
# `make bench`, part 3: live capture under load. Two network namespaces joined by a veth pair
# (created here, removed on exit); tcpreplay injects a capture at top speed into one end while
# bjnp-watch, then tcpdump with the same BPF, captures on the other; the kernel's drop counts
# of the two are compared, round after round. Nothing leaves the namespaces.
#
#   sudo tools/bench_live.sh [CAPTURE]      (default: the printer workload of bench_compare.py)
#   ROUNDS=3 BIN=target/release/bjnp-watch
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    echo "bench_live: SKIPPED: needs root for network namespaces" >&2
    exit 0
fi
for tool in ip tcpreplay tcpdump; do
    command -v "$tool" >/dev/null || { echo "bench_live: $tool is missing" >&2; exit 1; }
done
BIN=${BIN:-target/release/bjnp-watch}
CAP=${1:-${BENCH_DIR:-/tmp/bjnp-watch-bench}/printer.pcap}
ROUNDS=${ROUNDS:-3}
[ -f "$CAP" ] || python3 tools/gen_bench.py printer --out "$CAP"
A=bwbench-a-$$
B=bwbench-b-$$
cleanup() { ip netns del "$A" 2>/dev/null || true; ip netns del "$B" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$A"
ip netns add "$B"
ip link add va netns "$A" type veth peer name vb netns "$B"
for ns in "$A" "$B"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$A" link set va up
ip -n "$B" link set vb up
BPF=$("$BIN" --print-filter)
OUT=$(mktemp -d)

# SIGINT, then wait until the process is gone (it writes its last records first).
stop_and_wait() {
    kill -INT "$1" 2>/dev/null || true
    for _ in $(seq 1 600); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    echo "bench_live: pid $1 did not stop within 60 s" >&2
    kill -KILL "$1" 2>/dev/null || true
}

inject() {
    ip netns exec "$A" tcpreplay -q -K --topspeed -i va "$CAP" 2>&1 | grep -Eo 'Rated: [0-9.]+ Bps, [0-9.]+ Mbps, [0-9.]+ pps' | head -1
}

run_bjnp_watch() {
    ip netns exec "$B" "$BIN" -q -i vb -o "$OUT/bw.json" --stats-interval 0 & local pid=$!
    sleep 1
    local rate; rate=$(inject)
    sleep 1
    stop_and_wait $pid
    local stats recv drop lost
    stats=$(grep '"event_type":"stats"' "$OUT/bw.json" | tail -1)
    recv=$(grep -o '"received":[0-9]*' <<<"$stats" | cut -d: -f2)
    drop=$(grep -o '"dropped":[0-9]*' <<<"$stats" | cut -d: -f2)
    lost=$(grep -o '"dropped_queue_full":[0-9]*' <<<"$stats" | cut -d: -f2)
    rm -f "$OUT/bw.json"
    echo "bjnp-watch (-B 64 MiB)|$recv|$drop|$rate|$lost records dropped (output queue full)"
}

run_tcpdump() {
    local label=$1; shift
    ip netns exec "$B" tcpdump -i vb -w /dev/null "$@" "$BPF" 2>"$OUT/td.err" & local pid=$!
    sleep 1
    local rate; rate=$(inject)
    sleep 1
    stop_and_wait $pid
    local recv drop
    recv=$(sed -nE 's/^([0-9]+) packets received by filter/\1/p' "$OUT/td.err")
    drop=$(sed -nE 's/^([0-9]+) packets dropped by kernel/\1/p' "$OUT/td.err")
    echo "$label|$recv|$drop|$rate"
}

echo "live capture on a veth pair, $(basename "$CAP") injected by tcpreplay --topspeed, $ROUNDS rounds; $(hostname), $(nproc) cores, $(date +%F)"
echo
echo "| round | capturing tool | received by filter | dropped by kernel | injection rate | note |"
echo "|---|---|---|---|---|---|"
for r in $(seq 1 "$ROUNDS"); do
    for which in bw td td64; do
        case $which in
            bw) line=$(run_bjnp_watch) ;;
            td) line=$(run_tcpdump "tcpdump (default -B 2 MiB)") ;;
            td64) line=$(run_tcpdump "tcpdump -B 65536" -B 65536) ;;
        esac
        IFS='|' read -r tool recv drop rate note <<<"$line"
        echo "| $r | $tool | $recv | $drop | $rate | ${note:-} |"
    done
done
rm -rf "$OUT"
