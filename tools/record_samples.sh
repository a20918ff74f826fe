#!/usr/bin/env bash
# Re-record the sample captures of REAL third-party BJNP clients (nmap, the
# CUPS bjnp backend, SANE's pixma backend) talking to tools/bjnp_responder.py.
#
# Usage (as root):  tools/record_samples.sh [OUTPUT_DIR]     (default: samples/)
#                   KEEP_WORK=1 tools/record_samples.sh      (keep responder logs)
#
# Network containment: every client, the responder and tcpdump run inside
# network namespaces that this script creates and deletes.  CUPS and SANE
# broadcast discovery on every interface they find, so they must never run
# in the host namespace.  The namespaces have no route anywhere else:
#   * bjnprec  - loopback only (recordings a, b, c, e); the clients talk to
#                127.0.0.1 inside it.
#   * bjnprec + bjnpdev joined by a private veth pair with 192.0.2.0/24
#     (TEST-NET-1, documentation-only addresses) for recording d, because
#     both clients skip loopback when broadcasting; the broadcast can only
#     reach the other namespace.
# Every long-running process is wrapped in `timeout`, and every wait loop is
# bounded, so a hung client cannot keep the script (or the namespaces) alive.
#
# Needs: iproute2, tcpdump, nmap, cups-backend-bjnp, sane-utils, python3,
# util-linux (unshare); tshark is optional (used for the summary at the end).

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/samples}
RESPONDER=$ROOT/tools/bjnp_responder.py
NS=bjnprec
NSDEV=bjnpdev
BJNP_BACKEND=${BJNP_BACKEND:-/usr/lib/cups/backend/bjnp}
FILTER='udp portrange 8610-8614 or tcp portrange 8610-8614'
# The clients see this as their host name: job-details and scanner-poll
# payloads carry it in clear text, so a fixed name keeps re-recordings
# comparable and keeps the recording machine's real name out of the files.
CLIENT_HOSTNAME=bjnp-client

die() { echo "record_samples: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces, tcpdump)"
for cmd in ip tcpdump nmap scanimage python3 timeout unshare; do
    command -v "$cmd" >/dev/null || die "missing command: $cmd"
done
[ -x "$BJNP_BACKEND" ] || die "missing CUPS bjnp backend at $BJNP_BACKEND (apt-get install cups-backend-bjnp)"
for ns in "$NS" "$NSDEV"; do
    # Refuse rather than delete: a namespace of that name may belong to
    # someone else.  After a crash, remove it by hand with `ip netns del`.
    if ip netns list | grep -qw "$ns"; then
        die "network namespace $ns already exists; remove it with: ip netns del $ns"
    fi
done
mkdir -p "$OUT"

WORK=$(mktemp -d /tmp/bjnp-record.XXXXXX)
# tcpdump drops root privileges to its own user before writing the file.
chmod 0777 "$WORK"
PIDS=()

cleanup() {
    stop_all_now
    ip netns del "$NSDEV" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    if [ "${KEEP_WORK:-0}" = 1 ]; then
        echo "work files (responder logs, job, configs) kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# Run a client in namespace $1 under its own UTS namespace with a fixed
# host name, bounded by $2 seconds.
run_client() {
    local ns=$1 limit=$2; shift 2
    echo "+ [$ns] $*" >&2
    in_ns "$ns" unshare --uts sh -c 'hostname "$0" && exec "$@"' \
        "$CLIENT_HOSTNAME" timeout "$limit" "$@"
}

# wait_for FILE PATTERN: bounded wait (10 s) until PATTERN shows up in FILE.
wait_for() {
    local i
    for i in $(seq 1 100); do
        if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    die "timed out waiting for '$2' in $1"
}

CAP_PID=
start_capture() {  # NS IFACE FILE
    : >"$WORK/tcpdump.err"
    # Started with `ip netns exec` directly (not through a shell function) so
    # that $! is the `timeout` process itself and a signal to it reaches
    # tcpdump; a backgrounded function would be a subshell in between.
    ip netns exec "$1" timeout 120 tcpdump -n -i "$2" -U -w "$3" "$FILTER" \
        2>"$WORK/tcpdump.err" &
    CAP_PID=$!
    PIDS+=("$CAP_PID")
    wait_for "$WORK/tcpdump.err" "listening on"
}

RESP_PID=
start_responder() {  # NS LOGNAME [responder args...]
    local ns=$1 logname=$2; shift 2
    : >"$WORK/responder.out"
    ip netns exec "$ns" timeout 90 python3 "$RESPONDER" --timeout 80 "$@" \
        >"$WORK/responder.out" 2>"$WORK/$logname.responder.log" &
    RESP_PID=$!
    PIDS+=("$RESP_PID")
    wait_for "$WORK/responder.out" "READY"
}

stop_all() {
    # Give the last replies time to reach tcpdump before stopping it.
    sleep 1
    stop_all_now
}

stop_all_now() {
    # SIGTERM, not SIGINT: background jobs of a non-interactive shell start
    # with SIGINT ignored.  `timeout` forwards TERM to its child; tcpdump
    # flushes its file and the responder exits cleanly on it.
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}

finish() {  # NAME: copy the capture into OUT (root-owned, readable)
    install -m 0644 "$WORK/$1" "$OUT/$1"
    echo "recorded $OUT/$1 ($(stat -c %s "$OUT/$1") bytes)" >&2
}

new_loopback_ns() {
    ip netns add "$NS"
    in_ns "$NS" ip link set lo up
}

# --- inputs ----------------------------------------------------------------

# A small, obviously synthetic Canon BJL job (~6 KB): a BJL control block,
# filler "raster" lines, and a closing BJL block.  The second ESC [ K block
# makes cups-bjnp start a new 0x21 message, and the size exceeds its 4 KiB
# read buffer, so the capture shows how print data is split.
python3 - "$WORK/job.bin" <<'EOF'
import sys
head = b"\x1b[K\x02\x00\x00\x1fBJLSTART\nControlMode=Common\nSetTime=20260101120000\nBJLEND\n"
body = b"".join(b"\x1b(A\x40\x00" + bytes((i * 7 + j) % 256 for j in range(64))
                for i in range(85))
tail = b"\x1b[K\x02\x00\x00\x1fBJLSTART\nControlMode=Common\nContentsEnd\nBJLEND\n"
open(sys.argv[1], "wb").write(head + body + tail)
EOF

mkdir -p "$WORK/sane-unicast" "$WORK/sane-bcast"
# Only the pixma backend: other SANE backends (net, escl, airscan...) would
# try their own network discovery.
echo pixma >"$WORK/sane-unicast/dll.conf"
echo 'bjnp://127.0.0.1' >"$WORK/sane-unicast/pixma.conf"
echo pixma >"$WORK/sane-bcast/dll.conf"
: >"$WORK/sane-bcast/pixma.conf"

# --- a. nmap bjnp-discover ---------------------------------------------------
new_loopback_ns
start_capture "$NS" lo "$WORK/nmap-bjnp-discover.pcap"
start_responder "$NS" nmap
# -n: no reverse DNS (there is no resolver reachable from the namespace anyway).
run_client "$NS" 60 nmap -n -sU -p 8611,8612 --script bjnp-discover 127.0.0.1 || true
stop_all
finish nmap-bjnp-discover.pcap
ip netns del "$NS"

# --- b. CUPS bjnp backend printing a job ---------------------------------------
new_loopback_ns
start_capture "$NS" lo "$WORK/cups-bjnp-print.pcap"
start_responder "$NS" cups
# argv as cupsd passes it: job-id user title copies options [file].  The
# backend sleeps 15 s after the job before exiting (a workaround in its source).
run_client "$NS" 60 env DEVICE_URI=bjnp://127.0.0.1:8611 \
    "$BJNP_BACKEND" 1 alice "test page" 1 "" "$WORK/job.bin" || true
stop_all
finish cups-bjnp-print.pcap
ip netns del "$NS"

# --- c. SANE scanimage -L (unicast to a configured device) -------------------
new_loopback_ns
start_capture "$NS" lo "$WORK/sane-scanimage-L.pcap"
start_responder "$NS" sane-L
run_client "$NS" 60 env SANE_CONFIG_DIR="$WORK/sane-unicast" scanimage -L || true
stop_all
finish sane-scanimage-L.pcap
ip netns del "$NS"

# --- d. broadcast discovery: CUPS backend (no args) + scanimage -L -----------
# Both clients skip loopback when broadcasting, so give them a veth pair
# between two namespaces; the "device" side answers from 192.0.2.2.  IPv6
# stays enabled because both clients also send discover to ff02::1 on the
# link; the responder is IPv4-only and leaves those unanswered.
new_loopback_ns
ip netns add "$NSDEV"
in_ns "$NSDEV" ip link set lo up
# Fixed, locally administered MACs so the IPv6 link-local source addresses
# (and so the capture) stay the same from one recording to the next.
ip link add bjc netns "$NS" address 02:42:4a:4e:50:01 type veth \
    peer name bjd netns "$NSDEV" address 02:42:4a:4e:50:02
ip -n "$NS" addr add 192.0.2.1/24 brd 192.0.2.255 dev bjc
ip -n "$NSDEV" addr add 192.0.2.2/24 brd 192.0.2.255 dev bjd
ip -n "$NS" link set bjc up
ip -n "$NSDEV" link set bjd up
# Wait (bounded) for IPv6 duplicate address detection to finish, otherwise
# the clients' ff02::1 sends fail and the capture differs run to run.
for _ in $(seq 1 50); do
    if ! ip -n "$NS" addr show dev bjc | grep -q tentative &&
       ! ip -n "$NSDEV" addr show dev bjd | grep -q tentative; then break; fi
    sleep 0.1
done
start_capture "$NS" bjc "$WORK/bjnp-broadcast-discovery.pcap"
# Bound to 0.0.0.0 because a socket bound to a unicast address never
# receives broadcasts; the namespace has no other interface to hear from.
start_responder "$NSDEV" bcast --addr 0.0.0.0 --device-ip 192.0.2.2 \
    --udp-ports 8610,8611,8612 --tcp-ports ""
run_client "$NS" 30 "$BJNP_BACKEND" || true
sleep 1
run_client "$NS" 30 env SANE_CONFIG_DIR="$WORK/sane-bcast" scanimage -L || true
stop_all
finish bjnp-broadcast-discovery.pcap
ip netns del "$NSDEV"
ip netns del "$NS"

# --- e. SANE opening the scanner and attempting a scan ------------------------
# `scanimage -A` opens the device (UDP 0x32 button polls); the scan attempt
# then runs job details (0x10) on 8612 and the TCP 8612 command/read exchange.
# The responder is not a real scanner, so pixma gives up after its first
# command (expected: "sane_read: Error during device I/O").
new_loopback_ns
start_capture "$NS" lo "$WORK/sane-pixma-open-scan.pcap"
start_responder "$NS" sane-scan
run_client "$NS" 60 env SANE_CONFIG_DIR="$WORK/sane-unicast" \
    scanimage -d pixma:MG5500_127.0.0.1 -A >/dev/null || true
run_client "$NS" 60 env SANE_CONFIG_DIR="$WORK/sane-unicast" \
    scanimage -d pixma:MG5500_127.0.0.1 --resolution 75 -x 5 -y 5 \
    --format=pnm -o "$WORK/scan.pnm" || true
stop_all
finish sane-pixma-open-scan.pcap
ip netns del "$NS"

# --- summary -----------------------------------------------------------------
if command -v tshark >/dev/null; then
    for f in nmap-bjnp-discover cups-bjnp-print sane-scanimage-L \
             bjnp-broadcast-discovery sane-pixma-open-scan; do
        echo "== $f.pcap"
        # 8610 (MFNP) is not a Wireshark default BJNP port.
        tshark -r "$OUT/$f.pcap" -d udp.port==8610,bjnp -Y bjnp -T fields \
            -e frame.number -e bjnp.id -e bjnp.type -e bjnp.code -e bjnp.seq_no \
            -e bjnp.session_id -e bjnp.payload_len 2>/dev/null
    done
fi
echo "done" >&2
