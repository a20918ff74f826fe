#!/usr/bin/env bash
# `make bench`, part 3: live capture at line rate. Two network namespaces joined by a veth pair
# (created here, removed on exit); trafgen (netsniff-ng) sends a printer workload as fast as one
# core can into one end while, on the other end, bjnp-watch with 1 and with 2 workers, then
# tcpdump with the same BPF and the same kernel buffer, capture it. Each run reports what was
# sent, what the capturing sockets received, what the kernel dropped for them and what
# bjnp-watch's output stage dropped. Nothing leaves the namespaces.
#
#   sudo tools/bench_live.sh              ROUNDS=3 PACKETS=2000000 BIN=target/release/bjnp-watch
#
# The packets: tools/gen_bench.py printer (5 000 flows, about 59 000 packets), turned into a
# trafgen configuration by netsniff-ng once and cached; trafgen sends them round-robin until
# PACKETS have gone out. trafgen is used because tcpreplay tops out near 0.4 Mpps here.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    echo "bench_live: SKIPPED: needs root for network namespaces" >&2
    exit 0
fi
for tool in ip trafgen netsniff-ng tcpdump python3; do
    command -v "$tool" >/dev/null || { echo "bench_live: $tool is missing (make bench-deps)" >&2; exit 1; }
done
BIN=${BIN:-target/release/bjnp-watch}
DIR=${BENCH_DIR:-/tmp/bjnp-watch-bench}
ROUNDS=${ROUNDS:-3}
PACKETS=${PACKETS:-2000000}
BUFFER_MIB=64
mkdir -p "$DIR"
PCAP=$DIR/live-printer.pcap
CFG=$DIR/live-printer.cfg
[ -f "$PCAP" ] || python3 tools/gen_bench.py printer --flows 5000 --out "$PCAP"
[ -f "$CFG" ] || netsniff-ng --in "$PCAP" --out "$CFG" --silent >/dev/null 2>&1
A=bwbench-a-$$
B=bwbench-b-$$
OUT=$(mktemp -d)
cleanup() {
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    rm -rf "$OUT"
}
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

# Sends PACKETS from one core; prints "packets seconds".
inject() {
    ip netns exec "$A" trafgen -o va -i "$CFG" -n "$PACKETS" -P 1 --no-sock-mem -q 2>&1 | tr -d '\r' |
        awk '/packets outgoing/ {p=$1} /usec on CPU/ {s=$1 + $3/1e6} END {print p, s}'
}

run_bjnp_watch() {
    local workers=$1
    ip netns exec "$B" "$BIN" -q -i vb -o "$OUT/bw.json" --stats-interval 0 \
        --workers "$workers" --buffer-size "$BUFFER_MIB" & local pid=$!
    sleep 1.5
    local sent secs; read -r sent secs < <(inject)
    sleep 2
    stop_and_wait $pid
    local stats recv drop lost
    stats=$(grep '"event_type":"stats"' "$OUT/bw.json" | tail -1)
    recv=$(grep -o '"capture":{[^}]*' <<<"$stats" | grep -o '"received":[0-9]*' | cut -d: -f2)
    drop=$(grep -o '"capture":{[^}]*' <<<"$stats" | grep -o '"dropped":[0-9]*' | cut -d: -f2)
    lost=$(grep -o '"dropped_queue_full":[0-9]*' <<<"$stats" | cut -d: -f2)
    rm -f "$OUT/bw.json"
    echo "bjnp-watch, $workers worker(s)|$sent|$secs|$recv|$drop|$lost"
}

run_tcpdump() {
    ip netns exec "$B" tcpdump -i vb -w /dev/null -B $((BUFFER_MIB * 1024)) "$BPF" \
        2>"$OUT/td.err" & local pid=$!
    sleep 1.5
    local sent secs; read -r sent secs < <(inject)
    sleep 2
    stop_and_wait $pid
    local recv drop
    recv=$(sed -nE 's/^([0-9]+) packets received by filter/\1/p' "$OUT/td.err")
    drop=$(sed -nE 's/^([0-9]+) packets dropped by kernel/\1/p' "$OUT/td.err")
    echo "tcpdump|$sent|$secs|$recv|$drop|-"
}

echo "live capture on a veth pair: $PACKETS printer-workload packets from trafgen on one core,"
echo "$BUFFER_MIB MiB kernel buffer for every capturing tool, $ROUNDS rounds; $(hostname), $(nproc) cores, $(date +%F)"
echo
echo "| round | capturing tool | sent | send rate | received by filter | dropped by kernel | records dropped |"
echo "|---|---|---|---|---|---|---|"
for r in $(seq 1 "$ROUNDS"); do
    for which in 1 2 td; do
        case $which in
            td) line=$(run_tcpdump) ;;
            *) line=$(run_bjnp_watch "$which") ;;
        esac
        IFS='|' read -r tool sent secs recv drop lost <<<"$line"
        rate=$(awk -v p="$sent" -v s="$secs" 'BEGIN { if (s > 0) printf "%.2f Mpps", p / s / 1e6; else print "?" }')
        echo "| $r | $tool | $sent | $rate | $recv | $drop | $lost |"
    done
done
